"""The Chinese edition: complete, reviewed catalogues; the glossary's terms; the checker itself; the edition links;
and the learner's feedback in both languages.

``make test`` also extracts the messages of the current English sources and runs ``.ci/i18n.py check`` on them
(in ``make book-check``), so a new or changed English paragraph without its reviewed Chinese twin fails there;
the tests here check the catalogues as committed, and that the checker finds what it must find.
"""

from __future__ import annotations

import ast
import posixpath
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from .ci_scripts import load_script

ROOT = Path(__file__).resolve().parent.parent


i18n = load_script(".ci/i18n.py", "aigc_i18n")
editions = load_script("book/_ext/editions.py", "aigc_editions")
CATALOGUES = sorted(i18n.PO_DIR.rglob("*.po"))


def _page(path: Path) -> str:
    return path.relative_to(i18n.PO_DIR).with_suffix("").as_posix()


# --- the glossary ---------------------------------------------------------------------------------------------


def test_glossary_has_one_distinct_chinese_term_per_english_term():
    terms = i18n.glossary_terms()
    assert len(terms) >= 70
    english = [t.english.lower() for t in terms]
    chinese = [t.chinese for t in terms]
    assert all(c.strip() for c in chinese), "a glossary entry without its Chinese term"
    assert len(set(english)) == len(english), "an English term twice in the glossary"
    duplicates = sorted({c for c in chinese if chinese.count(c) > 1})
    assert not duplicates, f"one Chinese term for two English ones: {duplicates}"
    assert all(re.search(r"[\u4e00-\u9fff]", c) for c in chinese)


@pytest.mark.parametrize("english, text, ok", [
    ("Discriminator", "the discriminator is trained", False),
    ("Discriminator", "the discriminators are", False),
    ("KL divergence", "the KL divergence of q", False),
    ("Evidence lower bound (ELBO)", "maximise the ELBO", False),
    ("Token", "128 tokens per step", False),
])
def test_a_translation_without_the_glossary_term_is_caught(english, text, ok):
    term = next(t for t in i18n.glossary_terms() if t.english == english)
    assert term.required(text)
    assert term.used(term.chinese) and not term.used("一段没有这个术语的译文")
    bad = i18n.problems(text, "一段没有这个术语的译文", i18n.glossary_terms())
    assert any(english in p for p in bad), bad


def test_acronyms_may_stay_and_spacing_between_scripts_is_free():
    terms = {t.english: t for t in i18n.glossary_terms()}
    assert terms["Evidence lower bound (ELBO)"].used("最大化 ELBO")
    assert terms["KL divergence"].used("q 与 p 的 KL 散度")
    assert not terms["Generative adversarial network (GAN)"].required("the `gan` module")  # code is not prose


# --- the checker ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("msgid, msgstr, lost", [
    ("use `train_gan_2d` here", "在这里使用 `train_gan`", "code"),
    ("the loss $-\\log D(x)$ falls", "损失 $\\log D(x)$ 下降", "math"),
    ("see {doc}`the notebook <../07_small_gpt>`", "见 {doc}`笔记本 <../08_tang_poems>`", "role"),
    ("as {cite:t}`ho2020ddpm` show", "如 {cite:t}`song2021ddim` 所示", "role"),
    ("read [the docs](https://example.org/a)", "阅读[文档](https://example.org/b)", "link"),
])
def test_markup_lost_in_translation_is_caught(msgid, msgstr, lost):
    bad = i18n.problems(msgid, msgstr, [])
    assert bad and lost in bad[0], bad


def test_shown_text_of_a_role_may_be_translated_but_not_its_target():
    msgid = "a {term}`held-out <Held-out set · 留出集>` set and {doc}`the notebook <../../notebooks/07_small_gpt>`"
    good = "一个{term}`留出 <Held-out set · 留出集>`集，以及{doc}`笔记本 <../../notebooks/07_small_gpt>`"
    assert i18n.problems(msgid, good, i18n.glossary_terms()) == []


