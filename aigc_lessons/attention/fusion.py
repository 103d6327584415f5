"""Attention across modalities: an MNIST image and a digit caption fused by a learned query.

:func:`train_fusion` trains early fusion (concatenate the inputs), late fusion (average two
classifiers) and attention fusion (a softmax weight per modality, chosen per example) on the same
task, where either modality may be unreliable, and reports where the attention weight goes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import runtime

__all__ = [
    "DIGIT_NAMES",
    "FusionConfig",
    "FUSION_CONDITIONS",
    "FusionResult",
    "train_fusion",
    "plot_fusion_weights",
]


DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass
class FusionConfig:
    """A two-modality task: an MNIST image (possibly drowned in noise) and a caption that names a
    digit (possibly the wrong one). Quick and full values side by side in :meth:`FusionConfig.for_mode`."""

    n_train: int = 8000
    n_test: int = 4000
    epochs: int = 4
    d: int = 64
    lr: float = 3e-3
    batch_size: int = 128
    p_noisy_image: float = 0.5     # share of images replaced by noise-dominated versions
    p_wrong_caption: float = 0.3   # share of captions naming another digit
    seed: int = 0
    deterministic: bool = True  # torch's deterministic algorithms during training (quick mode)

    @classmethod
    def for_mode(cls, mode: str | None = None, **overrides) -> "FusionConfig":
        """The quick or full sizes (see :func:`aigc_lessons.runtime.for_mode`), then ``overrides``."""
        return runtime.for_mode(cls, mode,
                                quick=dict(n_train=8000, n_test=4000, epochs=4, deterministic=True),
                                full=dict(n_train=60000, n_test=10000, epochs=10, deterministic=False),
                                **overrides)


FUSION_CONDITIONS = ("clean image, right caption", "clean image, wrong caption",
                     "noisy image, right caption", "noisy image, wrong caption")


@dataclass
class FusionResult:
    config: FusionConfig
    accuracy: dict            # fusion kind -> {"all" or condition -> test accuracy}
    alpha_by_condition: dict  # condition -> mean weight α on the image token (the caption gets 1 - α)
    alpha: torch.Tensor       # (n_test, 2): α over (image, caption) for every test example
    condition: torch.Tensor   # (n_test,) index into FUSION_CONDITIONS
    model: nn.Module = field(repr=False, default=None)


def _encoder(d_in: int, d: int) -> nn.Module:
    return nn.Sequential(nn.Linear(d_in, 2 * d), nn.GELU(), nn.Linear(2 * d, d))


class _AttentionFusion(nn.Module):
    r"""Each modality becomes one token :math:`f_m` (an image encoder, a caption encoder) and a learned
    query attends over the two:

    .. math::  e_m = \frac{q\cdot W_K f_m}{\sqrt d},\qquad \alpha = \mathrm{softmax}(e),\qquad
               z = s \sum_m \alpha_m\, \hat v_m,\qquad \hat v_m = \frac{c(W_V f_m)}{\lVert c(W_V f_m)\rVert},

    where :math:`W_V f_m` holds 10 class scores, :math:`c` subtracts their mean and :math:`s` is one
    learned scale. Each modality's vote has the same length, so it cannot turn itself down by
    shrinking its scores: how much each modality counts is α, and α alone (late fusion with weights
    chosen per example instead of fixed)."""

    def __init__(self, d: int, d_text: int) -> None:
        super().__init__()
        self.image, self.text = _encoder(784, d), _encoder(d_text, d)
        self.query = nn.Parameter(torch.randn(d) / math.sqrt(d))
        self.key, self.value = nn.Linear(d, d), nn.Linear(d, 10)
        self.log_scale = nn.Parameter(torch.tensor(math.log(5.0)))

    def forward(self, image, text):
        f = F.gelu(torch.stack([self.image(image), self.text(text)], dim=1))  # (B, 2, d)
        e = self.key(f) @ self.query / math.sqrt(f.shape[-1])
        alpha = torch.softmax(e, dim=-1)
        v = self.value(f)
        v = F.normalize(v - v.mean(-1, keepdim=True), dim=-1)
        z = self.log_scale.exp() * (alpha.unsqueeze(-1) * v).sum(1)
        return z, alpha


class _EarlyFusion(nn.Module):
    """Concatenate the raw inputs of both modalities, then one network."""

    def __init__(self, d: int, d_text: int) -> None:
        super().__init__()
        self.net = nn.Sequential(_encoder(784 + d_text, d), nn.GELU(), nn.Linear(d, 10))

    def forward(self, image, text):
        return self.net(torch.cat([image, text], dim=-1)), None


class _LateFusion(nn.Module):
    """One classifier per modality; average their log-probabilities with fixed, equal weights."""

    def __init__(self, d: int, d_text: int) -> None:
        super().__init__()
        self.img = nn.Sequential(_encoder(784, d), nn.GELU(), nn.Linear(d, 10))
        self.txt = nn.Sequential(_encoder(d_text, d), nn.GELU(), nn.Linear(d, 10))

    def forward(self, image, text):
        return 0.5 * (F.log_softmax(self.img(image), -1) + F.log_softmax(self.txt(text), -1)), None


def _fusion_data(cfg: FusionConfig, x: torch.Tensor, y: torch.Tensor, caption_emb: torch.Tensor,
                 gen: torch.Generator):
    n = x.shape[0]
    noisy = torch.rand(n, generator=gen) < cfg.p_noisy_image
    wrong = torch.rand(n, generator=gen) < cfg.p_wrong_caption
    x = x.reshape(n, 784).clone()
    x[noisy] = 0.15 * x[noisy] + 0.85 * torch.rand(int(noisy.sum()), 784, generator=gen)
    shift = torch.randint(1, 10, (n,), generator=gen)
    named = torch.where(wrong, (y + shift) % 10, y)
    condition = 2 * noisy.long() + wrong.long()  # index into FUSION_CONDITIONS
    return x, caption_emb[named], y, condition


def train_fusion(cfg: FusionConfig, caption_embeddings: torch.Tensor) -> FusionResult:
    """Train early, late and attention fusion on the same two-modality MNIST task and compare them.

    ``caption_embeddings (10, d_text)``: one sentence embedding per digit caption (e.g. MiniLM's
    embedding of "a handwritten digit seven"). Each example pairs an MNIST image, replaced with
    probability ``p_noisy_image`` by a noise-dominated version, with the caption of its digit or,
    with probability ``p_wrong_caption``, of another digit. Neither modality is reliable alone; the
    attention model can move its weight α to whichever looks informative for *this* example. Test
    accuracy is reported overall and per condition (image clean/noisy × caption right/wrong).
    """
    from ..data import load_mnist

    if caption_embeddings.dim() != 2 or caption_embeddings.shape[0] != 10:
        raise ValueError(f"caption_embeddings must be (10, d_text), got {tuple(caption_embeddings.shape)}")
    gen = runtime.seed_everything(cfg.seed)
    xtr, ytr = load_mnist("train")
    xte, yte = load_mnist("test")
    idx_tr = torch.randperm(xtr.shape[0], generator=gen)[: cfg.n_train]
    idx_te = torch.randperm(xte.shape[0], generator=gen)[: cfg.n_test]
    emb = caption_embeddings.detach().float()
    train = _fusion_data(cfg, xtr[idx_tr], ytr[idx_tr], emb, gen)
    test = _fusion_data(cfg, xte[idx_te], yte[idx_te], emb, gen)
    d_text = emb.shape[1]
    models = {"early": _EarlyFusion(cfg.d, d_text), "late": _LateFusion(cfg.d, d_text),
              "attention": _AttentionFusion(cfg.d, d_text)}
    accuracy: dict = {}
    with runtime.reproducible("cpu", 1, cfg.deterministic):  # a few small MLPs on the CPU: one thread is fastest
        for name, model in models.items():
            opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
            for _ in range(cfg.epochs):
                perm = torch.randperm(cfg.n_train, generator=gen)
                for i in range(0, cfg.n_train, cfg.batch_size):
                    b = perm[i: i + cfg.batch_size]
                    logits, _ = model(train[0][b], train[1][b])
                    loss = F.cross_entropy(logits, train[2][b])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
            model.eval()
            with torch.no_grad():
                logits, alpha = model(test[0], test[1])
            correct = (logits.argmax(-1) == test[2]).float()
            accuracy[name] = {"all": float(correct.mean())}
            accuracy[name].update({c: float(correct[test[3] == i].mean()) for i, c in enumerate(FUSION_CONDITIONS)})
            if name == "attention":
                kept_alpha = alpha
    alpha_by = {c: float(kept_alpha[test[3] == i, 0].mean()) for i, c in enumerate(FUSION_CONDITIONS)}
    return FusionResult(cfg, accuracy, alpha_by, kept_alpha, test[3], models["attention"])


def plot_fusion_weights(result: FusionResult, axes=None):
    """Left: histogram of the weight α on the image token, clean vs noisy images.
    Right: mean α on the image and on the caption, per condition."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 3.8), gridspec_kw={"width_ratios": [3, 2]})
    a_img = result.alpha[:, 0].numpy()
    noisy = (result.condition >= 2).numpy()
    bins = np.linspace(0, 1, 41)
    axes[0].hist(a_img[~noisy], bins=bins, alpha=0.6, label="clean image")
    axes[0].hist(a_img[noisy], bins=bins, alpha=0.6, label="noise-dominated image")
    axes[0].set_xlabel("α on the image token (the caption gets 1 − α)")
    axes[0].set_ylabel("test examples (count)")
    axes[0].set_title("α = softmax(e) over (image, caption), per test example")
    axes[0].legend(fontsize=8)
    conds = list(result.alpha_by_condition)
    img = np.array([result.alpha_by_condition[c] for c in conds])
    pos = np.arange(len(conds))
    axes[1].bar(pos - 0.2, img, 0.4, label="image token")
    axes[1].bar(pos + 0.2, 1 - img, 0.4, label="caption token")
    axes[1].set_xticks(pos)
    axes[1].set_xticklabels([c.replace(", ", "\n") for c in conds], fontsize=7)
    axes[1].set_ylabel("mean attention weight\n(image α, caption 1 − α)")
    axes[1].set_title("where the query looks, by condition")
    axes[1].legend(fontsize=7)
    for ax in axes:
        ax.grid(alpha=0.3)
    return axes
