"""The English and the Chinese edition of the book, built from the same sources, each page linked to its twin.

``make book`` renders the English edition into ``_build/html/`` and the Chinese one (Sphinx's gettext
internationalisation: the translations live in ``book/locale/zh_CN/LC_MESSAGES/<page>.po``) into
``_build/html/zh/``. A page ``PAGE`` is ``PAGE.html`` in the first and ``zh/PAGE.html`` in the second, so the
link between twins is a relative path that works from a web server and from a folder opened directly.

Sphinx translates a page's messages before sphinx-external-toc inserts the table of contents, so the part
captions of ``_toc.yml`` ("Getting started", ...) would stay English in the sidebar; :class:`TranslateTocCaptions`
translates them from the root page's catalogue once they are there.

A mermaid diagram's labels are text too, but sphinxcontrib-mermaid's node is not one Sphinx translates:
:class:`TranslatableMermaid` swaps each diagram for a translatable copy, so that the diagram's source (and its
``alt`` text) is one message of the page's catalogue and the Chinese edition draws the translated source.

A notebook page's download button serves the notebook itself (``_sources/<page>.ipynb``), which Sphinx copies
untouched. In the Chinese edition :func:`translate_notebook` rewrites that copy's markdown cells with the same
catalogue (code cells, outputs and metadata stay as they are), so a reader who downloads a notebook from a
Chinese page runs it with the narrative they just read.

This extension puts that link in every page's header (the theme's ``article_header_end`` slot, beside the
download and full-screen buttons) and tells search engines about the twin (``<link rel="alternate">``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from os import path as osp
from pathlib import Path

from sphinx import addnodes
from sphinx.locale import init as init_locale
from sphinx.transforms import SphinxTransform
from sphinx.util.i18n import docname_to_domain
from sphinxcontrib.mermaid import mermaid

EDITIONS = {"en": ("English", "en", ""), "zh_CN": ("中文", "zh-CN", "zh/")}
TEMPLATE = "edition-switch.html"


def twin(pagename: str, language: str) -> tuple[str, str, str]:
    """``(relative URL, hreflang, label)`` of the other edition's copy of ``pagename``.

    From ``book/ch02_gan/index`` (two folders deep) the English page links to
    ``../../zh/book/ch02_gan/index.html`` and the Chinese page to ``../../../book/ch02_gan/index.html``.
    """
    depth = pagename.count("/")
    if language == "en":
        label, hreflang, prefix = EDITIONS["zh_CN"]
        return "../" * depth + prefix + pagename + ".html", hreflang, label
    label, hreflang, _ = EDITIONS["en"]
    return "../" * (depth + 1) + pagename + ".html", hreflang, label


def _add_slot(app, config) -> None:
    config.templates_path = [*config.templates_path, str(Path(__file__).parent / "templates")]
    options = dict(config.html_theme_options or {})
    end = options.get("article_header_end") or ["article-header-buttons.html"]
    if isinstance(end, str):
        end = [part.strip() for part in end.split(",") if part.strip()]
    if TEMPLATE not in end:
        options["article_header_end"] = [*end, TEMPLATE]
    config.html_theme_options = options


def _page_context(app, pagename, templatename, context, doctree) -> None:
    if app.builder.name != "html":
        return
    url, hreflang, label = twin(pagename, app.config.language or "en")
    context["edition_twin_url"] = url
    context["edition_twin_lang"] = hreflang
    context["edition_twin_label"] = label
    context["metatags"] = context.get("metatags", "") + (
        f'<link rel="alternate" hreflang="{hreflang}" href="{url}" />\n'
    )


class TranslateTocCaptions(SphinxTransform):
    """Translate the captions of the toctrees that sphinx-external-toc inserts (priority 100), after it."""

    default_priority = 101

    def apply(self, **kwargs) -> None:
        captions = [n for n in self.document.findall(addnodes.toctree) if n.get("caption")]
        catalog = _page_catalog(self.config, self.env.srcdir, self.env.docname) if captions else None
        if catalog is None:
            return
        for node in captions:
            translated = catalog.gettext(node["caption"])
            if translated and translated != node["caption"]:
                node["caption"] = node["rawcaption"] = translated


def _page_catalog(config, srcdir, docname: str):
    """The gettext catalogue of page ``docname`` in the edition being built; None in the English edition or
    when the page has none."""
    if not config.language or config.language == "en" or not config.locale_dirs:
        return None
    dirs = [osp.join(srcdir, d) for d in config.locale_dirs]
    catalog, found = init_locale(dirs, config.language, docname_to_domain(docname, config.gettext_compact))
    return catalog if found else None


def glossary_pairs(path: Path) -> list[tuple[str, str, str]]:
    """Every term line of the glossary page's ``{glossary}`` block as (line, English, Chinese): a line
    ``English · 中文`` that does not start with a space (a definition) or a colon (an option). The one reader
    of the glossary: the Chinese search below and the translation checks of ``.ci/i18n.py`` use it."""
    block = path.read_text(encoding="utf-8").split("```{glossary}", 1)[1].split("\n```", 1)[0]
    pairs = []
    for line in block.splitlines():
        if " · " in line and not line.startswith((" ", ":", "#", "`")):
            english, chinese = (part.strip() for part in line.split(" · ", 1))
            pairs.append((line.strip(), english, chinese))
    return pairs


def _search_terms(app, config) -> None:
    """Chinese search: Sphinx cuts the Chinese pages into words with jieba, whose general dictionary splits
    terms such as 判别器 into 判别 + 器, so a reader's search for the term would find nothing. The glossary's
    Chinese terms are added to jieba's dictionary first, so each is indexed whole."""
    if not str(config.language or "").startswith("zh"):
        return
    try:
        import jieba
    except ImportError:  # Sphinx then indexes Latin words only; the site test says so
        return
    glossary = Path(app.srcdir) / "book" / "glossary.md"
    if not glossary.is_file():
        return
    import re

    for _, _, chinese in glossary_pairs(glossary):
        for term in re.split(r"\s*[/、]\s*|\s+", re.sub(r"[（(].*?[）)]", "", chinese)):
            if re.search(r"[\u4e00-\u9fff]", term):
                jieba.add_word(term.strip())


