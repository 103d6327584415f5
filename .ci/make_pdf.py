"""Print the whole book to one PDF: the single-page HTML build, typeset in Chromium, saved as A4.

    python .ci/make_pdf.py [SINGLEHTML_DIR] [--out FILE]

``make pdf`` first builds the book as one HTML page (``jupyter-book build . --builder singlehtml``, reusing
the notebooks executed by ``make book``), then runs this script: it serves that folder on 127.0.0.1,
opens it in the system's Chromium through Playwright with every other host blocked, waits until MathJax
has typeset every formula and mermaid has drawn every diagram, and prints the page to
``_build/pdf/aigc-from-zero-to-practice.pdf`` with page numbers in the footer. The sidebars and buttons of
the web theme are hidden in print. Chinese text (the Chinese edition, the glossary's terms) is set in Noto
Sans CJK from the pinned ``mplfonts`` wheel (:func:`site_test.font_environment`), and the PDF must embed it.
Exits 1 with a message when no Chromium or Playwright is installed.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / ".ci"))
from site_test import (RAW_LATEX_JS, find_chromium, offline_context, serve,  # noqa: E402 - as the site test
                       wait_for_typesetting)

PRINT_WIDTH_PX = round((210 - 2 * 12) / 25.4 * 96)  # A4's width less the 12 mm margins, in CSS pixels
PRINT_CSS = """
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .header-article, .prev-next-area, .bd-footer,
.bd-footer-article, .headerlink, .copybtn, .toggle-secondary-sidebar, .search-button, #pst-back-to-top { display: none !important; }
.bd-main .bd-content .bd-article-container { max-width: 100% !important; }
.bd-container, .bd-page-width { max-width: 100% !important; }
pre { white-space: pre-wrap !important; word-break: break-word; }
img { max-width: 100% !important; page-break-inside: avoid; }
h1 { page-break-before: always; }
.bd-article { padding-left: 0 !important; padding-right: 0 !important; }  /* paper has its own margins */
:root {  /* Chinese glyphs from the wheel's Noto fonts, whatever CJK fonts the system has (font_environment) */
  --pst-font-family-base: var(--pst-font-family-base-system), "Noto Sans CJK SC";
  --pst-font-family-heading: var(--pst-font-family-base-system), "Noto Sans CJK SC";
  --pst-font-family-monospace: var(--pst-font-family-monospace-system), "Noto Sans Mono CJK SC";
}
"""


# Paper cannot scroll: a table wider than the page (a notebook's data frame, a long table of the book) would be
# cut at the paper's edge and lose its last columns. Each such table is scaled down to the width it has (CSS zoom,
# which scales its layout too), to no less than half its size; returns how many were scaled and the widths of
# those still too wide.
FIT_TABLES_JS = """() => {
    const SMALLEST = 0.5, over = t => t.getBoundingClientRect().width - t.parentElement.clientWidth;
    for (const t of document.querySelectorAll('table')) {
        let scale = 1;
        for (let i = 0; i < 5 && over(t) > 1 && scale > SMALLEST; i++) {  // a table's borders do not scale: again
            scale = Math.max(SMALLEST, scale * 0.995 * t.parentElement.clientWidth / t.getBoundingClientRect().width);
            t.style.zoom = scale.toFixed(3);
            t.dataset.printZoom = scale.toFixed(3);
        }
    }
    const tables = [...document.querySelectorAll('table')];
    return {scaled: tables.filter(t => t.dataset.printZoom).length,
            cut: tables.filter(t => over(t) > 1)
                       .map(t => Math.round(t.getBoundingClientRect().width) + '/' + t.parentElement.clientWidth)};
}"""


# After those fits, anything that still reaches past the article's right edge is cut off on paper (an inline
# formula, a long word, a figure): the elements, outermost first, with how far they reach (MathJax's hidden
# copies of each formula for screen readers excepted).
PAST_THE_EDGE_JS = """() => {
    const article = document.querySelector('article.bd-article') || document.body;
    const edge = article.getBoundingClientRect().right + 2, out = [];
    for (const e of article.querySelectorAll('*')) {
        const r = e.getBoundingClientRect();
        if (!r.width || r.right <= edge || e.closest('mjx-assistive-mml')) continue;
        if (out.some(o => o.e.contains(e))) continue;
        out.push({e: e, text: e.tagName.toLowerCase() + ' +' + Math.round(r.right - edge) + 'px "'
                  + (e.textContent || '').trim().slice(0, 40) + '"'});
    }
    return out.map(o => o.text);
}"""


def start_page(folder: Path) -> str:
    """The single page itself, at the top of the folder.

    Jupyter Book's ``index.html`` only redirects to the page (``book/intro.html``), whose links to
    ``_static/`` and ``_images/`` are written relative to the top folder; opened where it lies they would all
    miss. A copy at the top (``whole-book.html``) finds them.
    """
    text = (folder / "index.html").read_text(encoding="utf-8", errors="replace")[:2000]
    m = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', text)
    if not m:
        return "index.html"
    (folder / "whole-book.html").write_bytes((folder / m.group(1)).read_bytes())
    return "whole-book.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(ROOT / "_build" / "singlehtml"))
    parser.add_argument("--out", default=str(ROOT / "_build" / "pdf" / "aigc-from-zero-to-practice.pdf"))
    parser.add_argument("--skip-without-browser", action="store_true",
                        help="exit 0 with a message when Chromium is missing (make test, like the site test)")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    if not (folder / "index.html").is_file():
        print(f"make pdf: no single-page build at {folder}; run `make pdf` (it builds one first)")
        return 1
    chromium = find_chromium()
    if chromium is None:
        print("make pdf: needs Chromium and Playwright (Debian: apt-get install chromium; Playwright is in "
              "requirements.txt)" + ("; SKIPPED" if args.skip_without_browser else ""))
        return 0 if args.skip_without_browser else 1
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    server, base = serve(folder)
    try:
        with offline_context(chromium) as (context, outside):
            page = context.new_page()
            page.goto(base + start_page(folder), wait_until="load", timeout=300_000)
            wait_for_typesetting(page, 300_000)
            page.add_style_tag(content=PRINT_CSS)
            page.emulate_media(media="print")
            # lay the page out at the printed width (A4 less the margins: 186 mm, 703 CSS px) and let
            # site-fixes.js shrink the display equations that would be cut at the paper's edge
            page.set_viewport_size({"width": PRINT_WIDTH_PX, "height": 1000})
            page.evaluate("() => window.fitDisplayMath && window.fitDisplayMath()")
            fitted = page.evaluate(FIT_TABLES_JS)
            cut, scaled = fitted["cut"], fitted["scaled"]
            past = page.evaluate(PAST_THE_EDGE_JS)
            page.pdf(path=str(out), format="A4", print_background=True, display_header_footer=True,
                     header_template="<span></span>",
                     footer_template='<div style="font-size:8px;width:100%;text-align:center;">'
                                     '<span class="pageNumber"></span> / <span class="totalPages"></span></div>',
                     margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"})
            raw = page.evaluate("() => { " + RAW_LATEX_JS + " return raw; }")
            chinese = page.evaluate("/[\\u4e00-\\u9fff]/.test(document.body.innerText)")
    finally:
        server.shutdown()
    if outside:
        print(f"make pdf: blocked {len(outside)} requests to other hosts, e.g. {outside[:3]}")
        return 1
    if raw:
        print(f"make pdf: {raw} pieces of raw LaTeX were left untypeset")
        return 1
    if cut:
        print(f"make pdf: {len(cut)} tables are wider than the page even at half size and lose columns "
              f"(px: {cut[:5]})")
        return 1
    if past:
        print(f"make pdf: {len(past)} things reach past the page's right edge and would be cut off: {past[:5]}")
        return 1
    data = out.read_bytes()
    if chinese and not re.search(rb"/FontName\s*/[A-Z]{6}\+Noto\w*CJK", data):
        print("make pdf: the book has Chinese text but no Chinese font went into the PDF (its characters would "
              "print as empty boxes); the pinned mplfonts wheel provides Noto Sans CJK (make venv)")
        return 1
    pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", data))
    print(f"make pdf: wrote {out} ({pages} pages, {out.stat().st_size / 1e6:.1f} MB; {scaled} wide tables scaled "
          "to the page)")
    if pages < 50:
        print("make pdf: fewer than 50 pages: the single-page build is not the whole book")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
