"""Quick-mode thresholds: below the worst measured run with margin, and failed by an untrained model.

``tests/calibration.json`` is written by ``python -m aigc_lessons.calibrate`` (seeds x floating-point
paths x thread counts, each run in its own process); these tests read it and never edit it.
"""

import ast
import functools
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


@functools.cache
def _untrained(name: str) -> dict[str, float]:
    return calibrate.measure(name, 0, untrained=True)


@pytest.mark.parametrize("name", sorted(calibrate.MEASURES))
def test_an_untrained_model_fails_the_notebook_checks(name):
    metrics = _untrained(name)
    assert calibrate.failures(name, metrics, "quick"), f"{name}: an untrained model passes every check: {metrics}"


def _subsets() -> dict[tuple[str, tuple[str, ...]], str]:
    """Every ``calibrate.assert_checks(NAME, ..., only=[...])`` of the test suite: (NAME, checks) -> where."""
    found: dict[tuple[str, tuple[str, ...]], str] = {}
    root = Path(__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "assert_checks":
                only = next((k.value for k in node.keywords if k.arg == "only"), None)
                if only is not None and isinstance(node.args[0], ast.Constant):
                    key = (node.args[0].value, tuple(ast.literal_eval(only)))
                    found.setdefault(key, f"{path.relative_to(root.parent)}:{node.lineno}")
    return found


#: Subsets that check a property of an estimator or a metric which holds for any model, so an untrained one
#: passes them too: what they test is the estimator (a wrong one fails them), not the training.
FOR_ANY_MODEL = {
    ("unit-vae-tiny", ("iwae_k1_minus_neg_elbo_abs",)): "the IWAE bound with k = 1 is the ELBO",
    ("unit-vae-tiny", ("nll_k1_minus_k10", "nll_k10_minus_k100", "nll_k100")): "the IWAE bound tightens with k",
    ("unit-vae-tiny", ("share_of_images_k100_below_k1",)): "the IWAE bound tightens with k, image by image",
    ("unit-mnist-classifier", ("blank_frechet_over_real",)): "blank images lie far from real ones in any features",
}
SUBSETS = _subsets()


@pytest.mark.parametrize("key", sorted(SUBSETS), ids=lambda k: f"{k[0]}:{'+'.join(k[1])}")
def test_an_untrained_model_fails_each_group_of_checks_a_test_asserts(key):
    """A test that asserts some of an entry's checks (``only=``) must fail for a model that never trained, not
    only the entry as a whole; the exceptions test an estimator and say why (FOR_ANY_MODEL)."""
    name, only = key
    if name not in calibrate.MEASURES:
        pytest.skip(f"{name} has no measure (a test of the threshold machinery)")
    failed = calibrate.failures(name, _untrained(name), "quick", only=list(only))
    if key in FOR_ANY_MODEL:
        assert not failed, f"{key} fails untrained now: take it out of FOR_ANY_MODEL ({FOR_ANY_MODEL[key]})"
    else:
        assert failed, (f"{SUBSETS[key]}: an untrained {name} passes the checks {list(only)}: "
                        f"{ {k: _untrained(name)[k] for k in only} }")


def test_the_exceptions_are_asserted_somewhere():
    assert set(FOR_ANY_MODEL) <= set(SUBSETS), set(FOR_ANY_MODEL) - set(SUBSETS)


def test_the_command_line_starts():
    """``python -m aigc_lessons.calibrate`` runs the module as ``__main__``: it must import its unit entries
    without a circular import (the threshold type lives in ``aigc_lessons.thresholds``)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "aigc_lessons.calibrate", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--workers" in out.stdout, out.stderr[-2000:]
