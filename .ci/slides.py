"""Build one slide deck per chapter into the built site's ``slides/`` folder (``make slides``, ``make book``).

    python .ci/slides.py [HTML_DIR]       (default: _build/html; make test uses the book check's build)

Each deck is made from the book's own sources, so it cannot drift from them: the chapter's title and learning
objectives (``book/chNN_*/index.md``), its key formulas (the display equations of the chapter's pages, labelled
ones first), its figures with their captions (the "**Figure N.**" figures of the chapter's notebooks, taken from
executed copies: ``make book``'s ``_build/jupyter_execute`` or the ``_build/executed`` that ``make test``'s
notebook run leaves, whichever is newer), its exercise prompts (``aigc_lessons.exercises``) and its summary.

The decks are reveal.js pages that load reveal.js and MathJax from the site's ``_static/vendor`` (vendored by
``.ci/vendor_assets.py``), with the figures beside them in ``slides/img/``: they open offline, from a web server
or from a folder opened directly. ``s`` opens the speaker view; each slide's notes name the page it comes from.

``--language zh_CN`` writes the Chinese edition's decks into its site (``make book``: ``_build/html/zh``): the same
slides, each text taken through the Chinese catalogue of the page it comes from (``book/locale/zh_CN``), so the
decks cannot drift from the translated pages either.
"""

from __future__ import annotations

import base64
import html
import json
import re
import sys
from pathlib import Path

import nbformat
import yaml
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book" / "_ext"))
from figure_alt import drop_label, figure_caption, first_sentence  # noqa: E402 - the site's caption rules
EXECUTED = [ROOT / "_build" / "jupyter_execute" / "notebooks", ROOT / "_build" / "executed" / "notebooks"]
MAX_FORMULAS = 8
MAX_FIGURES = 8

_ROLE = re.compile(r"\{([a-z:]+)\}`([^`]*)`")
_DISPLAY = re.compile(r"^\$\$\s*\n(.*?)\n\$\$[ \t]*(?:\((?P<label>[^)\s]+)\))?[ \t]*$", re.S | re.M)

# The decks' own words, per language (the rest comes from the pages and their catalogues).
WORDS = {
    "en": {"in_book": "the chapter in the book", "objectives": "Learning objectives", "formula": "Key formula",
           "exercises": "Exercises", "exercise": "Exercise", "summary": "Summary", "from": "From",
           "solve": "Solve them in the chapter's exercise notebook; a check cell under each says what is wrong.",
           "warm-up": "warm-up", "core": "core", "stretch": "stretch", "figure": "Figure", "lang": "en"},
    "zh_CN": {"in_book": "书中的这一章", "objectives": "学习目标", "formula": "关键公式", "exercises": "练习",
              "exercise": "练习", "summary": "小结", "from": "出自", "figure": "图", "lang": "zh-CN",
              "solve": "在本章的练习笔记本中完成它们；每道练习下方的检查单元格会指出哪里有错。",
              "warm-up": "热身", "core": "核心", "stretch": "拓展"},
}


class Translator:
    """Text of a page, through that page's Chinese catalogue: paragraph by paragraph and list item by list item,
    as Sphinx cut the page into messages. English when no catalogue is asked for; a text without a translation
    stays English and is counted in ``missed``."""

    def __init__(self, language: str):
        self.language = language
        self.catalogues: dict[str, dict[str, str]] = {}
        self.missed = 0

    def catalogue(self, page: str) -> dict[str, str]:
        if page not in self.catalogues:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from i18n import reviewed  # the catalogues' location and the rule "translated and not fuzzy" live there

            self.catalogues[page] = reviewed(page)
        return self.catalogues[page]

    def heading(self, page: str, text: str) -> str:
        """A title or heading through the catalogue, without the escape that keeps a translated "2\\." from
        starting a numbered list."""
        return self.message(page, text).replace("\\.", ".")

    def message(self, page: str, text: str) -> str:
        if self.language == "en" or not text.strip():
            return text
        key = " ".join(text.split())
        got = self.catalogue(page).get(key)
        if got is None:
            self.missed += 1
            return text
        return got

    def block(self, page: str, text: str) -> str:
        """A block of markdown: each paragraph, or each item of a list, translated as one message."""
        if self.language == "en":
            return text
        out = []
        for para in re.split(r"\n\s*\n", text.strip()):
            items = re.split(r"\n(?=(?:[-*]|\d+\.) )", para)
            if len(items) > 1 or re.match(r"(?:[-*]|\d+\.) ", para):
                translated = []
                for item in items:
                    m = re.match(r"((?:[-*]|\d+\.) )(.*)", item, re.S)
                    translated.append(m.group(1) + self.message(page, m.group(2)) if m else self.message(page, item))
                out.append("\n".join(translated))
            else:
                out.append(self.message(page, para))
        return "\n\n".join(out)


