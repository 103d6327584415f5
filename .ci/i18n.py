"""The Chinese edition's message catalogues: extract, update, check, and the translator's sheets.

The English pages and notebooks are the source. Sphinx's gettext builder cuts them into messages (one per
paragraph, heading, list item, table cell, caption ...), and the Chinese text of each message lives in
``book/locale/zh_CN/LC_MESSAGES/<page>.po``. Sub-commands::

    python .ci/i18n.py extract OUT         messages of the current sources (.pot files) into OUT
    python .ci/i18n.py update POT_DIR      merge them into the .po files (new: empty, changed: fuzzy)
    python .ci/i18n.py check POT_DIR       exit 1 unless every message has a reviewed translation, with
                                           its markup intact and the glossary's terms (counts per page)
    python .ci/i18n.py sheet PAGE [OUT]    the untranslated messages of one page as a plain-text sheet
    python .ci/i18n.py apply PAGE SHEET    put a translated sheet's text into the page's .po file
    python .ci/i18n.py lint [PAGE ...]     the markup and terminology checks of `check`, on the .po files

``make i18n`` runs extract + update; ``make test`` runs extract + check (in ``make book-check``). A PAGE is a
page's path without suffix (``book/ch02_gan/math``, ``notebooks/07_small_gpt``).

Messages that are not translated, by design:

* text that comes from the package's docstrings (the API reference's entries and the code map's one-line
  descriptions): docstrings are code, and code stays English in both editions;
* messages with nothing to translate (numbers, file names, code, cross-references only) and displayed
  equations: they are not in the catalogues, so both editions show the English source's own nodes;
* glossary terms (``English · 中文``), which are already bilingual: they stay as they are, so that every
  ``{term}`` link of both editions finds its entry.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LANGUAGE = "zh_CN"
LOCALE_ROOT = ROOT / "book" / "locale"
PO_DIR = LOCALE_ROOT / LANGUAGE / "LC_MESSAGES"
GLOSSARY = ROOT / "book" / "glossary.md"
sys.path.insert(0, str(ROOT / "book" / "_ext"))
from editions import glossary_pairs  # noqa: E402 - the one reader of the glossary

# --- what a message contains -------------------------------------------------------------------------------

CODE = re.compile(r"``.+?``|`[^`\n]+`")  # inline code (MyST and reST)
ROLE = re.compile(r"\{([\w:.+-]+)\}`([^`]*)`|:([\w:.+-]+):`([^`]*)`")  # {role}`...` (MyST), :role:`...` (reST)
MATH = re.compile(r"\$\$.+?\$\$|(?<![\\$])\$[^$\n]+?\$", re.S)
LINK_TARGET = re.compile(r"\]\(([^)\s]+)\)|<(https?://[^>\s]+)>")
URL = re.compile(r"https?://\S+")
FOOTNOTE = re.compile(r"\[\^[\w-]+\]")
SUBSTITUTION = re.compile(r"\{\{\s*[\w.]+\s*\}\}")
WORD = re.compile(r"[A-Za-z]{2,}")
LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")


def role_target(name: str, body: str) -> str:
    """The part of a role that must survive translation: its target (``text <target>`` keeps ``target``)."""
    m = re.fullmatch(r"(?s)(.*?)\s*<([^<>]+)>", body)
    target = m.group(2) if m else body
    return f"{name}:{target.strip()}"


def markup(text: str) -> Counter:
    """The tokens a translation must keep: code spans, math, role targets, link targets, footnotes.

    A role's visible text may be translated (``{term}`判别器 <Discriminator>``); its target may not.
    """
    tokens: Counter = Counter()
    rest = text
    for m in ROLE.finditer(rest):
        name, body = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        tokens["role " + role_target(name, body)] += 1
    rest = ROLE.sub(" ", rest)
    for m in CODE.finditer(rest):
        tokens["code " + m.group(0).strip("`")] += 1
    rest = CODE.sub(" ", rest)
    for m in MATH.finditer(rest):
        tokens["math " + re.sub(r"\s+", "", m.group(0))] += 1
    rest = MATH.sub(" ", rest)
    for m in LINK_TARGET.finditer(rest):
        tokens["link " + (m.group(1) or m.group(2))] += 1
    for m in FOOTNOTE.finditer(rest):
        tokens["footnote " + m.group(0)] += 1
    for m in SUBSTITUTION.finditer(rest):
        tokens["substitution " + re.sub(r"\s+", "", m.group(0))] += 1
    return tokens


def prose(text: str) -> str:
    """The text with code, math, roles, links and URLs removed: what a translator translates."""
    for pattern in (ROLE, CODE, MATH, URL, LINK_TARGET, FOOTNOTE, SUBSTITUTION):
        text = pattern.sub(" ", text)
    return text


def is_formula(msgid: str) -> bool:
    """A displayed equation (``$$ ... $$ (label)`` becomes a message of raw LaTeX): LaTeX commands, no two
    words of prose in a row, and no ``$`` (a message with inline math, such as a table cell's "exact $\\log
    p(x)$", has prose around its formula, even a single word)."""
    rest = LATEX_COMMAND.sub(" ", msgid)
    return (bool(LATEX_COMMAND.search(msgid)) and "$" not in msgid
            and not re.search(r"[A-Za-z]{2,}[,;:]?\s+[A-Za-z]{2,}", rest))


@lru_cache(maxsize=4)
def glossary_entries(path: Path = GLOSSARY) -> frozenset[str]:
    """The glossary's term lines (``English · 中文``), exactly as they are messages of the glossary page."""
    return frozenset(line for line, _, _ in glossary_pairs(path))


# the shown title of a glossary link, {term}`Title <entry>`: prose that the reader sees, though inside a role
TERM_TITLE = re.compile(r"\{term\}`([^`<]+?)\s*<[^`]*>`")


def nothing_to_translate(msgid: str) -> bool:
    """True for a message without a word of prose (numbers, code, formulas, references) or a glossary term. The
    title of a glossary link counts as prose (a table cell "{term}`Diffusion <...>` {cite:p}`...`" shows the
    word Diffusion)."""
    words = prose(msgid) + " " + " ".join(TERM_TITLE.findall(msgid))
    return not WORD.search(words) or is_formula(msgid) or msgid in glossary_entries()


# --- the glossary's terms ------------------------------------------------------------------------------------

# English terms that are also ordinary words of the book in other senses: the check looks for these phrasings
# only. Every other term is matched as written (without its parenthesis), singular or plural.
TERM_PATTERNS = {
    "Score (of a density)": r"\bscore function(?!s? estimator)|\bscore matching\b|\bscore of (?:a|the) (?:density|distribution)\b",
    "Sampling": r"\b(?:ancestral|nucleus|top-k|temperature) sampling\b",
    "Token": r"\btokens?\b",
    "Temperature": r"\bsampling temperature\b|\btemperature of (?:the )?sampl",
    "Generator": r"\bthe generator\b|\bgenerator network\b",
    "Likelihood": r"\blog-likelihood\b|\blikelihood\b",
    "Nat": r"\bnats?\b",
    "Critic": r"\bthe critic\b|\bcritics?\b",
    "Checkpoint": r"\bcheckpoints?\b",
    "Memorisation": r"\bmemori[sz]ation\b",
    "Query / key / value": r"\bqueries, keys and values\b|\bquery, key and value\b",
    "Quick mode / full mode": r"\bquick mode\b",
    "Early / late / attention fusion": r"\blate fusion\b|\bearly fusion\b",
    "Augmentation vs automation": r"\baugmentation versus automation\b|\baugmentation vs\.? automation\b",
    "Exposure (E0/E1/E2)": r"\bexposure\b",
    "Exposure share (α, β, γ)": r"\bexposure shares?\b",
    "Smoothing (Laplace)": r"\blaplace smoothing\b|\badd-one smoothing\b",
}
# a term whose Chinese form may also be written with these words (Chinese technical usage)
TERM_ALTERNATIVES = {
    "Quick mode / full mode": ["快速模式"],
    "Early / late / attention fusion": ["晚期融合", "早期融合"],
    "Exposure share (α, β, γ)": ["暴露份额"],
    "Smoothing (Laplace)": ["拉普拉斯平滑"],
    "Query / key / value": ["查询、键和值", "查询、键、值"],
    "Augmentation vs automation": ["增强", "自动化"],
    "Exposure (E0/E1/E2)": ["暴露"],
    "SOC code": ["SOC"],
    "PacGAN (packing)": ["PacGAN"],
    "Wasserstein GAN (WGAN)": ["Wasserstein GAN"],
    "Jensen-Shannon divergence": ["Jensen-Shannon 散度"],
    "β-VAE": ["β-VAE"],
    "Score (of a density)": ["得分函数"],  # the score-function (REINFORCE) estimator is named after it
    "Softmax": ["softmax"],  # the Chinese literature writes softmax
    "Exponential moving average (EMA)": ["指数移动平均"],
    "U-Net": ["U-Net"],  # the Chinese literature keeps the name
}


@dataclass
class Term:
    english: str
    chinese: str
    pattern: re.Pattern
    accepted: list[str] = field(default_factory=list)

    def required(self, msgid: str) -> bool:
        return bool(self.pattern.search(prose(msgid)))

    def used(self, msgstr: str) -> bool:
        """The Chinese form (or an accepted one) is in the translation; spacing between scripts is free."""
        text = re.sub(r"\s+", "", msgstr)
        return any(re.sub(r"\s+", "", form) in text for form in self.accepted)


def glossary_terms(path: Path = GLOSSARY) -> list[Term]:
    """Every ``English · 中文`` entry of the glossary, with the pattern that finds it in an English message.

    An abbreviation kept in the English term (``Evidence lower bound (ELBO)``) is found too, and may be kept
    as it is in the translation (the Chinese ML literature writes ELBO, GAN, VAE, DDIM ...).
    """
    terms = []
    for _, english, chinese in glossary_pairs(path):
        if not re.search(r"[\u4e00-\u9fff]", chinese):
            continue
        head = re.sub(r"\s*\(.*?\)", "", english).strip()
        abbreviation = re.findall(r"\(([A-Z][A-Za-z0-9-]*)\)", english)
        accepted = [chinese, *TERM_ALTERNATIVES.get(english, [])]
        if english in TERM_PATTERNS:
            pattern = TERM_PATTERNS[english]
        else:
            words = r"\s+".join(re.escape(w) for w in head.split())
            pattern = rf"(?<![\w-]){words}(?:s|es)?(?![\w-])"
            for abbr in abbreviation:
                pattern += rf"|(?<![\w-]){re.escape(abbr)}s?(?![\w-])"
        if re.fullmatch(r"[A-Z0-9*-]+", head) or head.startswith("O*NET"):
            accepted.append(head)
        accepted += abbreviation
        flags = 0 if re.fullmatch(r"[A-Z0-9*-]+", head) else re.I
        terms.append(Term(english, chinese, re.compile(pattern, flags), accepted))
    return terms


# --- docstrings (not translated) ----------------------------------------------------------------------------


def docstring_sentences() -> set[str]:
    """The code map's one-line descriptions: the first sentence of each package object's docstring."""
    sys.path[:0] = [str(ROOT), str(ROOT / ".ci"), str(ROOT / "book" / "_ext")]
    from code_map import concept  # the code map's own rule

    import aigc_lessons

    found = set()
    for info in pkgutil.walk_packages(aigc_lessons.__path__, "aigc_lessons."):
        try:
            module = importlib.import_module(info.name)
        except Exception:  # noqa: BLE001 - a module that needs an optional dependency
            continue
        for _, obj in inspect.getmembers(module):
            if getattr(obj, "__module__", "") == info.name and (inspect.isfunction(obj) or inspect.isclass(obj)):
                found.add(concept(obj))
                for _, member in inspect.getmembers(obj):
                    if inspect.isfunction(member) or isinstance(member, property):
                        found.add(concept(member))
    return found


def from_docstring(message, page: str, docstrings: set[str]) -> bool:
    # babel reads "path.py:docstring of NAME:LINE" as the locations "of" and "NAME": a docstring's message
    # has locations, none of them in a page
    locations = [str(loc) for loc, _ in message.locations]
    if locations and not any(loc.endswith((".md", ".ipynb")) for loc in locations):
        return True
    return page == "book/api/code_map" and message.id in docstrings


# --- catalogues ----------------------------------------------------------------------------------------------


def po_path(page: str) -> Path:
    return PO_DIR / f"{page}.po"


def read(path: Path) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale=LANGUAGE if path.suffix == ".po" else None)


