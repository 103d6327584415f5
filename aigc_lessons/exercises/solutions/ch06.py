"""Solutions of the chapter 6 exercises."""

from __future__ import annotations

from typing import Callable

import torch

from aigc_lessons.diffusion import NoiseSchedule

Tensor = torch.Tensor


def linear_schedule_alpha_bar(T: int, beta_start: float, beta_end: float) -> tuple[Tensor, Tensor]:
    steps = torch.linspace(beta_start, beta_end, T, dtype=torch.float64)      # beta_1 .. beta_T
    betas = torch.cat([torch.zeros(1, dtype=torch.float64), steps])            # entry 0: the clean data
    alpha_bar = torch.cumprod(1.0 - betas, dim=0)                              # 1 - beta_0 = 1, so alpha_bar[0] = 1
    return betas, alpha_bar


def q_sample_closed_form(schedule: NoiseSchedule, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
    ab = schedule.alpha_bar[t].to(x0.dtype)                 # (B,): one alpha_bar per example
    ab = ab.reshape(-1, *([1] * (x0.dim() - 1)))            # (B, 1, ..., 1): broadcasts over each example
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


def posterior_mean_variance(schedule: NoiseSchedule, x0: Tensor, xt: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    beta, alpha = schedule.betas[t], schedule.alphas[t]
    ab_t, ab_prev = schedule.alpha_bar[t], schedule.alpha_bar[t - 1]
    coef_x0 = ab_prev.sqrt() * beta / (1 - ab_t)             # at t = 1: 1 (alpha_bar_0 = 1, beta_1 = 1 - alpha_bar_1)
    coef_xt = alpha.sqrt() * (1 - ab_prev) / (1 - ab_t)      # at t = 1: 0
    variance = (1 - ab_prev) / (1 - ab_t) * beta             # at t = 1: 0
    shape = (-1, *([1] * (x0.dim() - 1)))
    mean = coef_x0.reshape(shape).to(x0.dtype) * x0 + coef_xt.reshape(shape).to(x0.dtype) * xt
    return mean, variance


def ddpm_sampler(eps_model: Callable, schedule: NoiseSchedule, n: int, dim: int,
                 generator: torch.Generator) -> Tensor:
    x = torch.randn(n, dim, generator=generator)  # x_T ~ N(0, I)
    for t in range(schedule.T, 0, -1):
        eps = eps_model(x, torch.full((n,), t, dtype=torch.long))
        ab_t, ab_prev, beta_t = schedule.alpha_bar[t], schedule.alpha_bar[t - 1], schedule.betas[t]
        x0 = (x - (1 - ab_t).sqrt() * eps) / ab_t.sqrt()
        mean = (ab_prev.sqrt() * beta_t * x0 + schedule.alphas[t].sqrt() * (1 - ab_prev) * x) / (1 - ab_t)
        if t > 1:  # the fix: the last step returns the mean, with no fresh noise (z = 0 at t = 1)
            x = mean + beta_t.sqrt() * torch.randn(n, dim, generator=generator)
        else:
            x = mean
    return x


def ddim_step(eps_model: Callable, x_t: Tensor, t: int, s: int, alpha_bar: Tensor) -> Tensor:
    eps = eps_model(x_t, torch.full((x_t.shape[0],), t, dtype=torch.long, device=x_t.device))
    ab_t, ab_s = alpha_bar[t], alpha_bar[s]
    x0_hat = (x_t - (1 - ab_t).sqrt() * eps) / ab_t.sqrt()        # q_sample solved for x_0
    return ab_s.sqrt() * x0_hat + (1 - ab_s).sqrt() * eps       # the same noise, at the level of step s


def guided_eps(model: Callable, x: Tensor, t: Tensor, y: Tensor, scale: float, null_label: int) -> Tensor:
    null = torch.full_like(y, null_label)
    both = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, null]))  # one batch of 2B
    cond, uncond = both.chunk(2)
    return uncond + scale * (cond - uncond)
