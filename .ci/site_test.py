"""Test the built website in a real browser, with the network to every other host blocked.

    python .ci/site_test.py [HTML_DIR]          (default: _build/html; make test uses the book check's build)

Serves the folder on 127.0.0.1 and drives the system's Chromium through Playwright (no browser is
downloaded). Every request to any host but 127.0.0.1 is blocked and counted as a failure. On every page:
no console error and no uncaught exception; math typeset by MathJax (no raw ``\\frac`` or ``$$`` left in
the text); every mermaid diagram drawn as an SVG; every image loaded. The search page finds "ELBO". On every
exercise page the solutions are hidden until their title is clicked, and a click shows them; a
concept question marks a clicked answer right or wrong and shows why. The job explorer answers a search
in English and in Chinese with the numbers the data files give (computed here, not read from the page's
data). Each chapter's slide deck starts, with its formulas typeset and its figures loaded, and its
chapter page links to it. Every image has a written alt text (not a file name), and a click on a notebook's
figure enlarges it. Both editions (English, and Chinese under ``zh/``): every page links to its twin, the
Chinese pages are in Chinese (``lang="zh-CN"``, more Chinese than English in the article), the Chinese search
finds 判别器, the switch goes from a Chinese chapter to its English twin and back, and every notebook a page
offers for download is a notebook (with its narrative in Chinese on a Chinese page). The header's buttons and the
edition switch stay inside the article header, at desktop and at phone width. At
phone width the menu button opens the chapter list, and a screenshot of one chapter is saved under
``_build/site-test/``. Internal links and anchors are checked by a crawl of the files.

Exits 0 with a clear message when no Chromium or no Playwright is installed (``.ci/run`` installs
Chromium), so a reader's ``make test`` without a browser still passes, and says that it skipped.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import re
import shutil
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

ROOT = Path(__file__).resolve().parent.parent
SKIP_PAGES = {"genindex.html", "py-modindex.html", "search.html"}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"])


def check_links(folder: Path) -> list[str]:
    """Every internal link points at an existing file, and every #anchor at an existing id."""
    parsed: dict[Path, _Links] = {}

    def parse(path: Path) -> _Links:
        if path not in parsed:
            p = _Links()
            p.feed(path.read_text(encoding="utf-8", errors="replace"))
            parsed[path] = p
        return parsed[path]

    problems = []
    for page in sorted(folder.rglob("*.html")):
        if "_modules" in page.parts or "_static" in page.parts:
            continue
        for href in parse(page).hrefs:
            url = urlparse(href)
            if url.scheme or url.netloc or href.startswith("mailto:"):
                continue
            target = page if not url.path else (page.parent / unquote(url.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                problems.append(f"{page.relative_to(folder)}: broken link {href}")
            elif url.fragment and target.suffix == ".html" and unquote(url.fragment) not in parse(target).ids:
                problems.append(f"{page.relative_to(folder)}: missing anchor {href}")
    return problems


CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN_WORD = re.compile(r"\b[A-Za-z]{3,}\b")


def not_chinese(text: str) -> str | None:
    """Why ``text`` is not Chinese (fewer than 20 Chinese characters, or more English words than Chinese
    characters / 2), or None when it is."""
    han, words = len(CJK.findall(text)), len(LATIN_WORD.findall(text))
    return f"{han} Chinese characters, {words} English words" if han < 20 or words > han / 2 else None


def article_text(html: str) -> str:
    """The reader's text of a page's article (``<main>``): no code, math, scripts, tables of numbers or tags."""
    m = re.search(r"<main\b.*?</main>", html, re.S)
    body = m.group(0) if m else html
    for pattern in (r"<(script|style|pre|code|svg)\b.*?</\1>", r'<(span|div) class="math[^"]*">.*?</\1>',
                    r'<div class="cell_output.*?</div>\s*</div>'):
        body = re.sub(pattern, " ", body, flags=re.S)
    return re.sub(r"<[^>]+>", " ", body)


def check_editions(folder: Path) -> list[str]:
    """Both editions are there, every page links to its twin, and the Chinese pages are written in Chinese.

    A Chinese page whose article has more English words than Chinese characters / 2 was not translated (the API
    reference's docstrings stay English by design and are left out of that count).
    """
    zh = folder / "zh"
    if not (zh / "index.html").is_file():
        return [f"no Chinese edition at {zh.relative_to(folder.parent) if zh.is_relative_to(folder.parent) else zh}"]
    problems = []
    for page in sorted(folder.rglob("*.html")):
        rel = page.relative_to(folder)
        if "_modules" in rel.parts or "_static" in rel.parts or "slides" in rel.parts or "reports" in rel.parts:
            continue
        html = page.read_text(encoding="utf-8", errors="replace")
        if 'http-equiv="Refresh"' in html[:2000] or rel.name in SKIP_PAGES:
            continue
        chinese = rel.parts[0] == "zh"
        twin = folder / Path(*rel.parts[1:]) if chinese else zh / rel
        m = re.search(r'<a class="btn btn-sm edition-switch" href="([^"]+)"', html)
        if not m:
            problems.append(f"{rel}: no link to the other edition")
            continue
        if (page.parent / m.group(1)).resolve() != twin.resolve() or not twin.is_file():
            problems.append(f"{rel}: the edition link {m.group(1)} does not open its twin {twin.relative_to(folder)}")
        if chinese and re.search(r"<p>::</p>|\\\[::\\\]", html):
            problems.append(f"{rel}: a translated literal block or equation was lost (a paragraph '::' is left)")
        if chinese and "api" not in rel.parts and rel.name != "bibliography.html":  # references keep their titles
            lang = re.search(r'<html[^>]*\blang="([^"]*)"', html)
            if not lang or lang.group(1) != "zh-CN":
                problems.append(f"{rel}: <html lang={lang.group(1) if lang else None!r}>, not zh-CN")
            why = not_chinese(article_text(html))
            if why:
                problems.append(f"{rel}: not in Chinese ({why})")
    return problems


LAUNCH = re.compile(r'href="https://(mybinder\.org|colab\.research\.google\.com)/')


def check_downloads(folder: Path) -> list[str]:
    """Every notebook a page offers for download is there and is a notebook; a Chinese page's notebook has its
    markdown in Chinese (the editions extension translates the copy), the same test as a Chinese page's article.
    No page offers a Binder or Colab launch: the notebook would start there without the course package."""
    problems, offered = [], 0
    for page in sorted(folder.rglob("*.html")):
        rel = page.relative_to(folder)
        if "_modules" in rel.parts or "_static" in rel.parts or "_sources" in rel.parts:
            continue
        html = page.read_text(encoding="utf-8", errors="replace")
        if LAUNCH.search(html):
            problems.append(f"{rel}: offers to launch the notebook on a remote service, where the course package and "
                            f"data are missing")
        for href in sorted(set(re.findall(r'href="([^":]+\.ipynb)"', html))):
            offered += 1
            target = (page.parent / unquote(href)).resolve()
            try:
                cells = json.loads(target.read_text(encoding="utf-8"))["cells"]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                problems.append(f"{rel}: the download {href} is not a notebook ({type(exc).__name__})")
                continue
            if rel.parts[0] == "zh":
                text = " ".join("".join(c["source"]) for c in cells if c.get("cell_type") == "markdown")
                why = not_chinese(re.sub(r"`[^`]*`|\$[^$]*\$|\(https?://[^)]*\)", " ", text))
                if why:
                    problems.append(f"{rel}: the downloaded notebook {href} is not in Chinese ({why} in its markdown)")
    if not offered:
        problems.append("no page offers a notebook for download")
    return problems


def find_chromium() -> str | None:
    """The system's Chromium (no browser is downloaded), or None when it or Playwright is missing."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return None
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def block_other_hosts(context) -> list[str]:
    """Let a Playwright context reach 127.0.0.1 (and data:/blob: URLs) only; the list it returns collects
    every blocked request."""
    outside: list[str] = []

    def route(r):
        host = urlparse(r.request.url).hostname
        if host in ("127.0.0.1", None) or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    return outside


def font_environment() -> dict[str, str]:
    """Chromium's environment with the pinned ``mplfonts`` wheel's fonts (Noto Sans CJK) added to fontconfig's
    folders: a fresh machine may have no font with Chinese glyphs, and the Chinese edition, the glossary's
    Chinese terms and the PDF would show empty boxes. The system's own configuration is kept."""
    import importlib.util

    spec = importlib.util.find_spec("mplfonts")
    wheel_fonts = Path(next(iter(spec.submodule_search_locations))) / "fonts" if spec and spec.submodule_search_locations else None
    if wheel_fonts is None or not wheel_fonts.is_dir():
        return dict(os.environ)
    folder = ROOT / "_build" / "fontconfig"
    noto = folder / "fonts"
    noto.mkdir(parents=True, exist_ok=True)
    for font in wheel_fonts.glob("Noto*CJK*.otf"):  # the wheel's Noto fonts only (it also carries others)
        link = noto / font.name
        link.unlink(missing_ok=True)  # also a link left dangling by an earlier .venv
        link.symlink_to(font)
    conf = folder / "fonts.conf"
    conf.write_text('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
                    '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
                    f"  <dir>{noto}</dir>\n  <cachedir>{folder / 'cache'}</cachedir>\n</fontconfig>\n",
                    encoding="utf-8")
    return {**os.environ, "FONTCONFIG_FILE": str(conf)}


@contextlib.contextmanager
def offline_context(chromium: str):
    """A Playwright browser context of ``chromium`` that reaches 127.0.0.1 only (:func:`block_other_hosts`):
    yields ``(context, blocked requests)`` and closes the browser on exit. The site test and ``make pdf`` use it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"], env=font_environment())
        try:
            context = browser.new_context()
            yield context, block_other_hosts(context)
        finally:
            browser.close()


def wait_for_typesetting(page, timeout_ms: int = 30_000) -> None:
    """Wait until MathJax has typeset the page and every mermaid diagram is an SVG."""
    if page.evaluate("!!window.MathJax"):
        page.wait_for_function("window.MathJax.startup && window.MathJax.startup.promise", timeout=timeout_ms)
        page.evaluate("window.MathJax.startup.promise")
        # site-fixes.js (on the book's pages, not the slides) shrinks the display equations that are too wide
        if page.evaluate("!!document.querySelector('script[src*=\"site-fixes.js\"]')"):
            page.wait_for_function("document.documentElement.dataset.mathFitted === '1'", timeout=timeout_ms)
    if page.evaluate("document.querySelectorAll('pre.mermaid, div.mermaid').length"):
        page.wait_for_function(
            "[...document.querySelectorAll('pre.mermaid, div.mermaid')].every(e => e.querySelector('svg'))",
            timeout=timeout_ms)


#: JavaScript: the main text without code, scripts and typeset math, and the pieces of raw LaTeX left in it.
RAW_LATEX_JS = """const main = document.querySelector('main') || document.body;
                    const clone = main.cloneNode(true);
                    clone.querySelectorAll('pre, code, script, style, mjx-container, .highlight').forEach(e => e.remove());
                    const raw = (clone.innerText.match(/\\\\frac|\\$\\$|\\\\mathbb|\\\\begin\\{/g) || []).length;
                    // a lone dollar next to a formula's letters (a display formula the parser did not take)
                    const dollars = (clone.innerText.match(/\\$(?=[A-Za-z\\\\{])|(?<=[A-Za-z}])(?<!US)\\$(?![\\d$])/g) || []).length;
                    // a docstring's reST role written out on a Markdown page
                    const roles = (clone.innerText.match(/:(math|class|func|meth|attr|mod|obj):`/g) || []).length;"""

# Readability of what MathJax and mermaid drew: display equations wider than their column after site-fixes.js
# shrank them, and diagram labels drawn smaller than 10 px (a wide diagram scaled down to the column); the book's
# tables wider than the article (cut at its edge: a reader must scroll the table sideways to see its last
# columns), a notebook's printed data frame included (compared with its output cell); and ids that the page
# uses twice.
DRAWN_JS = """() => {
    const fitted = document.documentElement.dataset.mathFitted === '1';  // a book page (slides fit their own)
    const wide = [...document.querySelectorAll(fitted ? 'mjx-container[display="true"]' : 'none')]
        .filter(b => b.scrollWidth > b.clientWidth + 1).map(b => b.scrollWidth + '/' + b.clientWidth);
    const small = [...document.querySelectorAll('pre.mermaid svg, div.mermaid svg')].map(svg => {
        const label = svg.querySelector('.nodeLabel, .label');
        const box = svg.viewBox.baseVal;
        if (!label || !box || !box.width) return null;
        return parseFloat(getComputedStyle(label).fontSize) * svg.getBoundingClientRect().width / box.width;
    }).filter(size => size !== null && size < 10).map(size => size.toFixed(1));
    const article = document.querySelector('article.bd-article');
    const tables = [...document.querySelectorAll(article ? 'article.bd-article table' : 'none')].map(t => {
        const box = t.closest('.cell_output .output, .cell_output') || t.parentElement;  // a data frame: its cell
        return [t.offsetWidth, box.clientWidth];
    }).filter(([table, box]) => table > box + 1).map(([table, box]) => table + '/' + box);
    const ids = [...document.querySelectorAll('[id]')].map(e => e.id);
    const seen = new Set(), twice = new Set();
    ids.forEach(id => (seen.has(id) ? twice : seen).add(id));
    return {wide: wide, small: small, tables: tables, twice: [...twice]};
}"""


def expected_job(code: str) -> dict[str, str]:
    """What the job explorer must show for an O*NET code, computed here from the data files (not the page's data)."""
    sys.path.insert(0, str(ROOT))
    from aigc_lessons.data import load_occupations

    data = load_occupations()
    row = data.occupations.set_index("O*NET-SOC Code").loc[code]
    oews = data.oews[(data.oews["O_GROUP"] == "detailed") & (data.oews["OCC_CODE"] == code[:7])].iloc[0]
    shown = {"title": str(row["Title"]), "code": f"({code})", "employment": f"{int(oews['TOT_EMP']):,}"}
    for m in ("alpha", "beta", "gamma"):
        shown[f"human-{m}"] = f"{100 * row[f'human_rating_{m}']:.1f}%"
        shown[f"gpt4-{m}"] = f"{100 * row[f'dv_rating_{m}']:.1f}%"
    return shown


def check_job_explorer(page, base: str, pages: list[str], problems: list[str]) -> None:
    """Search the careers chapter's job explorer in English and Chinese and read back what it shows."""
    rel = next((p for p in pages if p.endswith("ch05_careers/job_explorer.html")), None)
    if rel is None:
        problems.append("no job explorer page (book/ch05_careers/job_explorer.html) in the site")
        return
    # in each edition: the search finds the right occupations and shows their numbers; the explorer speaks the
    # edition's language (the data stay English), and its text for paper (shown when the page is printed, and
    # without JavaScript) survives the explorer's start
    for edition in [rel] + [p for p in pages if p.endswith("zh/" + rel)]:
        zh = edition.startswith("zh/")
        page.goto(base + edition, wait_until="load")
        box = page.locator("#job-explorer input")
        if box.count() == 0:
            problems.append(f"{edition}: the job explorer did not start (no search box)")
            continue
        for n, (query, code) in enumerate((("律师", "23-1011.00"), ("registered nurse", "29-1141.00"))):
            box.fill(query)
            try:
                page.wait_for_selector("#job-explorer [data-field=title]", timeout=10_000)
            except Exception:
                problems.append(f"{edition}: searching {query!r} shows no occupation")
                continue
            expected = expected_job(code)
            shown = {k: page.locator(f"#job-explorer [data-field={k}]").first.inner_text().strip() for k in expected}
            wrong = {k: (shown[k], v) for k, v in expected.items() if shown[k] != v}
            if wrong:
                problems.append(f"{edition}: searching {query!r}: shown != expected: {wrong}")
            if page.locator("#job-explorer [data-field=tasks] tbody tr").count() == 0:
                problems.append(f"{edition}: searching {query!r} lists no tasks")
            if n:
                continue
            said = page.evaluate("""() => [...document.querySelectorAll('#job-explorer .job-explorer-status, '
                + '#job-explorer .job-explorer-examples, #job-explorer th')].map(e => e.textContent).join(' ')""")
            fallback = page.evaluate(
                "(document.querySelector('#job-explorer p.job-explorer-static') || {}).textContent || ''")
            for what, text in (("labels are", said), ("text for paper is", fallback)):
                if not text.strip() or bool(not_chinese(text)) == zh:
                    problems.append(f"{edition}: the job explorer's {what} not in the edition's language: "
                                    f"{text[:120]!r}")


def check_figure_zoom(page, base: str, folder: Path, pages: list[str], problems: list[str]) -> None:
    """A click on a notebook's figure shows it at full size over the page; Escape closes it."""
    def has_figure(rel: str) -> bool:
        text = (folder / rel).read_text("utf-8")
        return "cell_output" in text and "<img" in text

    rel = next((p for p in pages if p.startswith("notebooks/") and has_figure(p)), None)
    if rel is None:
        problems.append("no notebook page with a figure in the site (were the notebooks executed?)")
        return
    page.goto(base + rel, wait_until="load")
    page.locator("main .cell_output img").first.click()
    page.wait_for_timeout(200)
    big = page.locator("div.figure-zoom img")
    if big.count() != 1 or not big.is_visible() or not big.evaluate("i => i.complete && i.naturalWidth > 0"):
        problems.append(f"{rel}: clicking a figure does not show it enlarged")
        return
    page.keyboard.press("Escape")
    page.wait_for_timeout(200)
    if page.locator("div.figure-zoom").count():
        problems.append(f"{rel}: Escape does not close the enlarged figure")
    if "zh/" + rel in pages:  # the figure's hint in the Chinese edition is Chinese
        page.goto(base + "zh/" + rel, wait_until="load")
        hint = page.locator("main .cell_output img").first.get_attribute("title") or ""
        if not CJK.search(hint):
            problems.append(f"zh/{rel}: a figure's hint is not Chinese: {hint!r}")


def check_slides(page, base: str, folder: Path, pages: list[str], problems: list[str]) -> None:
    """One deck per chapter; reveal.js starts; formulas typeset; figures load; the chapter page links to it."""
    chapters = sorted(p.name for p in (ROOT / "book").glob("ch[0-9][0-9]_*") if p.is_dir())
    decks = sorted(p for p in pages if re.fullmatch(r"slides/ch\d\d_[a-z_]+\.html", p))
    if [Path(d).stem for d in decks] != chapters:
        problems.append(f"slides: decks {decks} do not match the chapters {chapters}")
    figures = 0
    for rel in decks:
        page.goto(base + rel, wait_until="load")
        wait_for_typesetting(page, 20_000)
        state = page.evaluate("""() => {
            const clone = document.querySelector('.reveal').cloneNode(true);
            clone.querySelectorAll('mjx-container, script, pre, code').forEach(e => e.remove());
            return {ready: !!(window.Reveal && Reveal.isReady()), slides: window.Reveal ? Reveal.getTotalSlides() : 0,
                    formulas: document.querySelectorAll('.formula').length,
                    typeset: document.querySelectorAll('.formula mjx-container').length,
                    raw: (clone.textContent.match(/\\\\\\[|\\\\\\(/g) || []).length,
                    figures: document.querySelectorAll('.reveal section img').length};
        }""")
        if not state["ready"] or state["slides"] < 5:
            problems.append(f"{rel}: reveal.js did not start or the deck is short ({state})")
        if state["typeset"] < state["formulas"] or state["raw"]:
            problems.append(f"{rel}: formulas not typeset ({state})")
        figures += state["figures"]
        chapter = f"book/{Path(rel).stem}/index.html"
        if not (folder / chapter).is_file() or f"slides/{Path(rel).name}" not in (folder / chapter).read_text("utf-8"):
            problems.append(f"{chapter}: no link to its slides")
    if decks and figures == 0:
        problems.append("slides: no deck has a figure (were the notebooks executed before the build?)")
    print(f"site test: {len(decks)} slide decks, {figures} figures in them")


# The article header's buttons and the edition switch lie inside the header's band (the theme stacks that slot's
# items unless book/_static/site.css lays them out in a row; stacked, they stick out above and below it).
HEADER_FITS_JS = """() => {
    const band = document.querySelector('.bd-header-article');
    const items = [...document.querySelectorAll('.article-header-buttons, a.edition-switch')];
    if (!band || !items.length) return true;
    const h = band.getBoundingClientRect();
    return items.every(e => { const r = e.getBoundingClientRect();
                              return r.top >= h.top - 1 && r.bottom <= h.bottom + 1; });
}"""


# The performance page has tables of a few records (one column per record, the record names in the header row),
# and their first column, which names the quantities, is bold (book/_static/site.css); that they fit the article,
# as every table of the book must, is checked on every page (DRAWN_JS).
RECORD_TABLES_JS = """() => {
    const tables = [...document.querySelectorAll('main table')].filter(t => t.querySelector('thead th:nth-child(2) code'));
    const plain = tables.filter(t => { const c = t.querySelector('tbody td');
                                       return !c || parseInt(getComputedStyle(c).fontWeight) < 700; }).length;
    return {n: tables.length, plain: plain};
}"""


def check_record_tables(page, base: str, pages: list[str], problems: list[str]) -> None:
    for rel in [p for p in pages if p.endswith("book/performance.html")]:
        page.goto(base + rel, wait_until="load")
        state = page.evaluate(RECORD_TABLES_JS)
        if not state["n"]:
            problems.append(f"{rel}: no table of records with one column per record")
        if state["plain"]:
            problems.append(f"{rel}: {state['plain']} tables of a few records do not set their first column in bold")


def browser_checks(folder: Path, chromium: str) -> list[str]:
    server, base = serve(folder)
    problems: list[str] = []
    shots = ROOT / "_build" / "site-test"
    shots.mkdir(parents=True, exist_ok=True)
    pages = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.html")
                   if "_modules" not in p.parts and "_static" not in p.parts and p.name not in SKIP_PAGES
                   and 'http-equiv="Refresh"' not in p.read_text(encoding="utf-8", errors="replace")[:2000])
    try:
        with offline_context(chromium) as (context, outside):
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            for rel in pages:
                errors.clear()
                page.goto(base + rel, wait_until="load")
                wait_for_typesetting(page, 20_000)
                state = page.evaluate("""() => {
                    """ + RAW_LATEX_JS + """
                    const imgs = [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src);
                    const noAlt = [...document.querySelectorAll('main img, .reveal img')]
                        .filter(i => !i.alt || /\\.(png|jpe?g|svg|gif)$/i.test(i.alt)).map(i => i.src.split('/').pop());
                    return {raw: raw, dollars: dollars, roles: roles, badImages: imgs, noAlt: noAlt};
                }""")
                if state["raw"]:
                    problems.append(f"{rel}: {state['raw']} pieces of raw LaTeX left in the text")
                if state["dollars"]:
                    problems.append(f"{rel}: {state['dollars']} lone dollar signs beside letters (math left as text)")
                if state["roles"]:
                    problems.append(f"{rel}: {state['roles']} reST roles (:math:`…` and the like) shown as text")
                drawn = page.evaluate(DRAWN_JS)
                if drawn["wide"]:
                    problems.append(f"{rel}: {len(drawn['wide'])} display equations wider than their column "
                                    f"(px: {drawn['wide'][:3]}) at {page.viewport_size['width']} px")
                if drawn["tables"]:
                    problems.append(f"{rel}: {len(drawn['tables'])} tables wider than the article "
                                    f"(px: {drawn['tables'][:3]}) at {page.viewport_size['width']} px")
                if drawn["twice"]:  # a link to such an id lands on the first element that has it
                    problems.append(f"{rel}: ids used more than once: {drawn['twice'][:5]}")
                if drawn["small"]:
                    problems.append(f"{rel}: mermaid diagrams with labels drawn at {drawn['small']} px (< 10)")
                if state["noAlt"]:
                    problems.append(f"{rel}: {len(state['noAlt'])} images without a written alt text: {state['noAlt'][:3]}")
                if state["badImages"]:
                    problems.append(f"{rel}: images that did not load: {state['badImages'][:3]}")
                if errors:
                    problems.append(f"{rel}: console errors: {errors[:3]}")
                if not page.evaluate(HEADER_FITS_JS):
                    problems.append(f"{rel}: the header's buttons or the edition switch stick out of the article header")
            # search, in both editions
            page.goto(base + "search.html?q=ELBO", wait_until="load")
            page.wait_for_function("document.querySelectorAll('#search-results li').length > 0", timeout=20_000)
            if (folder / "zh" / "search.html").is_file():
                page.goto(base + "zh/search.html?q=" + quote("判别器"), wait_until="load")
                page.wait_for_function("document.querySelectorAll('#search-results li').length > 0", timeout=20_000)
                # the edition switch: from a Chinese chapter to its English twin and back
                page.goto(base + "zh/book/ch02_gan/index.html", wait_until="load")
                page.locator("a.edition-switch").first.click()
                page.wait_for_load_state("load")
                if not page.url.endswith("/book/ch02_gan/index.html") or "/zh/" in page.url:
                    problems.append(f"the edition switch of zh/book/ch02_gan/index.html opened {page.url}")
                page.locator("a.edition-switch").first.click()
                page.wait_for_load_state("load")
                if not page.url.endswith("/zh/book/ch02_gan/index.html"):
                    problems.append(f"the edition switch of book/ch02_gan/index.html opened {page.url}")
            # exercise solutions: hidden when the page opens, shown by a click on their summary
            exercise_pages = [p for p in pages if p.endswith("/exercises.html") and p.startswith("book/")]
            if not exercise_pages:
                problems.append("no exercise page (book/*/exercises.html) in the site")
            for rel in exercise_pages:
                page.goto(base + rel, wait_until="load")
                drops = page.locator("details.sd-dropdown")
                if drops.count() == 0:
                    problems.append(f"{rel}: no solution dropdown")
                    continue
                first = drops.first
                code = first.locator("pre")
                if first.evaluate("d => d.open") or code.first.is_visible():
                    problems.append(f"{rel}: a solution is visible before it is opened")
                first.locator("summary").click()
                page.wait_for_timeout(200)
                if not (first.evaluate("d => d.open") and code.first.is_visible()):
                    problems.append(f"{rel}: clicking a solution's title does not show it")
            # concept questions: a click on an answer marks it right or wrong and shows why
            quiz_pages = [p for p in pages if p.endswith("ch02_gan/index.html")]
            for rel in quiz_pages:
                page.goto(base + rel, wait_until="load")
                quiz = page.locator("div.quiz").first
                if page.locator("div.quiz").count() == 0:
                    problems.append(f"{rel}: no concept question")
                    continue
                wrong = quiz.locator("div.quiz-choice:not(.quiz-correct)").first
                right = quiz.locator("div.quiz-choice.quiz-correct").first
                if wrong.locator("div.quiz-why").is_visible():
                    problems.append(f"{rel}: a quiz explanation is visible before any answer is clicked")
                wrong.click()
                right.click()
                page.wait_for_timeout(200)
                marked = (wrong.evaluate("e => e.classList.contains('quiz-wrong')")
                          and right.evaluate("e => e.classList.contains('quiz-right')"))
                if not (marked and wrong.locator("div.quiz-why").is_visible() and right.locator("div.quiz-why").is_visible()):
                    problems.append(f"{rel}: clicking a quiz answer does not mark it and show why")
            check_job_explorer(page, base, pages, problems)
            check_slides(page, base, folder, pages, problems)
            check_figure_zoom(page, base, folder, pages, problems)
            check_record_tables(page, base, pages, problems)
            # phone width: the menu opens the chapter list; a screenshot for a person to look at
            phone = context.new_page()
            phone.set_viewport_size({"width": 420, "height": 900})
            chapter = next((p for p in pages if p.endswith("ch02_gan/index.html")), pages[0])
            phone.goto(base + chapter, wait_until="load")
            phone.wait_for_timeout(500)
            phone.screenshot(path=str(shots / "phone-chapter.png"))
            if not phone.evaluate(HEADER_FITS_JS):
                problems.append("phone width: the header's buttons or the edition switch stick out of the article header")
            # pages full of long inline code (test names, paths), code in headings (the code map) and equations do not
            # scroll sideways on a phone
            for rel in [p for p in pages if (p.endswith(("mistakes.html", "math.html", "attention.html"))
                        and p.startswith(("book/", "zh/book/")) and "/api/" not in p)
                        or p.endswith(("api/code_map.html", "book/performance.html"))]:
                phone.goto(base + rel, wait_until="load")
                wait_for_typesetting(phone, 20_000)
                over = phone.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
                if over > 1:
                    problems.append(f"phone width: {rel} scrolls sideways by {over} px")
            toggles = phone.locator("button.primary-toggle, label.sidebar-toggle.primary-toggle")
            toggle = next((toggles.nth(i) for i in range(toggles.count()) if toggles.nth(i).is_visible()), None)
            if toggle is not None:
                toggle.click()
                phone.wait_for_timeout(500)
                visible = phone.evaluate("""() => { const s = document.querySelector('#pst-primary-sidebar, .bd-sidebar-primary');
                    if (!s) return false; const r = s.getBoundingClientRect(); return r.width > 100 && r.right > 100; }""")
                phone.screenshot(path=str(shots / "phone-menu-open.png"))
                if not visible:
                    problems.append("phone width: the menu button does not open the chapter list")
            else:
                problems.append("phone width: no visible menu button")
    finally:
        server.shutdown()
    if outside:
        problems.append(f"{len(outside)} requests to other hosts (blocked): {sorted(set(outside))[:5]}")
    print(f"site test: {len(pages)} pages in Chromium; screenshots in {shots.relative_to(ROOT)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0]) if args else ROOT / "_build" / "html"
    if not (folder / "index.html").is_file():
        print(f"site test: no built site at {folder}; run make book first")
        return 1
    problems = check_links(folder) + check_editions(folder) + check_downloads(folder)
    chromium = find_chromium()
    if chromium is None:
        print("site test: SKIPPED the browser checks: no Chromium or no Playwright here "
              "(Debian: apt-get install chromium); links and anchors were checked")
    else:
        problems += browser_checks(folder, chromium)
    for p in problems:
        print("  -", p)
    print(f"site test: {'FAILED, ' + str(len(problems)) + ' problems' if problems else 'passed'}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