def reviewed(page: str) -> dict[str, str]:
    """The page's reviewed translations (translated and not fuzzy), message -> translation; empty without a
    catalogue. What a build shows: Sphinx too skips fuzzy entries."""
    path = po_path(page)
    if not path.is_file():
        return {}
    return {m.id: m.string for m in read(path) if m.id and m.string and not m.fuzzy}


def write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".po.tmp")
    with tmp.open("wb") as fh:
        write_po(fh, catalog, width=0, no_location=True, omit_header=False, sort_output=False)
    tmp.replace(path)


def templates(pot_dir: Path) -> dict[str, Catalog]:
    pots = sorted(pot_dir.rglob("*.pot"))
    if not pots:
        raise SystemExit(f"i18n: no .pot files under {pot_dir}; run `python .ci/i18n.py extract {pot_dir}` first")
    return {p.relative_to(pot_dir).with_suffix("").as_posix(): read(p) for p in pots}


def extract(out: Path) -> None:
    """Run Sphinx's gettext builder on the sources (notebooks not executed: only their markdown is text)."""
    config = out / "gettext_config.yml"
    subprocess.run([sys.executable, str(ROOT / ".ci" / "book_config.py"), "--execute", "off", "--gettext",
                    "--out", str(config)], check=True)
    jb = Path(sys.executable).with_name("jupyter-book")
    subprocess.run([str(jb), "build", str(ROOT), "--config", str(config), "--path-output", str(out),
                    "--builder", "custom", "--custom-builder", "gettext", "--quiet"], check=True)
    print(f"i18n: messages of the English sources in {out / '_build' / 'gettext'}")


