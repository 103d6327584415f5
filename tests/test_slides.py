"""The slide decks' builder (.ci/slides.py) and the book check's staging (.ci/stage_check.py), on small inputs.

The decks themselves are opened in Chromium by the site test (reveal.js starts, formulas typeset, figures load).
"""

import json
from pathlib import Path

import nbformat
import yaml

from .ci_scripts import load_script

ROOT = Path(__file__).resolve().parents[1]


slides = load_script(".ci/slides.py")
stage_check = load_script(".ci/stage_check.py")


def test_one_deck_per_chapter_and_every_chapter_page_links_to_it():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    chapters = [c for c, _, _ in slides.chapter_sources(toc)]
    assert chapters == sorted(p.name for p in (ROOT / "book").glob("ch[0-9][0-9]_*") if p.is_dir())
    for c in chapters:
        assert f'href="../../slides/{c}.html"' in (ROOT / "book" / c / "index.md").read_text(encoding="utf-8"), c


def test_formulas_come_from_the_pages_labelled_first():
    found = slides.formulas(["book/ch02_gan/index", "book/ch02_gan/math"])
    labels = [label for _, label, _, _ in found]
    assert "eq-gan-value" in labels and "eq-gan-dstar" in labels
    assert all(labels) and len(found) == slides.MAX_FORMULAS
    latex = dict((label, tex) for tex, label, _, _ in found)
    assert "D^*" in latex["eq-gan-dstar"] and "$$" not in latex["eq-gan-dstar"]
    # each formula carries the title of its section, which becomes the slide's title (not the label)
    heading = dict((label, h) for _, label, _, h in found)
    assert heading["eq-gan-dstar"] == "2. The optimal discriminator is a ratio"
    assert heading["eq-gan-value"] == "1. The value function"


def test_myst_roles_become_the_text_a_reader_sees():
    text = ("See {doc}`mistakes` and {term}`ELBO <ELBO · 证据下界>`, {ref}`the worksheet <ch05-worksheet>` "
            "{cite:p}`goodfellow2014generative`, and {py:func}`gan.train_dcgan <aigc_lessons.gan.train_dcgan>`.")
    out = slides.plain_myst(text, ROOT / "book" / "ch02_gan")
    title = slides.doc_title("mistakes", ROOT / "book" / "ch02_gan")
    assert title != "mistakes" and title in out
    assert "ELBO" in out and "证据下界" not in out and "the worksheet" in out and "goodfellow" not in out
    assert "`gan.train_dcgan`" in out and "{" not in out


def test_the_chinese_decks_name_pages_by_their_chinese_titles():
    """A {doc} role in a translated objective became the page's English title ("Common mistakes with GANs") in the
    middle of a Chinese sentence; the title now comes from the named page's catalogue."""
    zh = slides.Translator("zh_CN")
    english = slides.doc_title("mistakes", ROOT / "book" / "ch02_gan")
    chinese = slides.doc_title("mistakes", ROOT / "book" / "ch02_gan", zh)
    assert english == "Common mistakes with GANs" and chinese != english and "错误" in chinese, chinese
    assert chinese in slides.plain_myst("识别 {doc}`mistakes` 中的四个错误", ROOT / "book" / "ch02_gan", zh)
    notebook = slides.doc_title("../notebooks/04_vae_estimators", ROOT / "book", zh)
    assert notebook != slides.doc_title("../notebooks/04_vae_estimators", ROOT / "book") and zh.missed == 0


def _notebook(path, sources, image=None):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(sources[0]), nbformat.v4.new_markdown_cell(sources[1])]
    if image:
        nb.cells[0].outputs = [nbformat.v4.new_output("display_data", data={"image/png": image})]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def test_figures_are_taken_with_their_captions(tmp_path, monkeypatch):
    png = "iVBORw0KGgo="  # any base64 payload: the builder copies bytes, it does not decode images
    _notebook(tmp_path / "executed" / "99_demo.ipynb", ["plot()", "**Figure 1.** The loss per step $t$. It falls."], png)
    _notebook(tmp_path / "executed" / "97_demo.ipynb", ["plot()", "**Figure 4 and Table 2.** Coverage by seed."], png)
    monkeypatch.setattr(slides, "EXECUTED", [tmp_path / "executed"])
    figs, missing = slides.figures(["notebooks/99_demo", "notebooks/98_absent", "notebooks/97_demo"])
    assert missing == ["notebooks/98_absent"]
    assert len(figs) == 2 and figs[0]["alt"] == "The loss per step t." and "It falls." in figs[0]["caption"]
    assert figs[1]["caption"] == "Coverage by seed." and figs[1]["source"] == "97_demo, Figure 4"


def test_the_check_uses_an_executed_copy_only_when_it_is_current(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    _notebook(root / "notebooks" / "a.ipynb", ["x = 1", "text"])
    _notebook(root / "notebooks" / "b.ipynb", ["y = 2", "text"])
    _notebook(tmp_path / "executed" / "a.ipynb", ["x = 1", "text"], "AAAA")       # current
    _notebook(tmp_path / "executed" / "b.ipynb", ["y = 3", "old text"], "AAAA")   # an older version of b
    (root / "book").mkdir()
    monkeypatch.setattr(stage_check, "ROOT", root)
    monkeypatch.setattr(stage_check, "EXECUTED", tmp_path / "executed")
    n, without = stage_check.stage(tmp_path / "staged")
    assert (n, without) == (1, ["b.ipynb"])
    staged = tmp_path / "staged" / "notebooks"
    assert not (staged / "a.ipynb").is_symlink() and json.loads((staged / "a.ipynb").read_text())["cells"][0]["outputs"]
    assert (staged / "b.ipynb").is_symlink() and (tmp_path / "staged" / "book").is_symlink()


def test_math_in_captions_and_prompts_is_left_for_mathjax():
    md = slides.markdown()
    out = md.renderInline("a step $t$ and $x < y$")
    assert "\\(t\\)" in out and "\\(x &lt; y\\)" in out and "$" not in out
    assert "\\[\\alpha\\]" in md.render("$$\\alpha$$")


def test_chinese_decks_take_every_text_from_the_catalogues(tmp_path):
    """The Chinese decks: objectives, summary, exercise titles and prompts through the pages' catalogues, with
    nothing left English (a text missing from a catalogue is counted)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    md = slides.markdown()
    for folder, pages, _ in slides.chapter_sources(toc):
        tr = slides.Translator("zh_CN")
        title, decks, counts = slides.deck(folder, pages, [], tmp_path, md, tr)
        text = "\n".join(decks)
        assert tr.missed == 0, f"{folder}: {tr.missed} texts without a translation"
        assert "学习目标" in text and "练习" in text and "Learning objectives" not in text, folder
        assert any("\u4e00" <= c <= "\u9fff" for c in title), title
    english = slides.Translator("en")
    assert english.block("book/ch02_gan/index", "- one\n- two") == "- one\n- two" and english.missed == 0
