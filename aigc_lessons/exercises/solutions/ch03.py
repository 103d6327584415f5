"""Solutions of the chapter 3 exercises."""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

Tensor = torch.Tensor


def kl_diag_to_standard_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    # one dimension: 1/2 (mu^2 + sigma^2 - 1 - log sigma^2); the dimensions are independent, so their KLs add up
    return 0.5 * (mu ** 2 + torch.exp(logvar) - 1.0 - logvar).sum(-1)


def reparameterized_sample(mu: Tensor, logvar: Tensor, eps: Tensor) -> Tensor:
    sigma = torch.exp(0.5 * logvar)  # the standard deviation: the square root of exp(logvar)
    return mu + sigma * eps  # broadcasts over any leading sample axes of eps


def bernoulli_log_likelihood(x: Tensor, logits: Tensor) -> Tensor:
    # log s = -softplus(-l) and log(1 - s) = -softplus(l); together x log s + (1 - x) log(1 - s) = x l - softplus(l),
    # which never forms s itself
    return (x * logits - F.softplus(logits)).sum(-1)


def vae_loss(model: nn.Module, x: Tensor, eps: Tensor) -> Tensor:
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * eps  # reparameterized sample
    logits = model.decoder_output(z)
    # the Bernoulli negative log-likelihood in nats: summed over the pixels of an image, from logits
    reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1).mean()
    kl = 0.5 * (mu ** 2 + torch.exp(logvar) - 1 - logvar).sum(-1).mean()  # KL(q(z|x) || N(0, I))
    return reconstruction + kl


def importance_weighted_bound(log_joint: Callable[[Tensor, Tensor], Tensor], x: Tensor, mu: Tensor, logvar: Tensor,
                              k: int, generator: torch.Generator | None = None) -> Tensor:
    eps = torch.randn((k, *mu.shape), generator=generator, dtype=mu.dtype, device=mu.device)
    z = mu + torch.exp(0.5 * logvar) * eps  # (k, N, d), differentiable in mu and logvar
    # log q(z|x) of a diagonal Gaussian; (z - mu)^2 / sigma^2 is eps^2
    log_q = -0.5 * (math.log(2 * math.pi) + logvar + eps ** 2).sum(-1)
    log_w = log_joint(x, z) - log_q  # (k, N)
    # log of the mean of exp(log_w): logsumexp subtracts the largest log-weight before exponentiating
    return torch.logsumexp(log_w, dim=0) - math.log(k)