def _pot_root(pot_dir: Path) -> Path:
    nested = pot_dir / "_build" / "gettext"
    return nested if nested.is_dir() else pot_dir


@lru_cache(maxsize=None)
def display_math(page: str) -> frozenset[str]:
    """The displayed equations of a page's source (``$$ ... $$`` and ``{math}`` blocks), whitespace removed.

    Sphinx extracts them as messages, but a translated one is re-parsed as reST literal syntax (``::``) that
    MyST does not know, and the equation disappears from the page: equations are never translated."""
    md, nb = ROOT / f"{page}.md", ROOT / f"{page}.ipynb"
    if md.is_file():
        text = md.read_text(encoding="utf-8")
    elif nb.is_file():
        import json

        cells = json.loads(nb.read_text(encoding="utf-8")).get("cells", [])
        text = "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                         for c in cells if c.get("cell_type") == "markdown")
    else:
        return frozenset()
    blocks = re.findall(r"\$\$(.+?)\$\$", text, re.S) + re.findall(r"[`:]{3}\{math\}[^\n]*\n(.*?)[`:]{3}", text, re.S)
    return frozenset(re.sub(r"\s+", "", re.sub(r"^:\w+:.*$", "", b, flags=re.M)) for b in blocks)


def translatable(message, page: str, docstrings: set[str]) -> bool:
    """A message that the Chinese edition translates: not from a docstring, not an equation, with prose."""
    return bool(message.id) and not from_docstring(message, page, docstrings) and not nothing_to_translate(
        message.id) and re.sub(r"\s+", "", message.id) not in display_math(page)


