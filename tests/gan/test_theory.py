"""The derivations of book/ch02_gan/math.md, checked by quadrature and by a trained discriminator."""

import math

import pytest
import torch

from aigc_lessons import calibrate, gan

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


def test_a_trained_discriminator_approaches_d_star(trained_d, unit_disc1d):
    metrics, _ = unit_disc1d
    assert metrics["max_abs_error_vs_d_star"] == trained_d.max_abs_error
    assert metrics["max_abs_d_minus_p_data"] == (trained_d.d_learned - trained_d.p_data).abs().max().item()
    # stated tolerance: |D - D*| < 0.05 wherever the mixture density exceeds 0.02; small on average;
    # and it is *not* the data density: near 1 in the left tail, where p_data is near 0
    calibrate.assert_checks("unit-gan-disc1d", metrics, "quick",
                            only=["max_abs_error_vs_d_star", "weighted_abs_error_vs_d_star", "max_abs_d_minus_p_data"])



def test_default_quadrature_grid():
    """[-16, 16] in steps of 1e-4 (320,001 points): both densities vanish at the ends, and 0 is a node."""
    grid = gan.quadrature_grid()
    assert grid.dtype == torch.float64 and len(grid) == 320_001
    assert grid[0].item() == -16.0 and grid[-1].item() == 16.0 and abs(grid[160_000].item()) < 1e-12
    assert torch.diff(grid).sub(1e-4).abs().max() < 1e-12


def test_value_function_clamps_a_hopeless_discriminator_instead_of_returning_minus_infinity(grid):
    """D = 0 everywhere: log D is clamped at log(1e-300) ≈ -690.8 per unit of data mass, not -inf."""
    pd, pg = gan.P_DATA_1D.pdf(grid), gan.P_G_1D.pdf(grid)
    value = gan.value_function(torch.zeros_like(grid), pd, pg, grid)
    assert value == pytest.approx(math.log(1e-300), rel=1e-6)
    with pytest.raises(ValueError, match="^value_function: d, p_data, p_g and x must have the same shape$"):
        gan.value_function(grid[:10], grid, grid, grid)


def test_optimal_discriminator_has_finite_gradients_where_both_densities_vanish():
    """D* = p/(p+q): dD*/dp = q/(p+q)², and 0 where D* is the constant 1/2 (no NaN from 0/0)."""
    p = torch.tensor([0.2, 0.0, 0.4, 0.0], dtype=torch.float64, requires_grad=True)
    q = torch.tensor([0.2, 0.3, 0.0, 0.0], dtype=torch.float64)
    (grad,) = torch.autograd.grad(gan.optimal_discriminator(p, q).sum(), p)
    torch.testing.assert_close(grad, torch.tensor([0.2 / 0.16, 0.3 / 0.09, 0.0, 0.0], dtype=torch.float64))


def test_gaussian1d_checks_its_spread_and_samples_reproducibly_in_float64():
    with pytest.raises(ValueError, match="std must be positive"):
        gan.Gaussian1D(0.0, 0.0)
    a = gan.P_G_1D.sample(1000, torch.Generator().manual_seed(0))
    b = gan.P_G_1D.sample(1000, torch.Generator().manual_seed(0))
    assert a.dtype == torch.float64 and torch.equal(a, b)
    assert not torch.equal(a, gan.P_G_1D.sample(1000, torch.Generator().manual_seed(1)))


