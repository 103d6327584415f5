"""The chapter's loss table and the two ways of keeping a Wasserstein critic 1-Lipschitz.

:class:`GanLoss` writes each objective once as the two losses the players minimise; :data:`losses`
holds the five of the chapter (saturating, non-saturating, least squares, Wasserstein, hinge).
:func:`gradient_penalty` (WGAN-GP), :func:`r1_penalty` and :func:`clip_weights` (the original WGAN) constrain a critic;
:func:`generator_logit_gradient` shows why the saturating loss stalls.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

Tensor = torch.Tensor

__all__ = ["GanLoss", "losses", "get_loss", "gradient_penalty", "r1_penalty", "clip_weights", "generator_logit_gradient"]


@dataclass(frozen=True)
class GanLoss:
    """One GAN objective as the two losses each player *minimises*.

    ``discriminator(real_out, fake_out)`` and ``generator(fake_out)`` take the raw outputs of the
    discriminator (a logit for the two classic losses, an unbounded score for the others) and
    return scalars. ``d_formula`` / ``g_formula`` are the same losses in LaTeX, for the book's
    table; ``output`` says what the discriminator's output means.
    """

    name: str
    discriminator: Callable[[Tensor, Tensor], Tensor]
    generator: Callable[[Tensor], Tensor]
    output: str
    d_formula: str
    g_formula: str
    reference: str


def _bce_discriminator(real_logit: Tensor, fake_logit: Tensor) -> Tensor:
    r"""Minus the value function: :math:`-\E\log D(x) - \E\log(1 - D(G(z)))`, with :math:`D=\sigma(\ell)`.

    :math:`-\log\sigma(\ell) = \operatorname{softplus}(-\ell)` and
    :math:`-\log(1-\sigma(\ell)) = \operatorname{softplus}(\ell)`: exact and stable for any logit.
    """
    return F.softplus(-real_logit).mean() + F.softplus(fake_logit).mean()


def _saturating_generator(fake_logit: Tensor) -> Tensor:
    r""":math:`\E\log(1 - D(G(z))) = -\E\operatorname{softplus}(\ell)`; its gradient in the logit is
    :math:`-\sigma(\ell) = -D(G(z))`, which vanishes when the discriminator wins (:math:`D\to 0`)."""
    return -F.softplus(fake_logit).mean()


def _non_saturating_generator(fake_logit: Tensor) -> Tensor:
    r""":math:`-\E\log D(G(z)) = \E\operatorname{softplus}(-\ell)`; gradient :math:`-(1 - D(G(z)))`,
    close to :math:`-1` exactly when the saturating loss gives nothing."""
    return F.softplus(-fake_logit).mean()


def _lsgan_discriminator(real: Tensor, fake: Tensor) -> Tensor:
    r"""Least squares with targets b = 1 for real, a = 0 for fake: :math:`\tfrac12\E(D(x)-1)^2 + \tfrac12\E D(G(z))^2`."""
    return 0.5 * ((real - 1.0) ** 2).mean() + 0.5 * (fake ** 2).mean()


def _lsgan_generator(fake: Tensor) -> Tensor:
    r""":math:`\tfrac12\E(D(G(z)) - c)^2` with c = 1."""
    return 0.5 * ((fake - 1.0) ** 2).mean()


def _wasserstein_critic(real: Tensor, fake: Tensor) -> Tensor:
    r"""Minus the Kantorovich-Rubinstein dual: :math:`\E f(G(z)) - \E f(x)` (plus a Lipschitz constraint)."""
    return fake.mean() - real.mean()


def _score_generator(fake: Tensor) -> Tensor:
    r""":math:`-\E f(G(z))`: the generator raises the critic's score of its samples (WGAN and hinge)."""
    return -fake.mean()