def test_nothing_to_translate():
    assert i18n.nothing_to_translate("`lm-shakespeare.json`")
    assert i18n.nothing_to_translate("1.454")
    assert i18n.nothing_to_translate("{py:func}`~aigc_lessons.ema.ema_update`")
    assert i18n.nothing_to_translate("\nq(x_t \\mid x_{t-1}) = \\mathcal N\\big(\\sqrt{1-\\beta_t}\\,x_{t-1},\\ \\beta_t I\\big)\n")
    assert i18n.nothing_to_translate("Discriminator · 判别器")  # a glossary entry stays bilingual as it is
    assert not i18n.nothing_to_translate("The discriminator {term}`D <Discriminator · 判别器>` is trained.")
    assert not i18n.nothing_to_translate("met")
    # one word of prose beside inline math is prose: these three were left in English on the Chinese pages
    assert not i18n.nothing_to_translate("exact $\\log p(x) = \\sum_t \\log p(x_t \\mid x_{<t})$")
    assert not i18n.nothing_to_translate("5. The $\\beta$-VAE")
    assert not i18n.nothing_to_translate("Positions $1, \\dots, t+1$.")
    # a glossary link's title is shown: "Diffusion" stayed English in the Chinese edition's table of families
    assert not i18n.nothing_to_translate("{term}`Diffusion <Diffusion model · 扩散模型>` {cite:p}`ho2020denoising`")
    assert i18n.nothing_to_translate("{py:func}`gan.get_loss <aigc_lessons.gan.losses.get_loss>`")


def _write(path: Path, pairs: list[tuple[str, str, bool]]) -> None:
    catalog = Catalog(locale="zh_CN")
    for msgid, msgstr, fuzzy in pairs:
        catalog.add(msgid, msgstr, flags=["fuzzy"] if fuzzy else [], locations=[("page.md", 1)])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_po(fh, catalog)