def _standard_normal_pdf(x, mean, std):
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def test_discriminator_result_fields():
    """The curves and errors the notebook plots and prints, recomputed from their definitions (a short
    run: the definitions hold for any D; convergence is test_a_trained_discriminator_approaches_d_star)."""
    config = gan.Disc1DConfig(steps=30, batch_size=64)
    r = gan.train_discriminator_1d(config, mass_threshold=0.05)
    assert r.config == config and r.mass_threshold == 0.05
    assert r.x.dtype == torch.float64 and len(r.x) == 901  # the plotted range [-4, 5], step 0.01
    assert r.x[0].item() == -4.0 and r.x[-1].item() == 5.0
    pd, pg = _standard_normal_pdf(r.x, 0.0, 1.0), _standard_normal_pdf(r.x, 1.5, 0.7)
    torch.testing.assert_close(r.p_data, pd)
    torch.testing.assert_close(r.p_g, pg)
    torch.testing.assert_close(r.d_star, pd / (pd + pg))
    with torch.no_grad():
        d = torch.sigmoid(r.model(r.x.float().unsqueeze(1))).squeeze(1).double()
    torch.testing.assert_close(r.d_learned, d)
    mixture, err = 0.5 * (pd + pg), (d - pd / (pd + pg)).abs()
    assert r.max_abs_error == pytest.approx(err[mixture > 0.05].max().item(), rel=1e-9)
    assert r.weighted_abs_error == pytest.approx(torch.trapezoid(mixture * err, r.x).item(), rel=1e-9)


def test_discriminator_loss_approaches_its_minimum_log4_minus_2jsd(trained_d, unit_disc1d, grid):
    """min_D of the discriminator's loss is -V(D*, G) = log 4 - 2 JSD (the chapter's derivation)."""
    losses = trained_d.history["d_loss"]
    assert len(losses) == trained_d.config.steps and all(isinstance(v, float) for v in losses)
    pd, pg = gan.P_DATA_1D.pdf(grid), gan.P_G_1D.pdf(grid)
    minimum = math.log(4) - 2 * gan.jensen_shannon(pd, pg, grid)
    late = sum(losses[-200:]) / 200
    metrics, _ = unit_disc1d
    assert metrics["late_d_loss_above_minimum"] == pytest.approx(late - minimum, abs=1e-12)
    assert metrics["late_d_loss_below_minimum"] == pytest.approx(minimum - late, abs=1e-12)
    # minimum - 0.015 < late < minimum + 0.02 (the thresholds of calibrate.CHECKS)
    calibrate.assert_checks("unit-gan-disc1d", metrics, "quick",
                            only=["late_d_loss_above_minimum", "late_d_loss_below_minimum"])
    assert losses[0] > minimum + 0.1  # it did have to learn


def test_train_discriminator_1d_uses_its_config_and_seed():
    short = gan.Disc1DConfig(steps=25, batch_size=64, lr=0.0)
    frozen = gan.train_discriminator_1d(short)
    assert frozen.config == short and len(frozen.history["d_loss"]) == 25
    assert all(isinstance(v, float) and math.isfinite(v) for v in frozen.history["d_loss"])
    # lr = 0: Adam never moves the weights, so 25 steps leave D where 1 step (same seed) left it
    one = gan.train_discriminator_1d(gan.Disc1DConfig(steps=1, batch_size=64, lr=0.0))
    torch.testing.assert_close(frozen.d_learned, one.d_learned, atol=0, rtol=0)
    learning = gan.train_discriminator_1d(gan.Disc1DConfig(steps=25, batch_size=64, lr=1e-2))
    assert not torch.allclose(learning.d_learned, frozen.d_learned)
    again = gan.train_discriminator_1d(gan.Disc1DConfig(steps=25, batch_size=64, lr=1e-2))
    assert again.history == learning.history and torch.equal(again.d_learned, learning.d_learned)


def test_train_discriminator_1d_is_silent_by_default_and_clears_its_progress_bar(capsys):
    config = gan.Disc1DConfig(steps=3, batch_size=16)
    gan.train_discriminator_1d(config)
    assert capsys.readouterr().err == ""
    gan.train_discriminator_1d(config, progress=True)
    err = capsys.readouterr().err
    assert "\r1-D discriminator: " in err  # the bar is labelled
    assert err.rsplit("\r", 2)[-2].strip() == ""  # leave=False: the bar's line is blanked at the end
