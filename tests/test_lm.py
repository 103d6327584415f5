"""The small GPT (aigc_lessons.lm): model, GPT-2 twin, training with resumable checkpoints, sampling
rules, memorisation index, Tang quatrain format and the missing-causal-mask mistake."""

import math

import pytest
import torch
import torch.nn.functional as F

from aigc_lessons import lm
from aigc_lessons.attention import cpu_threads
from aigc_lessons.checkpoint import CheckpointError


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models on a shared CPU: one thread is faster than two waiting for each other."""
    with cpu_threads(1):
        yield


@pytest.fixture(scope="module")
def shakespeare():
    return lm.shakespeare_splits()


def tiny_cfg(vocab=65, **kw):
    base = dict(vocab_size=vocab, block_size=32, n_layer=2, n_head=4, n_embd=32)
    base.update(kw)
    return lm.GPTConfig(**base)


def tiny_train(**kw):
    base = dict(max_steps=40, batch_size=8, lr=3e-3, min_lr=3e-4, warmup_steps=5, eval_interval=20,
                eval_batches=2, final_eval_tokens=1024, checkpoint_interval=10, log_interval=5, cpu_threads=1)
    base.update(kw)
    return lm.TrainConfig(**base)


# ------------------------------------------------------------------------------------------ data


def test_tokenizer_round_trip_and_unknown_characters(shakespeare):
    tok = shakespeare.tokenizer
    assert tok.vocab_size == 65
    s = "ROMEO:\nBut, soft! what light"
    assert tok.decode(tok.encode(s)) == s
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tok.encode("naïve")


def test_split_is_nanogpts_90_10(shakespeare):
    n = len(shakespeare.train_text) + len(shakespeare.val_text)
    assert n == 1_115_394
    assert len(shakespeare.train_text) == int(n * 0.9)


def test_batches_are_windows_with_targets_shifted_by_one(shakespeare):
    g = torch.Generator().manual_seed(0)
    x, y = lm.get_batch(shakespeare.train, 4, 16, g)
    assert x.shape == y.shape == (4, 16)
    assert torch.equal(x[:, 1:], y[:, :-1])
    with pytest.raises(ValueError, match="too short"):
        lm.get_batch(torch.arange(10), 2, 16, g)


# ----------------------------------------------------------------------------------------- model


def test_gpt_shapes_weight_tying_and_errors():
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


def test_gpt_is_causal_and_the_leaky_variant_is_not():
    torch.manual_seed(0)
    x = torch.randint(0, 65, (2, 32))
    x2 = x.clone()
    x2[:, 20:] = torch.randint(0, 65, (2, 12))
    for kernel in ("naive", "sdpa"):
        m = lm.GPT(tiny_cfg(kernel=kernel)).eval()
        torch.testing.assert_close(m(x2)[:, :20], m(x)[:, :20], atol=1e-5, rtol=0)
    leaky = lm.GPT(tiny_cfg(causal=False)).eval().requires_grad_(False)
    assert float((leaky(x2)[:, :20] - leaky(x)[:, :20]).abs().max()) > 1e-4


def test_kv_cache_matches_full_forward_and_generation():
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


def test_gpt2_twin_computes_the_same_function_and_round_trips(tmp_path):
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


# ---------------------------------------------------------------------------------------- sampling


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


# ---------------------------------------------------------------------------------------- training


def test_lr_schedule_warms_up_then_anneals_to_min_lr():
    cfg = tiny_train(max_steps=100, warmup_steps=10, lr=1e-3, min_lr=1e-4)
    assert cfg.lr_at(0.0, 0) == pytest.approx(1e-4)
    assert cfg.lr_at(0.1, 10) == pytest.approx(1e-4 + 0.9e-3 * 0.5 * (1 + math.cos(math.pi * 0.1)))
    assert cfg.lr_at(1.0, 100) == pytest.approx(1e-4)
    assert cfg.lr_at(2.0, 300) == pytest.approx(1e-4)


def test_training_lowers_the_loss_and_evaluate_is_cross_entropy(shakespeare):
    torch.manual_seed(0)
    m = lm.GPT(tiny_cfg())
    before = lm.evaluate(m, shakespeare.val, max_tokens=2048)
    assert abs(before - math.log(65)) < 0.1  # small random init: close to uniform
    res = lm.train_lm(m, shakespeare, tiny_train(max_steps=80), progress=False)
    assert res.finished and res.steps == 80
    assert res.metrics["val_loss"] < before - 0.7
    assert res.history["step"][0] == 0 and res.history["step"][-1] == 80
    w = shakespeare.val[:33]
    with torch.no_grad():
        manual = F.cross_entropy(m.eval()(w[None, :-1])[0], w[1:])
    assert lm.evaluate(m, w, max_tokens=32) == pytest.approx(float(manual), abs=1e-5)


def test_interrupted_training_resumes_exactly(shakespeare, tmp_path):
    """40 steps straight == 15 steps, stop, then resume from the atomic checkpoint to 40."""
    cfg = tiny_train(max_steps=40, checkpoint_interval=7)
    torch.manual_seed(0)
    straight = lm.train_lm(lm.GPT(tiny_cfg()), shakespeare, cfg, checkpoint_path=tmp_path / "a.pt", progress=False)
    torch.manual_seed(0)
    part = lm.train_lm(lm.GPT(tiny_cfg()), shakespeare, cfg, checkpoint_path=tmp_path / "b.pt", stop_after=15,
                       progress=False)
    assert not part.finished and part.steps == 15 and "val_loss" not in part.metrics
    torch.manual_seed(123)  # a fresh process would start from a different random init: it must not matter
    resumed = lm.train_lm(lm.GPT(tiny_cfg()), shakespeare, cfg, checkpoint_path=tmp_path / "b.pt", progress=False)
    assert resumed.resumed_from == 15 and resumed.steps == 40
    for (k, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), k
    assert straight.history["batch_loss"] == resumed.history["batch_loss"]
    with pytest.raises(CheckpointError, match="different architecture"):
        lm.train_lm(lm.GPT(tiny_cfg(n_embd=64)), shakespeare, cfg, checkpoint_path=tmp_path / "b.pt", progress=False)
    with pytest.raises(CheckpointError, match="kind"):
        lm.train_lm(lm.gpt2_twin(tiny_cfg()), shakespeare, cfg, checkpoint_path=tmp_path / "b.pt", progress=False)


def test_the_same_loop_trains_the_gpt2_twin(shakespeare):
    torch.manual_seed(0)
    hf = lm.gpt2_twin(tiny_cfg())
    res = lm.train_lm(hf, shakespeare, tiny_train(max_steps=30), progress=False)
    assert res.history["val_loss"][-1] < res.history["val_loss"][0] - 0.5


def test_time_budget_stops_the_run_and_anneals(shakespeare):
    cfg = tiny_train(max_steps=10**6, time_budget_s=1.0, eval_interval=10**6)
    res = lm.train_lm(lm.GPT(tiny_cfg()), shakespeare, cfg, progress=False)
    assert res.finished and res.train_seconds >= 1.0 and res.steps < 10**6
    assert res.history["lr"][-1] == pytest.approx(cfg.min_lr, rel=0.05)


def test_configs_for_both_modes():
    for corpus in ("shakespeare", "tang"):
        q, f = lm.TrainConfig.for_mode("quick", corpus), lm.TrainConfig.for_mode("full", corpus)
        assert f.amp_bf16 and f.compile and not q.amp_bf16 and f.time_budget_s == 60.0
        assert lm.GPTConfig.for_mode("full", 65, corpus).kernel == "sdpa"
    assert lm.GPTConfig.for_mode("full", 65).n_embd == 384
    with pytest.raises(ValueError, match="corpus"):
        lm.TrainConfig.for_mode("quick", "klingon")


def test_full_mode_bench_starts_on_cpu():
    out = lm.bench_shakespeare("full", torch.device("cpu"), max_steps=1, batch_size=2)
    assert out["config"]["model"]["n_layer"] == 6 and math.isfinite(out["metrics"]["val_loss"])
    out = lm.bench_tang("quick", torch.device("cpu"), max_steps=2, batch_size=2, n_samples=3)
    assert set(out["metrics"]) >= {"val_loss", "format_rate", "format_rate_train"}


# ---------------------------------------------------------------------------------- memorisation


def test_ngram_index_finds_exactly_the_spans_that_occur():
    text = "to be or not to be, that is the question"
    idx = lm.NgramIndex(text, 6)
    s = "xx not to bqq that isyy"
    brute = [i for i in range(len(s) - 5) if s[i: i + 6] in text]
    assert idx.spans_found(s) == brute and brute
    assert idx.spans_found("zzzzzzzzzz") == [] and not idx.contains_span("abc")
    assert idx.longest_match("xx not to bqq") == len(" not to b")


def test_memorisation_counts_copied_samples(shakespeare):
    copied = shakespeare.train_text[5000:5100]
    invented = "Zq" * 50
    r = lm.memorisation([copied, invented], shakespeare, span=50)
    assert r.sample_rate == 0.5 and r.examples[0][1] == copied[:50]
    assert 0.0 <= r.heldout_rate <= 1.0


# ------------------------------------------------------------------------------------------- Tang


def test_quatrain_format_rules():
    good = "白日依山盡，黃河入海流。欲窮千里目，更上一層樓。"
    assert lm.quatrain_ok(good)
    assert not lm.quatrain_ok(good[:-1])                                   # missing final 。
    assert not lm.quatrain_ok(good.replace("，", "。", 1))                 # wrong punctuation
    assert not lm.quatrain_ok("白日依山，黃河入海流。欲窮千里目，更上一層樓。")  # 4-character line
    assert not lm.quatrain_ok(good + good)                                 # eight lines
    assert lm.format_rate([good, "abc"]) == 0.5


def test_format_failures_are_classified():
    good = "白日依山盡，黃河入海流。欲窮千里目，更上一層樓。"
    counts = lm.format_failures([good, good[:12], good[:-1] + "！", good[:20]])
    assert counts == {"ok": 1, "two lines only": 1, "other length": 1, "wrong punctuation": 1}


def test_tang_windows_start_at_a_poem():
    splits = lm.tang_splits()
    starts = splits.window_starts("train", 32)
    nl = splits.tokenizer.stoi["\n"]
    assert (splits.train[starts] == nl).all() and int(starts.max()) + 33 <= splits.train.numel()
    x, y = lm.get_batch(splits.train, 8, 32, torch.Generator().manual_seed(0), starts=starts)
    assert (x[:, 0] == nl).all() and torch.equal(x[:, 1:], y[:, :-1])
    assert lm.shakespeare_splits().window_starts("val", 32) is None
    with pytest.raises(ValueError, match="split"):
        splits.window_starts("test", 32)


def test_unigram_format_rate_is_the_product_of_frequencies():
    splits = lm.tang_splits()
    r = lm.unigram_format_rate(splits)
    assert 0 < r < 1e-6  # a model without context essentially never writes the form


def test_tang_training_set_and_its_own_format_rate():
    poems = lm.tang_quatrains()
    assert len(poems) > 3500 and all(len(p) == 24 for p in poems)
    rate = lm.format_rate(poems)
    assert 0.95 < rate < 1.0  # a few end in ？ or ！: the ceiling for a model of this data
    splits = lm.tang_splits()
    assert not set(splits.val_text.split("\n")) - {""} & set(splits.train_text.split("\n"))


# -------------------------------------------------------------------------------- common mistakes


def test_mistake_missing_causal_mask_symptom_and_fix(shakespeare):
    """Leaky model: training loss far below the causal model's, yet worse at predicting from the past."""
    r = lm.causal_mask_mistake(splits=shakespeare)
    assert r["train_loss_leaky"] < 0.5 * r["train_loss_causal"]      # suspiciously low training loss
    assert r["prefix_loss_leaky"] > r["prefix_loss_causal"] + 0.3     # useless where it matters
