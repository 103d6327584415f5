"""What the pages and notebooks say about the code must stay true: test references resolve, notebook
markdown renders as written, and no page points readers at a tracker they cannot see."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([*ROOT.glob("book/**/*.md"), *ROOT.glob("notebooks/*.ipynb"), ROOT / "README.md"])
TEST_REF = re.compile(r"(tests/[\w/]+\.py)(?:::(test_\w+))?")


def _text(path: Path) -> str:
    if path.suffix == ".ipynb":
        return "\n".join("".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"])
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_test_a_page_names_exists(page):
    for path, name in TEST_REF.findall(_text(page)):
        if "topic" in path or "<" in path:  # README's template for a new chapter
            continue
        target = ROOT / path
        assert target.is_file(), f"{page.name} names {path}, which does not exist"
        if name:
            assert re.search(rf"^def {name}\(", target.read_text(encoding="utf-8"), re.M), \
                f"{page.name} names {path}::{name}, which does not exist"


@pytest.mark.parametrize("nb", sorted(ROOT.glob("notebooks/*.ipynb")), ids=lambda p: p.name)
def test_notebook_markdown_has_no_stray_comment_marker(nb):
    for i, cell in enumerate(json.loads(nb.read_text(encoding="utf-8"))["cells"]):
        if cell["cell_type"] == "markdown" and cell["source"]:
            first = cell["source"][0]
            assert not re.match(r"# [#*]", first), f"{nb.name} cell {i} starts with a stray '# ': {first[:40]!r}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_refers_readers_to_the_project_tracker(page):
    hits = re.findall(r"the issue that|this issue|issue #?\d+", _text(page), re.I)
    assert not hits, f"{page.name} refers readers to an issue tracker they cannot see: {hits}"


def test_every_test_a_page_names_by_name_exists():
    names = set()
    for page in PAGES:
        if page.name == "performance.md":  # generated at build time; its metric names (test_nll_nats) are not tests
            continue
        names |= set(re.findall(r"`(test_\w+)`", _text(page)))
    defined = set()
    for path in ROOT.glob("tests/**/test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)\(", path.read_text(encoding="utf-8"), re.M))
    assert not names - defined, f"pages name tests that do not exist: {sorted(names - defined)}"


def test_the_browser_that_prints_and_tests_the_site_gets_the_chinese_fonts():
    """``.ci/site_test.font_environment``: Chromium's fontconfig also reads the pinned mplfonts wheel's Noto CJK
    fonts, so the Chinese edition, the glossary's terms and the PDFs never print empty boxes on a fresh machine."""
    import re
    from pathlib import Path

    from .ci_scripts import load_script

    env = load_script(".ci/site_test.py").font_environment()
    conf = Path(env["FONTCONFIG_FILE"]).read_text(encoding="utf-8")
    assert "/etc/fonts/fonts.conf" in conf  # the system's own fonts stay
    folder = Path(re.search(r"<dir>(.+?)</dir>", conf).group(1))
    assert (folder / "NotoSansCJKsc-Regular.otf").resolve().is_file()
    assert not list(folder.glob("SimHei*"))  # only the wheel's Noto fonts
