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


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_a_fully_masked_query_row_attends_to_nothing_as_in_torch(kind):
    """A row with no allowed key gives weights and output 0, for a boolean mask and for a float mask of -inf,
    as PyTorch's kernel does; the other rows are untouched, and a NaN in the inputs still shows."""
    q, k, v = _qkv()
    allowed = torch.ones(7, 7, dtype=torch.bool)
    allowed[3] = False
    mask = allowed if kind == "bool" else torch.zeros(7, 7, dtype=torch.float64).masked_fill(~allowed, float("-inf"))
    out, w = A.scaled_dot_product_attention(q, k, v, attn_mask=mask, return_weights=True)
    assert torch.equal(w[..., 3, :], torch.zeros_like(w[..., 3, :])) and torch.equal(out[..., 3, :], torch.zeros_like(out[..., 3, :]))
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=1e-12, rtol=0)
    q_nan = q.clone()
    q_nan[..., 0, 0] = float("nan")
    assert torch.isnan(A.scaled_dot_product_attention(q_nan, k, v, attn_mask=mask)[..., 0, :]).all()


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
    # without the mask the garbage does reach the real outputs: the test above can fail
    with torch.no_grad():
        y3, _ = mha(x)
        y4, _ = mha(x2)
    assert float((y4[0, :5] - y3[0, :5]).abs().max()) > 1e-2
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


def test_a_row_masked_in_one_head_only_is_zeroed_in_that_head_only():
    """The "attends to nothing" rule looks along the keys of each row, per batch element and head: a mask that
    blocks query 3 in head 0 alone zeroes that row there, and every other head matches PyTorch's kernel."""
    q, k, v = _qkv()
    allowed = torch.ones(3, 7, 7, dtype=torch.bool)  # (heads, n_q, n_k), broadcast over the batch
    allowed[0, 3] = False
    out, w = A.scaled_dot_product_attention(q, k, v, attn_mask=allowed, return_weights=True)
    assert torch.isfinite(out).all() and torch.equal(w[:, 0, 3], torch.zeros_like(w[:, 0, 3]))
    assert bool((w[:, 1:, 3].sum(-1) - 1).abs().max() < 1e-12)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=allowed), atol=1e-12, rtol=0)


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


# ------------------------------------------------------ shapes, arguments and defaults (mutation tests)


@pytest.mark.parametrize("shape", ["2d", "3d"])
@pytest.mark.parametrize("is_causal", [False, True])
def test_unbatched_and_three_dimensional_inputs_equal_torch_sdpa(shape, is_causal):
    """The formula works on any (..., length, features) layout, not only (batch, heads, length, features)."""
    q, k, v = _qkv(b=2, h=1, n=6, d=5, dv=3)
    q, k, v = ((t[0, 0] if shape == "2d" else t[:, 0]) for t in (q, k, v))
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)
    got = A.scaled_dot_product_attention(q, k, v, is_causal=is_causal)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("which", [0, 1, 2])
def test_inputs_with_fewer_than_two_dimensions_are_rejected(which):
    qkv = [torch.randn(4, 3, dtype=torch.float64) for _ in range(3)]
    qkv[which] = qkv[which][0]
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        A.scaled_dot_product_attention(*qkv)


def test_causal_mask_checks_its_sizes():
    assert torch.equal(A.causal_mask(1), torch.ones(1, 1, dtype=torch.bool))
    assert torch.equal(A.causal_mask(1, 4), torch.ones(1, 4, dtype=torch.bool))  # one new token sees the whole cache
    for args in ((0,), (0, 3), (3, 2)):
        with pytest.raises(ValueError, match=r"1 <= n_queries <= n_keys"):
            A.causal_mask(*args)


def test_padding_mask_error_names_the_expected_entries():
    with pytest.raises(ValueError, match=r"^padding_mask expects 0/1 or boolean entries \(1 = real token, 0 = padding\)$"):
        A.padding_mask(torch.tensor([[1, 2]]))


def test_causal_and_a_boolean_mask_together_keep_only_what_both_allow():
    q, k, v = _qkv()
    g = torch.Generator().manual_seed(2)
    mask = torch.rand(2, 1, 7, 7, generator=g) > 0.3
    mask[..., 0] = True  # key 0 is never in the future: no row fully masked
    both = mask & torch.ones(7, 7, dtype=torch.bool).tril()  # written out independently of causal_mask
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=both)
    got = A.scaled_dot_product_attention(q, k, v, mask, is_causal=True)
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)


