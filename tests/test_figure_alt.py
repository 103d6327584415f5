"""The caption rules shared by the site's alt texts (book/_ext/figure_alt.py) and the slide decks."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "book" / "_ext"))
import figure_alt  # noqa: E402


def test_english_captions_as_text_and_as_markdown():
    assert figure_alt.figure_caption("Figure 3. Samples over training. Each panel ...") == \
        ("3", "Samples over training. Each panel ...")
    assert figure_alt.figure_caption("**Figure 3.** Samples over training.") == ("3", "Samples over training.")
    assert figure_alt.figure_caption("**Figure 4 and Table 2.** Both at once.") == ("4", "Both at once.")
    assert figure_alt.figure_caption("Figures show ...") is None
    assert figure_alt.figure_caption("The Figure 3. is cited") is None


def test_chinese_labels_and_dropping_them():
    assert figure_alt.is_chinese_label("图 3") and figure_alt.is_chinese_label("图4 和表 2")
    assert not figure_alt.is_chinese_label("Figure 3") and not figure_alt.is_chinese_label("图表")
    assert figure_alt.drop_label("**图 3** 训练过程中的样本。") == "训练过程中的样本。"
    assert figure_alt.drop_label("**Figure 3.** Samples.") == "Samples."


def test_first_sentence_in_both_languages():
    assert figure_alt.first_sentence("Samples over training. Each panel is a step.") == "Samples over training."
    assert figure_alt.first_sentence("训练过程中的样本。每幅是一个步骤。") == "训练过程中的样本。"
    assert figure_alt.first_sentence("a value of 0.5 holds") == "a value of 0.5 holds"
    assert len(figure_alt.first_sentence("x" * 1000)) == 300
