"""The derivations of book/ch02_gan/math.md, checked by quadrature and by a trained discriminator."""

import math

import pytest
import torch

from aigc_lessons import gan

PAIRS = [
    (gan.Gaussian1D(0.0, 1.0), gan.Gaussian1D(1.5, 0.7)),  # the chapter's pair
    (gan.Gaussian1D(0.0, 1.0), gan.Gaussian1D(0.0, 2.0)),  # same mean, different spread
    (gan.Gaussian1D(-1.0, 0.5), gan.Gaussian1D(4.0, 0.5)),  # almost disjoint: JSD near log 2
]


@pytest.fixture(scope="module")
def grid():
    return gan.quadrature_grid()


def test_optimal_discriminator_at_known_points():
    p = torch.tensor([0.2, 0.0, 0.4, 0.0], dtype=torch.float64)
    q = torch.tensor([0.2, 0.3, 0.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(gan.optimal_discriminator(p, q), torch.tensor([0.5, 0.0, 1.0, 0.5], dtype=torch.float64))
    # D* is a ratio, not the density: p = 0.4 gives D* = 1, p = 0.2 gives D* = 1/2
    assert not torch.allclose(gan.optimal_discriminator(p, q), p)


@pytest.mark.parametrize("p,q", PAIRS)
def test_value_at_the_optimal_discriminator_is_minus_log4_plus_2jsd(p, q, grid):
    pd, pg = p.pdf(grid), q.pdf(grid)
    value = gan.value_function(gan.optimal_discriminator(pd, pg), pd, pg, grid)
    jsd = gan.jensen_shannon(pd, pg, grid)
    assert 0.0 < jsd < math.log(2)
    assert value == pytest.approx(-math.log(4) + 2 * jsd, abs=1e-9)


def test_value_is_minus_log4_when_the_generator_matches_the_data(grid):
    pd = gan.P_DATA_1D.pdf(grid)
    d_star = gan.optimal_discriminator(pd, pd)
    torch.testing.assert_close(d_star, torch.full_like(pd, 0.5))
    assert gan.value_function(d_star, pd, pd, grid) == pytest.approx(-math.log(4), abs=1e-9)
    assert gan.jensen_shannon(pd, pd, grid) == pytest.approx(0.0, abs=1e-12)


def test_the_optimal_discriminator_maximises_the_value(grid):
    pd, pg = gan.P_DATA_1D.pdf(grid), gan.P_G_1D.pdf(grid)
    d_ref = pd / (pd + pg)  # Goodfellow et al. (2014), Proposition 1, written out here, not taken from the code
    d_star = gan.optimal_discriminator(pd, pg)
    assert torch.allclose(d_star, d_ref, rtol=0, atol=1e-12)
    best = gan.value_function(d_ref, pd, pg, grid)
    for eps in (0.05, -0.05, 0.01):  # any other D does worse, around the formula's D* (not the code's)
        other = (d_ref + eps * torch.sin(grid)).clamp(1e-6, 1 - 1e-6)
        assert gan.value_function(other, pd, pg, grid) < best
    # reading D as the data density (mistake (d)) is a much worse discriminator
    assert gan.value_function((pd / pd.max()).clamp(1e-6, 1 - 1e-6), pd, pg, grid) < best - 0.1
    assert gan.value_function(torch.full_like(pd, 0.5), pd, pg, grid) == pytest.approx(-math.log(4), abs=1e-9)


def test_jsd_against_monte_carlo_and_its_bounds(grid):
    pd, pg = gan.P_DATA_1D.pdf(grid), gan.P_G_1D.pdf(grid)
    jsd = gan.jensen_shannon(pd, pg, grid)
    assert gan.jensen_shannon(pg, pd, grid) == pytest.approx(jsd, abs=1e-12)  # symmetric
    g = torch.Generator().manual_seed(0)
    xs, ys = gan.P_DATA_1D.sample(400_000, g), gan.P_G_1D.sample(400_000, g)

    def log_ratio(x, own):  # log own(x) / m(x)
        m = 0.5 * (gan.P_DATA_1D.pdf(x) + gan.P_G_1D.pdf(x))
        return torch.log(own.pdf(x) / m)

    mc = 0.5 * log_ratio(xs, gan.P_DATA_1D).mean() + 0.5 * log_ratio(ys, gan.P_G_1D).mean()
    assert jsd == pytest.approx(mc.item(), abs=3e-3)
    # disjoint supports: JSD = log 2, and then V(D*, G) = 0
    x = torch.linspace(-1, 3, 400_001, dtype=torch.float64)
    p = ((x >= 0) & (x <= 1)).double()
    q = ((x >= 2) & (x <= 3)).double()
    assert gan.jensen_shannon(p, q, x) == pytest.approx(math.log(2), abs=1e-4)


def test_kl_closed_form(grid):
    p, q = gan.Gaussian1D(0.0, 1.0), gan.Gaussian1D(1.0, 2.0)
    exact = math.log(2.0 / 1.0) + (1.0 + 1.0) / (2 * 4.0) - 0.5
    assert gan.kl_divergence(p.pdf(grid), q.pdf(grid), grid) == pytest.approx(exact, abs=1e-9)


def test_value_function_rejects_mismatched_shapes(grid):
    with pytest.raises(ValueError):
        gan.value_function(grid[:10], grid, grid, grid)


def test_disc1d_config_for_mode():
    quick, full = gan.Disc1DConfig.for_mode("quick"), gan.Disc1DConfig.for_mode("full")
    assert (quick.steps, quick.batch_size) == (800, 512) and (full.steps, full.batch_size) == (6000, 4096)
    assert gan.Disc1DConfig.for_mode("quick", steps=5).steps == 5
    with pytest.raises(TypeError):
        gan.Disc1DConfig.for_mode("quick", stepz=5)


def test_a_trained_discriminator_approaches_d_star(trained_d):
    # stated tolerance: |D - D*| < 0.05 wherever the mixture density exceeds 0.02
    assert trained_d.max_abs_error < 0.05, trained_d.max_abs_error
    assert trained_d.weighted_abs_error < 0.01
    # and it is *not* the data density
    assert (trained_d.d_learned - trained_d.p_data).abs().max() > 0.5

