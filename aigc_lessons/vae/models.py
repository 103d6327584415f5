"""The MNIST data helpers and the VAE models: one and two stochastic layers with MLP networks.

:func:`mnist_flat`, :func:`binarize` (dynamic binarization) and :func:`fixed_binarization` prepare
the data; :class:`GaussianHead` is the MLP that outputs a diagonal Gaussian; :class:`VAE` and
:class:`TwoLayerVAE` compute log importance weights and the training loss (:class:`LossParts`);
:func:`build_model` makes the model a :class:`~aigc_lessons.vae.train.VAEConfig` describes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Sequence

import torch
import torch.nn as nn

from .. import data as data_mod
from .bounds import (iwae_bound, kl_standard_normal, log_bernoulli, log_normal_diag, log_standard_normal,
                     reparameterize)

if TYPE_CHECKING:
    from .train import VAEConfig

__all__ = ["mnist_flat", "binarize", "fixed_binarization", "GaussianHead", "LossParts", "VAE", "TwoLayerVAE",
           "LatentModel", "build_model"]


# ================================================================================== MNIST data


def mnist_flat(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST ``split`` as flat float rows ``(N, 784)`` in [0, 1] and int64 labels (see ``data.load_mnist``)."""
    x, y = data_mod.load_mnist(split)
    return x.reshape(len(x), -1), y


