"""Attention from the formula (aigc_lessons.attention.core): equal to PyTorch's implementations, masks
that do what they claim, the sqrt(d_k) variance argument and positional encodings."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from aigc_lessons import attention as A


def _qkv(b=2, h=3, n=7, m=None, d=8, dv=5, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    m = n if m is None else m
    return (torch.randn(b, h, n, d, generator=g, dtype=dtype), torch.randn(b, h, m, d, generator=g, dtype=dtype),
            torch.randn(b, h, m, dv, generator=g, dtype=dtype))


# ------------------------------------------------------------------- equal to the library kernels


@pytest.mark.parametrize("case", ["plain", "causal", "bool_mask", "float_mask", "scale", "cross"])
def test_naive_attention_equals_torch_sdpa(case):
    """softmax(QKᵀ/√d_k + M)V from the formula equals F.scaled_dot_product_attention to 1e-12 (float64)."""
    q, k, v = _qkv(m=11 if case == "cross" else None)
    kwargs, ours = {}, {}
    if case == "causal":
        kwargs = ours = {"is_causal": True}
    elif case == "bool_mask":
        g = torch.Generator().manual_seed(1)
        mask = torch.rand(2, 1, 7, 7, generator=g) > 0.4
        mask[..., 0] = True  # no query row fully masked
        kwargs = ours = {"attn_mask": mask}
    elif case == "float_mask":
        bias = torch.randn(7, 7, dtype=torch.float64)
        kwargs = ours = {"attn_mask": bias}
    elif case == "scale":
        kwargs = ours = {"scale": 0.37}
    expected = F.scaled_dot_product_attention(q, k, v, **kwargs)
    got = A.scaled_dot_product_attention(q, k, v, **ours)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)


def test_attention_weights_are_a_distribution_and_default_scale_is_inverse_sqrt_dk():
    q, k, v = _qkv(d=16)
    out, w = A.scaled_dot_product_attention(q, k, v, return_weights=True)
    torch.testing.assert_close(w.sum(-1), torch.ones_like(w.sum(-1)))
    manual = torch.softmax(q @ k.transpose(-2, -1) / 4.0, -1)  # sqrt(16) = 4
    torch.testing.assert_close(w, manual)
    torch.testing.assert_close(out, manual @ v)


@pytest.mark.parametrize("kernel", ["naive", "sdpa"])
@pytest.mark.parametrize("masks", ["none", "padding", "causal_and_padding"])
def test_multi_head_equals_torch_multiheadattention(kernel, masks):
    """Our MultiHeadAttention with weights copied from nn.MultiheadAttention gives the same outputs and
    per-head weights. nn.MultiheadAttention's masks mean "True = ignore"; ours mean "True = may attend"."""
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(24, 4, batch_first=True).double().eval()
    with torch.no_grad():
        mha.in_proj_bias.normal_()  # PyTorch initialises biases to zero; make the copy test see them
        mha.out_proj.bias.normal_()
    ours = A.MultiHeadAttention.from_torch(mha, kernel=kernel).double().eval()
    x = torch.randn(3, 9, 24, dtype=torch.float64)
    keep = torch.ones(3, 9, dtype=torch.bool)
    keep[0, 6:] = False
    keep[2, 4:] = False
    kw_torch, kw_ours = {}, {}
    if masks in ("padding", "causal_and_padding"):
        kw_torch["key_padding_mask"] = ~keep
        kw_ours["key_mask"] = keep
    if masks == "causal_and_padding":
        # built independently of the code under test: True = ignore, i.e. the keys after the query
        kw_torch["attn_mask"] = torch.triu(torch.ones(9, 9, dtype=torch.bool), diagonal=1)
        kw_ours["causal"] = True
    y_t, w_t = mha(x, x, x, need_weights=True, average_attn_weights=False, **kw_torch)
    y_o, _ = ours(x, **kw_ours)
    _, w_o = ours(x, return_weights=True, **kw_ours)
    torch.testing.assert_close(y_o, y_t, atol=1e-10, rtol=0)
    torch.testing.assert_close(w_o, w_t, atol=1e-10, rtol=0)


