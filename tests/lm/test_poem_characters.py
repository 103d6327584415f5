"""Which characters the Tang model writes: frequencies, total variation, and the figure's Chinese glyphs."""

import warnings

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from aigc_lessons import lm, plots  # noqa: E402


def test_character_frequencies_count_chinese_characters_only():
    freq = lm.character_frequencies(["白日依山盡，黃河入海流。", "白日"])
    assert abs(sum(freq.values()) - 1.0) < 1e-12
    assert "，" not in freq and "。" not in freq
    assert list(freq)[:2] == ["白", "日"] and freq["白"] == pytest.approx(2 / 12)
    assert lm.character_frequencies([]) == {}


def test_total_variation_known_values():
    p = {"山": 0.5, "水": 0.5}
    assert lm.total_variation(p, p) == 0.0
    assert lm.total_variation(p, {"月": 1.0}) == pytest.approx(1.0)
    assert lm.total_variation(p, {"山": 1.0}) == pytest.approx(0.5)
    assert lm.total_variation(p, {"山": 0.25, "水": 0.25, "月": 0.5}) == lm.total_variation(
        {"山": 0.25, "水": 0.25, "月": 0.5}, p) == pytest.approx(0.5)


def test_figure_draws_chinese_glyphs_with_the_shipped_font():
    """No 'Glyph ... missing' warning: every character is drawn, not a box, on a machine with no CJK font
    installed system-wide (the font comes with the pinned mplfonts wheel)."""
    assert plots.cjk_font_path().is_file()
    train = ["白日依山盡，黃河入海流。欲窮千里目，更上一層樓。"] * 3
    ax = lm.plot_character_frequencies(train, {"model": ["白日依山盡"]}, k=5)
    assert ax.get_xlabel() and ax.get_ylabel()
    assert [t.get_text() for t in ax.get_xticklabels()] == list(lm.character_frequencies(train))[:5]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ax.figure.canvas.draw()
    plt.close(ax.figure)
    assert not [w for w in caught if "missing from font" in str(w.message)], [str(w.message) for w in caught]


def test_missing_font_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(plots.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="mplfonts"):
        plots.cjk_font_path()