def test_attention_dropout_zeroes_weights_and_rescales_the_rest():
    """Inverted dropout on the attention probabilities: each weight is 0 or softmax / (1 - p)."""
    q, k, v = _qkv(n=16, d=8)
    torch.manual_seed(0)
    out, w = A.scaled_dot_product_attention(q, k, v, dropout_p=0.25, return_weights=True)
    probs = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(8), dim=-1)
    dropped = w == 0
    assert 0.15 < dropped.double().mean().item() < 0.35
    torch.testing.assert_close(w[~dropped], probs[~dropped] / 0.75)
    torch.testing.assert_close(out, w @ v)


@pytest.mark.parametrize("kernel", ["naive", "sdpa"])
def test_multi_head_defaults_match_torch_bias_and_no_dropout(kernel):
    """Like nn.MultiheadAttention: biases on by default, no dropout, so a fresh layer (in training mode)
    is deterministic; bias=False has exactly the 4 d² projection weights."""
    d = 16
    layer = A.MultiHeadAttention(d, 4, kernel=kernel)
    torch_default = nn.MultiheadAttention(d, 4, batch_first=True)
    assert sum(p.numel() for p in layer.parameters()) == sum(p.numel() for p in torch_default.parameters())
    assert layer.qkv.bias is not None and layer.out.bias is not None
    no_bias = A.MultiHeadAttention(d, 4, bias=False, kernel=kernel)
    assert sum(p.numel() for p in no_bias.parameters()) == 4 * d * d
    assert layer.training
    x = torch.randn(2, 5, d)
    y1, _ = layer(x)
    y2, _ = layer(x)
    torch.testing.assert_close(y1, y2, atol=0, rtol=0)
    with torch.no_grad():
        y_eval, _ = layer.eval()(x)
    torch.testing.assert_close(y1, y_eval, atol=1e-6, rtol=0)


@pytest.mark.parametrize("kernel", ["naive", "sdpa"])
@pytest.mark.parametrize("bias", [True, False])
def test_cross_attention_with_and_without_biases_equals_torch(kernel, bias):
    """Cross-attention projects queries from x and keys/values from the context, each with its bias."""
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(16, 2, bias=bias, batch_first=True).double().eval()
    if bias:
        with torch.no_grad():
            mha.in_proj_bias.normal_()
            mha.out_proj.bias.normal_()
    ours = A.MultiHeadAttention.from_torch(mha, kernel=kernel).eval()
    assert (ours.qkv.bias is None) == (not bias)
    x, ctx = torch.randn(2, 3, 16, dtype=torch.float64), torch.randn(2, 5, 16, dtype=torch.float64)
    y_t, _ = mha(x, ctx, ctx)
    y_o, _ = ours(x, ctx)
    torch.testing.assert_close(y_o, y_t, atol=1e-10, rtol=0)
    y_self_t, _ = mha(x, x, x)
    torch.testing.assert_close(ours(x)[0], y_self_t, atol=1e-10, rtol=0)


def test_context_of_the_wrong_shape_is_rejected():
    layer = A.MultiHeadAttention(8, 2)
    x = torch.randn(2, 3, 8)
    for ctx in (torch.randn(3, 5, 8), torch.randn(2, 5, 6), torch.randn(2, 8)):  # batch, width, no length axis
        with pytest.raises(ValueError, match=r"^context must be \(batch=2, length, 8\), got "):
            layer(x, ctx)


@pytest.mark.parametrize("kernel", ["naive", "sdpa"])
def test_weights_are_returned_only_when_asked(kernel):
    layer = A.MultiHeadAttention(8, 2, kernel=kernel).eval()
    x = torch.randn(1, 4, 8)
    assert layer(x)[1] is None
    assert layer(x, causal=True)[1] is None
    assert layer(x, return_weights=True)[1].shape == (1, 2, 4, 4)


def _torch_ignore_mask(n, causal, keep_pairs=None):
    """nn.MultiheadAttention's (n, n) attn_mask, True = ignore, written out from its definition."""
    ignore = torch.zeros(n, n, dtype=torch.bool)
    if causal:
        ignore |= torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
    if keep_pairs is not None:
        ignore |= ~keep_pairs
    return ignore


