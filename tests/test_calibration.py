"""Quick-mode thresholds: below the worst measured run with margin, and failed by an untrained model.

``tests/calibration.json`` is written by ``python -m aigc_lessons.calibrate`` (seeds x floating-point
paths x thread counts, each run in its own process); these tests read it and never edit it.
"""

import json
from pathlib import Path

import pytest

from aigc_lessons import calibrate

TABLE = json.loads((Path(__file__).resolve().parent / "calibration.json").read_text())


def _margin(th: calibrate.Threshold, values: list[float]) -> float:
    """How far the worst run must clear a threshold: one unit for counts, else 5% of the value (at least 0.01)."""
    return 1.0 if all(float(v).is_integer() for v in values) else max(0.05 * abs(th.value), 0.01)


@pytest.mark.parametrize("name", sorted(calibrate.CHECKS))
def test_every_check_was_calibrated_over_five_seeds_and_two_float_paths(name):
    runs = TABLE[name]["runs"]
    assert len({r["seed"] for r in runs}) >= 5, f"{name}: fewer than 5 seeds measured"
    assert len({(r["float_path"], r["threads"]) for r in runs}) >= 2, f"{name}: one floating-point path only"


@pytest.mark.parametrize("name", sorted(calibrate.CHECKS))
def test_quick_thresholds_sit_below_the_worst_run_with_margin(name):
    for metric, th in calibrate.CHECKS[name]["quick"].items():
        values = [r["metrics"][metric] for r in TABLE[name]["runs"]]
        worst = min(values) if th.op.startswith(">") else max(values)
        clearance = worst - th.value if th.op.startswith(">") else th.value - worst
        assert clearance >= _margin(th, values), (
            f"{name}.{metric}: threshold {th.op} {th.value} leaves {clearance:.4g} to the worst run ({worst:.4g}); "
            f"needs at least {_margin(th, values):.4g}. Measured: {sorted(values)}")


def test_full_mode_has_its_own_targets_for_every_check():
    for name, modes in calibrate.CHECKS.items():
        assert set(modes) == {"quick", "full"} and set(modes["quick"]) == set(modes["full"]), name


def test_assert_checks_names_every_failure():
    calibrate.assert_checks("vae-mnist", {"test_nll_nats": 95.0}, "quick")
    with pytest.raises(AssertionError, match=r"test_nll_nats = 95, expected <= 84"):
        calibrate.assert_checks("vae-mnist", {"test_nll_nats": 95.0}, "full")
    with pytest.raises(KeyError, match="needs the metric"):
        calibrate.failures("vae-mnist", {}, "quick")
    with pytest.raises(KeyError, match="valid names"):
        calibrate.failures("diffusion", {}, "quick")
    # a unit test asserts the checks of its own lines only: the other metrics need not be there
    calibrate.assert_checks("unit-vae-bench", {"test_nll_nats": 190.0}, "quick", only=["test_nll_nats"])
    with pytest.raises(AssertionError, match=r"^unit-vae-bench: test_nll_nats = 300, expected < 250"):
        calibrate.assert_checks("unit-vae-bench", {"test_nll_nats": 300.0, "neg_elbo_minus_nll": 9.0}, "quick",
                                only=["test_nll_nats"])
    with pytest.raises(KeyError, match="has no metric"):
        calibrate.failures("unit-vae-bench", {"nll": 1.0}, "quick", only=["nll"])
    with pytest.raises(KeyError, match="Unknown unit check"):
        calibrate.run_unit("vae-mnist")


def test_failed_checks_are_structured_and_both_languages_list_the_same_ones():
    checks = calibrate.CHECKS["gan-2d"]["quick"]
    bad = calibrate.failed_checks("gan-2d", {k: 0.0 for k in checks}, "quick")
    assert [f.metric for f in bad] == list(checks) and all(f.value == 0.0 and f.mode == "quick" for f in bad)
    assert [f.threshold for f in bad] == list(checks.values())
    with pytest.raises(AssertionError) as info:
        calibrate.assert_checks("gan-2d", {k: 0.0 for k in checks}, "quick")
    english, chinese = str(info.value).split("\n")
    assert english.count(" expected ") == chinese.count("应当") == len(checks)
    assert chinese.startswith("gan-2d：快速模式下未通过的检查：")


def test_unit_checks_repeat_their_quick_thresholds_in_full_mode():
    """Unit tests run in quick mode; their full-mode entries repeat the quick values and say so."""
    units = [name for name in calibrate.CHECKS if name.startswith("unit-")]
    assert units and set(units) == {name for name in calibrate.MEASURES if name.startswith("unit-")}
    for name in units:
        quick, full = calibrate.CHECKS[name]["quick"], calibrate.CHECKS[name]["full"]
        assert {k: (t.op, t.value) for k, t in quick.items()} == {k: (t.op, t.value) for k, t in full.items()}, name
        assert {t.why for t in full.values()} == {"unit test: quick mode only"}, name


@pytest.mark.parametrize("name", sorted(calibrate.MEASURES))
def test_an_untrained_model_fails_the_notebook_checks(name):
    metrics = calibrate.measure(name, 0, untrained=True)
    assert calibrate.failures(name, metrics, "quick"), f"{name}: an untrained model passes every check: {metrics}"


def test_the_command_line_starts():
    """``python -m aigc_lessons.calibrate`` runs the module as ``__main__``: it must import its unit entries
    without a circular import (the threshold type lives in ``aigc_lessons.thresholds``)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "aigc_lessons.calibrate", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--workers" in out.stdout, out.stderr[-2000:]
