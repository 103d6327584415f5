"""A real pretrained model, offline (aigc_lessons.attention.minilm): all-MiniLM-L6-v2 recomputed layer by
layer with our attention."""

import pytest
import torch

from aigc_lessons import attention as A
from aigc_lessons.attention import core
from aigc_lessons.pretrained import load_minilm

SENTENCES = [
    "The cat sat on the mat because it was warm.",
    "Attention lets every word look at every other word.",
    "Shall I compare thee to a summer's day?",
]


@pytest.fixture(scope="module")
def minilm(one_thread):
    encoder = load_minilm(attn_implementation="eager")
    model, tokenizer = encoder.model, encoder.tokenizer
    enc, attentions, hidden = A.minilm_attentions(model, tokenizer, SENTENCES)
    return model, tokenizer, enc, attentions, hidden


def test_minilm_is_the_expected_model_and_offline(minilm):
    model, tokenizer, enc, attentions, hidden = minilm
    assert model.config.num_hidden_layers == 6 and model.config.num_attention_heads == 12
    assert model.config.hidden_size == 384
    assert len(attentions) == 6 and attentions[0].shape[:2] == (3, 12)
    assert int(enc["attention_mask"].sum(1).min()) < enc["input_ids"].shape[1]  # the batch has padding


@pytest.mark.parametrize("layer", range(6))
def test_every_minilm_layer_is_reproduced_within_1e5(minilm, layer):
    """Our MultiHeadAttention with MiniLM's weights gives its attention probabilities and the layer's
    output hidden states to within 1e-5 (padding masked)."""
    model, _, enc, _, hidden = minilm
    rep = A.minilm_layer_from_scratch(model, enc, hidden, layer)
    assert rep.probs.shape == rep.probs_model.shape
    assert rep.max_prob_error < 1e-5, rep.max_prob_error
    assert rep.max_output_error < 1e-5, rep.max_output_error


def test_padding_keys_get_no_probability(minilm):
    model, _, enc, _, hidden = minilm
    rep = A.minilm_layer_from_scratch(model, enc, hidden, 2)
    keep = enc["attention_mask"].bool()
    for b in range(keep.shape[0]):
        assert float(rep.probs[b][..., ~keep[b]].abs().sum()) == 0.0


def test_reproduction_would_catch_a_broken_attention(minilm, monkeypatch):
    """The check can fail: forgetting the 1/sqrt(d_k) factor changes the probabilities far beyond 1e-5."""
    model, _, enc, _, hidden = minilm
    original = core.scaled_dot_product_attention

    def unscaled(q, k, v, attn_mask=None, **kw):
        kw["scale"] = 1.0
        return original(q, k, v, attn_mask, **kw)

    monkeypatch.setattr(core, "scaled_dot_product_attention", unscaled)  # what MultiHeadAttention calls
    rep = A.minilm_layer_from_scratch(model, enc, hidden, 0)
    assert rep.max_prob_error > 1e-2


def test_sentence_embeddings_rank_paraphrases_first(minilm):
    model, tokenizer, *_ = minilm
    e = A.sentence_embeddings(model, tokenizer, ["A man is playing a guitar.", "Someone plays the guitar.",
                                                 "The stock market fell sharply today."])
    torch.testing.assert_close(e.norm(dim=-1), torch.ones(3))
    sim = e @ e.T
    assert sim[0, 1] > sim[0, 2] + 0.3


def test_minilm_layer_index_is_checked(minilm):
    model, _, enc, _, hidden = minilm
    with pytest.raises(ValueError, match="layer"):
        A.minilm_layer_from_scratch(model, enc, hidden, 6)
    with pytest.raises(ValueError, match="non-empty"):
        A.minilm_attentions(model, None, "one string")