def test_cross_attention_uses_context_for_keys_and_values():
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(16, 2, batch_first=True).double().eval()
    ours = A.MultiHeadAttention.from_torch(mha).double().eval()
    x, ctx = torch.randn(2, 3, 16, dtype=torch.float64), torch.randn(2, 5, 16, dtype=torch.float64)
    y_t, _ = mha(x, ctx, ctx)
    y_o, w = ours(x, ctx, return_weights=True)
    assert w.shape == (2, 2, 3, 5)
    torch.testing.assert_close(y_o, y_t, atol=1e-10, rtol=0)


# ----------------------------------------------------------------------------- masks do their job


def _seeded_layer_and_input(kernel, n):
    """A randomly initialised 4-head layer of width 16 (seed 0) and a random (2, n, 16) input."""
    torch.manual_seed(0)
    return A.MultiHeadAttention(16, 4, kernel=kernel).eval(), torch.randn(2, n, 16)


@pytest.mark.parametrize("kernel", ["naive", "sdpa"])
def test_causal_mask_never_attends_to_the_future(kernel):
    mha, x = _seeded_layer_and_input(kernel, 10)
    y, _ = mha(x, causal=True)
    _, w = mha(x, causal=True, return_weights=True)
    w = w.detach()
    future = torch.triu(torch.ones(10, 10, dtype=torch.bool), diagonal=1)  # key j > query i
    assert float(w[..., future].abs().max()) == 0.0
    x2 = x.clone()
    x2[:, 6:] = torch.randn(2, 4, 16) * 10  # change the future of positions 0..5
    y2, _ = mha(x2, causal=True)
    torch.testing.assert_close(y2[:, :6], y[:, :6], atol=1e-6, rtol=0)
    # without the mask the past does change: the test above can fail
    with torch.no_grad():
        y3, _ = mha(x, causal=False)
        y4, _ = mha(x2, causal=False)
    assert float((y4[:, :6] - y3[:, :6]).abs().max()) > 1e-2


@pytest.mark.parametrize("kernel", ["naive", "sdpa"])
def test_padding_mask_never_attends_to_padding(kernel):
    mha, x = _seeded_layer_and_input(kernel, 8)
    keep = torch.tensor([[1, 1, 1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1]])
    _, w = mha(x, key_mask=keep, return_weights=True)
    w = w.detach()
    assert float(w[0, :, :, 5:].abs().max()) == 0.0
    y, _ = mha(x, key_mask=keep)
    x2 = x.clone()
    x2[0, 5:] = 100.0  # garbage in the padding slots
    y2, _ = mha(x2, key_mask=keep)
    torch.testing.assert_close(y2[0, :5], y[0, :5], atol=1e-5, rtol=0)
    # the unpadded sequence alone gives the same outputs as inside the padded batch
    alone, _ = mha(x[:1, :5])
    torch.testing.assert_close(y[0, :5], alone[0], atol=1e-5, rtol=0)


def test_causal_mask_is_the_lower_triangle_written_out():
    """Query i may see keys 0..i, itself included, and nothing after: checked against the matrix
    written by hand, so a mask shifted by one diagonal (seeing one future token, or not itself) fails."""
    expected = torch.tensor([[1, 0, 0, 0],
                             [1, 1, 0, 0],
                             [1, 1, 1, 0],
                             [1, 1, 1, 1]], dtype=torch.bool)
    got = A.causal_mask(4)
    assert got.dtype == torch.bool
    assert torch.equal(got, expected)
    expected_cached = torch.tensor([[1, 1, 1, 0, 0],
                                    [1, 1, 1, 1, 0],
                                    [1, 1, 1, 1, 1]], dtype=torch.bool)  # 2 cached positions, 3 new queries
    assert torch.equal(A.causal_mask(3, 5), expected_cached)


def test_causal_mask_alignment_for_cached_positions():
    expected = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    assert torch.equal(A.causal_mask(2, 5), expected)
    assert torch.equal(A.causal_mask(3), torch.ones(3, 3, dtype=torch.bool).tril())


