r"""The noise predictors: an MLP for 2-D points, a small U-Net for MNIST, and the exact denoiser of a
Gaussian mixture.

Every predictor has the signature of the samplers, ``model(x_t, t)`` (the U-Net adds class labels,
``model(x_t, t, y)``), with ``t`` a (B,) tensor of integer steps in 1..T, and returns
:math:`\hat\varepsilon` of ``x_t``'s shape. :class:`GaussianMixtureDenoiser` needs no training: for
data drawn from a mixture of isotropic Gaussians it computes the best possible prediction
:math:`\E[\varepsilon \mid x_t]` in closed form, the function that training approaches. Tests and the
chapter's mistakes use it to separate the sampler from the network.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .schedule import NoiseSchedule

Tensor = torch.Tensor

__all__ = ["timestep_embedding", "MLPDenoiser", "ResBlock", "UNet", "GaussianMixtureDenoiser"]


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10_000.0) -> Tensor:
    r"""Sinusoidal features of the time step, as for token positions in a transformer.

    ``dim`` / 2 frequencies :math:`\omega_k = P^{-k / (\text{dim}/2)}` (:math:`P` = ``max_period``);
    the features are :math:`[\cos(\omega_k t), \sin(\omega_k t)]_k`, shape (B, dim).
    """
    if dim % 2:
        raise ValueError(f"the embedding dimension must be even, got {dim}")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)


class MLPDenoiser(nn.Module):
    r"""A noise predictor for low-dimensional points: an MLP whose hidden layers all see the time step.

    :math:`h_0 = W_{in} x`; for each of ``depth`` blocks
    :math:`h \leftarrow h + \mathrm{Linear}(\mathrm{SiLU}(\mathrm{Linear}(\mathrm{SiLU}(h)) + e_t))`
    with :math:`e_t` a learned projection of :func:`timestep_embedding`; output
    :math:`W_{out}\, \mathrm{SiLU}(h)`. The residual form lets the net start close to the identity
    map of its features, which trains steadily at every noise level.
    """

    def __init__(self, dim: int = 2, width: int = 128, depth: int = 3, emb_dim: int = 64, fourier: int = 0,
                 fourier_scale: float = 1.0):
        super().__init__()
        self.dim, self.emb_dim = dim, emb_dim
        self.register_buffer("freqs", fourier_scale * 2.0 ** torch.arange(fourier, dtype=torch.float32))
        self.time = nn.Sequential(nn.Linear(emb_dim, width), nn.SiLU(), nn.Linear(width, width))
        self.inp = nn.Linear(dim * (1 + 2 * fourier), width)
        self.blocks = nn.ModuleList(
            nn.ModuleDict({"fc1": nn.Linear(width, width), "fc2": nn.Linear(width, width)}) for _ in range(depth))
        self.out = nn.Linear(width, dim)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"MLPDenoiser expects points (B, {self.dim}), got {tuple(x.shape)}")
        e = self.time(timestep_embedding(t, self.emb_dim))
        h = self.inp(self.features(x))
        for block in self.blocks:
            h = h + block["fc2"](F.silu(block["fc1"](F.silu(h)) + e))
        return self.out(F.silu(h))


    def features(self, x: Tensor) -> Tensor:
        r"""The input and, with ``fourier`` = F > 0, :math:`\sin(\omega_k x_i)`, :math:`\cos(\omega_k x_i)` for
        :math:`\omega_k = s \cdot 2^k`, k < F (:math:`s` = ``fourier_scale``), shape (B, dim (1 + 2F))."""
        if len(self.freqs) == 0:
            return x
        angles = (x[:, :, None] * self.freqs).flatten(1)
        return torch.cat([x, torch.sin(angles), torch.cos(angles)], dim=1)


class ResBlock(nn.Module):
    """Two 3x3 convolutions with group norm and SiLU; the time/class embedding is added in between,
    and a 1x1 convolution matches the channels of the skip path when they change."""

    def __init__(self, c_in: int, c_out: int, emb: int, groups: int = 8):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(min(groups, c_in), c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb, c_out)
        self.norm2, self.conv2 = nn.GroupNorm(min(groups, c_out), c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, e: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x))) + self.emb(e)[:, :, None, None]
        return self.skip(x) + self.conv2(F.silu(self.norm2(h)))


class UNet(nn.Module):
    r"""A small class-conditional U-Net for (B, 1, 28, 28) images in [-1, 1].

    Resolutions 28 → 14 → 7 with ``channels`` = (c1, c2, c3) channels: a residual block at each
    resolution on the way down (two at 7x7), stride-2 convolutions between them, and on the way up
    nearest-neighbour upsampling, concatenation with the skip of the same resolution and a residual
    block. Most of the weights and the work sit at 7x7 and 14x14, so the net trains on a CPU. The
    time step (sinusoidal features) and the class label (a learned embedding of ``n_classes + 1``
    labels, the last one being the *null* label ``null_label`` of classifier-free guidance) are
    summed into one embedding that every block adds to its features.
    """

    def __init__(self, channels: tuple[int, int, int] = (16, 32, 64), emb_dim: int = 128, n_classes: int = 10):
        super().__init__()
        c1, c2, c3 = channels
        self.emb_dim, self.n_classes = emb_dim, n_classes
        self.null_label = n_classes
        self.time = nn.Sequential(nn.Linear(emb_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.label = nn.Embedding(n_classes + 1, emb_dim)
        self.inp = nn.Conv2d(1, c1, 3, padding=1)
        self.down1 = ResBlock(c1, c1, emb_dim)
        self.pool1 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.down2 = ResBlock(c2, c2, emb_dim)
        self.pool2 = nn.Conv2d(c2, c3, 3, stride=2, padding=1)
        self.mid1, self.mid2 = ResBlock(c3, c3, emb_dim), ResBlock(c3, c3, emb_dim)
        self.up2 = ResBlock(c3 + c2, c2, emb_dim)
        self.up1 = ResBlock(c2 + c1, c1, emb_dim)
        self.out = nn.Sequential(nn.GroupNorm(min(8, c1), c1), nn.SiLU(), nn.Conv2d(c1, 1, 3, padding=1))

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"UNet expects images (B, 1, 28, 28), got {tuple(x.shape)}")
        if y is None:
            y = torch.full((x.shape[0],), self.null_label, dtype=torch.long, device=x.device)
        e = self.time(timestep_embedding(t, self.emb_dim)) + self.label(y)
        h1 = self.down1(self.inp(x), e)                      # 28x28
        h2 = self.down2(self.pool1(h1), e)                   # 14x14
        h = self.mid2(self.mid1(self.pool2(h2), e), e)       # 7x7
        h = self.up2(torch.cat([F.interpolate(h, scale_factor=2.0), h2], dim=1), e)
        h = self.up1(torch.cat([F.interpolate(h, scale_factor=2.0), h1], dim=1), e)
        return self.out(h)


class GaussianMixtureDenoiser(nn.Module):
    r"""The optimal noise predictor :math:`\E[\varepsilon \mid x_t]` for data from an equal-weight
    mixture of :math:`\mathcal N(c_k, s^2 I)`, in closed form.

    Given component :math:`k`, :math:`x_t \sim \mathcal N(\sqrt{\bar\alpha_t} c_k, v_t I)` with
    :math:`v_t = \bar\alpha_t s^2 + 1 - \bar\alpha_t`, and :math:`\varepsilon` and :math:`x_t` are
    jointly Gaussian with covariance :math:`\sqrt{1 - \bar\alpha_t} I`, so
    :math:`\E[\varepsilon \mid x_t, k] = \sqrt{1 - \bar\alpha_t}\,(x_t - \sqrt{\bar\alpha_t} c_k) / v_t`.
    Averaging over the responsibilities
    :math:`r_k(x_t) \propto \exp\!\big(-\lVert x_t - \sqrt{\bar\alpha_t} c_k \rVert^2 / (2 v_t)\big)`:

    .. math::

        \E[\varepsilon \mid x_t] = \frac{\sqrt{1 - \bar\alpha_t}}{v_t}
            \Big(x_t - \sqrt{\bar\alpha_t} \sum_k r_k(x_t)\, c_k\Big)
            = -\sqrt{1 - \bar\alpha_t}\; \nabla_{x_t} \log q(x_t) .

    ``centers`` is (K, d); inputs of any shape (B, ...) whose trailing size is d are flattened, so
    a set of images works as centres too (``sigma`` = 0: the empirical distribution of the images).
    ``alpha_bar_shift`` looks the noise level up ``shift`` steps off (a mistake, kept to measure it).
    """

    def __init__(self, centers: Tensor, sigma: float, schedule: NoiseSchedule, alpha_bar_shift: int = 0):
        super().__init__()
        if sigma < 0:
            raise ValueError(f"sigma must be >= 0, got {sigma}")
        self.register_buffer("centers", torch.as_tensor(centers, dtype=torch.float64).reshape(len(centers), -1))
        self.sigma, self.schedule, self.shift = float(sigma), schedule, int(alpha_bar_shift)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        shape = x.shape
        flat = x.reshape(shape[0], -1).double()
        if flat.shape[1] != self.centers.shape[1]:
            raise ValueError(f"inputs of size {flat.shape[1]} per example, centres of size {self.centers.shape[1]}")
        idx = (torch.as_tensor(t, dtype=torch.long).cpu() - self.shift).clamp(0, self.schedule.T)
        ab = self.schedule.alpha_bar[idx].to(flat.device)[:, None]
        v = ab * self.sigma ** 2 + 1 - ab
        means = ab.sqrt()[:, :, None] * self.centers.T[None]            # (B, d, K)
        sq = (flat[:, :, None] - means).pow(2).sum(dim=1)                 # (B, K)
        r = torch.softmax(-sq / (2 * v), dim=1)
        mean_x0 = r @ self.centers                                        # (B, d)
        eps = (1 - ab).sqrt() / v * (flat - ab.sqrt() * mean_x0)
        return eps.to(x.dtype).reshape(shape)
