"""Alt text for the figures that notebooks draw, taken from the caption under them.

A figure a notebook cell draws becomes an image named by its content hash, and without help its alt text
is that file name, which a screen reader reads out digit by digit. In this book every such figure is
followed by a caption paragraph, "**Figure N.** What the panels show ...". This transform gives each
image of the cell the caption's first sentence as alt text (with "panel k of n" when a cell draws several)
and leaves images that already have a written alt text alone. The site test fails on any image whose alt
text is still empty or a file name.
"""

from __future__ import annotations

import re

from docutils import nodes

_FIGURE = re.compile(r"^Figure (\d+)[^.]*?\.\s+(.*)", re.S)  # also "Figure 4 and Table 2."
_FILE_LIKE = re.compile(r"(^|/)[^ ]+\.(png|jpe?g|svg|gif)$", re.I)


def _cell_of(node):
    while node is not None and not (isinstance(node, nodes.container) and "cell" in node.get("classes", [])):
        node = node.parent
    return node


def first_sentence(text: str) -> str:
    text = " ".join(text.split())
    m = re.match(r"(.+?[.!?])(\s|$)", text)
    return (m.group(1) if m else text)[:300]


def _add_alt(app, doctree) -> None:
    for cell in list(doctree.findall(lambda n: isinstance(n, nodes.container) and "cell" in n.get("classes", []))):
        images = [img for img in cell.findall(nodes.image)
                  if not img.get("alt") or _FILE_LIKE.search(img["alt"]) or img["alt"] == img.get("uri")]
        if not images or cell.parent is None:
            continue
        siblings = cell.parent.children
        following = siblings[siblings.index(cell) + 1] if siblings.index(cell) + 1 < len(siblings) else None
        m = _FIGURE.match(following.astext()) if isinstance(following, nodes.paragraph) else None
        if m is None:
            continue
        alt = f"Figure {m.group(1)}: {first_sentence(m.group(2))}"
        for k, img in enumerate(images, 1):
            img["alt"] = alt if len(images) == 1 else f"{alt} (panel {k} of {len(images)})"


def setup(app):
    app.connect("doctree-read", _add_alt)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