@pytest.mark.parametrize("kernel", ["naive", "sdpa"])
def test_kv_cache_gives_the_same_outputs_as_full_causal_attention(kernel):
    mha, x = _seeded_layer_and_input(kernel, 9)
    full, _ = mha(x, causal=True)
    cache = A.LayerCache()
    first, _ = mha(x[:, :4], causal=True, cache=cache)  # prefill 4 positions
    steps = [first] + [mha(x[:, i: i + 1], causal=True, cache=cache)[0] for i in range(4, 7)]
    last, _ = mha(x[:, 7:], causal=True, cache=cache)  # two new positions at once
    assert cache.length == 9
    torch.testing.assert_close(torch.cat(steps + [last], dim=1), full, atol=1e-6, rtol=0)


def test_fully_masked_row_gives_zero_not_nan():
    q, k, v = _qkv(n=3)
    mask = torch.ones(3, 3, dtype=torch.bool)
    mask[1] = False
    out, w = A.scaled_dot_product_attention(q, k, v, mask, return_weights=True)
    assert torch.isfinite(out).all()
    assert float(out[..., 1, :].abs().max()) == 0.0 and float(w[..., 1, :].abs().max()) == 0.0


def test_bad_input_raises_clear_errors():
    q, k, v = _qkv()
    with pytest.raises(ValueError, match="same feature size"):
        A.scaled_dot_product_attention(q, k[..., :3], v)
    with pytest.raises(ValueError, match="same length"):
        A.scaled_dot_product_attention(q, k, v[..., :3, :])
    with pytest.raises(ValueError, match="is_causal"):
        A.scaled_dot_product_attention(q, *(_qkv(m=4)[1:]), is_causal=True)
    with pytest.raises(ValueError, match="divisible"):
        A.MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="kernel"):
        A.MultiHeadAttention(8, 2, kernel="flash")
    with pytest.raises(ValueError, match="shape"):
        A.MultiHeadAttention(8, 2)(torch.randn(2, 3, 7))
    with pytest.raises(ValueError, match="0/1"):
        A.padding_mask(torch.tensor([[2, 1, 0]]))


# ---------------------------------------------------------------------------- why divide by sqrt(d_k)


def test_logit_variance_equals_dk():
    """The variance argument: q·k of i.i.d. N(0,1) entries has variance d_k; dividing by √d_k gives 1."""
    df = A.scaling_experiment((16, 256), n_keys=64, n_queries=1024, seed=0)
    for _, row in df.iterrows():
        target = 1.0 if row.scaled else row.d_k
        assert abs(row.logit_var / target - 1) < 0.1, row.to_dict()


def test_unscaled_softmax_saturates_and_its_gradient_vanishes():
    """Without the scaling the softmax becomes nearly one-hot and the gradient reaching the logits
    shrinks as d_k grows; with it, both stay at their small-d_k values."""
    df = A.scaling_experiment((16, 1024), n_keys=64, n_queries=512, seed=1).set_index(["d_k", "scaled"])
    assert df.loc[(1024, False), "max_prob"] > 0.9
    assert df.loc[(1024, True), "max_prob"] < 0.2
    assert df.loc[(1024, False), "grad_norm"] < 0.5 * df.loc[(1024, True), "grad_norm"]
    assert df.loc[(1024, False), "grad_norm"] < 0.5 * df.loc[(16, False), "grad_norm"]
    assert abs(df.loc[(1024, True), "max_prob"] - df.loc[(16, True), "max_prob"]) < 0.05


# ---------------------------------------------------------------------------- positional encodings


def test_sinusoidal_dot_product_depends_on_offset_only():
    pe = A.sinusoidal_encoding(200, 64).double()
    for k in (1, 5, 17):
        dots = (pe[:-k] * pe[k:]).sum(-1)  # PE_p · PE_{p+k} for every p
        torch.testing.assert_close(dots, torch.full_like(dots, float(dots[0])), atol=1e-5, rtol=0)
        omega = 10000.0 ** (-torch.arange(0, 64, 2, dtype=torch.float64) / 64)
        assert abs(float(dots[0]) - float(torch.cos(k * omega).sum())) < 1e-5