def _hinge_discriminator(real: Tensor, fake: Tensor) -> Tensor:
    r""":math:`\E\max(0, 1 - D(x)) + \E\max(0, 1 + D(G(z)))`."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


#: The five objectives of the chapter, by name (read-only; add a loss by writing a new module).
losses: Mapping[str, GanLoss] = MappingProxyType({
    "saturating": GanLoss(
        "saturating", _bce_discriminator, _saturating_generator, "logit",
        r"-\E\log D(x) - \E\log(1-D(G(z)))", r"\E\log(1-D(G(z)))", "goodfellow2014generative"),
    "non_saturating": GanLoss(
        "non_saturating", _bce_discriminator, _non_saturating_generator, "logit",
        r"-\E\log D(x) - \E\log(1-D(G(z)))", r"-\E\log D(G(z))", "goodfellow2014generative"),
    "least_squares": GanLoss(
        "least_squares", _lsgan_discriminator, _lsgan_generator, "score",
        r"\tfrac12\E(D(x)-1)^2 + \tfrac12\E D(G(z))^2", r"\tfrac12\E(D(G(z))-1)^2", "mao2017least"),
    "wasserstein": GanLoss(
        "wasserstein", _wasserstein_critic, _score_generator, "score",
        r"\E f(G(z)) - \E f(x)\ (+\lambda\,\mathrm{GP})", r"-\E f(G(z))", "arjovsky2017wasserstein"),
    "hinge": GanLoss(
        "hinge", _hinge_discriminator, _score_generator, "score",
        r"\E\max(0,1-D(x)) + \E\max(0,1+D(G(z)))", r"-\E D(G(z))", "lim2017geometric"),
})


def get_loss(name: str) -> GanLoss:
    """The :class:`GanLoss` called ``name``; unknown names raise ``KeyError`` listing the valid ones."""
    if name not in losses:
        raise KeyError(f"Unknown GAN loss {name!r}; valid names are: {', '.join(losses)}.")
    return losses[name]


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
                     generator: torch.Generator | None = None) -> Tensor:
    r"""WGAN-GP penalty :math:`\E_{\hat x}(\lVert\nabla_{\hat x} f(\hat x)\rVert_2 - 1)^2`.

    :math:`\hat x = \epsilon x + (1-\epsilon)\tilde x` with :math:`\epsilon\sim U[0,1]` per sample,
    on straight lines between real and generated samples (Gulrajani et al. 2017). The graph is kept
    (``create_graph``) so the penalty itself can be minimised.
    """
    if real.shape != fake.shape:
        raise ValueError(f"gradient_penalty: real {tuple(real.shape)} and fake {tuple(fake.shape)} differ")
    eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(eps_shape, generator=generator, device="cpu").to(real.device, real.dtype)
    x_hat = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()


def r1_penalty(discriminator: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    r"""Zero-centred gradient penalty on real data (R1, Mescheder et al. 2018):
    :math:`\E_{x\sim p_{data}}\lVert\nabla_x D(x)\rVert_2^2` (the caller multiplies by :math:`\gamma/2`).

    At an equilibrium where the generator matches the data, the discriminator cannot separate the
    two and is flat on the data, so its gradient there is zero; penalising that gradient pulls
    training towards this equilibrium instead of letting the two players circle it. The gradient
    is taken with respect to the discriminator's own input, so for a packed discriminator pass the
    packed batch. The graph is kept (``create_graph``) so the penalty can be minimised.
    """
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(x).sum(), x, create_graph=True)
    return grad.flatten(1).pow(2).sum(dim=1).mean()


@torch.no_grad()
def clip_weights(module: nn.Module, c: float) -> None:
    """Original WGAN's crude Lipschitz constraint: clamp every parameter into ``[-c, c]``."""
    if c <= 0:
        raise ValueError(f"clip value must be positive, got {c}")
    for p in module.parameters():
        p.clamp_(-c, c)


def generator_logit_gradient(loss_name: str, d_of_fake: float | Tensor) -> Tensor:
    r"""Autograd's :math:`\partial L_G / \partial \ell` at discriminator outputs ``d_of_fake`` = D(G(z)).

    For a batch of one, the logit is :math:`\ell = \log\frac{D}{1-D}`. The saturating loss gives
    :math:`-D`, the non-saturating :math:`-(1-D)`; the book quotes both at D = 0.001.
    """
    d = torch.as_tensor(d_of_fake, dtype=torch.float64).reshape(-1)
    if ((d <= 0) | (d >= 1)).any():
        raise ValueError("D(G(z)) must lie strictly between 0 and 1")
    logit = torch.log(d / (1 - d)).requires_grad_(True)
    # the losses average over the batch; scaling by its size gives each sample's own gradient
    (grad,) = torch.autograd.grad(get_loss(loss_name).generator(logit) * len(logit), logit)
    return grad
