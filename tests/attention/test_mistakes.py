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


def test_a_gpt_at_initialisation_cannot_show_a_missing_scale():
    """The mistakes page: checking a GPT's logit variance at initialisation does not reveal the missing 1/sqrt(d_k).

    With GPT-2's initialisation (weights N(0, 0.02^2), as lm.GPT has) the query and key entries have variance
    about d * 0.02^2, far below 1, so at the full-mode size (d = 384, d_k = 64) the unscaled logits have a
    variance near 1 (1.48 measured) and the scaled ones near 0.02: a 'near 1' check would pass the mistake and
    flag the correct model. With unit-variance queries and keys the check works (the test above)."""
    import torch

    from aigc_lessons import lm

    torch.manual_seed(0)
    cfg = lm.GPTConfig.for_mode("full", vocab_size=65)
    model, d_k = lm.GPT(cfg), cfg.n_embd // cfg.n_head
    idx = torch.randint(0, 65, (4, cfg.block_size))
    with torch.no_grad():
        h = model.tok_emb(idx) + model.pos_emb(torch.arange(cfg.block_size))
        block = model.blocks[0]
        q, k, _ = block.attn.qkv(block.ln1(h)).split(cfg.n_embd, dim=-1)
        q, k = block.attn._heads(q), block.attn._heads(k)  # (B, H, T, d_k), as the layer splits them
        raw = (q @ k.transpose(-1, -2)).var().item()
    assert d_k == 64 and 0.5 < raw < 3.0           # unscaled: near 1, not near d_k
    assert raw / d_k < 0.1                          # scaled: far below 1
