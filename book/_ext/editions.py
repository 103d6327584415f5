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

This extension puts that link in every page's header (the theme's ``article_header_end`` slot, beside the
download and full-screen buttons) and tells search engines about the twin (``<link rel="alternate">``).
"""

from __future__ import annotations

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
        language = self.config.language
        if not language or language == "en" or not self.config.locale_dirs:
            return
        captions = [n for n in self.document.findall(addnodes.toctree) if n.get("caption")]
        if not captions:
            return
        domain = docname_to_domain(self.env.docname, self.config.gettext_compact)
        dirs = [osp.join(self.env.srcdir, d) for d in self.config.locale_dirs]
        catalog, found = init_locale(dirs, language, domain)
        if not found:
            return
        for node in captions:
            translated = catalog.gettext(node["caption"])
            if translated and translated != node["caption"]:
                node["caption"] = node["rawcaption"] = translated


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


def setup(app):
    app.add_transform(TranslatableMermaid)
    app.add_transform(TranslateTocCaptions)
    app.connect("config-inited", _add_slot)
    app.connect("config-inited", _search_terms)
    app.connect("html-page-context", _page_context)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
