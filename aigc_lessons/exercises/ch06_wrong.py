"""Planted wrong answers of chapter 6's exercises (the checks must reject each one): 6.1 to 6.3, then 6.5 and 6.6."""

from __future__ import annotations

import torch


# 6.1: the linear schedule

def _padded_linspace(T, beta_start, beta_end):
    zero = torch.zeros(1, dtype=torch.float64)
    return torch.cat([zero, torch.linspace(beta_start, beta_end, T, dtype=torch.float64)])


def _ls_shifted(T, beta_start, beta_end):
    betas = _padded_linspace(T, beta_start, beta_end)
    ab = torch.cumprod(1 - betas, dim=0)
    return betas, torch.cat([ab[:1], ab[:-1]])  # alpha_bar[t] = prod over s < t


def _ls_one_minus_sum(T, beta_start, beta_end):
    betas = _padded_linspace(T, beta_start, beta_end)
    return betas, 1 - torch.cumsum(betas, dim=0)


def _ls_linspace_from_zero(T, beta_start, beta_end):
    betas = torch.linspace(beta_start, beta_end, T + 1, dtype=torch.float64)  # T + 1 points, entry 0 not 0
    return betas, torch.cumprod(1 - betas, dim=0)


# 6.2: the closed-form marginal

def _qs_one_step(schedule, x0, t, noise):
    b = schedule.betas[t].reshape(-1, *([1] * (x0.dim() - 1)))
    return (1 - b).sqrt() * x0 + b.sqrt() * noise


def _qs_previous_step(schedule, x0, t, noise):
    ab = schedule.alpha_bar[t - 1].reshape(-1, *([1] * (x0.dim() - 1)))
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


def _qs_variance(schedule, x0, t, noise):
    ab = schedule.alpha_bar[t].reshape(-1, *([1] * (x0.dim() - 1)))
    return ab.sqrt() * x0 + (1 - ab) * noise


def _qs_last_axis(schedule, x0, t, noise):
    ab = schedule.alpha_bar[t]  # (B,) broadcasts against the last axis, not the batch
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


# 6.3: the posterior

def _post_parts(schedule, x0, t):
    shape = (-1, *([1] * (x0.dim() - 1)))
    return (schedule.betas[t].reshape(shape), schedule.alphas[t].reshape(shape), schedule.alpha_bar[t].reshape(shape),
            schedule.alpha_bar[t - 1].reshape(shape))


def _post_variance_beta(schedule, x0, xt, t):
    b, a, ab, ab_prev = _post_parts(schedule, x0, t)
    mean = ab_prev.sqrt() * b / (1 - ab) * x0 + a.sqrt() * (1 - ab_prev) / (1 - ab) * xt
    return mean, schedule.betas[t]  # the forward step's variance instead of the posterior's


def _post_alpha_bar_for_alpha(schedule, x0, xt, t):
    b, a, ab, ab_prev = _post_parts(schedule, x0, t)
    mean = ab_prev.sqrt() * b / (1 - ab) * x0 + ab.sqrt() * (1 - ab_prev) / (1 - ab) * xt
    return mean, ((1 - ab_prev) / (1 - ab) * b).flatten()


def _post_off_by_one(schedule, x0, xt, t):
    b, a, ab, ab_prev = _post_parts(schedule, x0, t)
    mean = ab.sqrt() * b / (1 - ab) * x0 + a.sqrt() * (1 - ab_prev) / (1 - ab) * xt  # alpha_bar_t for alpha_bar_{t-1}
    return mean, ((1 - ab_prev) / (1 - ab) * b).flatten()


def _post_beta_for_one_minus_alpha_bar(schedule, x0, xt, t):
    b, a, ab, ab_prev = _post_parts(schedule, x0, t)
    mean = ab_prev.sqrt() * x0 + a.sqrt() * (1 - ab_prev) / b * xt  # beta_t where 1 - alpha_bar_t belongs
    return mean, ((1 - ab_prev) / (1 - ab) * b).flatten()


# 6.5 and 6.6


def _ddim_noise_of_step_t(eps_model, x_t, t, s, alpha_bar):
    eps = eps_model(x_t, torch.full((x_t.shape[0],), t, dtype=torch.long))
    x0 = (x_t - (1 - alpha_bar[t]).sqrt() * eps) / alpha_bar[t].sqrt()
    return alpha_bar[s].sqrt() * x0 + (1 - alpha_bar[t]).sqrt() * eps  # noise level of t, not s


def _ddim_posterior_mean(eps_model, x_t, t, s, alpha_bar):
    eps = eps_model(x_t, torch.full((x_t.shape[0],), t, dtype=torch.long))
    ab_t, ab_s = alpha_bar[t], alpha_bar[s]
    x0 = (x_t - (1 - ab_t).sqrt() * eps) / ab_t.sqrt()
    a = ab_t / ab_s
    return (ab_s.sqrt() * (1 - a) * x0 + a.sqrt() * (1 - ab_s) * x_t) / (1 - ab_t)  # DDPM's mean, no noise


def _ddim_x0_not_rescaled(eps_model, x_t, t, s, alpha_bar):
    eps = eps_model(x_t, torch.full((x_t.shape[0],), t, dtype=torch.long))
    x0 = x_t - (1 - alpha_bar[t]).sqrt() * eps  # forgot to divide by sqrt(alpha_bar_t)
    return alpha_bar[s].sqrt() * x0 + (1 - alpha_bar[s]).sqrt() * eps


def _ddim_model_at_s(eps_model, x_t, t, s, alpha_bar):
    eps = eps_model(x_t, torch.full((x_t.shape[0],), max(s, 1), dtype=torch.long))  # asks about the wrong step
    x0 = (x_t - (1 - alpha_bar[t]).sqrt() * eps) / alpha_bar[t].sqrt()
    return alpha_bar[s].sqrt() * x0 + (1 - alpha_bar[s]).sqrt() * eps


def _cfg_book_w(model, x, t, y, scale, null_label):
    both = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, torch.full_like(y, null_label)]))
    cond, uncond = both.chunk(2)
    return (1 + scale) * cond - scale * uncond  # the book's w used as the scale


def _cfg_label_zero(model, x, t, y, scale, null_label):
    both = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, torch.zeros_like(y)]))
    cond, uncond = both.chunk(2)
    return uncond + scale * (cond - uncond)


def _cfg_swapped(model, x, t, y, scale, null_label):
    both = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, torch.full_like(y, null_label)]))
    cond, uncond = both.chunk(2)
    return cond + scale * (uncond - cond)


def _cfg_two_calls(model, x, t, y, scale, null_label):
    cond, uncond = model(x, t, y), model(x, t, torch.full_like(y, null_label))
    return uncond + scale * (cond - uncond)
