"""The chapter's five common mistakes, each reproduced with a perfect model, measured and fixed.

A trained network mixes a mistake with training noise. Here the "model" is the exact noise
predictor :class:`~aigc_lessons.diffusion.GaussianMixtureDenoiser`, the function a training run
converges to, so every difference between ``symptom`` and ``fixed`` comes from the mistake alone.
The 2-D mistakes use the GAN chapter's ring of 8 Gaussians and its mode coverage; the image
mistake uses a handful of MNIST digits as the data distribution. Each function returns an
:class:`aigc_lessons.mistakes.MistakeReport` whose ``details`` hold the samples a notebook plots.
"""

from __future__ import annotations

import torch

from ..gan.toy2d import get_mixture
from ..mistakes import MistakeReport
from .models import GaussianMixtureDenoiser
from .sampling import ddim_sample, ddpm_sample
from .schedule import NoiseSchedule, get_schedule, q_sample

Tensor = torch.Tensor

__all__ = ["sample_scores", "mistake_alpha_bar_off_by_one", "mistake_marginal_with_beta",
           "mistake_noise_at_last_step", "mistake_unit_range_images", "mistake_schedule_mismatch"]


def sample_scores(samples: Tensor, mixture: str = "ring") -> dict[str, float]:
    """Mode coverage of 2-D samples, and the median distance to the nearest centre in units of the data's sigma.

    Exact samples of an isotropic 2-D Gaussian sit at a median distance of
    :math:`\\sigma\\sqrt{2 \\ln 2} \\approx 1.18\\,\\sigma` from its centre.
    """
    mix = get_mixture(mixture)
    cov = mix.coverage(samples)
    dist = torch.cdist(samples.float(), mix.centers_tensor).min(dim=1).values
    return {"modes_covered": cov.modes_covered, "high_quality": round(cov.high_quality, 4),
            "median_distance_over_sigma": round(float(dist.median()) / mix.sigma, 3)}


def _ring(schedule: NoiseSchedule, shift: int = 0) -> GaussianMixtureDenoiser:
    mix = get_mixture("ring")
    return GaussianMixtureDenoiser(mix.centers_tensor, mix.sigma, schedule, alpha_bar_shift=shift)


def mistake_alpha_bar_off_by_one(n: int = 2000, T: int = 50, seed: int = 0) -> MistakeReport:
    """Training reads :math:`\\bar\\alpha_{t-1}` where the sampler reads :math:`\\bar\\alpha_t`.

    With arrays indexed from 0 for steps that start at 1, ``alpha_bar[t]`` in one place and
    ``alpha_bar[t - 1]`` in another is an easy slip. The perfectly trained model of the slipped code
    believes every input one step less noisy than it is, and at the last step that it is clean
    (:math:`\\bar\\alpha_0 = 1`), so it removes no noise there. Measured with the ancestral sampler on
    a linear schedule of ``T`` steps (50: one step is a large change of noise level); ``details``
    holds the same measurement with :math:`T = 1000`, where one step is small and the damage too.
    """
    out = {}
    for steps in (T, 1000):
        schedule = get_schedule("linear", steps)
        for name, shift in (("wrong", 1), ("fixed", 0)):
            out[(name, steps)] = ddpm_sample(_ring(schedule, shift), schedule, (n, 2),
                                             generator=torch.Generator().manual_seed(seed))
    return MistakeReport("alpha_bar off by one", "the noise level is looked up one step early "
                         "(alpha_bar[t - 1] for x_t), so the model under-estimates the noise of every input",
                         sample_scores(out[("wrong", T)]), sample_scores(out[("fixed", T)]),
                         details={"wrong": out[("wrong", T)], "fixed": out[("fixed", T)],
                                  "T=1000 wrong": sample_scores(out[("wrong", 1000)]),
                                  "T=1000 fixed": sample_scores(out[("fixed", 1000)])})


def mistake_marginal_with_beta(n: int = 2000, steps: int = 50, seed: int = 0) -> MistakeReport:
    """The marginal written with :math:`\\beta_t` instead of :math:`\\bar\\alpha_t`:
    :math:`x_t = \\sqrt{1 - \\beta_t} x_0 + \\sqrt{\\beta_t} \\varepsilon`.

    That is one step of the chain, not :math:`t` of them. At :math:`t = T` the training inputs still
    keep 99% of the signal (:math:`\\sqrt{1 - \\beta_T} = 0.99`), so the network never sees the pure
    noise from which sampling starts. Measured: the signal coefficient, the KL to
    :math:`\\mathcal N(0, I)` of a Gaussian fitted to the training inputs at :math:`T` (nats; the
    counterpart, over the whole data set, of the prior term :math:`L_T`), and the samples of the perfect
    model of the mistaken training, drawn by the correct sampler.
    """
    schedule = get_schedule("linear", 1000)
    mix = get_mixture("ring")
    x0 = mix.sample(n, torch.Generator().manual_seed(seed))
    eps = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed + 1))
    beta_T = float(schedule.betas[-1])
    wrong_xT = (1 - beta_T) ** 0.5 * x0 + beta_T ** 0.5 * eps
    right_xT = q_sample(schedule, x0, schedule.T, eps)
    # the wrong "marginal" is a Gaussian family with alpha_bar_t = 1 - beta_t: its perfect model is exact for it
    wrong_family = NoiseSchedule("beta as alpha_bar", schedule.betas, schedule.alphas, 1 - schedule.betas,
                                 (1 - schedule.betas) / schedule.betas)
    x_T = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed + 2))
    wrong = ddim_sample(_ring(wrong_family), schedule, (n, 2), steps=steps, x_T=x_T)
    right = ddim_sample(_ring(schedule), schedule, (n, 2), steps=steps, x_T=x_T)

    def numbers(xT: Tensor, coef: float, samples: Tensor) -> dict[str, float]:
        var = xT.var(dim=0)
        kl = 0.5 * float((var + xT.mean(dim=0) ** 2 - 1 - var.log()).sum())  # Gaussian fit vs N(0, I)
        return {"signal_coefficient_at_T": round(coef, 4), "kl_x_T_to_prior_nats": round(kl, 4),
                **sample_scores(samples)}

    return MistakeReport("marginal with beta_t", "x_t is built with beta_t (one step of noise) instead of "
                         "alpha_bar_t (t steps), so training never reaches pure noise",
                         numbers(wrong_xT, (1 - beta_T) ** 0.5, wrong),
                         numbers(right_xT, float(schedule.alpha_bar[-1]) ** 0.5, right),
                         details={"wrong_x_T": wrong_xT, "fixed_x_T": right_xT, "wrong": wrong, "fixed": right})