def doc_title(target: str, base: Path, tr: "Translator | None" = None) -> str:
    """The title of a page or notebook that a ``{doc}`` role names, as the site shows it: in the language of
    ``tr``, from the catalogue of the page named (the Chinese slides named pages by their English titles)."""
    path = (base / target).resolve()
    title = None
    if path.with_suffix(".md").is_file():
        m = re.search(r"^# (.+)$", path.with_suffix(".md").read_text(encoding="utf-8"), re.M)
        title = m.group(1).strip() if m else None
    elif path.with_suffix(".ipynb").is_file():
        for cell in nbformat.read(str(path.with_suffix(".ipynb")), as_version=4).cells:
            m = re.search(r"^# (.+)$", cell.source, re.M) if cell.cell_type == "markdown" else None
            if m:
                title = m.group(1).strip()
                break
    if title is None:
        return path.name.replace("_", " ")
    if tr is None or tr.language == "en":
        return title
    return tr.heading(path.relative_to(ROOT).as_posix(), title)


def _role(match: re.Match, base: Path, tr: "Translator | None" = None) -> str:
    role, text = match.group(1), match.group(2)
    if role.startswith("cite"):
        return ""
    label = text.split("<")[0].strip() if "<" in text else text
    if role == "doc" and "<" not in text:
        label = doc_title(text, base, tr)
    if role.startswith("py") or role == "code":
        return f"`{label.lstrip('~').split('.')[-1] if '<' not in text else label}`"
    if role == "eq":
        return f"({label})"
    return label


def plain_myst(text: str, base: Path = ROOT / "book", tr: "Translator | None" = None) -> str:
    """MyST roles reduced to their text (citations dropped), directives' fences removed; ``base`` is the folder
    of the page the text comes from, for the titles of the pages that ``{doc}`` roles name (in ``tr``'s
    language)."""
    text = _ROLE.sub(lambda m: _role(m, base, tr), text)
    text = re.sub(r" +([,.;)])", r"\1", text)
    return re.sub(r"^[`:]{3,}.*$", "", text, flags=re.M)


def section(md: str, heading: str) -> str:
    """The body of the ``## heading`` section of a page (up to the next ``## ``)."""
    m = re.search(rf"^## {re.escape(heading)}\s*$(.*?)(?=^## |\Z)", md, re.S | re.M)
    return m.group(1).strip() if m else ""


def chapter_sources(toc: dict) -> list[tuple[str, list[str], list[str]]]:
    """(chapter folder, its book pages, its notebooks) in the order of ``_toc.yml``."""
    out = []
    for part in toc["parts"]:
        for ch in part["chapters"]:
            file = ch["file"]
            if not re.match(r"book/ch\d\d_", file):
                continue
            sections = [s["file"] for s in ch.get("sections", [])]
            pages = [file] + [s for s in sections if s.startswith("book/") and not s.endswith("/exercises")]
            notebooks = [s for s in sections if s.startswith("notebooks/") and "/exercises/" not in s]
            out.append((Path(file).parent.name, pages, notebooks))
    return out


_HEADING = re.compile(r"^#{1,6} (.+)$", re.M)


def formulas(pages: list[str]) -> list[tuple[str, str, str, str]]:
    """(latex, label or "", page, heading) of the display equations, labelled ones first; ``heading`` is the
    title of the section the equation stands in (the slide's title: a reader knows it from the page, not the
    label)."""
    found = []
    for page in pages:
        text = (ROOT / f"{page}.md").read_text(encoding="utf-8")
        for m in _DISPLAY.finditer(text):
            headings = _HEADING.findall(text, 0, m.start())
            found.append((m.group(1).strip(), m.group("label") or "", page, headings[-1].strip() if headings else ""))
    found.sort(key=lambda f: f[1] == "")
    return found[:MAX_FORMULAS]


def executed_copy(notebook: str) -> Path | None:
    copies = [d / f"{Path(notebook).name}.ipynb" for d in EXECUTED]
    copies = [c for c in copies if c.is_file()]
    return max(copies, key=lambda c: c.stat().st_mtime) if copies else None


