"""Variational autoencoders: the evidence lower bound, its estimators, and a measured likelihood on MNIST.

The chapter's story in code, from the math to the model, one sub-module per step:

1. **Densities and the KL term** (:mod:`.bounds`: :func:`log_normal_diag`, :func:`log_bernoulli`,
   :func:`kl_standard_normal`, :func:`kl_diag_gaussians`, :func:`reparameterize`, :func:`iwae_bound`):
   the building blocks every bound below is made of, each summed over the last axis and returned in
   nats.
2. **A latent-variable model whose posterior is known** (:mod:`.linear_gaussian`:
   :class:`LinearGaussian`, fitted to MNIST by probabilistic PCA in :func:`fit_ppca`):
   ``p(z) = N(0, I)``, ``p(x|z) = N(Wz + b, s2 I)``. Its marginal ``log p(x)``, its posterior
   ``p(z|x)`` and the ELBO of any Gaussian ``q`` have closed forms, so the identity
   ``log p(x) = ELBO(q) + KL(q || p(z|x))`` can be checked to machine precision, and the
   importance-weighted bound can be watched closing the gap.
3. **Gradient estimators** (:mod:`.estimators`: :func:`gradient_estimates`): the reparameterization
   ("pathwise") and the score-function (REINFORCE) estimators of the same gradient, so their
   variances can be measured.
4. **VAEs on dynamically binarized MNIST** (:mod:`.models`: :class:`VAE`, :class:`TwoLayerVAE`;
   :mod:`.train`: :func:`train_vae`): one code path for quick (CPU) and full (GPU) runs, configured by
   :class:`VAEConfig`, with atomic, exactly resumable checkpoints; evaluated (:mod:`.evaluate`) by an
   importance-weighted estimate of the test-set negative log-likelihood (:func:`estimate_nll`);
   :func:`bench_mnist` (:mod:`.bench`) runs the whole measurement.
5. **Common mistakes** (:mod:`.mistakes`: :func:`mistake_kl_sign`, :func:`mistake_mse_reconstruction`,
   :func:`mistake_no_reparameterization`): each reproduced, its symptom measured, the fix shown.

Conventions: tensors of data are flat, ``(N, 784)``; per-example quantities are in nats (natural
log), summed over pixels and latent dimensions; losses are averaged over the batch.
"""

# Imported in the chapter's reading order (the API reference follows it).
from .bounds import (LOG_2PI, iwae_bound, kl_diag_gaussians, kl_gaussians_full, kl_monte_carlo,
                     kl_standard_normal, log_bernoulli, log_normal_diag, log_standard_normal, reparameterize)
from .linear_gaussian import (LinearGaussian, fit_ppca, imperfect_posterior, linear_gaussian_iwae_curve,
                              mean_field_posterior)
from .estimators import (ESTIMATORS, EstimatorDemoConfig, GradientEstimates, gradient_estimates,
                         gradient_variance_curve)
from .models import (GaussianHead, LatentModel, LossParts, TwoLayerVAE, VAE, binarize, build_model,
                     fixed_binarization, mnist_flat)
from .train import LossFn, TrainResult, VAEConfig, default_checkpoint_path, train_vae
from .evaluate import (NLLEstimate, active_units, estimate_nll, interpolate, iwae_curve, latent_means,
                       manifold_grid, negative_elbo)
from .mistakes import (MistakeData, loss_kl_wrong_sign, loss_mse_mean, loss_no_reparameterization,
                       mistake_data, mistake_kl_sign, mistake_mse_reconstruction, mistake_no_reparameterization,
                       reconstruction_gradient_norms)
from .bench import bench_mnist
from ..mistakes import MistakeReport  # the one report type every mistake_* returns

__all__ = [
    "log_normal_diag", "log_standard_normal", "log_bernoulli", "kl_standard_normal", "kl_diag_gaussians",
    "kl_gaussians_full", "reparameterize", "iwae_bound",
    "LinearGaussian", "fit_ppca", "mean_field_posterior", "imperfect_posterior", "kl_monte_carlo",
    "linear_gaussian_iwae_curve", "EstimatorDemoConfig",
    "ESTIMATORS", "GradientEstimates", "gradient_estimates", "gradient_variance_curve",
    "mnist_flat", "binarize", "fixed_binarization",
    "VAE", "TwoLayerVAE", "LossParts", "build_model",
    "VAEConfig", "TrainResult", "train_vae", "default_checkpoint_path",
    "NLLEstimate", "estimate_nll", "negative_elbo", "iwae_curve", "active_units", "interpolate",
    "manifold_grid", "latent_means",
    "MistakeReport", "mistake_data", "mistake_kl_sign", "mistake_mse_reconstruction",
    "mistake_no_reparameterization", "reconstruction_gradient_norms", "loss_kl_wrong_sign", "loss_mse_mean",
    "loss_no_reparameterization",
    "bench_mnist",
    # also public, though the old module did not list them
    "LOG_2PI", "GaussianHead", "LatentModel", "LossFn", "MistakeData",
]