def binarize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Dynamic binarization: each pixel becomes 1 with probability equal to its intensity.

    Drawn afresh every time a training batch is used, so the model sees a new binary image each
    epoch (a regulariser) and the data are the stochastically binarized MNIST used in the literature.
    """
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError("binarize expects intensities in [0, 1]")
    return torch.bernoulli(x, generator=generator)


def fixed_binarization(x: torch.Tensor, seed: int = 1234) -> torch.Tensor:
    """One binarization of ``x`` drawn with a fixed seed (the test set is scored on this one)."""
    return binarize(x.cpu(), torch.Generator().manual_seed(seed)).to(x.device)


# ====================================================================================== models

Activation = Literal["relu", "tanh", "elu", "gelu", "softplus"]
_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "gelu": nn.GELU,
                                            "softplus": nn.Softplus}


def _mlp(sizes: Sequence[int], activation: str, final_activation: bool) -> nn.Sequential:
    """Linear layers through ``sizes``, with the activation between them (and after the last if asked)."""
    act = _ACTIVATIONS[activation]
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if final_activation or i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


class GaussianHead(nn.Module):
    r"""An MLP that maps its input to the mean and log-variance of a diagonal Gaussian,
    :math:`(\mu, \log\sigma^2) = \mathrm{MLP}(h)`; both are returned in float32 (so densities are
    computed in full precision under bf16 autocast)."""

    def __init__(self, in_dim: int, hidden: Sequence[int], out_dim: int, activation: str):
        super().__init__()
        self.body = _mlp([in_dim, *hidden], activation, final_activation=True)
        self.out = nn.Linear(hidden[-1] if hidden else in_dim, 2 * out_dim)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.out(self.body(h)).float().chunk(2, dim=-1)
        return mu, logvar


@dataclass
class LossParts:
    """A training loss and its monitored pieces (all nats per example, averaged over the batch)."""

    loss: torch.Tensor  # what is minimised
    neg_elbo: torch.Tensor  # the one-sample-per-term negative ELBO (beta = 1), for monitoring
    rec: torch.Tensor  # E_q[-log p(x|z)]
    kl: torch.Tensor  # KL(q(z|x) || p(z)) (or its Monte Carlo estimate)


Objective = Literal["elbo", "iwae"]


class VAE(nn.Module):
    r"""A VAE with one stochastic layer of ``latent_dim`` units and MLP encoder and decoder.

    * prior :math:`p(z) = N(0, I)`;
    * encoder :math:`q_\phi(z|x) = N(\mu_\phi(x), \mathrm{diag}\,\sigma^2_\phi(x))`;
    * decoder ``bernoulli``: :math:`p_\theta(x|z) = \prod_j \mathrm{Bern}(x_j;\sigma(\ell_\theta(z)_j))`;
      ``gaussian``: :math:`p_\theta(x|z) = N(x; \mathrm{sigmoid}(\ell_\theta(z)), s^2 I)` with a fixed ``s``.

    ``hidden`` lists the encoder's widths (the decoder mirrors them).
    """

    def __init__(self, data_dim: int = 784, hidden: Sequence[int] = (512, 256), latent_dim: int = 32,
                 activation: str = "relu", likelihood: str = "bernoulli", gaussian_sigma: float = 0.1):
        super().__init__()
        if likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian', got {likelihood!r}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"Unknown activation {activation!r}; valid: {', '.join(_ACTIVATIONS)}")
        self.data_dim, self.latent_dim = data_dim, latent_dim
        self.likelihood, self.gaussian_sigma = likelihood, gaussian_sigma
        self.encoder = GaussianHead(data_dim, hidden, latent_dim, activation)
        self.decoder = _mlp([latent_dim, *reversed(hidden), data_dim], activation, final_activation=False)

    @property
    def latent_dims(self) -> list[int]:
        return [self.latent_dim]

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 2 or x.shape[1] != self.data_dim:
            raise ValueError(f"expected a batch of flat images (B, {self.data_dim}), got {tuple(x.shape)}")

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)`` of ``q(z|x)``, each ``(B, latent_dim)``."""
        self._check(x)
        return self.encoder(x)

    def decoder_output(self, z: torch.Tensor) -> torch.Tensor:
        """Logits (Bernoulli) or pre-sigmoid means (Gaussian) of ``p(x|z)``, in float32."""
        return self.decoder(z).float()

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``log p(x|z)`` in nats, broadcasting a leading sample axis of ``z``."""
        out = self.decoder_output(z)
        if self.likelihood == "bernoulli":
            return log_bernoulli(x, out)
        logvar = torch.full_like(out, 2 * math.log(self.gaussian_sigma))
        return log_normal_diag(x, torch.sigmoid(out), logvar)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's mean image: Bernoulli probabilities, or Gaussian means, in [0, 1]."""
        return torch.sigmoid(self.decoder_output(z))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the posterior mean of each image."""
        return self.decode(self.encode(x)[0])

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` images decoded from ``z ~ p(z)`` (mean images, not binary draws)."""
        dev = next(self.parameters()).device
        z = torch.randn((n, self.latent_dim), generator=generator, device=dev)
        return self.decode(z)

    def log_weights(self, x: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
        r"""``(k, B)`` log importance weights :math:`\log p(x|z_i) + \log p(z_i) - \log q(z_i|x)`."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, k, generator)
        return self.log_likelihood(x, z) + log_standard_normal(z) - log_normal_diag(z, mu, logvar)

    def loss(self, x: torch.Tensor, objective: Objective = "elbo", k: int = 1, beta: float = 1.0,
             generator: torch.Generator | None = None) -> LossParts:
        r"""``elbo``: :math:`-\big(\frac1k\sum_i\log p(x|z_i) - \beta\,\mathrm{KL}(q\|p)\big)`, the KL in
        closed form (beta-VAE for :math:`\beta\ne1`); ``iwae``: :math:`-\mathcal L_k` (needs beta = 1)."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, k, generator)
        log_px = self.log_likelihood(x, z)  # (k, B)
        kl = kl_standard_normal(mu, logvar).sum(-1)  # (B,)
        rec = -log_px.mean(0)
        neg_elbo = rec + kl
        if objective == "elbo":
            loss = (rec + beta * kl).mean()
        elif objective == "iwae":
            if beta != 1.0:
                raise ValueError("the IWAE objective is a bound on log p(x) only with beta = 1")
            log_w = log_px + log_standard_normal(z) - log_normal_diag(z, mu, logvar)
            loss = -iwae_bound(log_w).mean()
        else:
            raise ValueError(f"Unknown objective {objective!r}; valid: elbo, iwae")
        return LossParts(loss, neg_elbo.mean(), rec.mean(), kl.mean())

    def kl_per_dimension(self, x: torch.Tensor, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """Average over ``x`` of the closed-form KL of each latent dimension, ``[ (latent_dim,) ]``."""
        mu, logvar = self.encode(x)
        return [kl_standard_normal(mu, logvar).mean(0)]

    def posterior_means(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``E_q[z]`` for each stochastic layer (one here)."""
        return [self.encode(x)[0]]


class TwoLayerVAE(nn.Module):
    r"""A VAE with two stochastic layers, as in the IWAE paper's larger MNIST models:

    .. math:: p(z_2)=N(0,I),\quad p(z_1|z_2)=N(\mu_p(z_2),\sigma^2_p(z_2)),\quad
              p(x|z_1)=\mathrm{Bern}(\sigma(\ell(z_1))),

    .. math:: q(z_1|x)=N(\mu_1(x),\sigma_1^2(x)),\quad q(z_2|z_1)=N(\mu_2(z_1),\sigma_2^2(z_1)).

    The log weight of a sample :math:`(z_1, z_2)\sim q` is
    :math:`\log p(x|z_1)+\log p(z_1|z_2)+\log p(z_2)-\log q(z_1|x)-\log q(z_2|z_1)`; the KL terms are
    estimated by Monte Carlo (``p(z_1|z_2)`` is not a fixed Gaussian). Bernoulli decoder only.
    """

    likelihood = "bernoulli"

    def __init__(self, data_dim: int = 784, hidden: Sequence[int] = (512, 512), latent_dim: int = 100,
                 hidden2: Sequence[int] = (256, 256), latent_dim2: int = 50, activation: str = "tanh"):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"Unknown activation {activation!r}; valid: {', '.join(_ACTIVATIONS)}")
        self.data_dim, self.latent_dim, self.latent_dim2 = data_dim, latent_dim, latent_dim2
        self.q1 = GaussianHead(data_dim, hidden, latent_dim, activation)
        self.q2 = GaussianHead(latent_dim, hidden2, latent_dim2, activation)
        self.p1 = GaussianHead(latent_dim2, list(reversed(hidden2)), latent_dim, activation)
        self.px = _mlp([latent_dim, *reversed(hidden), data_dim], activation, final_activation=False)

    @property
    def latent_dims(self) -> list[int]:
        return [self.latent_dim, self.latent_dim2]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)`` of ``q(z_1|x)``, the layer next to the data."""
        if x.dim() != 2 or x.shape[1] != self.data_dim:
            raise ValueError(f"expected a batch of flat images (B, {self.data_dim}), got {tuple(x.shape)}")
        return self.q1(x)

    def decode(self, z1: torch.Tensor) -> torch.Tensor:
        """Bernoulli probabilities of ``p(x|z_1)``."""
        return torch.sigmoid(self.px(z1).float())

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x)[0])

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Ancestral samples: ``z_2 ~ p(z_2)``, ``z_1 ~ p(z_1|z_2)``, then the mean image of ``p(x|z_1)``."""
        dev = next(self.parameters()).device
        z2 = torch.randn((n, self.latent_dim2), generator=generator, device=dev)
        mu, logvar = self.p1(z2)
        return self.decode(reparameterize(mu, logvar, generator=generator))

    def _terms(self, x: torch.Tensor, k: int, generator: torch.Generator | None):
        mu1, lv1 = self.encode(x)
        z1 = reparameterize(mu1, lv1, k, generator)  # (k, B, d1)
        mu2, lv2 = self.q2(z1)
        z2 = reparameterize(mu2, lv2, generator=generator)  # (k, B, d2)
        mup, lvp = self.p1(z2)
        log_px = log_bernoulli(x, self.px(z1).float())
        return dict(z1=z1, z2=z2, mu1=mu1, lv1=lv1, mu2=mu2, lv2=lv2, mup=mup, lvp=lvp, log_px=log_px)

    def log_weights(self, x: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
        t = self._terms(x, k, generator)
        log_prior = log_normal_diag(t["z1"], t["mup"], t["lvp"]) + log_standard_normal(t["z2"])
        log_q = log_normal_diag(t["z1"], t["mu1"], t["lv1"]) + log_normal_diag(t["z2"], t["mu2"], t["lv2"])
        return t["log_px"] + log_prior - log_q

    def loss(self, x: torch.Tensor, objective: Objective = "elbo", k: int = 1, beta: float = 1.0,
             generator: torch.Generator | None = None) -> LossParts:
        if beta != 1.0:
            raise ValueError("TwoLayerVAE supports beta = 1 only")
        t = self._terms(x, k, generator)
        kl = (log_normal_diag(t["z1"], t["mu1"], t["lv1"]) + log_normal_diag(t["z2"], t["mu2"], t["lv2"])
              - log_normal_diag(t["z1"], t["mup"], t["lvp"]) - log_standard_normal(t["z2"]))  # (k, B)
        log_w = t["log_px"] - kl
        if objective == "elbo":
            loss = -log_w.mean()
        elif objective == "iwae":
            loss = -iwae_bound(log_w).mean()
        else:
            raise ValueError(f"Unknown objective {objective!r}; valid: elbo, iwae")
        return LossParts(loss, -log_w.mean(), -t["log_px"].mean(), kl.mean())

    def kl_per_dimension(self, x: torch.Tensor, generator: torch.Generator | None = None,
                         k: int = 16) -> list[torch.Tensor]:
        r"""Monte Carlo per-dimension KL of each layer, averaged over ``x``:
        :math:`\mathbb E_q[\log q(z_{1j}|x)-\log p(z_{1j}|z_2)]` and
        :math:`\mathbb E_{q(z_1|x)}\mathrm{KL}(q(z_{2j}|z_1)\|N(0,1))`; they sum to the ELBO's KL term."""
        t = self._terms(x, k, generator)
        layer1 = (-0.5 * (t["lv1"] + (t["z1"] - t["mu1"]) ** 2 * torch.exp(-t["lv1"]))
                  + 0.5 * (t["lvp"] + (t["z1"] - t["mup"]) ** 2 * torch.exp(-t["lvp"])))
        layer2 = kl_standard_normal(t["mu2"], t["lv2"])
        return [layer1.mean((0, 1)), layer2.mean((0, 1))]

    def posterior_means(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``E[z_1|x]`` and ``E[z_2|z_1 = E[z_1|x]]`` (a cheap stand-in for ``E_q[z_2]``)."""
        mu1, _ = self.encode(x)
        return [mu1, self.q2(mu1)[0]]


LatentModel = VAE | TwoLayerVAE


def build_model(config: VAEConfig, data_dim: int = 784) -> VAE | TwoLayerVAE:
    """The model ``config`` describes (weights initialised from the global torch RNG; seed first)."""
    if config.stochastic_layers == 1:
        return VAE(data_dim, config.hidden, config.latent_dim, config.activation, config.likelihood,
                   config.gaussian_sigma)
    return TwoLayerVAE(data_dim, config.hidden, config.latent_dim, config.hidden2, config.latent_dim2,
                       config.activation)
