"""The forward process checked against independent computations: the one-step chain by Monte Carlo,
the posterior by Bayes' rule written out and by regression, the schedules by their formulas."""

import math

import matplotlib
import pytest
import torch

from aigc_lessons import diffusion

matplotlib.use("Agg")


def test_linear_schedule_has_the_published_values(linear):
    assert linear.T == 1000
    assert linear.betas[0] == 0 and linear.alpha_bar[0] == 1
    assert math.isclose(float(linear.betas[1]), 1e-4, rel_tol=1e-9)
    assert math.isclose(float(linear.betas[1000]), 0.02, rel_tol=1e-9)
    prod = 1.0
    for t in range(1, 1001):
        prod *= 1 - (1e-4 + (0.02 - 1e-4) * (t - 1) / 999)
        if t in (1, 10, 500, 1000):
            assert math.isclose(float(linear.alpha_bar[t]), prod, rel_tol=1e-9)
    assert float(linear.alpha_bar[1000]) < 1e-4, "the last step should be almost pure noise"
    snr = linear.snr[1:]
    assert bool((snr[1:] < snr[:-1]).all()), "SNR must fall with t"
    assert torch.allclose(linear.snr[1:], linear.alpha_bar[1:] / (1 - linear.alpha_bar[1:]))


def test_cosine_schedule_follows_its_formula():
    sched = diffusion.cosine_schedule(1000)
    f = lambda t: math.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    for t in (1, 100, 500, 900):
        assert math.isclose(float(sched.alpha_bar[t]), f(t) / f(0), rel_tol=1e-6)
    assert float(sched.betas.max()) <= 0.999
    # the cosine schedule keeps more signal than the linear one in the middle of the chain
    assert float(sched.alpha_bar[500]) > float(diffusion.linear_schedule(1000).alpha_bar[500])


def test_marginal_matches_iterating_the_one_step_kernel(linear):
    """Run x_s = sqrt(1 - beta_s) x_{s-1} + sqrt(beta_s) z step by step, by Monte Carlo, and compare
    its mean and variance with q_sample's closed form."""
    gen = torch.Generator().manual_seed(0)
    n = 100_000
    x0 = torch.tensor([1.5, -0.7, 0.0], dtype=torch.float64).repeat(n, 1)
    x = x0.clone()
    for s in range(1, 301):
        b = float(linear.betas[s])
        x = math.sqrt(1 - b) * x + math.sqrt(b) * torch.randn(x.shape, generator=gen, dtype=torch.float64)
        if s in (1, 20, 300):
            closed = diffusion.q_sample(linear, x0, s, torch.randn(x.shape, generator=gen, dtype=torch.float64))
            for a, b_ in ((x.mean(0), closed.mean(0)), (x.var(0), closed.var(0))):
                assert torch.allclose(a, b_, atol=0.015), (s, a, b_)
            assert torch.allclose(x.var(0), 1 - linear.alpha_bar[s].expand(3), rtol=0.03, atol=2e-5)


def test_q_sample_at_t_zero_returns_the_data_and_checks_shapes(linear):
    x0 = torch.randn(4, 2)
    assert torch.equal(diffusion.q_sample(linear, x0, 0, torch.randn(4, 2)), x0)
    with pytest.raises(ValueError, match="same shape"):
        diffusion.q_sample(linear, x0, 5, torch.randn(4, 3))
    with pytest.raises(IndexError, match="0..1000"):
        diffusion.q_sample(linear, x0, 1001, torch.randn(4, 2))


@pytest.mark.parametrize("t,s", [(2, 1), (50, 49), (700, 699), (600, 400), (1000, 1)])
def test_posterior_is_bayes_rule_on_the_two_gaussians(linear, t, s):
    """Product of the prior q(x_s | x_0) and the likelihood q(x_t | x_s) as a function of x_s, written out."""
    ab_t, ab_s = float(linear.alpha_bar[t]), float(linear.alpha_bar[s])
    a = ab_t / ab_s
    prior_prec, like_prec = 1 / (1 - ab_s), a / (1 - a)           # likelihood: N(x_t; sqrt(a) x_s, 1 - a)
    var = 1 / (prior_prec + like_prec)
    x0, xt = 0.8, -0.3
    mean = var * (math.sqrt(ab_s) * x0 * prior_prec + xt / math.sqrt(a) * like_prec)
    post = diffusion.q_posterior(linear, t, s)
    assert math.isclose(float(post.variance), var, rel_tol=1e-9)
    assert math.isclose(float(post.mean(torch.tensor(x0, dtype=torch.float64), torch.tensor(xt, dtype=torch.float64))), mean, rel_tol=1e-9, abs_tol=1e-12)


def test_posterior_matches_a_monte_carlo_regression(linear):
    """Draw (x_{t-1}, x_t) given x_0 from the forward chain; regress x_{t-1} on x_t."""
    gen = torch.Generator().manual_seed(1)
    t, x0, n = 100, 1.2, 200_000
    ab_prev, beta = float(linear.alpha_bar[t - 1]), float(linear.betas[t])
    prev = math.sqrt(ab_prev) * x0 + math.sqrt(1 - ab_prev) * torch.randn(n, generator=gen, dtype=torch.float64)
    xt = math.sqrt(1 - beta) * prev + math.sqrt(beta) * torch.randn(n, generator=gen, dtype=torch.float64)
    xc, pc = xt - xt.mean(), prev - prev.mean()
    slope = float((xc * pc).sum() / (xc * xc).sum())
    intercept = float(prev.mean() - slope * xt.mean())
    resid = float((pc - slope * xc).var())
    post = diffusion.q_posterior(linear, t)
    assert math.isclose(slope, float(post.coef_xt), rel_tol=0.02)
    assert math.isclose(intercept, float(post.coef_x0) * x0, abs_tol=0.01)
    assert math.isclose(resid, float(post.variance), rel_tol=0.02)


def test_posterior_at_step_one_is_the_data_point(linear):
    post = diffusion.q_posterior(linear, 1)
    assert float(post.coef_x0) == pytest.approx(1.0) and float(post.coef_xt) == pytest.approx(0.0)
    assert float(post.variance) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="0 <= s < t"):
        diffusion.q_posterior(linear, 5, 5)


def test_unknown_schedule_name_lists_the_valid_ones():
    with pytest.raises(KeyError, match="valid names are: linear, cosine"):
        diffusion.get_schedule("quadratic")


def test_plot_schedules_labels_both_axes():
    axes = diffusion.plot_schedules(100)
    assert "alpha" in axes[0].get_ylabel() and "SNR" in axes[1].get_ylabel()
    assert len(axes[0].get_lines()) == 2


def test_noise_schedule_from_betas_checks_its_input():
    sched = diffusion.NoiseSchedule.from_betas("two steps", torch.tensor([0.1, 0.5]))
    assert sched.T == 2 and torch.allclose(sched.alpha_bar, torch.tensor([1.0, 0.9, 0.45], dtype=torch.float64))
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        diffusion.NoiseSchedule.from_betas("bad", torch.tensor([0.1, 1.0]))
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        diffusion.NoiseSchedule.from_betas("empty", torch.tensor([]))
