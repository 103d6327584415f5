"""Planted bugs: a causal mask off by one diagonal (either way) must fail the attention tests.

The comparison with ``torch.nn.MultiheadAttention`` once built its reference mask with the code under
test, so an off-by-one mask passed. Here the bug is planted again in the code path that
``MultiHeadAttention`` calls, and the real tests must raise.
"""

import pytest
import torch

from aigc_lessons.attention import core

from . import test_core


@pytest.mark.parametrize("shift", [1, -1])
def test_causal_mask_off_by_one_diagonal_is_caught(monkeypatch, shift):
    def shifted(n_queries, n_keys=None, *, device=None):
        n_keys = n_queries if n_keys is None else n_keys
        return torch.ones(n_queries, n_keys, dtype=torch.bool, device=device).tril(diagonal=n_keys - n_queries + shift)

    monkeypatch.setattr(core, "causal_mask", shifted)
    with pytest.raises(AssertionError):
        test_core.test_multi_head_equals_torch_multiheadattention("naive", "causal_and_padding")
    if shift > 0:  # a mask that also shows the next token leaks the future; one that hides the token itself does not
        with pytest.raises(AssertionError):
            test_core.test_causal_mask_never_attends_to_the_future("naive")