@pytest.mark.parametrize("kernel", ["naive", "sdpa"])
@pytest.mark.parametrize("case", ["causal_n2", "causal_n6", "causal_padding", "causal_attn_mask", "attn_mask"])
def test_float32_masks_equal_torch_multiheadattention(kernel, case):
    """In float32 (PyTorch's fused kernels take other paths than in float64) every mask combination gives
    nn.MultiheadAttention's output; ours mean True = may attend, torch's True = ignore."""
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(16, 4, batch_first=True).eval()
    with torch.no_grad():
        mha.in_proj_bias.normal_()
    ours = A.MultiHeadAttention.from_torch(mha, kernel=kernel).eval()
    n = 2 if case == "causal_n2" else 6
    x = torch.randn(2, n, 16)
    g = torch.Generator().manual_seed(3)
    pairs = torch.rand(n, n, generator=g) > 0.4
    pairs[:, 0] = True  # every query may see key 0
    kw_ours, kw_torch = {}, {}
    if case.startswith("causal"):
        kw_ours["causal"] = True
    if case == "causal_padding":
        keep = torch.ones(2, n, dtype=torch.bool)
        keep[0, 4:] = False
        kw_ours["key_mask"], kw_torch["key_padding_mask"] = keep, ~keep
    if case in ("causal_attn_mask", "attn_mask"):
        kw_ours["attn_mask"] = pairs
    kw_torch["attn_mask"] = _torch_ignore_mask(n, "causal" in case, pairs if "attn_mask" in case else None)
    with torch.no_grad():
        y_t, _ = mha(x, x, x, **kw_torch)
        y_o, _ = ours(x, **kw_ours)
    torch.testing.assert_close(y_o, y_t, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kernel", ["naive", "sdpa"])
def test_kv_cache_after_a_single_cached_position(kernel):
    """One cached position, then two new queries at once: they see the cache and each other causally."""
    mha, x = _seeded_layer_and_input(kernel, 6)
    full, _ = mha(x, causal=True)
    cache = A.LayerCache()
    first, _ = mha(x[:, :1], causal=True, cache=cache)
    two, _ = mha(x[:, 1:3], causal=True, cache=cache)
    rest, _ = mha(x[:, 3:], causal=True, cache=cache)
    torch.testing.assert_close(torch.cat([first, two, rest], dim=1), full, atol=1e-6, rtol=0)


@pytest.mark.parametrize("kernel", ["naive", "sdpa"])
def test_dropout_acts_in_training_only_and_is_unbiased(kernel):
    """Attention dropout copied from nn.MultiheadAttention: off in eval (equal to torch), on in training,
    where each output is noisy but the mean over many draws is the eval output (inverted dropout)."""
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(16, 2, dropout=0.5, batch_first=True).double().eval()
    ours = A.MultiHeadAttention.from_torch(mha, kernel=kernel)
    x = torch.randn(1, 5, 16, dtype=torch.float64)
    with torch.no_grad():
        y_t, _ = mha(x, x, x)
        y_eval, _ = ours.eval()(x)
        torch.testing.assert_close(y_eval, y_t, atol=1e-10, rtol=0)
        ours.train()
        torch.manual_seed(1)
        y_train, _ = ours(x.expand(4000, -1, -1))
    assert (y_train - y_t).abs().amax(dim=(1, 2)).min() > 1e-3  # every draw is perturbed
    torch.testing.assert_close(y_train.mean(0, keepdim=True), y_t, atol=0.05, rtol=0)


def test_from_torch_needs_batch_first():
    with pytest.raises(ValueError, match=r"^from_torch needs nn\.MultiheadAttention\(batch_first=True\) "
                                         r"with kdim = vdim = embed_dim$"):
        A.MultiHeadAttention.from_torch(nn.MultiheadAttention(8, 2))


def test_everything_is_built_on_the_inputs_device():
    """On the meta device (shapes only, no data) any tensor created on the CPU by mistake fails loudly:
    the masks, positions and frequencies must follow the input, as they must on a GPU."""
    meta = torch.device("meta")
    assert A.causal_mask(3, 5, device=meta).device == meta
    q = torch.empty(2, 3, 4, 8, device=meta)
    assert A.scaled_dot_product_attention(q, q, q, is_causal=True).device == meta
    assert A.rotary_embedding(torch.empty(2, 5, 6, device=meta)).device == meta
    layer = A.MultiHeadAttention.from_torch(nn.MultiheadAttention(8, 2, batch_first=True, device=meta))
    assert layer.qkv.weight.device == meta
    parts = [nn.Linear(8, 8, device=meta) for _ in range(4)]
    assert A.MultiHeadAttention.from_linear(*parts, n_heads=2).qkv.weight.device == meta
    cache = A.LayerCache()
    layer(torch.empty(1, 3, 8, device=meta), causal=True, cache=cache)
    y, _ = layer(torch.empty(1, 2, 8, device=meta), causal=True, cache=cache)  # two queries after a cache
    assert y.device == meta and y.shape == (1, 2, 8)
    # PyTorch's kernels (the meta one checks it, like the GPU ones) refuse an explicit mask together with
    # is_causal=True: with a padding or attention mask the causal mask must be folded into it
    fused = A.MultiHeadAttention(8, 2, kernel="sdpa").to(meta)
    x = torch.empty(2, 4, 8, device=meta)
    keep = torch.ones(2, 4, dtype=torch.bool, device=meta)
    assert fused(x, causal=True, key_mask=keep)[0].shape == (2, 4, 8)
    assert fused(x, causal=True, attn_mask=torch.ones(4, 4, dtype=torch.bool, device=meta))[0].shape == (2, 4, 8)


def test_rotary_default_base_is_ten_thousand():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(7, 4, generator=g, dtype=torch.float64)
    out = A.rotary_embedding(x)
    for p in range(7):
        for i in range(2):
            a = _written_out_angle(p, i, 4, 10000.0)
            assert abs(float(out[p, 2 * i]) - (float(x[p, 2 * i]) * math.cos(a) - float(x[p, 2 * i + 1]) * math.sin(a))) < 1e-12


def test_sinusoidal_is_accurate_at_long_positions():
    """The angles are formed in float64: at position 2,000 a float32 frequency would already be off by ~1e-5."""
    n, d = 2048, 64
    pe = A.sinusoidal_encoding(n, d).double()
    p = torch.arange(n, dtype=torch.float64)
    for i in range(d // 2):
        a = p * 10000.0 ** (-(2 * i) / d)
        assert (pe[:, 2 * i] - torch.sin(a)).abs().max() < 1e-6, i
        assert (pe[:, 2 * i + 1] - torch.cos(a)).abs().max() < 1e-6, i


# ----------------------------------------------- the scaling experiment against a direct Monte Carlo


def _softmax_statistics(d_k, scaled, n_keys=64, n_queries=512, reps=4, seed=123):
    """Mean largest weight, entropy (nats) and norm of dL/dlogits, from fresh draws and the softmax
    Jacobian written out: dL/ds_j = p_j (u_j - sum_k p_k u_k), u = g Vᵀ (no autograd)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(reps):
        q = torch.randn(n_queries, d_k, generator=gen, dtype=torch.float64)
        k = torch.randn(n_keys, d_k, generator=gen, dtype=torch.float64)
        v = torch.randn(n_keys, 16, generator=gen, dtype=torch.float64)
        g = torch.randn(n_queries, 16, generator=gen, dtype=torch.float64)
        p = torch.softmax(q @ k.T / (math.sqrt(d_k) if scaled else 1.0), dim=-1)
        u = g @ v.T
        grad = p * (u - (p * u).sum(-1, keepdim=True))
        out.append([p.max(-1).values.mean(), -(p * p.log()).nan_to_num().sum(-1).mean(), grad.norm(dim=-1).mean()])
    return torch.tensor(out).mean(0).tolist()


def test_scaling_experiment_statistics_match_a_direct_monte_carlo():
    df = A.scaling_experiment((16, 1024), seed=0)
    for _, row in df.iterrows():
        max_prob, entropy, grad_norm = _softmax_statistics(int(row.d_k), bool(row.scaled))
        assert 0.0 <= row.entropy_nats <= math.log(64)
        assert row.max_prob == pytest.approx(max_prob, rel=0.15), row.to_dict()
        assert row.entropy_nats == pytest.approx(entropy, abs=0.15), row.to_dict()
        assert row.grad_norm == pytest.approx(grad_norm, rel=0.15), row.to_dict()


def test_scaling_experiment_is_reproducible_and_its_defaults_are_the_stated_ones():
    import pandas as pd

    first = A.scaling_experiment((4, 64))
    pd.testing.assert_frame_equal(first, A.scaling_experiment((4, 64), n_keys=64, n_queries=512, seed=0))
    assert not first.equals(A.scaling_experiment((4, 64), seed=1))


@pytest.mark.parametrize("bias", [True, False])
def test_from_linear_equals_torch_with_the_same_projections(bias):
    """Four separate projections (BERT layout) built from nn.MultiheadAttention's packed weights."""
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(12, 3, bias=bias, batch_first=True).double().eval()
    if bias:
        with torch.no_grad():
            mha.in_proj_bias.normal_()
            mha.out_proj.bias.normal_()
    parts = []
    for i in range(3):
        lin = nn.Linear(12, 12, bias=bias).double()
        with torch.no_grad():
            lin.weight.copy_(mha.in_proj_weight[12 * i: 12 * (i + 1)])
            if bias:
                lin.bias.copy_(mha.in_proj_bias[12 * i: 12 * (i + 1)])
        parts.append(lin)
    ours = A.MultiHeadAttention.from_linear(*parts, mha.out_proj, n_heads=3).eval()
    assert (ours.qkv.bias is None) == (not bias)
    x = torch.randn(2, 4, 12, dtype=torch.float64)
    torch.testing.assert_close(ours(x)[0], mha(x, x, x)[0], atol=1e-10, rtol=0)
