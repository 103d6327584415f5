"""Solutions of the chapter 2 exercises."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

Tensor = torch.Tensor


def optimal_discriminator(p_data: Tensor, p_g: Tensor) -> Tensor:
    total = p_data + p_g
    safe = torch.where(total > 0, total, torch.ones_like(total))  # no 0/0 where both densities vanish
    return torch.where(total > 0, p_data / safe, torch.full_like(total, 0.5))


def non_saturating_generator_loss(fake_logit: Tensor) -> Tensor:
    # -log sigmoid(l) = log(1 + exp(-l)) = softplus(-l), computed without forming sigmoid(l)
    return F.softplus(-fake_logit).mean()


def gan_training_step(G: nn.Module, D: nn.Module, opt_g, opt_d, real: Tensor, z: Tensor) -> tuple[float, float]:
    fake = G(z)
    # detach: D's loss must not send gradients into G
    d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss = F.softplus(-D(fake)).mean()  # not detached: this is how G learns
    opt_g.zero_grad()  # clear G's gradients before its own backward pass
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()


def count_modes(samples: Tensor, centers: Tensor, sigma: float, min_count: int = 20) -> tuple[int, float]:
    dist, nearest = torch.cdist(samples.float(), centers.float()).min(dim=1)
    good = dist < 3 * sigma
    counts = torch.bincount(nearest[good], minlength=len(centers))
    return int((counts >= min_count).sum()), float(good.float().mean())


def r1_penalty(D: nn.Module, real: Tensor) -> Tensor:
    x = real.detach().requires_grad_(True)  # a copy that tracks gradients; the caller's batch is left alone
    # D(x).sum(): each sample's output depends on that sample only, so this gives every sample its own gradient
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)  # create_graph: D can minimise the penalty
    return grad.flatten(1).pow(2).sum(dim=1).mean()
