"""Alt text for the figures that notebooks draw, taken from the caption under them.

A figure a notebook cell draws becomes an image named by its content hash, and without help its alt text
is that file name, which a screen reader reads out digit by digit. In this book every such figure is
followed by a caption paragraph, "**Figure N.** What the panels show ..." ("**图 N** ..." in the Chinese
edition, whose captions come from the translations). This transform gives each
image of the cell the caption's first sentence as alt text (with "panel k of n" when a cell draws several)
and leaves images that already have a written alt text alone. The site test fails on any image whose alt
text is still empty or a file name.
"""

from __future__ import annotations

import re

from docutils import nodes

_FIGURE = re.compile(r"^Figure (\d+)[^.]*?\.\s+(.*)", re.S)  # also "Figure 4 and Table 2."
_FIGURE_ZH = re.compile(r"^图 ?\d")  # the Chinese edition's captions: a bold label "图 N" (or "图 4 和表 2"), then text
_FILE_LIKE = re.compile(r"(^|/)[^ ]+\.(png|jpe?g|svg|gif)$", re.I)


def _cell_of(node):
    while node is not None and not (isinstance(node, nodes.container) and "cell" in node.get("classes", [])):
        node = node.parent
    return node


def figure_caption(text: str) -> tuple[str, str] | None:
    """(number, text) of an English caption "Figure N. text" (also "Figure 4 and Table 2. text"), given as
    rendered text or as its markdown source with the bold label ("**Figure N.** text"); None for any other
    paragraph. The one caption rule of the site's alt texts and of the slide decks (``.ci/slides.py``)."""
    m = _FIGURE.match(re.sub(r"^\*\*([^*]+)\*\*\s*", r"\1 ", text.strip()))
    return (m.group(1), m.group(2)) if m else None


def is_chinese_label(label: str) -> bool:
    """True for the bold label that opens a Chinese caption ("图 N", "图 4 和表 2")."""
    return bool(_FIGURE_ZH.match(label.strip()))


def drop_label(markdown: str) -> str:
    """A caption's markdown without its bold label, in either language."""
    return re.sub(r"^\*\*[^*]+\*\*\s*", "", markdown.strip())


def first_sentence(text: str) -> str:
    """The first sentence (English or Chinese punctuation) of ``text``, at most 300 characters."""
    text = " ".join(text.split())
    m = re.match(r"(.+?(?:[.!?](?=\s|$)|[。！？]))", text)
    return (m.group(1) if m else text)[:300]


def _add_alt(app, doctree) -> None:
    for cell in list(doctree.findall(lambda n: isinstance(n, nodes.container) and "cell" in n.get("classes", []))):
        images = [img for img in cell.findall(nodes.image)
                  if not img.get("alt") or _FILE_LIKE.search(img["alt"]) or img["alt"] == img.get("uri")]
        if not images or cell.parent is None:
            continue
        siblings = cell.parent.children
        following = siblings[siblings.index(cell) + 1] if siblings.index(cell) + 1 < len(siblings) else None
        if not isinstance(following, nodes.paragraph):
            continue
        text = following.astext()
        m = figure_caption(text)
        kids = [c for c in following.children if c.astext().strip()]  # a translated paragraph may start with ''
        label = kids[0] if kids and isinstance(kids[0], nodes.strong) else None
        if m is not None:
            alt = f"Figure {m[0]}: {first_sentence(m[1])}"
        elif label is not None and is_chinese_label(label.astext()):
            head = label.astext().rstrip(".。 ")
            alt = f"{head}：{first_sentence(text.strip()[len(label.astext()):])}"
        else:
            continue
        for k, img in enumerate(images, 1):
            panel = f" (panel {k} of {len(images)})" if m is not None else f"（第 {k} 幅，共 {len(images)} 幅）"
            img["alt"] = alt if len(images) == 1 else alt + panel


def setup(app):
    app.connect("doctree-read", _add_alt)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