def test_sinusoidal_shift_is_a_fixed_rotation():
    """PE_{p+k} = R_k PE_p with R_k block-diagonal 2x2 rotations that do not depend on p."""
    d, k = 16, 7
    pe = A.sinusoidal_encoding(100, d).double()
    omega = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    R = torch.zeros(d, d, dtype=torch.float64)
    for i, w in enumerate(omega):
        c, s = math.cos(k * w), math.sin(k * w)
        R[2 * i: 2 * i + 2, 2 * i: 2 * i + 2] = torch.tensor([[c, s], [-s, c]], dtype=torch.float64)
    torch.testing.assert_close(pe[:-k] @ R.T, pe[k:], atol=1e-5, rtol=0)


def test_rotary_logits_depend_on_relative_position_only():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(32, generator=g, dtype=torch.float64), torch.randn(32, generator=g, dtype=torch.float64)

    def logit(m, n):
        qm = A.rotary_embedding(q[None], torch.tensor([m]))[0]
        kn = A.rotary_embedding(k[None], torch.tensor([n]))[0]
        return float(qm @ kn)

    assert abs(logit(3, 10) - logit(103, 110)) < 1e-9
    assert abs(logit(0, 4) - logit(50, 54)) < 1e-9
    assert abs(logit(3, 10) - logit(3, 11)) > 1e-3  # but it does depend on the offset
    x = torch.randn(5, 32, generator=g, dtype=torch.float64)
    torch.testing.assert_close(A.rotary_embedding(x).norm(dim=-1), x.norm(dim=-1))  # a rotation


def _written_out_angle(p: int, i: int, d: int, base: float) -> float:
    """p * base^(-2i/d) for coordinate pair i, written out with the math module."""
    return p * base ** (-(2 * i) / d)


@pytest.mark.parametrize("base", [10000.0, 100.0])
def test_sinusoidal_matches_the_formula_entry_by_entry(base):
    n, d = 9, 6
    pe = A.sinusoidal_encoding(n, d, base=base)
    assert pe.shape == (n, d) and pe.dtype == torch.float32
    for p in range(n):
        for i in range(d // 2):
            a = _written_out_angle(p, i, d, base)
            assert abs(float(pe[p, 2 * i]) - math.sin(a)) < 1e-6, (p, 2 * i)
            assert abs(float(pe[p, 2 * i + 1]) - math.cos(a)) < 1e-6, (p, 2 * i + 1)


def test_sinusoidal_rejects_an_odd_width():
    with pytest.raises(ValueError, match="even d_model, got 5"):
        A.sinusoidal_encoding(4, 5)


@pytest.mark.parametrize("base", [10000.0, 50.0])
def test_rotary_matches_the_formula_entry_by_entry(base):
    g = torch.Generator().manual_seed(1)
    n, d = 5, 6
    x = torch.randn(2, n, d, generator=g, dtype=torch.float64)
    positions = torch.tensor([0, 3, 4, 9, 20])
    for pos, out in ((torch.arange(n), A.rotary_embedding(x, base=base)),
                     (positions, A.rotary_embedding(x, positions, base=base))):
        assert out.shape == x.shape and out.dtype == x.dtype
        for b in range(2):
            for j in range(n):
                for i in range(d // 2):
                    a = _written_out_angle(int(pos[j]), i, d, base)
                    x1, x2 = float(x[b, j, 2 * i]), float(x[b, j, 2 * i + 1])
                    assert abs(float(out[b, j, 2 * i]) - (x1 * math.cos(a) - x2 * math.sin(a))) < 1e-9
                    assert abs(float(out[b, j, 2 * i + 1]) - (x1 * math.sin(a) + x2 * math.cos(a))) < 1e-9


def test_rotary_keeps_float32_and_checks_its_arguments():
    x = torch.randn(3, 4)
    assert A.rotary_embedding(x).dtype == torch.float32
    torch.testing.assert_close(A.rotary_embedding(x)[0], x[0])  # position 0: no rotation
    with pytest.raises(ValueError, match="even feature size, got 3"):
        A.rotary_embedding(torch.randn(2, 3))
    with pytest.raises(ValueError, match="positions has 2 entries for 3 positions"):
        A.rotary_embedding(torch.randn(3, 4), torch.tensor([0, 1]))