class translatable_mermaid(mermaid, addnodes.translatable):
    """A mermaid diagram whose source (and alt text) is a translatable message. The writers draw it as the
    mermaid node it subclasses (Sphinx looks a node's visitor up along its class's MRO)."""

    def preserve_original_messages(self) -> None:
        self.setdefault("rawcode", self["code"])
        if "alt" in self:
            self.setdefault("rawalt", self["alt"])

    def extract_original_messages(self) -> list[str]:
        return [self.get("rawcode", self["code"])] + ([self.get("rawalt", self["alt"])] if "alt" in self else [])

    def apply_translated_message(self, original_message: str, translated_message: str) -> None:
        if original_message == self.get("rawcode", self["code"]):
            self["code"] = translated_message
        elif "alt" in self and original_message == self.get("rawalt", self["alt"]):
            self["alt"] = translated_message


class TranslatableMermaid(SphinxTransform):
    """Before Sphinx preserves and translates messages (priorities 10 and 20), replace every mermaid node by
    a translatable one with the same attributes."""

    default_priority = 5

    def apply(self, **kwargs) -> None:
        for node in list(self.document.findall(mermaid)):
            if not isinstance(node, translatable_mermaid):
                copy = translatable_mermaid(node.rawsource, *node.children, **node.attributes)
                # the catalogue files a message under its page: the directive's node carries no position
                copy.source = node.source or self.document.get("source")
                copy.line = node.line or getattr(node.parent, "line", None) or 1
                node.replace_self(copy)


def markdown_parser(extensions: Iterable[str]):
    """MyST's markdown-it parser with the book's ``myst_enable_extensions``: the parser that cut the pages into
    the blocks whose text became the catalogue's messages."""
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser

    return create_md_parser(MdParserConfig(enable_extensions=set(extensions)), RendererHTML)


def translate_markdown(text: str, translate: Callable[[str], str | None], parser) -> tuple[str, list[str]]:
    """``text`` with every paragraph, heading and list item that has a translation replaced by it, and the
    messages that had none.

    A block's message is its source with the line breaks turned into spaces (what Sphinx's gettext builder
    extracts from a MyST page). The translation takes the block's lines, after the first line's markup
    (``## ``, ``1. ``, an indentation) and before anything that follows the text on its last line; displayed
    equations and code are not messages and stay. A block whose lines are not its text's lines (a table row,
    a setext heading) is left in English and reported.
    """
    lines = text.split("\n")
    missing: list[str] = []
    inline = [t for t in parser.parse(text) if t.type == "inline" and t.map and t.content.strip()]
    for token in sorted(inline, key=lambda t: t.map[0], reverse=True):
        start, end = token.map
        parts = token.content.split("\n")
        message = " ".join(parts)
        translated = translate(message)
        if not translated or translated == message:
            missing.append(message)
            continue
        first, last = lines[start].find(parts[0]), lines[end - 1].rfind(parts[-1])
        shared = sum(1 for t in inline if t.map == token.map) > 1
        if shared or len(parts) != end - start or first < 0 or last < 0 or \
                any(part.strip() not in line for part, line in zip(parts, lines[start:end])):
            missing.append(message)
            continue
        lines[start:end] = [lines[start][:first] + translated + lines[end - 1][last + len(parts[-1]):]]
    return "\n".join(lines), missing


def translate_notebook(notebook: dict, translate: Callable[[str], str | None], parser) -> tuple[dict, list[str]]:
    """A copy of ``notebook`` (nbformat 4 as a dict) whose markdown cells are translated by
    :func:`translate_markdown`, and the messages that had no translation. Code cells, outputs and metadata are
    the original's."""
    copy = json.loads(json.dumps(notebook))
    missing: list[str] = []
    for cell in copy.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        text, lost = translate_markdown(source, translate, parser)
        missing += lost
        cell["source"] = text.splitlines(keepends=True)
    return copy, missing


def _translate_downloads(app, exception) -> None:
    """Chinese edition: translate the notebooks that the pages' download buttons serve."""
    if exception is not None or app.builder.name != "html":
        return
    parser = markdown_parser(getattr(app.config, "myst_enable_extensions", []) or [])
    for docname in sorted(app.env.found_docs):
        download = Path(app.outdir) / "_sources" / f"{docname}.ipynb"
        if not str(app.env.doc2path(docname)).endswith(".ipynb") or not download.is_file():
            continue
        catalog = _page_catalog(app.config, app.srcdir, docname)  # None in the English edition
        if catalog is None:
            continue
        notebook, _ = translate_notebook(json.loads(download.read_text(encoding="utf-8")), catalog.gettext, parser)
        download.write_text(json.dumps(notebook, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def setup(app):
    app.connect("build-finished", _translate_downloads)
    app.add_transform(TranslatableMermaid)
    app.add_transform(TranslateTocCaptions)
    app.connect("config-inited", _add_slot)
    app.connect("config-inited", _search_terms)
    app.connect("html-page-context", _page_context)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