def test_check_fails_on_untranslated_and_fuzzy_messages_and_counts_them_per_page(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(i18n, "PO_DIR", tmp_path / "po")
    monkeypatch.setattr(i18n, "docstring_sentences", lambda: set())
    pots = tmp_path / "pots"
    _write(pots / "book" / "a.pot", [("One paragraph.", "", False), ("Two paragraphs.", "", False),
                                     ("Three.", "", False)])
    _write(tmp_path / "po" / "book" / "a.po", [("One paragraph.", "一段。", False),
                                               ("Two paragraphs.", "两段。", True)])
    assert i18n.check(pots) == 1
    out = capsys.readouterr().out
    assert "book/a: 3 messages, 1 untranslated, 1 fuzzy" in out
    _write(tmp_path / "po" / "book" / "a.po", [("One paragraph.", "一段。", False),
                                               ("Two paragraphs.", "两段。", False), ("Three.", "三。", False)])
    assert i18n.check(pots) == 0


def test_update_keeps_translations_marks_changed_messages_fuzzy_and_leaves_out_untranslatable_ones(tmp_path, monkeypatch):
    monkeypatch.setattr(i18n, "PO_DIR", tmp_path / "po")
    monkeypatch.setattr(i18n, "docstring_sentences", lambda: set())
    pots = tmp_path / "pots"
    _write(tmp_path / "po" / "book" / "a.po", [("The generator is trained.", "训练生成器。", False),
                                               ("Kept paragraph.", "保留的段落。", False)])
    _write(pots / "book" / "a.pot", [("The generator is trained twice.", "", False), ("Kept paragraph.", "", False),
                                     ("`results/lm-tang.json`", "", False), ("A new paragraph.", "", False)])
    i18n.update(pots)
    catalog = i18n.read(tmp_path / "po" / "book" / "a.po")
    assert catalog.get("Kept paragraph.").string == "保留的段落。"
    changed = catalog.get("The generator is trained twice.")
    assert changed.fuzzy and changed.string == "训练生成器。"
    assert catalog.get("`results/lm-tang.json`") is None  # nothing to translate: not in the catalogue
    new = catalog.get("A new paragraph.")
    assert new.string == "" or new.fuzzy  # a draft from a similar old message is fuzzy until reviewed


def test_sheet_and_apply_round_trip(tmp_path, monkeypatch):
    monkeypatch.setattr(i18n, "PO_DIR", tmp_path / "po")
    _write(tmp_path / "po" / "p.po", [("First.", "", False), ("Use `x`.", "", False)])
    sheet = i18n.sheet("p")
    assert sheet.count("@@ ") == 2
    (tmp_path / "zh.txt").write_text("@@ 0\n第一。\n\n@@ 1\n使用 `x`。\n", encoding="utf-8")
    assert i18n.apply("p", [tmp_path / "zh.txt"]) == 0
    assert i18n.sheet("p").strip() == ""
    (tmp_path / "bad.txt").write_text("@@ 1\n使用 `y`。\n", encoding="utf-8")
    assert i18n.apply("p", [tmp_path / "bad.txt"]) == 1
    # all or nothing: a sheet numbered for another version of the page (its good first block included)
    # leaves the catalogue as it was
    (tmp_path / "shifted.txt").write_text("@@ 0\n第一个。\n\n@@ 1\n第一。\n\n@@ 2\n多余。\n", encoding="utf-8")
    assert i18n.apply("p", [tmp_path / "shifted.txt"]) == 1
    catalog = i18n.read(tmp_path / "po" / "p.po")
    assert catalog.get("First.").string == "第一。" and catalog.get("Use `x`.").string == "使用 `x`。"


# --- the committed catalogues ---------------------------------------------------------------------------------


def test_every_page_has_a_catalogue():
    """Every page of _toc.yml (generated ones too: the API reference, the performance page) has its catalogue."""
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    pages = re.findall(r"^\s*(?:-\s*)?(?:file|root):\s*(\S+)\s*$", toc, re.M)
    missing = sorted(p for p in pages if not (i18n.PO_DIR / f"{p}.po").is_file())
    assert len(pages) >= 50 and not missing, f"pages without a Chinese catalogue: {missing} (of {len(pages)})"


@pytest.mark.parametrize("path", CATALOGUES, ids=_page)
def test_catalogue_is_complete_reviewed_and_consistent(path):
    """100% translated, nothing fuzzy, markup intact, glossary terms in their Chinese form."""
    terms = i18n.glossary_terms()
    messages = [m for m in i18n.read(path) if m.id]
    untranslated = [m.id[:60] for m in messages if not m.string]
    fuzzy = [m.id[:60] for m in messages if m.fuzzy]
    wrong = [f"{m.id[:50]!r}: {p}" for m in messages if m.string for p in i18n.problems(m.id, m.string, terms)]
    assert not (untranslated or fuzzy or wrong), (
        f"{_page(path)}: {len(untranslated)} untranslated, {len(fuzzy)} fuzzy, {len(wrong)} wrong: "
        f"{(untranslated + fuzzy + wrong)[:5]}")


def test_translations_are_chinese():
    """A prose message is translated into Chinese, not copied: at most a few names per page stay as they are."""
    copied = []
    for path in CATALOGUES:
        for m in i18n.read(path):
            if (m.id and m.string == m.id and not i18n.nothing_to_translate(m.id) and len(i18n.prose(m.id).split()) > 2
                    and not re.fullmatch(r"[A-Z][\w -]*\d[\w -]*", m.id)):  # a product name (a GPU model) stays
                copied.append(f"{_page(path)}: {m.id[:60]}")
    assert not copied, copied[:10]


# --- the two editions -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("page, language, url", [
    ("book/ch02_gan/index", "en", "../../zh/book/ch02_gan/index.html"),
    ("book/ch02_gan/index", "zh_CN", "../../../book/ch02_gan/index.html"),
    ("intro", "en", "zh/intro.html"),
    ("notebooks/exercises/ch01_exercises", "zh_CN", "../../../notebooks/exercises/ch01_exercises.html"),
])
def test_each_page_links_to_its_twin(page, language, url):
    got, hreflang, label = editions.twin(page, language)
    assert got == url
    assert (hreflang, label) == (("zh-CN", "中文") if language == "en" else ("en", "English"))
    # the link, resolved from the page's own folder, is the twin's path in the site
    here = posixpath.dirname(("zh/" if language != "en" else "") + page)
    assert posixpath.normpath(posixpath.join(here, got)) == ("zh/" if language == "en" else "") + page + ".html"


MERMAID = re.compile(r"^```\{mermaid\}[^\n]*\n(.*?)^```", re.S | re.M)


