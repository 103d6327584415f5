"""Training a VAE on real MNIST: configs, the loss going down, the time budget, and checkpoints that resume
exactly (through :mod:`aigc_lessons.checkpoint`) and are named after the code that wrote them."""

from __future__ import annotations

import math

import pytest
import torch

from aigc_lessons import calibrate, checkpoint, vae
from aigc_lessons.files import code_hash
from aigc_lessons.vae import bounds, models
from aigc_lessons.vae import train as vae_train


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


def test_for_mode_takes_overrides():
    cfg = vae.VAEConfig.for_mode("full", steps=7, nll_k=3)
    assert cfg.steps == 7 and cfg.nll_k == 3 and cfg.stochastic_layers == 2
    assert vae.VAEConfig.latent2d("quick", steps=9).steps == 9
    with pytest.raises(TypeError):
        vae.VAEConfig.for_mode("quick", max_steps=5)


@pytest.mark.parametrize("bad", [dict(objective="elbo2"), dict(stochastic_layers=3), dict(likelihood="poisson"),
                                 dict(objective="iwae", beta=2.0), dict(steps=0), dict(activation="swish"),
                                 dict(stochastic_layers=2, latent_dim2=0), dict(hidden=())])
def test_invalid_configs_are_refused(bad, tiny):
    with pytest.raises(ValueError, match="invalid VAEConfig"):
        tiny(**bad)


def test_bad_training_inputs_get_clear_errors(mnist, tiny):
    x, _ = mnist
    with pytest.raises(ValueError, match="flat images"):
        vae.train_vae(tiny(), x[:200].view(-1, 1, 28, 28))
    with pytest.raises(ValueError, match="fewer than one batch"):
        vae.train_vae(tiny(), x[:10])


# -------------------------------------------------------------------------------------- training


def test_training_on_real_mnist_lowers_the_test_negative_elbo(trained, unit_tiny, tiny):
    metrics, _ = unit_tiny
    curve = trained.history["test_neg_elbo"]
    assert trained.config == tiny()
    assert trained.steps == 150 and trained.finished and len(curve) == 3
    assert (metrics["test_neg_elbo_drop"], metrics["final_test_neg_elbo"]) == (curve[0] - curve[-1], curve[-1])
    # from step 50 to 150 the test negative ELBO falls by more than 19 nats, to below 200
    calibrate.assert_checks("unit-vae-tiny", metrics, "quick", only=["test_neg_elbo_drop", "final_test_neg_elbo"])
    assert all(math.isfinite(v) for v in trained.history["train_neg_elbo"])
    assert trained.resumed_from == 0


def test_iwae_objective_trains(mnist, tiny):
    metrics, objects = calibrate.run_unit("unit-vae-iwae", 0, data=mnist)
    result = objects["result"]
    assert result.config == tiny(objective="iwae", k_train=4, steps=100)
    curve = result.history["test_neg_elbo"]
    assert metrics["test_neg_elbo_drop"] == curve[0] - curve[-1]
    calibrate.assert_checks("unit-vae-iwae", metrics, "quick")  # more than 10 nats from step 50 to 100


def test_time_budget_stops_training_and_completes_the_schedule(mnist, tiny):
    x, _ = mnist
    cfg = tiny(steps=100_000, max_train_seconds=1.0, eval_every=10_000, checkpoint_every=10_000)
    result = vae.train_vae(cfg, x, device="cpu", progress=False)
    assert 0 < result.steps < cfg.steps and result.finished and result.train_seconds >= 1.0
    assert vae_train._lr_at(cfg, vae_train._progress(cfg, 0, 0.0)) == pytest.approx(cfg.lr)
    assert vae_train._lr_at(cfg, vae_train._progress(cfg, 10, 2.0)) == pytest.approx(cfg.lr * cfg.lr_final_ratio)


# ----------------------------------------------------------------------------- checkpoints, resume


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for (name, p), (_, q) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(p, q), name


