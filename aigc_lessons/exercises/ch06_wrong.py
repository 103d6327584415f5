"""Planted wrong answers of chapter 6's exercises 6.5 and 6.6 (the checks must reject each one)."""

from __future__ import annotations

import torch


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