def wanted(pot: Catalog, page: str, docstrings: set[str]):
    for message in pot:
        if translatable(message, page, docstrings):
            yield message


def update(pot_dir: Path, only: list[str] | None = None) -> None:
    """Merge the extracted messages into the .po files: a new message arrives empty, a changed one (or a new
    one close to an old one) fuzzy, with the old translation as a draft to revise; removed messages are dropped."""
    docstrings = docstring_sentences()
    pages = templates(_pot_root(pot_dir))
    for page, pot in pages.items():
        if only and page not in only:
            continue
        template = Catalog(locale=LANGUAGE, project="AIGC from Zero to Practice", fuzzy=False)
        for message in wanted(pot, page, docstrings):
            template.add(message.id)
        path = po_path(page)
        if path.exists():
            catalog = read(path)
            catalog.update(template, no_fuzzy_matching=False)
            catalog.obsolete.clear()
        else:
            catalog = template
            catalog.locale = LANGUAGE
        for message in catalog:
            if message.id and message.string:
                message.string = myst_safe(message.string)
        if path.exists():  # keep the file (and its header's date) when no message changed: no churn in git
            def messages(c: Catalog) -> list[tuple]:
                return [(m.id, m.string, m.fuzzy) for m in c if m.id]  # not the header, which holds the date

            if messages(read(path)) == messages(catalog):
                continue
        write(catalog, path)
    for stale in [] if only else sorted(PO_DIR.rglob("*.po")):
        if stale.relative_to(PO_DIR).with_suffix("").as_posix() not in pages:
            stale.unlink()
            print(f"i18n: removed {stale.relative_to(ROOT)} (the page is gone)")
    print(f"i18n: {len(pages)} catalogues in {PO_DIR}")