def test_every_diagram_is_a_reviewed_message_of_its_page():
    """The editions extension makes a mermaid diagram's source a message (sphinxcontrib-mermaid's node is not one
    Sphinx translates), so the Chinese edition draws the diagram with Chinese labels and the same structure."""
    pages = {p: MERMAID.findall(p.read_text(encoding="utf-8")) for p in (ROOT / "book").rglob("*.md")
             if "locale" not in p.parts}
    diagrams = {p: blocks for p, blocks in pages.items() if blocks}
    assert len(diagrams) >= 8
    for path, blocks in diagrams.items():
        page = path.relative_to(ROOT).with_suffix("").as_posix()
        reviewed = i18n.reviewed(page)
        for block in blocks:
            source = block.rstrip("\n")
            assert reviewed.get(source), f"{page}: the diagram starting {source[:40]!r} has no reviewed translation"
            chinese = reviewed[source]
            assert re.search(r"[\u4e00-\u9fff]", chinese) and chinese.split("\n")[0] == source.split("\n")[0]
            # the same nodes and the same number of edges: a translation changes labels, never the drawing
            node_ids = lambda text: re.findall(r"^\s*(\w+)\s*[\[({]", text, re.M)  # noqa: E731
            assert node_ids(chinese) == node_ids(source), page
            assert len(re.findall(r"-->|-\.->|---|-\.-|\.-", chinese)) == len(re.findall(r"-->|-\.->|---|-\.-|\.-", source))


def test_the_extension_turns_every_diagram_into_a_message_filed_under_its_page():
    from docutils import nodes
    from docutils.utils import new_document
    from sphinx.util.nodes import extract_messages
    from sphinxcontrib.mermaid import mermaid

    doc = new_document("/book/ch02_gan/index.md")
    doc += nodes.paragraph("", "")
    doc[0] += mermaid("", code="flowchart LR\n  a[noise] --> b[generator]")
    assert not list(extract_messages(doc))  # the extension's node class is what makes it a message
    editions.TranslatableMermaid(doc).apply()
    (node, message), = extract_messages(doc)
    assert message == "flowchart LR\n  a[noise] --> b[generator]" and isinstance(node, mermaid)
    assert node.source == "/book/ch02_gan/index.md" and node.line  # the catalogue files it under the page


def test_a_diagram_node_translates_its_source_and_alt_text():
    node = editions.translatable_mermaid("", code="flowchart LR\n  a[noise]", alt="a diagram")
    node.preserve_original_messages()
    assert node.extract_original_messages() == ["flowchart LR\n  a[noise]", "a diagram"]
    node.apply_translated_message("flowchart LR\n  a[noise]", "flowchart LR\n  a[噪声]")
    node.apply_translated_message("a diagram", "一张图")
    assert (node["code"], node["alt"]) == ("flowchart LR\n  a[噪声]", "一张图")
    assert node.extract_original_messages() == ["flowchart LR\n  a[noise]", "a diagram"]  # the originals are kept


# --- the notebooks a Chinese page offers for download -----------------------------------------------------------

NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))


@pytest.fixture(scope="module")
def md_parser():
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return editions.markdown_parser(config["parse"]["myst_enable_extensions"])


def _blocks(parser, text: str) -> list[str]:
    return [t.type for t in parser.parse(text) if t.type.endswith("_open") or t.type in ("fence", "math_block")]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_downloaded_chinese_notebook_has_every_markdown_block_translated_and_the_same_code(path, md_parser):
    import json

    original = json.loads(path.read_text(encoding="utf-8"))
    page = path.relative_to(ROOT).with_suffix("").as_posix()
    translated, missing = editions.translate_notebook(original, i18n.reviewed(page).get, md_parser)
    assert missing == [], f"{page}: blocks without a reviewed translation: {missing[:3]}"
    assert len(translated["cells"]) == len(original["cells"]) and translated["metadata"] == original["metadata"]
    for before, after in zip(original["cells"], translated["cells"]):
        if before["cell_type"] != "markdown":
            assert after == before  # code and outputs untouched
            continue
        source = "".join(after["source"])
        assert re.search(r"[\u4e00-\u9fff]", source), f"{page}: a markdown cell stayed English: {source[:80]!r}"
        # the same headings, lists, paragraphs, equations and code blocks, in the same order
        assert _blocks(md_parser, source) == _blocks(md_parser, "".join(before["source"])), page


