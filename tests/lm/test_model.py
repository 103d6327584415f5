"""aigc_lessons.lm.model: the GPT's shapes, causality, KV cache, and its Hugging Face twin."""

import pytest
import torch

from aigc_lessons import lm


def test_gpt_shapes_weight_tying_and_errors(tiny_cfg):
    m = lm.GPT(tiny_cfg())
    assert m.head.weight is m.tok_emb.weight
    assert m(torch.zeros(3, 32, dtype=torch.long)).shape == (3, 32, 65)
    d, L, V, T = 32, 2, 65, 32
    per_block = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d)
    assert m.num_parameters() == V * d + T * d + L * per_block + 2 * d  # tied head counted once
    with pytest.raises(ValueError, match="exceeds the context"):
        m(torch.zeros(1, 33, dtype=torch.long))
    with pytest.raises(ValueError, match="int64"):
        m(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="divisible"):
        tiny_cfg(n_embd=30)


def test_gpt_is_causal_and_the_leaky_variant_is_not(tiny_cfg):
    torch.manual_seed(0)
    x = torch.randint(0, 65, (2, 32))
    x2 = x.clone()
    x2[:, 20:] = torch.randint(0, 65, (2, 12))
    for kernel in ("naive", "sdpa"):
        m = lm.GPT(tiny_cfg(kernel=kernel)).eval()
        torch.testing.assert_close(m(x2)[:, :20], m(x)[:, :20], atol=1e-5, rtol=0)
    leaky = lm.GPT(tiny_cfg(causal=False)).eval().requires_grad_(False)
    assert float((leaky(x2)[:, :20] - leaky(x)[:, :20]).abs().max()) > 1e-4


def test_kv_cache_matches_full_forward_and_generation(tiny_cfg):
    torch.manual_seed(0)
    m = lm.GPT(tiny_cfg()).eval()
    x = torch.randint(0, 65, (2, 20))
    cache = m.new_cache()
    parts = [m(x[:, :7], cache)] + [m(x[:, i: i + 1], cache) for i in range(7, 20)]
    torch.testing.assert_close(torch.cat(parts, 1), m(x), atol=1e-5, rtol=0)
    a = lm.generate(m, x[:, :3], 29, greedy=True)
    b = lm.generate(m, x[:, :3], 29, greedy=True, use_cache=False)
    assert torch.equal(a, b)  # within the context, the cache changes nothing
    long = lm.generate(m, x[:, :3], 100, temperature=1.0, generator=torch.Generator().manual_seed(0))
    assert long.shape == (2, 103)  # beyond the context, generation keeps going


def test_gpt2_twin_computes_the_same_function_and_round_trips(tiny_cfg, tmp_path):
    torch.manual_seed(0)
    cfg = tiny_cfg()
    ours = lm.GPT(cfg).eval()
    hf = lm.gpt2_twin(cfg).eval()
    assert sum(p.numel() for p in hf.parameters()) == ours.num_parameters()
    lm.copy_to_gpt2(ours, hf)
    x = torch.randint(0, 65, (2, 32))
    torch.testing.assert_close(hf(x).logits, ours(x), atol=1e-5, rtol=0)
    hf.save_pretrained(tmp_path / "twin")
    from transformers import GPT2LMHeadModel

    back = GPT2LMHeadModel.from_pretrained(tmp_path / "twin", local_files_only=True).eval()
    torch.testing.assert_close(back(x).logits, hf(x).logits, atol=0, rtol=0)
    greedy_hf = back.generate(x[:, :4], attention_mask=torch.ones_like(x[:, :4]), max_new_tokens=20,
                              do_sample=False, pad_token_id=0)
    assert torch.equal(greedy_hf, lm.generate(ours, x[:, :4], 20, greedy=True))
