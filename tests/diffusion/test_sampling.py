"""Samplers: determinism of DDIM, exact recovery of a Gaussian with its exact denoiser, the denoising
score-matching identity, and classifier-free guidance."""

import math

import pytest
import torch
from torch.distributions import Categorical, MixtureSameFamily, Normal

from aigc_lessons import diffusion


def test_timesteps_run_from_T_down_to_one():
    assert diffusion.timesteps(5) == [5, 4, 3, 2, 1]
    seq = diffusion.timesteps(1000, 10)
    assert seq[0] == 1000 and seq[-1] == 1 and len(seq) == 10
    assert all(a > b for a, b in zip(seq, seq[1:]))
    with pytest.raises(ValueError, match="1..1000"):
        diffusion.timesteps(1000, 0)


def test_ddim_with_eta_zero_is_deterministic(tiny_2d):
    model, sched = tiny_2d.model, tiny_2d.schedule
    x_T = torch.randn(300, 2, generator=torch.Generator().manual_seed(3))
    a = diffusion.ddim_sample(model, sched, (300, 2), steps=None, x_T=x_T, generator=torch.Generator().manual_seed(1))
    b = diffusion.ddim_sample(model, sched, (300, 2), steps=None, x_T=x_T, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b), "DDIM with eta = 0 must not draw any noise after x_T"
    c = diffusion.ddim_sample(model, sched, (300, 2), steps=None, eta=1.0, x_T=x_T,
                              generator=torch.Generator().manual_seed(2))
    assert not torch.allclose(a, c), "eta = 1 must add noise"


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_exact_denoiser_of_a_gaussian_recovers_its_mean_and_variance(sampler):
    sched = diffusion.get_schedule("linear", 1000)
    mean, std = torch.tensor([1.5, -0.5]), 0.5
    model = diffusion.GaussianMixtureDenoiser(mean[None], std, sched)
    gen = torch.Generator().manual_seed(0)
    if sampler == "ddpm":
        x = diffusion.ddpm_sample(model, sched, (20_000, 2), generator=gen)
    else:
        x = diffusion.ddim_sample(model, sched, (20_000, 2), steps=200, generator=gen)
    assert torch.allclose(x.mean(0), mean, atol=0.02), x.mean(0)
    assert torch.allclose(x.std(0), torch.full((2,), std), rtol=0.04), x.std(0)


def _mixture_1d():
    return torch.tensor([-2.0, 0.5, 3.0], dtype=torch.float64), 0.3


@pytest.mark.parametrize("t", [5, 100, 400, 900])
def test_exact_denoiser_is_minus_sqrt_one_minus_alpha_bar_times_the_score(linear, t):
    """Denoising score matching on a 1-D mixture: E[eps | x_t] by quadrature over x_0 equals
    -sqrt(1 - alpha_bar_t) times the score of q(x_t) from autograd, and equals the package's denoiser."""
    centres, s = _mixture_1d()
    ab = float(linear.alpha_bar[t])
    xt = torch.linspace(-4, 4, 41, dtype=torch.float64)
    # E[eps | x_t] = int eps(x0) q(x_t | x0) p(x0) dx0 / int q(x_t | x0) p(x0) dx0 on a fine grid of x0
    x0 = torch.linspace(-5, 6, 40_001, dtype=torch.float64)
    p0 = torch.exp(-(x0[:, None] - centres) ** 2 / (2 * s * s)).sum(1)
    like = torch.exp(-(xt[:, None] - math.sqrt(ab) * x0[None]) ** 2 / (2 * (1 - ab)))
    eps_of_x0 = (xt[:, None] - math.sqrt(ab) * x0[None]) / math.sqrt(1 - ab)
    w = like * p0[None]
    quadrature = (w * eps_of_x0).sum(1) / w.sum(1)
    # the score of q(x_t), a mixture of N(sqrt(ab) c_k, ab s^2 + 1 - ab), by autograd
    q = MixtureSameFamily(Categorical(torch.ones(3, dtype=torch.float64)),
                          Normal(math.sqrt(ab) * centres, math.sqrt(ab * s * s + 1 - ab) * torch.ones(3, dtype=torch.float64)))
    x = xt.clone().requires_grad_(True)
    score, = torch.autograd.grad(q.log_prob(x).sum(), x)
    assert torch.allclose(quadrature, -math.sqrt(1 - ab) * score, atol=1e-5)
    model = diffusion.GaussianMixtureDenoiser(centres[:, None], s, linear)
    got = model(xt[:, None], torch.full((41,), t))[:, 0]
    assert torch.allclose(got, quadrature, atol=1e-5)


def test_classifier_free_guidance_mixes_the_two_predictions():
    calls = []

    def model(x, t, y):
        calls.append(y.clone())
        return x * 0 + y[:, None].float()        # "prediction" = the label, so the mix is visible

    x, t, y = torch.zeros(3, 2), torch.ones(3, dtype=torch.long), torch.tensor([1, 2, 3])
    out = diffusion.classifier_free_guidance(model, y, 2.0, null_label=10)(x, t)
    assert torch.equal(calls[-1], torch.tensor([1, 2, 3, 10, 10, 10]))
    assert torch.allclose(out[:, 0], 3 * y.float() - 2 * 10)
    plain = diffusion.classifier_free_guidance(model, y, 0.0, null_label=10)(x, t)
    assert torch.allclose(plain[:, 0], y.float())
    with pytest.raises(ValueError, match="guidance"):
        diffusion.classifier_free_guidance(model, y, -1.0, 10)


def test_noise_at_the_last_step_only_changes_the_beta_variance_sampler(linear):
    model = diffusion.GaussianMixtureDenoiser(torch.zeros(1, 2), 0.5, linear)
    run = lambda **kw: diffusion.ddpm_sample(model, linear, (50, 2), steps=20,  # noqa: E731
                                             generator=torch.Generator().manual_seed(0), **kw)
    assert torch.equal(run(), run(noise_at_last_step=True)), "the posterior variance of the last step is 0"
    assert not torch.allclose(run(variance="beta"), run(variance="beta", noise_at_last_step=True))
    with pytest.raises(KeyError, match="valid names"):
        run(variance="large")
