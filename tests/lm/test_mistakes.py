"""aigc_lessons.lm.mistakes: the missing causal mask, measured."""

from aigc_lessons import calibrate, lm
from aigc_lessons.mistakes import MistakeReport


def test_mistake_missing_causal_mask_symptom_and_fix(shakespeare):
    """Leaky model: training loss far below the causal model's, yet worse at predicting from the past."""
    metrics, objects = calibrate.run_unit("unit-lm-causal-mask", 0, splits=shakespeare)  # causal_mask_mistake(seed=0)
    r = objects["report"]
    assert isinstance(r, MistakeReport) and r.details["steps"] == 300
    # suspiciously low training loss (below half the causal model's) ...
    calibrate.assert_checks("unit-lm-causal-mask", metrics, "quick", only=["leaky_over_causal_train_loss"])
    # ... yet useless where it matters (held-out loss from the past only, 0.3 nats and more above the causal model's)
    calibrate.assert_checks("unit-lm-causal-mask", metrics, "quick", only=["leaky_minus_causal_prefix_loss"])
    assert set(r.details["curves"]) == set(r.details["samples"]) == {"causal", "leaky"}
