"""The chapter's four common mistakes, each reproduced and measured with its fix.

(a) :func:`mistake_detached_fake`, (b) :func:`mistake_wrong_output_size`, (c)
:func:`mistake_max_over_both_players` and (d) :func:`mistake_d_as_density`; each returns an
:class:`aigc_lessons.mistakes.MistakeReport`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import runtime
from ..mistakes import MistakeReport
from ..runtime import single_thread_if_cpu
from .dcgan import DCDiscriminator, DCGenerator, ShapeMismatchError, check_shapes
from .losses import GanLoss, _bce_discriminator, get_loss
from .theory import Disc1DResult, train_discriminator_1d
from .toy2d import Gan2DConfig, build_gan_2d, discriminator_step, generator_step, get_mixture, train_gan_2d

Tensor = torch.Tensor

__all__ = ["MAX_OVER_BOTH_PLAYERS", "mistake_detached_fake", "mistake_wrong_output_size",
           "mistake_max_over_both_players", "mistake_d_as_density"]


def _generator_step_on_detached_fake(generator: nn.Module, discriminator: nn.Module, objective: GanLoss,
                                     z: Tensor, opt: torch.optim.Optimizer) -> dict[str, float]:
    """The buggy generator step of mistake (a).

    Identical to :func:`~aigc_lessons.gan.toy2d.generator_step` but on ``fake.detach()``.
    """
    fake = generator(z).detach()  # BUG: cuts the graph between the loss and the generator's weights
    loss = objective.generator(discriminator(fake))
    opt.zero_grad(set_to_none=True)
    loss.backward()  # runs without complaint: the discriminator's weights still require gradients
    opt.step()  # the generator's .grad are None, so Adam skips every one of its weights
    return {"g_loss": float(loss.detach())}


def _flat_params(module: nn.Module) -> Tensor:
    return torch.cat([p.detach().flatten().clone() for p in module.parameters()])


def mistake_detached_fake(steps: int = 50, seed: int = 0) -> MistakeReport:
    """Mistake (a): the generator step computed on ``fake.detach()``.

    Trains the same ring GAN twice from the same initial weights for ``steps`` steps, once with the
    buggy generator step and once with :func:`~aigc_lessons.gan.toy2d.generator_step`, and measures
    how far the generator's weights moved (L2 norm of the change) and whether it ever received a
    gradient.
    """
    config = Gan2DConfig(steps=steps, seed=seed)
    mixture = get_mixture(config.mixture)
    spec = config.method_spec
    objective = get_loss(spec.loss)
    out: dict[str, dict[str, object]] = {}
    for variant, g_step in (("buggy", _generator_step_on_detached_fake), ("fixed", generator_step)):
        gen = runtime.seed_everything(seed)
        G, D = build_gan_2d(config)
        before = _flat_params(G)
        opt_g = torch.optim.Adam(G.parameters(), lr=spec.lr, betas=spec.betas)
        opt_d = torch.optim.Adam(D.parameters(), lr=spec.lr, betas=spec.betas)
        with single_thread_if_cpu(torch.device("cpu")):
            for _ in range(steps):
                real = mixture.sample(config.batch_size, gen)
                discriminator_step(G, D, objective, real, torch.randn(config.batch_size, config.z_dim, generator=gen), opt_d)
                g_step(G, D, objective, torch.randn(config.batch_size, config.z_dim, generator=gen), opt_g)
        out[variant] = {"generator_weight_change": float((_flat_params(G) - before).norm()),
                        "generator_got_gradient": any(p.grad is not None for p in G.parameters())}
    return MistakeReport("(a) generator step on fake.detach()",
                         "detach() cuts the graph, so the generator loss has no path back to G's weights",
                         out["buggy"], out["fixed"])


def mistake_wrong_output_size(z_dim: int = 64, channels: int = 32) -> MistakeReport:
    """Mistake (b): a generator that outputs 7x7 images fed to a discriminator built for 28x28.

    Symptom: the raw forward pass fails deep inside the discriminator with a message about matrix
    sizes that names neither network; :func:`~aigc_lessons.gan.dcgan.check_shapes` names both
    shapes before training. The fix (two stride-2 upsampling layers, 7 → 14 → 28) passes the check.
    """
    torch.manual_seed(0)
    bad, good, D = DCGenerator(z_dim, channels, n_upsample=0), DCGenerator(z_dim, channels), DCDiscriminator(channels)
    z = torch.randn(4, z_dim)
    with torch.no_grad():
        bad_shape = tuple(bad(z).shape)
        try:
            D(bad(z))
            raw = "no error"
        except RuntimeError as exc:
            raw = str(exc)
    try:
        check_shapes(bad, D, z_dim)
        checked = "no error"
    except ShapeMismatchError as exc:
        checked = str(exc)
    return MistakeReport("(b) 7x7 generator output into a 28x28 discriminator",
                         "one stride-2 upsampling layer per doubling of the side is missing (7 → 14 → 28)",
                         {"generator_output_shape": bad_shape, "raw_error": raw, "check_shapes_error": checked},
                         {"generator_output_shape": tuple(good(z).shape),
                          "check_shapes": check_shapes(good, D, z_dim)})


def _max_max_generator(fake_logit: Tensor) -> Tensor:
    r"""Mistake (c): the generator *maximises* V as well, i.e. minimises :math:`-\E\log(1-D(G(z)))`."""
    return F.softplus(fake_logit).mean()


#: The objective of mistake (c), where both players maximise V(D, G).
MAX_OVER_BOTH_PLAYERS = GanLoss("max_over_both_players", _bce_discriminator, _max_max_generator, "logit",
                                r"-\E\log D(x) - \E\log(1-D(G(z)))", r"-\E\log(1-D(G(z)))", "goodfellow2014generative")


def mistake_max_over_both_players(steps: int = 300, seed: int = 0) -> MistakeReport:
    """Mistake (c): writing the objective as max over D *and* G (a sign error in the generator loss).

    Trains the ring GAN for ``steps`` steps with :data:`MAX_OVER_BOTH_PLAYERS` and with the
    non-saturating loss, and reports the mean D(G(z)) and D loss over the last 50 steps, the
    share of high-quality samples, the mean distance of the samples from the origin (the
    data lie on the circle of radius 2) and how far training moved them (``mean_sample_shift``: the
    mean distance between the points the first and the last generator make from the same noise, so a
    generator that never learned stays at 0). ``details`` holds each variant's per-step ``d_fake`` and
    ``d_loss`` curves and its final samples.
    """
    out, details = {}, {}
    for variant, objective in (("buggy", MAX_OVER_BOTH_PLAYERS), ("fixed", get_loss("non_saturating"))):
        config = Gan2DConfig(steps=steps, seed=seed, snapshot_every=steps, checkpoint_every=steps)
        res = train_gan_2d(config, "cpu", objective=objective, progress=False)
        last = slice(-50, None)
        with torch.no_grad():
            radius = res.snapshots[steps].norm(dim=1).mean()
        out[variant] = {"mean_D_of_G_z": float(torch.sigmoid(torch.tensor(res.history["d_fake"][last])).mean()),
                        "mean_d_loss": float(np.mean(res.history["d_loss"][last])),
                        "high_quality": res.high_quality, "modes_covered": res.modes_covered,
                        "mean_sample_radius": float(radius),
                        "mean_sample_shift": float((res.snapshots[steps] - res.snapshots[0]).norm(dim=1).mean())}
        details[variant] = {"d_fake": res.history["d_fake"], "d_loss": res.history["d_loss"],
                            "samples": res.snapshots[steps]}
    return MistakeReport("(c) max over both players",
                         "the generator climbs V instead of descending it, so it helps the discriminator",
                         out["buggy"], out["fixed"], details)


def mistake_d_as_density(result: Disc1DResult | None = None) -> MistakeReport:
    """Mistake (d): reading D(x) as the data density.

    Uses a discriminator trained by :func:`~aigc_lessons.gan.theory.train_discriminator_1d`.
    Symptom: where D is largest is where p_g is thin, not where the data are dense, and D
    correlates poorly with p_data. Fix: D estimates the *ratio* p_data / (p_data + p_g), so with
    p_g known, p_data = p_g · D / (1 - D); we measure how well that recovers p_data where p_g > 0.05.
    ``details`` holds the curves on the grid: ``x``, ``d_learned``, ``p_data``, ``p_g`` and
    ``recovered_p_data``.
    """
    r = result or train_discriminator_1d()
    d, pd, pg, x = r.d_learned, r.p_data, r.p_g, r.x
    corr = float(np.corrcoef(d.numpy(), pd.numpy())[0, 1])
    region = pg > 0.05
    recovered = pg * d / (1 - d)
    rel = ((recovered - pd).abs() / pd)[region]
    return MistakeReport(
        "(d) D(x) read as the data density",
        "D* = p_data / (p_data + p_g) is a density ratio; it is near 1 wherever p_g is thin",
        {"argmax_D": float(x[d.argmax()]), "argmax_p_data": float(x[pd.argmax()]),
         "D_at_argmax_p_data": float(d[pd.argmax()]), "corr_D_p_data": corr},
        {"max_rel_error_recovered_density": float(rel.max()), "region": (float(x[region].min()), float(x[region].max())),
         "max_abs_error_D_vs_D_star": r.max_abs_error},
        {"x": x, "d_learned": d, "p_data": pd, "p_g": pg, "recovered_p_data": recovered})