def emphasis(text: str) -> tuple[int, int, bool]:
    """(bold spans, italic spans, literal asterisks left) of a message rendered as CommonMark, with code, math
    and roles set aside. In Chinese a closing ``**`` right after full-width punctuation and before a character
    (``**案例。**2023``) does not close the span, and the reader sees the asterisks."""
    from markdown_it import MarkdownIt

    for pattern in (ROLE, CODE, MATH):
        text = pattern.sub("X", text)
    html = MarkdownIt("commonmark").render(text)
    plain = re.sub(r"<[^>]+>", "", html)
    return html.count("<strong>"), html.count("<em>"), "*" in plain


def myst_safe(msgstr: str) -> str:
    """Sphinx re-parses a translated title as ``TEXT`` over a line of ``=``; with MyST a title that starts like
    an ordered-list item (``6. 扩散模型``) would become a list and the translation would be dropped: escape it."""
    return re.sub(r"^(\d+)\. ", r"\1\\. ", msgstr)


def problems(msgid: str, msgstr: str, terms: list[Term]) -> list[str]:
    """What is wrong with one translation: lost or altered markup, or a glossary term not in its Chinese form."""
    found = []
    if msgid in glossary_entries() and msgstr != msgid:
        found.append("a glossary term stays as it is (English · 中文)")
    before, after = markup(msgid), markup(msgstr)
    if before != after:
        missing = before - after
        extra = after - before
        found.append("markup differs: " + "; ".join(
            [f"missing {t}" for t in missing] + [f"not in the English: {t}" for t in extra]))
    if emphasis(msgid) != emphasis(msgstr):
        (b0, i0, _), (b1, i1, lit) = emphasis(msgid), emphasis(msgstr)
        found.append(f"emphasis renders differently: bold {b0} -> {b1}, italic {i0} -> {i1}"
                     + (", asterisks shown as text (add a space after a closing ** that follows punctuation)" if lit else ""))
    if msgstr != msgid:
        for term in terms:
            if term.required(msgid) and not term.used(msgstr):
                found.append(f"glossary: '{term.english}' is translated as {term.chinese}")
    return found


@dataclass
class PageReport:
    messages: int = 0
    missing: int = 0
    fuzzy: int = 0
    wrong: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.fuzzy or self.wrong)


def check(pot_dir: Path) -> int:
    """Every message of every page translated, reviewed (not fuzzy), with its markup and terms intact."""
    docstrings = docstring_sentences()
    terms = glossary_terms()
    reports: dict[str, PageReport] = {}
    for page, pot in templates(_pot_root(pot_dir)).items():
        report = reports[page] = PageReport()
        path = po_path(page)
        catalog = read(path) if path.exists() else Catalog(locale=LANGUAGE)
        for message in wanted(pot, page, docstrings):
            report.messages += 1
            translated = catalog.get(message.id)
            if translated is None or not translated.string:
                report.missing += 1
            elif translated.fuzzy:
                report.fuzzy += 1
            else:
                report.wrong += [f"{msg}: {message.id[:70]!r}" for msg in problems(message.id, translated.string, terms)]
    total = sum(r.messages for r in reports.values())
    bad = {page: r for page, r in reports.items() if not r.ok}
    for page, r in sorted(bad.items()):
        print(f"  {page}: {r.messages} messages, {r.missing} untranslated, {r.fuzzy} fuzzy, {len(r.wrong)} wrong")
        for line in r.wrong[:5]:
            print(f"      {line}")
    done = total - sum(r.missing + r.fuzzy for r in reports.values())
    print(f"i18n: {done}/{total} messages of {len(reports)} pages translated ({100 * done / max(total, 1):.1f}%); "
          f"{len(bad)} pages with problems")
    if bad:
        print("i18n: translate with `python .ci/i18n.py sheet PAGE` / `apply PAGE SHEET` (README, Chinese edition)")
    return 1 if bad else 0


