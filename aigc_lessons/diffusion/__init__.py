"""Diffusion models, from the forward noising process to a class-conditional U-Net on MNIST.

The chapter's code, in the order the book uses it, one file per part:

1. **The forward process** (:mod:`~aigc_lessons.diffusion.schedule`): :class:`NoiseSchedule`,
   :func:`linear_schedule` and :func:`cosine_schedule`, the closed-form marginal :func:`q_sample`,
   the posterior :func:`q_posterior` and :func:`plot_schedules`.
2. **The objective** (:mod:`~aigc_lessons.diffusion.loss`, :mod:`~aigc_lessons.diffusion.bound`):
   :func:`noise_prediction_loss`, and the variational bound term by term (:func:`variational_bound`,
   :func:`bound_term`, :func:`prior_term`) with the weight :func:`eps_mse_weight` that turns each
   KL term into the noise-prediction error.
3. **Sampling** (:mod:`~aigc_lessons.diffusion.sampling`): :func:`ddpm_sample`, :func:`ddim_sample`
   and :func:`classifier_free_guidance`.
4. **Models** (:mod:`~aigc_lessons.diffusion.models`): :class:`MLPDenoiser` for 2-D points,
   :class:`UNet` for MNIST, and the exact :class:`GaussianMixtureDenoiser`.
5. **Training** (:mod:`~aigc_lessons.diffusion.train`): :func:`train_diffusion_2d` and
   :func:`train_diffusion_mnist`, resumable from atomic checkpoints, :func:`sample_2d` and
   :func:`generate_digits`.
6. **Benchmarks** (:mod:`~aigc_lessons.diffusion.bench`): :func:`bench_2d` and :func:`bench_mnist`
   for ``python -m aigc_lessons.bench``, with the GAN chapter's metrics.
7. **Common mistakes** (:mod:`~aigc_lessons.diffusion.mistakes`), each measured with a perfect model.
"""

# in reading order, which the API reference follows
from .schedule import (SCHEDULES, NoiseSchedule, Posterior, cosine_schedule, get_schedule, linear_schedule,
                       plot_schedules, q_posterior, q_sample)
from .loss import EpsModel, noise_prediction_loss, sample_timesteps
from .bound import (VARIANCES, BoundTerms, bound_term, decoder_variance, eps_mse_weight, eps_to_mean, gaussian_kl,
                    gaussian_nll, kl_offset, predict_x0, prior_term, variational_bound)
from .sampling import classifier_free_guidance, ddim_sample, ddpm_sample, timesteps
from .models import GaussianMixtureDenoiser, MLPDenoiser, ResBlock, UNet, timestep_embedding
from .train import (Diffusion2DConfig, Diffusion2DResult, DiffusionMnistConfig, DiffusionMnistResult,
                    default_checkpoint_path, generate_digits, sample_2d, train_diffusion_2d, train_diffusion_mnist)
from .bench import (SEEDS_2D, Study2DConfig, VsUntrained, bench_2d, bench_mnist, family_table, score_digits,
                    score_vs_untrained, seed_runs_2d, summary_2d, table_2d)
from .mistakes import (mistake_alpha_bar_off_by_one, mistake_marginal_with_beta, mistake_noise_at_last_step,
                       mistake_schedule_mismatch, mistake_unit_range_images, sample_scores)

__all__ = [
    # schedule
    "NoiseSchedule", "SCHEDULES", "linear_schedule", "cosine_schedule", "get_schedule", "q_sample", "Posterior",
    "q_posterior", "plot_schedules",
    # loss and bound
    "EpsModel", "sample_timesteps", "noise_prediction_loss", "VARIANCES", "gaussian_kl", "gaussian_nll",
    "predict_x0", "eps_to_mean", "decoder_variance", "eps_mse_weight", "kl_offset", "prior_term", "bound_term",
    "BoundTerms", "variational_bound",
    # sampling
    "timesteps", "ddpm_sample", "ddim_sample", "classifier_free_guidance",
    # models
    "timestep_embedding", "MLPDenoiser", "ResBlock", "UNet", "GaussianMixtureDenoiser",
    # training
    "Diffusion2DConfig", "Diffusion2DResult", "train_diffusion_2d", "sample_2d", "DiffusionMnistConfig",
    "DiffusionMnistResult", "train_diffusion_mnist", "generate_digits", "default_checkpoint_path",
    # benchmarks
    "SEEDS_2D", "Study2DConfig", "seed_runs_2d", "table_2d", "summary_2d", "bench_2d", "score_digits", "VsUntrained",
    "score_vs_untrained", "bench_mnist",
    "family_table",
    # mistakes
    "sample_scores", "mistake_alpha_bar_off_by_one", "mistake_marginal_with_beta", "mistake_noise_at_last_step",
    "mistake_unit_range_images", "mistake_schedule_mismatch",
]
