"""The VAE models, their training loop (checkpoint and exact resume), evaluation and the bench, on real MNIST."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from aigc_lessons import bench, checkpoint, vae

D = torch.distributions


@pytest.fixture(scope="module")
def mnist():
    x, _ = vae.mnist_flat("train")
    xt, _ = vae.mnist_flat("test")
    return x[:5000], vae.fixed_binarization(xt[:500])


def tiny(**overrides) -> vae.VAEConfig:
    base = dict(hidden=(128,), latent_dim=8, activation="elu", batch_size=100, steps=150, lr=3e-3,
                eval_every=50, checkpoint_every=50, eval_subset=200)
    return vae.VAEConfig(**{**base, **overrides})


# ---------------------------------------------------------------------------------- configs, errors


def test_configs_for_both_modes():
    quick, full = vae.VAEConfig.for_mode("quick"), vae.VAEConfig.for_mode("full")
    assert quick.stochastic_layers == 1 and quick.nll_subset is not None
    assert full.stochastic_layers == 2 and full.objective == "iwae" and full.nll_k == 5000 and full.nll_subset is None
    assert full.max_train_seconds is not None and full.max_train_seconds <= 600
    assert vae.VAEConfig.latent2d("quick").latent_dim == 2
    assert quick.key() != full.key() and quick.key() == vae.VAEConfig.for_mode("quick").key()
    with pytest.raises(ValueError, match="Unknown AIGC mode"):
        vae.VAEConfig.for_mode("fast")


@pytest.mark.parametrize("bad", [dict(objective="elbo2"), dict(stochastic_layers=3), dict(likelihood="poisson"),
                                 dict(objective="iwae", beta=2.0), dict(steps=0), dict(activation="swish"),
                                 dict(stochastic_layers=2, latent_dim2=0), dict(hidden=())])
def test_invalid_configs_are_refused(bad):
    with pytest.raises(ValueError, match="invalid VAEConfig"):
        tiny(**bad)


def test_bad_inputs_get_clear_errors(mnist):
    x, xt = mnist
    model = vae.build_model(tiny())
    with pytest.raises(ValueError, match=r"\(B, 784\)"):
        model.encode(torch.zeros(3, 1, 28, 28))
    with pytest.raises(ValueError, match="binarized"):
        vae.estimate_nll(model, x[:4], 5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        vae.binarize(x[:4] * 2)
    with pytest.raises(ValueError, match="flat images"):
        vae.train_vae(tiny(), x[:200].view(-1, 1, 28, 28))
    with pytest.raises(ValueError, match="fewer than one batch"):
        vae.train_vae(tiny(), x[:10])
    with pytest.raises(ValueError, match="same shape"):
        vae.interpolate(model, xt[0], xt[:2])
    with pytest.raises(ValueError, match="2-D latent"):
        vae.manifold_grid(model)
    with pytest.raises(ValueError, match="Unknown objective"):
        model.loss(xt[:4], "elbo2")
    with pytest.raises(ValueError, match="Unknown estimator"):
        vae.gradient_estimates(vae.fit_ppca(x[:500], 2), xt[0], torch.zeros(2), torch.zeros(2), "pathwise", 2, 2)


# ---------------------------------------------------------------- log weights, independently computed


def test_vae_log_weights_match_torch_distributions(mnist):
    _, xt = mnist
    torch.manual_seed(0)
    model = vae.build_model(tiny())
    x = xt[:6]
    log_w = model.log_weights(x, 5, torch.Generator().manual_seed(1))
    mu, logvar = model.encode(x)
    eps = torch.randn((5, *mu.shape), generator=torch.Generator().manual_seed(1))
    z = mu + torch.exp(0.5 * logvar) * eps
    ref = (D.Bernoulli(logits=model.decoder(z)).log_prob(x).sum(-1) + D.Normal(0.0, 1.0).log_prob(z).sum(-1)
           - D.Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(-1))
    torch.testing.assert_close(log_w, ref, rtol=1e-5, atol=1e-3)


def test_two_layer_log_weights_match_torch_distributions(mnist):
    _, xt = mnist
    torch.manual_seed(0)
    model = vae.TwoLayerVAE(hidden=(64,), latent_dim=6, hidden2=(32,), latent_dim2=3, activation="elu")
    x = xt[:4]
    log_w = model.log_weights(x, 3, torch.Generator().manual_seed(2))
    g = torch.Generator().manual_seed(2)
    mu1, lv1 = model.q1(x)
    z1 = mu1 + torch.exp(0.5 * lv1) * torch.randn((3, *mu1.shape), generator=g)
    mu2, lv2 = model.q2(z1)
    z2 = mu2 + torch.exp(0.5 * lv2) * torch.randn(mu2.shape, generator=g)
    mup, lvp = model.p1(z2)
    N = lambda m, lv: D.Normal(m, torch.exp(0.5 * lv))  # noqa: E731
    ref = (D.Bernoulli(logits=model.px(z1)).log_prob(x).sum(-1) + N(mup, lvp).log_prob(z1).sum(-1)
           + D.Normal(0.0, 1.0).log_prob(z2).sum(-1) - N(mu1, lv1).log_prob(z1).sum(-1)
           - N(mu2, lv2).log_prob(z2).sum(-1))
    torch.testing.assert_close(log_w, ref, rtol=1e-5, atol=1e-3)


def test_per_dimension_kl_adds_up_to_the_kl_term(mnist):
    _, xt = mnist
    torch.manual_seed(0)
    one = vae.build_model(tiny())
    parts = one.loss(xt[:50], generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(one.kl_per_dimension(xt[:50])[0].sum(), parts.kl)
    two = vae.TwoLayerVAE(hidden=(64,), latent_dim=6, hidden2=(32,), latent_dim2=3)
    with torch.no_grad():
        per = two.kl_per_dimension(xt[:20], torch.Generator().manual_seed(0), k=1000)
        mc = float(two.loss(xt[:20], "elbo", 1000, generator=torch.Generator().manual_seed(1)).kl)
    assert [p.shape[0] for p in per] == [6, 3]
    assert abs(float(sum(p.sum() for p in per)) - mc) < 0.03 * mc + 0.05, (per, mc)


# -------------------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def trained(mnist):
    x, xt = mnist
    return vae.train_vae(tiny(), x, xt, device="cpu", progress=False)


def test_training_on_real_mnist_lowers_the_test_negative_elbo(trained):
    curve = trained.history["test_neg_elbo"]
    assert trained.steps == 150 and trained.finished and len(curve) == 3
    assert curve[0] - curve[-1] > 20 and curve[-1] < 200, curve
    assert all(math.isfinite(v) for v in trained.history["train_neg_elbo"])


def test_importance_weighted_nll_tightens_with_k(trained, mnist):
    _, xt = mnist
    neg_elbo = vae.negative_elbo(trained.model, xt[:200], n_samples=20)
    curve = vae.iwae_curve(trained.model, xt[:200], [1, 10, 100])
    nll = [curve[k].nll for k in (1, 10, 100)]
    assert abs(nll[0] - neg_elbo) < 1.0, (nll, neg_elbo)  # k = 1 is the ELBO (same images, sampling noise only)
    assert nll[0] - nll[1] > 1.0 and nll[1] > nll[2] > 0, nll  # the bound tightens; binary data has NLL >= 0
    assert (curve[100].per_example <= curve[1].per_example + 25).all()


def test_iwae_objective_trains(mnist):
    x, xt = mnist
    result = vae.train_vae(tiny(objective="iwae", k_train=4, steps=100), x, xt, device="cpu", progress=False)
    assert result.history["test_neg_elbo"][-1] < result.history["test_neg_elbo"][0] - 10


def test_interpolation_and_grid(trained, mnist):
    _, xt = mnist
    frames = vae.interpolate(trained.model, xt[0], xt[1], steps=7)
    assert frames.shape == (7, 784) and 0 <= frames.min() and frames.max() <= 1
    torch.testing.assert_close(frames[0], trained.model.reconstruct(xt[:1])[0].detach())
    model2d = vae.build_model(tiny(latent_dim=2))
    images, values = vae.manifold_grid(model2d, n=5)
    assert images.shape == (25, 784) and torch.all(values[1:] > values[:-1])
    assert vae.latent_means(model2d, xt[:30]).shape == (30, 2)


def test_resume_reproduces_the_uninterrupted_run(mnist, tmp_path):
    """Stop after 35 steps (checkpoint), resume to 60: identical weights, optimiser and history."""
    x, xt = mnist
    cfg = tiny(steps=60, eval_every=20, checkpoint_every=20)
    full = vae.train_vae(cfg, x, xt, checkpoint_path=tmp_path / "a.pt", device="cpu", progress=False)
    part = vae.train_vae(cfg, x, xt, checkpoint_path=tmp_path / "b.pt", stop_after=35, device="cpu", progress=False)
    assert part.steps == 35 and not part.finished
    assert checkpoint.load_checkpoint(tmp_path / "b.pt", kind="vae")["step"] == 35
    resumed = vae.train_vae(cfg, x, xt, checkpoint_path=tmp_path / "b.pt", device="cpu", progress=False)
    assert resumed.resumed_from == 35 and resumed.steps == 60
    for (name, a), (_, b) in zip(full.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), name
    assert full.history == resumed.history
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave no partial files
    # A finished run resumes with no steps left to do.
    again = vae.train_vae(cfg, x, xt, checkpoint_path=tmp_path / "b.pt", device="cpu", progress=False)
    assert again.resumed_from == 60 and again.history == full.history


def test_checkpoint_of_another_config_is_refused(mnist, tmp_path):
    x, _ = mnist
    vae.train_vae(tiny(steps=5), x, checkpoint_path=tmp_path / "c.pt", device="cpu", progress=False)
    with pytest.raises(checkpoint.CheckpointError, match="another config"):
        vae.train_vae(tiny(steps=5, lr=1e-3), x, checkpoint_path=tmp_path / "c.pt", device="cpu", progress=False)


# ------------------------------------------------------------------------------------------ bench


def test_bench_quick_mode_writes_the_conventional_metrics(tmp_path):
    out = vae.bench_mnist("quick", torch.device("cpu"), stop_after=30, eval_images=50,
                          checkpoint_path=tmp_path / "q.pt", progress=False)
    m = out["metrics"]
    assert set(["test_nll_nats", "k", "test_neg_elbo_nats"]) <= set(m)
    assert m["k"] == vae.VAEConfig.for_mode("quick").nll_k and m["steps"] == 30 and not m["finished"]
    assert 0 < m["test_nll_nats"] <= m["test_neg_elbo_nats"] + 1
    json.dumps(bench._jsonable(out))
    assert bench.resolve("vae-mnist") is vae.bench_mnist


def test_full_mode_starts_on_cpu(tmp_path):
    """The GPU configuration (two stochastic layers, IWAE k = 16, k = 5,000 for the NLL) runs a few steps here."""
    out = vae.bench_mnist("full", torch.device("cpu"), stop_after=2, eval_images=4,
                          checkpoint_path=tmp_path / "f.pt", progress=False)
    m = out["metrics"]
    assert m["k"] == 5000 and m["n_test"] == 4 and m["steps"] == 2
    assert math.isfinite(m["test_nll_nats"]) and m["test_nll_nats"] > 0
    assert out["config"]["stochastic_layers"] == 2 and dataclasses.is_dataclass(vae.VAEConfig)


def test_time_budget_stops_training_and_completes_the_schedule(mnist):
    x, _ = mnist
    cfg = tiny(steps=100_000, max_train_seconds=1.0, eval_every=10_000, checkpoint_every=10_000)
    result = vae.train_vae(cfg, x, device="cpu", progress=False)
    assert 0 < result.steps < cfg.steps and result.finished and result.train_seconds >= 1.0
    assert vae._lr_at(cfg, vae._progress(cfg, 0, 0.0)) == pytest.approx(cfg.lr)
    assert vae._lr_at(cfg, vae._progress(cfg, 10, 2.0)) == pytest.approx(cfg.lr * cfg.lr_final_ratio)
