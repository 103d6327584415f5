"""aigc_lessons.lm.mistakes: the missing causal mask, measured."""

from aigc_lessons import lm
from aigc_lessons.mistakes import MistakeReport


def test_mistake_missing_causal_mask_symptom_and_fix(shakespeare):
    """Leaky model: training loss far below the causal model's, yet worse at predicting from the past."""
    r = lm.causal_mask_mistake(splits=shakespeare)
    assert isinstance(r, MistakeReport)
    assert r.symptom["train_loss"] < 0.5 * r.fixed["train_loss"]       # suspiciously low training loss
    assert r.symptom["prefix_loss"] > r.fixed["prefix_loss"] + 0.3      # useless where it matters
    assert set(r.details["curves"]) == set(r.details["samples"]) == {"causal", "leaky"}
