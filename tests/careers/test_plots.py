"""Chapter 5 figures: every axis is labelled, the wage axis is logarithmic."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from aigc_lessons import careers  # noqa: E402


def test_figures_have_labelled_axes(joined):
    t = joined.table
    axes = [careers.plot_exposure_distribution(t), careers.plot_exposure_curve(t),
            careers.plot_exposure_vs_wage(t), careers.plot_major_groups(t), *careers.plot_extremes(t, n=5)]
    for ax in axes:
        assert ax.get_xlabel() and ax.get_title()
    assert "log" in axes[2].get_xscale()
    plt.close("all")


def test_search_and_model_figures_have_labelled_axes():
    ax = careers.plot_similarity_calibration([0.5, 0.6, 0.7], [0.1, 0.2])
    assert ax.get_xlabel() and ax.get_title()
    assert [line.get_xdata()[0] for line in ax.get_lines()] == [careers.MIN_SIMILARITY]  # the threshold line
    metrics = pd.DataFrame({"accuracy": [0.5, 0.6], "macro_f1": [0.3, 0.5]}, index=["majority", "model"])
    ax = careers.plot_model_comparison(metrics)
    assert ax.get_xlabel() and ax.get_title()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["majority", "model"]
    plt.close("all")