def mistake_noise_at_last_step(n: int = 2000, T: int = 50, seed: int = 0) -> MistakeReport:
    """The ancestral sampler adds noise on its last step as well, to the sample it returns.

    Algorithm 2 of Ho et al. (2020) sets :math:`z = 0` at :math:`t = 1`. With the decoder variance
    :math:`\\sigma_t^2 = \\beta_t`, adding it anyway puts noise of standard deviation
    :math:`\\sqrt{\\beta_1}` on the finished samples: 0.045 with a linear schedule of ``T`` = 50 steps,
    against the ring's sigma of 0.02. With :math:`T = 1000` it is 0.01 (``details``): invisible on an
    image, which is how the bug survives, and still measurable on the ring. (With the posterior
    variance the last step's variance is 0, which hides the bug.)
    """
    out = {}
    for steps in (T, 1000):
        schedule = get_schedule("linear", steps)
        for name, last in (("wrong", True), ("fixed", False)):
            out[(name, steps)] = ddpm_sample(_ring(schedule), schedule, (n, 2), variance="beta",
                                             noise_at_last_step=last, generator=torch.Generator().manual_seed(seed))
    return MistakeReport("noise added at the last step", "the sampler adds sigma_t z on the final step too, "
                         "so the returned samples carry fresh noise",
                         sample_scores(out[("wrong", T)]), sample_scores(out[("fixed", T)]),
                         details={"wrong": out[("wrong", T)], "fixed": out[("fixed", T)],
                                  "T=1000 wrong": sample_scores(out[("wrong", 1000)]),
                                  "T=1000 fixed": sample_scores(out[("fixed", 1000)])})


def _image_numbers(images: Tensor) -> dict[str, float]:
    return {"mean_pixel": round(float(images.mean()), 4), "median_pixel": round(float(images.median()), 4),
            "share_dark_pixels": round(float((images < 0.1).float().mean()), 4)}


def mistake_unit_range_images(images: Tensor, n: int = 64, steps: int = 20, seed: int = 0) -> MistakeReport:
    """Images fed in [0, 1] to code that assumes [-1, 1].

    The sampler clips :math:`\\hat x_0` to [-1, 1] and maps its output back with
    :math:`(x + 1) / 2`. A model trained on [0, 1] pixels produces [0, 1] samples, which that map
    turns into [0.5, 1]: black background becomes mid grey, and half of the pixel range is never
    used. The data distribution here is the set of ``images`` (N, 1, 28, 28) in [0, 1] (the exact
    denoiser of their empirical distribution); the real digits' numbers are in ``details``.
    """
    if images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise ValueError(f"expected images (N, 1, 28, 28) in [0, 1], got {tuple(images.shape)}")
    schedule = get_schedule("linear", 1000)
    x_T = torch.randn(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))
    out = {}
    for name, centres in {"wrong": images, "fixed": images * 2 - 1}.items():
        model = GaussianMixtureDenoiser(centres, 0.0, schedule)
        x = ddim_sample(model, schedule, x_T.shape, steps=steps, clip=1.0, x_T=x_T)
        out[name] = ((x + 1) / 2).clamp(0, 1)
    return MistakeReport("images in [0, 1] for a model in [-1, 1]", "pixels are not rescaled to [-1, 1] before "
                         "training, while sampling clips to and converts from [-1, 1]",
                         _image_numbers(out["wrong"]), _image_numbers(out["fixed"]),
                         details={**out, "real": _image_numbers(images)})


def mistake_schedule_mismatch(n: int = 2000, steps: int = 50, seed: int = 0, trained: str = "linear",
                              sampled: str = "cosine") -> MistakeReport:
    """Sampling with another noise schedule than the one the model was trained with.

    The model was trained to predict the noise at the levels :math:`\\bar\\alpha_t` of the
    ``trained`` schedule; a sampler built on the ``sampled`` schedule feeds it inputs of other noise
    levels at the same :math:`t` and removes the wrong amount of noise at every step.
    """
    right_schedule, wrong_schedule = get_schedule(trained, 1000), get_schedule(sampled, 1000)
    model = _ring(right_schedule)
    x_T = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed))
    wrong = ddim_sample(model, wrong_schedule, (n, 2), steps=steps, x_T=x_T)
    right = ddim_sample(model, right_schedule, (n, 2), steps=steps, x_T=x_T)
    return MistakeReport("sampling schedule differs from training", f"a model trained with the {trained} "
                         f"schedule is sampled with the {sampled} one", sample_scores(wrong), sample_scores(right),
                         details={"wrong": wrong, "fixed": right})