def test_translate_markdown_keeps_markup_equations_and_code_and_reports_what_it_cannot_translate(md_parser):
    text = ("## 2. Training\n\nA paragraph\nover two lines.\n\n1. first item\n   continued\n- other item\n\n"
            "$$\na = b\n$$\n\n```python\nx = 1\n```\n\n| a | b |\n|---|---|\n| c | d |\n\nNo translation here.")
    table = {"2. Training": "2\\. 训练", "A paragraph over two lines.": "跨两行的段落。",
             "first item continued": "第一项", "other item": "另一项", "a": "甲", "b": "乙", "c": "丙", "d": "丁"}
    out, missing = editions.translate_markdown(text, table.get, md_parser)
    assert out.startswith("## 2\\. 训练\n\n跨两行的段落。\n\n1. 第一项\n- 另一项\n\n$$\na = b\n$$\n\n```python\nx = 1\n```")
    # table cells share a line: left in English and reported, as is a block without a translation
    assert "| a | b |" in out and set(missing) == {"a", "b", "c", "d", "No translation here."}
    assert out.endswith("No translation here.")


def test_chinese_build_config_reads_the_catalogues_and_the_english_execution_cache(tmp_path):
    out = tmp_path / "zh.yml"
    subprocess.run([sys.executable, str(ROOT / ".ci" / "book_config.py"), "--execute", "cache", "--language",
                    "zh_CN", "--out", str(out)], check=True, capture_output=True)
    import yaml

    config = yaml.safe_load(out.read_text(encoding="utf-8"))
    sphinx = config["sphinx"]["config"]
    assert sphinx["language"] == "zh_CN" and sphinx["gettext_compact"] is False
    assert Path(sphinx["locale_dirs"][0]) == i18n.LOCALE_ROOT
    assert Path(config["execute"]["cache"]) == ROOT / "_build" / ".jupyter_cache"
    assert "从入门到实战" in config["title"]


# --- feedback in the reader's language ------------------------------------------------------------------------


def test_exercise_feedback_in_both_languages(monkeypatch):
    from aigc_lessons import exercises

    def optimal_discriminator(p_data, p_g):
        raise NotImplementedError

    monkeypatch.delenv("AIGC_LANG", raising=False)
    fb = exercises.check("2.1", optimal_discriminator, show=False)
    text = str(fb)
    assert "NOT YET" in text and "尚未通过" in text and "还没有写" in text
    assert text.index("NOT YET") < text.index("尚未通过")
    monkeypatch.setenv("AIGC_LANG", "zh")
    assert "NOT YET" not in str(fb) and "尚未通过" in fb._repr_markdown_()
    monkeypatch.setenv("AIGC_LANG", "en")
    assert "尚未通过" not in str(fb)


CHECK_CALLS = {"expect": ("zh", 2), "ExerciseFailure": ("zh", 1), "expect_shape": ("what_zh", 3),
               "expect_close": ("what_zh", None)}


def _chinese(node: ast.expr) -> bool:
    """Chinese text, or an expression built from a ``*_zh`` name (a message assembled in a loop or helper)."""
    text = ast.unparse(node)
    return bool(re.search(r"[\u4e00-\u9fff]", text)) or "zh" in text


def test_every_check_message_has_its_chinese_text():
    """Every expect/expect_shape/expect_close/ExerciseFailure of the chapters' checks passes its Chinese text
    (a name such as ``what_zh="z"`` may be a symbol), and every English hint has its Chinese hint."""
    missing = []
    for path in sorted((ROOT / "aigc_lessons" / "exercises").glob("ch0[0-9].py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name not in CHECK_CALLS:
                continue
            keyword, position = CHECK_CALLS[name]
            args = [k.value for k in node.keywords if k.arg == keyword]
            if position is not None and len(node.args) > position:
                args.append(node.args[position])
            where = f"{path.name}:{node.lineno} {name}"
            if not args:
                missing.append(where)
            elif keyword == "zh" and not _chinese(args[0]):
                missing.append(where + " (the zh text is not Chinese)")
            hint = [k.value for k in node.keywords if k.arg == "hint"]
            hint_zh = [k.value for k in node.keywords if k.arg == "hint_zh"]
            if hint and not (hint_zh and _chinese(hint_zh[0])):
                missing.append(where + " (hint without a Chinese hint_zh)")
    assert not missing, missing
