"""The chapter's three common mistakes, each reproduced on real MNIST, measured, and fixed.

Each ``mistake_*`` function trains the same small VAE twice, once with the mistaken loss
(:func:`loss_kl_wrong_sign`, :func:`loss_mse_mean`, :func:`loss_no_reparameterization`) and once
with the right one, and returns an :class:`aigc_lessons.mistakes.MistakeReport` whose ``symptom``
and ``fixed`` hold the same measurements (KL, active units, reconstruction quality, gradients) and
whose ``details`` hold both training histories.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import runtime
from ..mistakes import MistakeReport
from .bounds import kl_standard_normal, log_bernoulli, reparameterize
from .evaluate import active_units
from .models import VAE, LossParts, build_model, fixed_binarization, mnist_flat
from .train import LossFn, TrainResult, VAEConfig, _default_loss, train_vae

__all__ = ["MistakeData", "mistake_data", "mistake_kl_sign", "mistake_mse_reconstruction",
           "mistake_no_reparameterization", "reconstruction_gradient_norms", "loss_kl_wrong_sign", "loss_mse_mean",
           "loss_no_reparameterization"]


def _mistake_config(steps: int, seed: int) -> VAEConfig:
    return VAEConfig(hidden=(256, 128), latent_dim=16, batch_size=100, steps=steps, lr=1e-3, lr_final_ratio=1.0,
                     eval_every=steps, checkpoint_every=steps, seed=seed)


def _summary(result: TrainResult, x_eval_bin: torch.Tensor) -> dict[str, float]:
    """Numbers shared by the mistake reports, measured on binarized evaluation images."""
    model = result.model
    x_eval_bin = x_eval_bin.to(next(model.parameters()).device)
    with torch.no_grad():
        mu, logvar = model.encode(x_eval_bin)
        kl = kl_standard_normal(mu, logvar).sum(-1).mean()
        rec_probs = model.decode(mu)
        bce = -log_bernoulli(x_eval_bin, model.decoder_output(mu)).mean()
        spread = (rec_probs - rec_probs.mean(0)).pow(2).sum(-1).mean()  # how different the reconstructions are
    acts = active_units(model, x_eval_bin)[0]
    return {"kl_nats": float(kl), "active_units": float((acts > 1e-2).sum()),
            "reconstruction_nats": float(bce), "reconstruction_spread": float(spread),
            "mean_abs_mu": float(mu.abs().mean()), "mean_posterior_std": float(torch.exp(0.5 * logvar).mean()),
            "final_train_loss": float(result.history["train_loss"][-1]),
            "final_train_neg_elbo": float(result.history["train_neg_elbo"][-1])}


def _report(name: str, cause: str, wrong: TrainResult, fixed: TrainResult, x_eval_bin: torch.Tensor,
            symptom_extra: dict[str, float] | None = None,
            fixed_extra: dict[str, float] | None = None) -> MistakeReport:
    """The report of a mistake: both runs summarised, their training histories in ``details``."""
    return MistakeReport(name, cause, {**_summary(wrong, x_eval_bin), **(symptom_extra or {})},
                         {**_summary(fixed, x_eval_bin), **(fixed_extra or {})},
                         details={"wrong_history": wrong.history, "fixed_history": fixed.history})


MistakeData = tuple[torch.Tensor, torch.Tensor]


def mistake_data(n_train: int = 10_000, n_eval: int = 1000) -> MistakeData:
    """The real data the mistake demos train and measure on: the first ``n_train`` training images
    (intensities, binarized on the fly) and the first ``n_eval`` test images, binarized once."""
    x, _ = mnist_flat("train")
    xt, _ = mnist_flat("test")
    return x[:n_train], fixed_binarization(xt[:n_eval])


def loss_kl_wrong_sign(model: VAE, x: torch.Tensor, gen: torch.Generator) -> LossParts:
    """MISTAKE: ``loss = reconstruction - KL`` (the KL subtracted): the optimiser now *rewards*
    divergence from the prior."""
    parts = model.loss(x, "elbo", 1, 1.0, gen)
    return LossParts(parts.rec - parts.kl, parts.neg_elbo, parts.rec, parts.kl)


def mistake_kl_sign(steps: int = 300, data: MistakeData | None = None, seed: int = 0,
                    progress: bool = False) -> MistakeReport:
    """Train the same small VAE on real MNIST with ``rec - KL`` (wrong) and ``rec + KL`` (right).

    Symptom: the "loss" turns negative (impossible for a negative log-likelihood of binary data,
    which is at least 0) and keeps falling; the KL term grows without bound, as posterior means run
    away from the prior and posterior standard deviations blow up (or collapse) instead of staying
    near 1; reconstructions get worse, because codes of that size carry noise, not digits.
    ``data`` defaults to :func:`mistake_data`.
    """
    x, x_eval = data if data is not None else mistake_data()
    cfg = _mistake_config(steps, seed)
    wrong = train_vae(cfg, x, loss_fn=loss_kl_wrong_sign, progress=progress)
    fixed = train_vae(cfg, x, progress=progress)
    return _report("KL added with the wrong sign", "loss = rec - KL rewards posteriors far from the prior",
                   wrong, fixed, x_eval)


def loss_mse_mean(model: VAE, x: torch.Tensor, gen: torch.Generator) -> LossParts:
    """MISTAKE: ``F.mse_loss(mean_image, x)`` (averaged over the 784 pixels) + KL (summed over latents).

    This equals a Gaussian likelihood with variance ``s^2 = 784 / 2`` (up to a constant): a decoder so
    noisy that the latent code is not worth its KL cost, so the encoder is ignored.
    """
    mu, logvar = model.encode(x)
    z = reparameterize(mu, logvar, generator=gen)
    recon = torch.sigmoid(model.decoder_output(z))
    kl = kl_standard_normal(mu, logvar).sum(-1).mean()
    mse = F.mse_loss(recon, x)
    rec_nats = -log_bernoulli(x, model.decoder_output(z)).mean()  # monitored in nats for comparison
    return LossParts(mse + kl, (rec_nats + kl).detach(), rec_nats.detach(), kl)


def mistake_mse_reconstruction(steps: int = 600, data: MistakeData | None = None, seed: int = 0,
                               progress: bool = False) -> MistakeReport:
    """Train with per-pixel-averaged MSE + KL (wrong) and with the Bernoulli log-likelihood (right).

    Symptom: posterior collapse. The KL falls to ~0 nats, no latent unit is active, every
    reconstruction is the same average blob (their spread across images is ~0).
    ``data`` defaults to :func:`mistake_data`.
    """
    x, x_eval = data if data is not None else mistake_data()
    cfg = _mistake_config(steps, seed)
    wrong = train_vae(cfg, x, loss_fn=loss_mse_mean, progress=progress)
    fixed = train_vae(cfg, x, progress=progress)
    return _report("Gaussian MSE with an arbitrary weight instead of the Bernoulli likelihood",
                   "mean-reduced MSE is a Gaussian decoder with variance 392: the code is not worth its KL",
                   wrong, fixed, x_eval)


def loss_no_reparameterization(model: VAE, x: torch.Tensor, gen: torch.Generator) -> LossParts:
    """MISTAKE: ``z = torch.normal(mu, std)``. The sample carries no gradient to ``mu`` or ``std``
    (PyTorch returns zeros for both, silently), so the reconstruction term never trains the encoder."""
    mu, logvar = model.encode(x)
    z = torch.normal(mu, torch.exp(0.5 * logvar), generator=gen)
    rec = -model.log_likelihood(x, z)
    kl = kl_standard_normal(mu, logvar).sum(-1)
    return LossParts((rec + kl).mean(), (rec + kl).mean(), rec.mean(), kl.mean())


def reconstruction_gradient_norms(model: VAE, x: torch.Tensor, loss_fn: LossFn, seed: int = 0) -> dict[str, float]:
    """Norm of the gradient of the *reconstruction* term alone w.r.t. the encoder's output layer, split
    into the rows that produce the means and those that produce the log-variances."""
    model.zero_grad(set_to_none=True)
    gen = torch.Generator(device=x.device).manual_seed(seed)
    parts = loss_fn(model, x, gen)
    parts.rec.backward()
    grad = model.encoder.out.weight.grad
    d = model.latent_dim
    zero = torch.zeros(())
    g_mu = grad[:d].norm() if grad is not None else zero
    g_lv = grad[d:].norm() if grad is not None else zero
    model.zero_grad(set_to_none=True)
    return {"grad_norm_mu": float(g_mu), "grad_norm_logvar": float(g_lv)}


def mistake_no_reparameterization(steps: int = 300, data: MistakeData | None = None, seed: int = 0,
                                  progress: bool = False) -> MistakeReport:
    """``torch.normal(mu, std)`` (wrong) vs ``mu + std * eps`` (right).

    Symptom 1, at initialisation: the gradient of the reconstruction term reaching the encoder's mean and
    variance outputs is exactly 0. Symptom 2, after training: only the KL term trained the encoder, so
    it collapsed onto the prior (KL ~ 0, no active units) and reconstructions are poor.
    ``data`` defaults to :func:`mistake_data`.
    """
    x, x_eval = data if data is not None else mistake_data()
    cfg = _mistake_config(steps, seed)
    runtime.seed_everything(seed)
    probe = build_model(cfg)
    xb = x_eval[:100]
    right_loss = _default_loss(cfg)
    g_wrong = reconstruction_gradient_norms(probe, xb, loss_no_reparameterization, seed)
    g_right = reconstruction_gradient_norms(probe, xb, right_loss, seed)
    wrong = train_vae(cfg, x, loss_fn=loss_no_reparameterization, progress=progress)
    fixed = train_vae(cfg, x, progress=progress)
    return _report("Sampling z without the reparameterization trick",
                   "torch.normal(mu, std) returns zero gradients for mu and std",
                   wrong, fixed, x_eval, symptom_extra=g_wrong, fixed_extra=g_right)
