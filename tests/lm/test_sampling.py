"""aigc_lessons.lm.sampling: each decoding rule's defining property."""

import pytest
import torch

from aigc_lessons import lm


def test_temperature_towards_zero_is_greedy():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 50, generator=g)
    for _ in range(5):
        s = lm.sample_next(logits, temperature=1e-6, generator=g)
        assert torch.equal(s, lm.sample_next(logits, greedy=True))
    hot = torch.stack([lm.sample_next(logits, temperature=1.0, generator=g) for _ in range(5)])
    assert not bool((hot == logits.argmax(-1)).all())  # at temperature 1 it is not
    with pytest.raises(ValueError, match="temperature"):
        lm.apply_temperature(logits, 0.0)


def test_top_k_keeps_exactly_the_k_largest():
    logits = torch.randn(10, 30, generator=torch.Generator().manual_seed(1))
    f = lm.top_k_filter(logits, 5)
    kept = torch.isfinite(f)
    assert (kept.sum(-1) == 5).all()
    top = torch.topk(logits, 5, dim=-1).indices
    assert kept.gather(-1, top).all()
    torch.testing.assert_close(f[kept], logits[kept])


def test_top_p_keeps_the_smallest_set_reaching_p():
    logits = torch.randn(50, 40, generator=torch.Generator().manual_seed(2)) * 2
    p = 0.8
    kept = torch.isfinite(lm.top_p_filter(logits, p))
    probs = torch.softmax(logits, -1)
    for i in range(logits.shape[0]):
        mass = float(probs[i][kept[i]].sum())
        assert mass >= p - 1e-6                                  # reaches p
        smallest_kept = float(probs[i][kept[i]].min())
        assert mass - smallest_kept < p                          # and no smaller set does
        dropped = probs[i][~kept[i]]
        assert dropped.numel() == 0 or float(dropped.max()) <= smallest_kept  # the most probable ones
    assert (torch.isfinite(lm.top_p_filter(logits, 1e-9)).sum(-1) == 1).all()  # tiny p keeps the arg max
    with pytest.raises(ValueError, match="top-p"):
        lm.top_p_filter(logits, 1.5)


def test_top_k_sampling_draws_from_the_renormalised_distribution():
    logits = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0]]).expand(20000, -1)
    g = torch.Generator().manual_seed(3)
    s = lm.sample_next(logits, top_k=3, generator=g)
    freq = torch.bincount(s, minlength=5).float() / s.numel()
    expect = torch.softmax(torch.tensor([2.0, 1.0, 0.5]), -1)
    assert freq[3:].sum() == 0
    assert float((freq[:3] - expect).abs().max()) < 0.015