def test_resume_reproduces_the_uninterrupted_run(mnist, tiny, tmp_path):
    """Stop after 35 steps (checkpoint), resume to 60: identical weights, optimiser and history."""
    x, xt = mnist
    cfg = tiny(steps=60, eval_every=20, checkpoint_every=20)
    full = vae.train_vae(cfg, x, xt, checkpoint_path=tmp_path / "a.pt", device="cpu", progress=False)
    part = vae.train_vae(cfg, x, xt, checkpoint_path=tmp_path / "b.pt", stop_after=35, device="cpu", progress=False)
    assert part.steps == 35 and not part.finished
    saved = checkpoint.load_checkpoint(tmp_path / "b.pt", kind="vae")
    assert saved["step"] == 35 and set(saved["extra"]) == {"elapsed", "run_sums", "run_count", "perm"}
    resumed = vae.train_vae(cfg, x, xt, checkpoint_path=tmp_path / "b.pt", device="cpu", progress=False)
    assert resumed.resumed_from == 35 and resumed.steps == 60
    assert_same_weights(full.model, resumed.model)
    assert full.history == resumed.history
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob("*.part"))  # atomic writes, no partial files
    # A finished run resumes with no steps left to do.
    again = vae.train_vae(cfg, x, xt, checkpoint_path=tmp_path / "b.pt", device="cpu", progress=False)
    assert again.resumed_from == 60 and again.history == full.history


def test_stop_after_counts_the_total_steps(mnist, tiny, tmp_path):
    """``stop_after`` is a total step count, not a number of further steps: 20, then up to 50, then to 60."""
    x, xt = mnist
    cfg = tiny(steps=60, eval_every=20, checkpoint_every=20)
    path = tmp_path / "s.pt"
    first = vae.train_vae(cfg, x, xt, checkpoint_path=path, stop_after=20, device="cpu", progress=False)
    second = vae.train_vae(cfg, x, xt, checkpoint_path=path, stop_after=50, device="cpu", progress=False)
    assert (first.steps, second.resumed_from, second.steps, second.finished) == (20, 20, 50, False)
    earlier = vae.train_vae(cfg, x, xt, checkpoint_path=path, stop_after=30, device="cpu", progress=False)
    assert earlier.resumed_from == 50 and earlier.steps == 50  # already past it: nothing to do
    last = vae.train_vae(cfg, x, xt, checkpoint_path=path, device="cpu", progress=False)
    assert last.resumed_from == 50 and last.steps == 60 and last.finished
    full = vae.train_vae(cfg, x, xt, device="cpu", progress=False)
    assert_same_weights(full.model, last.model)
    assert full.history == last.history


def test_checkpoint_of_another_config_is_refused(mnist, tiny, tmp_path):
    x, _ = mnist
    vae.train_vae(tiny(steps=5), x, checkpoint_path=tmp_path / "c.pt", device="cpu", progress=False)
    with pytest.raises(checkpoint.CheckpointError, match=r"another config.*lr: 0\.003 -> 0\.001"):
        vae.train_vae(tiny(steps=5, lr=1e-3), x, checkpoint_path=tmp_path / "c.pt", device="cpu", progress=False)
    with pytest.raises(checkpoint.CheckpointError, match=r"batch_size: 100 -> 50; latent_dim: 8 -> 4"):
        vae.train_vae(tiny(steps=5, latent_dim=4, batch_size=50), x, checkpoint_path=tmp_path / "c.pt",
                      device="cpu", progress=False)


def test_checkpoint_name_follows_the_code(monkeypatch):
    """The default checkpoint path hashes the config and the source of the model and training modules, so
    a change to that code makes an old checkpoint unreachable instead of silently resumed."""
    cfg = vae.VAEConfig.for_mode("quick")
    assert vae_train._code_key() == code_hash(bounds, models, vae_train)
    key = cfg.key()
    assert key in vae.default_checkpoint_path(cfg, "vae-mnist").name
    monkeypatch.setattr(vae_train, "_code_key", lambda: "edited-code")
    assert cfg.key() != key
    assert key not in vae.default_checkpoint_path(cfg, "vae-mnist").name
