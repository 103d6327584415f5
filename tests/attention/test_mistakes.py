"""The chapter's attention mistakes (aigc_lessons.attention.mistakes), each reproduced and fixed."""

from aigc_lessons import attention as A
from aigc_lessons.mistakes import MistakeReport


def test_mistake_unscaled_attention_symptom_and_fix():
    r = A.unscaled_attention_mistake(d_k=512)
    assert isinstance(r, MistakeReport) and r.details["d_k"] == 512
    assert r.symptom["max_prob"] > 0.85 and r.fixed["max_prob"] < 0.2           # symptom / fix
    assert r.symptom["grad_norm"] < 0.5 * r.fixed["grad_norm"]
    assert 400 < r.symptom["logit_var"] < 650 and 0.8 < r.fixed["logit_var"] < 1.25


def test_mistake_padding_polarity_symptom_and_fix():
    r = A.padding_polarity_mistake()
    assert isinstance(r, MistakeReport)
    assert r.symptom["pad_mass"] > 0.99 and r.symptom["padding_sensitivity"] > 1.0   # symptom
    assert r.fixed["pad_mass"] == 0.0 and r.fixed["padding_sensitivity"] < 1e-6      # fix
    assert r.details["weights"]["right"].shape == (2, 12, 12)