# --- translator's sheets -------------------------------------------------------------------------------------

SEPARATOR = re.compile(r"^@@ (\d+)\s*$", re.M)


def sheet(page: str, every: bool = False) -> str:
    """The page's messages that need a translation (all with ``every``), numbered: ``@@ N`` then the English."""
    catalog = read(po_path(page))
    blocks = []
    for i, message in enumerate(m for m in catalog if m.id):
        if every or not message.string or message.fuzzy:
            old = f"\n(fuzzy; old translation: {message.string})" if message.fuzzy and message.string else ""
            blocks.append(f"@@ {i}\n{message.id}{old}\n")
    return "\n".join(blocks)


def parse_sheet(text: str) -> dict[int, str]:
    parts = SEPARATOR.split(text)
    return {int(parts[i]): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


def apply(page: str, sheets: list[Path]) -> int:
    """Put the translations of numbered sheets (``@@ N`` then the Chinese text) into the page's .po file.

    All or nothing: a sheet with any problem (a number the page does not have, lost markup, a glossary term
    not used) changes nothing. A sheet numbered for an older version of the page, whose texts then land on
    the wrong messages, shows up as lost markup and cannot overwrite good translations."""
    path = po_path(page)
    catalog = read(path)
    messages = [m for m in catalog if m.id]
    terms = glossary_terms()
    errors = 0
    for sheet_path in sheets:
        for number, text in parse_sheet(sheet_path.read_text(encoding="utf-8")).items():
            if not 0 <= number < len(messages):
                print(f"{sheet_path}: @@ {number}: no such message in {page}")
                errors += 1
                continue
            message = messages[number]
            for problem in problems(message.id, text, terms):
                print(f"{sheet_path}: @@ {number}: {problem}")
                errors += 1
            message.string = myst_safe(text)
            message.flags.discard("fuzzy")
    if errors:
        print(f"i18n: {page}: {errors} problems; nothing written (fix the sheet and apply it again)")
        return 1
    write(catalog, path)
    left = sum(1 for m in messages if not m.string or m.fuzzy)
    print(f"i18n: {page}: {len(messages) - left}/{len(messages)} translated, 0 problems")
    return 0


def lint(pages: list[str]) -> int:
    terms = glossary_terms()
    paths = [po_path(p) for p in pages] if pages else sorted(PO_DIR.rglob("*.po"))
    bad = 0
    for path in paths:
        for i, message in enumerate(m for m in read(path) if m.id):
            if message.string and not message.fuzzy:
                for problem in problems(message.id, message.string, terms):
                    print(f"{path.relative_to(PO_DIR)}: @@ {i}: {problem}")
                    bad += 1
    print(f"i18n lint: {bad} problems in {len(paths)} catalogues")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("extract", "update", "check"):
        p = sub.add_parser(name)
        p.add_argument("dir", type=Path)
        if name == "update":
            p.add_argument("--pages", nargs="*", help="only these pages (default: every page)")
    p = sub.add_parser("sheet")
    p.add_argument("page")
    p.add_argument("out", nargs="?", type=Path)
    p.add_argument("--all", action="store_true", help="every message, translated or not")
    p = sub.add_parser("apply")
    p.add_argument("page")
    p.add_argument("sheets", nargs="+", type=Path)
    sub.add_parser("lint").add_argument("pages", nargs="*")
    args = parser.parse_args(argv)
    if args.command == "extract":
        extract(args.dir)
        return 0
    if args.command == "update":
        update(args.dir, args.pages)
        return 0
    if args.command == "check":
        return check(args.dir)
    if args.command == "sheet":
        text = sheet(args.page, args.all)
        if args.out:
            args.out.write_text(text, encoding="utf-8")
            print(f"i18n: {text.count('@@ ')} messages of {args.page} in {args.out}")
        else:
            print(text)
        return 0
    if args.command == "apply":
        return apply(args.page, args.sheets)
    return lint(args.pages)


if __name__ == "__main__":
    sys.exit(main())