def figures(notebooks: list[str], tr: Translator | None = None) -> tuple[list[dict], list[str]]:
    """The captioned figures of the executed notebooks, and the notebooks that have no executed copy."""
    tr = tr or Translator("en")
    figs, missing = [], []
    for name in notebooks:
        path = executed_copy(name)
        if path is None:
            missing.append(name)
            continue
        cells = nbformat.read(str(path), as_version=4).cells
        for i, cell in enumerate(cells[:-1]):
            pngs = [o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
            nxt = cells[i + 1]
            m = figure_caption(nxt.source) if nxt.cell_type == "markdown" else None
            if cell.cell_type == "code" and pngs and m:
                source = m[1]
                if tr.language != "en":  # the whole caption paragraph is one message; drop its bold label
                    translated = tr.block(name, nxt.source.strip())  # a caption cell may hold more paragraphs
                    source = drop_label(translated) if translated != nxt.source.strip() else source
                caption = " ".join(plain_myst(source, ROOT / "notebooks", tr).split())
                written = cell.metadata.get("mystnb", {}).get("image", {}).get("alt")  # as the site shows it
                alt = (written if tr.language == "en" else None) or first_sentence(caption).replace("$", "")
                figs.append({"png": base64.b64decode(pngs[-1]), "caption": caption, "alt": alt,
                             "source": f"{Path(name).name}, {WORDS[tr.language]['figure']} {m[0]}"})
    return figs[:MAX_FIGURES], missing


def deck(folder: str, pages: list[str], notebooks: list[str], img_dir: Path, md: MarkdownIt,
         tr: Translator | None = None) -> tuple[str, list[str], dict]:
    tr = tr or Translator("en")
    w = WORDS[tr.language]
    page = f"book/{folder}/index"
    index = (ROOT / "book" / folder / "index.md").read_text(encoding="utf-8")
    title = tr.heading(page, re.search(r"^# (.+)$", index, re.M).group(1).strip())
    render = lambda text, src=page: md.render(plain_myst(tr.block(src, text), ROOT / "book" / folder, tr))  # noqa: E731
    slides = [f'<section><h2>{html.escape(title)}</h2><p class="sub">AIGC from Zero to Practice · AIGC 从入门到实战</p>'
              f'<p class="sub"><a href="../book/{folder}/index.html">{w["in_book"]}</a></p></section>']
    goals = section(index, "Learning objectives")
    if goals:
        slides.append(f"<section><h3>{w['objectives']}</h3>{render(goals)}<aside class='notes'>{w['from']} "
                      f"{folder}/index.md.</aside></section>")
    eqs = formulas(pages)
    for latex, label, src, heading in eqs:
        where = tr.heading(src, heading) if heading else ""
        sep = "：" if tr.language.startswith("zh") else ": "
        head = w["formula"] + (sep + md.renderInline(plain_myst(where, ROOT / "book" / folder, tr)) if where else "")
        slides.append(f"<section><h3>{head}</h3><div class='formula'>\\[{html.escape(latex)}\\]</div>"
                      f"<aside class='notes'>{w['from']} {src}.md" + (f" ({html.escape(label)})" if label else "")
                      + ".</aside></section>")
    figs, missing = figures(notebooks, tr)
    for n, fig in enumerate(figs, 1):
        name = f"{folder}-{n}.png"
        (img_dir / name).write_bytes(fig["png"])
        slides.append(f"<section><img src='img/{name}' alt='{html.escape(fig['alt'], quote=True)}'>"
                      f"<p class='caption'>{md.renderInline(fig['caption'])}</p>"
                      f"<aside class='notes'>{html.escape(fig['source'])}.</aside></section>")
    sys.path.insert(0, str(ROOT))
    from aigc_lessons import exercises

    number = int(folder[2:4])
    exs = [e for e in exercises.all_exercises() if e.key.split(".")[0] == str(number)]
    exercise_page = f"book/{folder}/exercises"

    def ex_title(e) -> str:  # the exercise page's heading "1.1 Title (level)", translated, without key and level
        heading = tr.message(exercise_page, f"{e.key} {e.title} ({e.level})")
        return re.sub(r"^\S+\s+|\s*[（(][^（()）]*[)）]\s*$", "", heading) if heading != f"{e.key} {e.title} ({e.level})" \
            else e.title

    if exs:
        items = "".join(f"<li>{html.escape(e.key)} {md.renderInline(ex_title(e))} <em>({w[e.level]})</em></li>" for e in exs)
        slides.append(f"<section><h3>{w['exercises']}</h3><ul class='plain'>{items}</ul><p class='sub'>{w['solve']}"
                      "</p></section>")
        for e in exs:
            slides.append(f"<section><h3>{w['exercise']} {html.escape(e.key)}: {md.renderInline(ex_title(e))}</h3>"
                          f"<div class='prompt'>{render(e.prompt, exercise_page)}</div></section>")
    summary = section(index, "Summary")
    if summary:
        slides.append(f"<section><h3>{w['summary']}</h3>{render(summary)}</section>")
    counts = {"formulas": len(eqs), "figures": len(figs), "exercises": len(exs), "missing": missing}
    return title, slides, counts


def markdown() -> MarkdownIt:
    """Markdown to HTML with ``$...$`` and ``$$...$$`` left for MathJax as ``\\(...\\)`` and ``\\[...\\]``."""
    def math(content: str, opts: dict) -> str:
        text = html.escape(content)
        return f"\\[{text}\\]" if opts.get("display_mode") else f"\\({text}\\)"

    return MarkdownIt("commonmark").enable("table").use(dollarmath_plugin, double_inline=True, renderer=math)


TEMPLATE = """<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} (slides)</title>
<link rel="stylesheet" href="../_static/vendor/reveal.js/dist/reveal.css">
<link rel="stylesheet" href="../_static/vendor/reveal.js/dist/theme/white.css">
<style>
.reveal {{ font-size: 30px; }}
.reveal h2, .reveal h3 {{ text-transform: none; }}
.reveal .sub {{ font-size: 0.6em; color: #555; }}
.reveal .caption {{ font-size: 0.45em; text-align: left; margin: 0.3em 1em; }}
.reveal section img {{ max-height: 420px; max-width: 95%; margin: 0; }}
.reveal .prompt, .reveal ul, .reveal ol {{ font-size: 0.72em; text-align: left; }}
.reveal .prompt pre {{ font-size: 0.8em; }}
.reveal .formula {{ font-size: 0.95em; }}
.reveal ul.plain {{ list-style: none; }}
</style>
<script>
window.MathJax = {{ tex: {{ inlineMath: [["\\\\(", "\\\\)"]], displayMath: [["\\\\[", "\\\\]"]], macros: {macros},
                            tags: "none" }},
                   startup: {{ typeset: true }} }};
</script>
<script src="../_static/vendor/mathjax/es5/tex-chtml.js"></script>
</head>
<body>
<div class="reveal"><div class="slides">
{slides}
</div></div>
<script src="../_static/vendor/reveal.js/dist/reveal.js"></script>
<script src="../_static/vendor/reveal.js/plugin/notes/notes.js"></script>
<script>
// a formula wider than the slide is scaled down to fit (MathJax 3 does not break display math into lines)
function fitFormulas(slide) {{
  if (!slide) return;
  slide.querySelectorAll(".formula").forEach(function (f) {{
    var c = f.querySelector("mjx-container");
    if (!c) return;
    f.style.fontSize = "";
    if (c.scrollWidth > f.clientWidth && f.clientWidth > 0) f.style.fontSize = (0.95 * f.clientWidth / c.scrollWidth) + "em";
  }});
}}
Reveal.initialize({{ hash: true, slideNumber: "c/t", plugins: [RevealNotes] }}).then(function () {{
  var fit = function () {{ fitFormulas(Reveal.getCurrentSlide()); }};
  (window.MathJax && MathJax.startup ? MathJax.startup.promise : Promise.resolve()).then(fit);
  Reveal.on("slidechanged", fit);
}});
</script>
</body>
</html>
"""


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    language = "en"
    if "--language" in args:
        i = args.index("--language")
        language = args[i + 1]
        del args[i:i + 2]
    if language not in WORDS:
        print(f"slides: unknown language {language!r}; choose one of {', '.join(WORDS)}")
        return 2
    tr = Translator(language)
    site = Path(args[0]) if args else ROOT / "_build" / "html"
    if not (site / "_static" / "vendor" / "reveal.js" / "dist" / "reveal.js").is_file():
        print(f"slides: {site} has no _static/vendor/reveal.js; build the book first (make book)")
        return 1
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    macros = config["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]
    out = site / "slides"
    img_dir = out / "img"
    img_dir.mkdir(parents=True, exist_ok=True)
    md = markdown()

    for folder, pages, notebooks in chapter_sources(toc):
        title, slides, counts = deck(folder, pages, notebooks, img_dir, md, tr)
        text = TEMPLATE.format(title=html.escape(title), macros=json.dumps(macros), slides="\n".join(slides),
                               lang=WORDS[language]["lang"])
        (out / f"{folder}.html").write_text(text, encoding="utf-8")
        note = f"; no executed copy of {', '.join(counts['missing'])} (run make book)" if counts["missing"] else ""
        print(f"slides: {folder}.html: {len(slides)} slides, {counts['formulas']} formulas, {counts['figures']} "
              f"figures, {counts['exercises']} exercises{note}")
    if language != "en":
        print(f"slides: {tr.missed} texts without a translation in the catalogues (shown in English)")
    print(f"slides: open {out / 'ch01_landscape.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
