"""Sample-quality metrics for generative models: Fréchet distance, mode coverage, classifier scores.

Three families, each a small typed function with its formula in the docstring:

* :func:`frechet_distance` between two Gaussians fitted to feature vectors (the idea behind FID,
  Heusel et al. 2017, here in the feature space of our own small MNIST classifier rather than
  Inception's, so the numbers are *not* FID values and are only comparable with each other);
* :func:`mode_coverage` for the 2-D mixture benchmark: modes covered and the share of high-quality
  samples;
* :func:`classifier_metrics` for MNIST samples: class shares, mean classifier confidence and the
  Fréchet distance in the classifier's penultimate layer.

The MNIST evaluation classifier is trained once and cached under
``aigc_lessons.data.cache_dir()/models/`` (atomic write); :func:`load_or_train_mnist_classifier`
retrains it when the file is missing or belongs to another configuration.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import runtime
from .checkpoint import config_key, load_checkpoint, save_checkpoint
from .data import cache_dir, load_mnist

__all__ = [
    "coverage_over_seeds",
    "mixture_bench_metrics",
    "GaussianStats",
    "gaussian_stats",
    "frechet_distance",
    "frechet_distance_features",
    "ModeCoverage",
    "CoveredModes",
    "mode_coverage",
    "real_spread",
    "MnistClassifier",
    "ClassifierConfig",
    "ClassifierResult",
    "train_mnist_classifier",
    "classifier_path",
    "load_or_train_mnist_classifier",
    "classifier_features",
    "ClassifierMetrics",
    "classifier_metrics",
    "real_frechet_floor",
    "MnistEvaluator",
    "mnist_evaluator",
    "RULER_NOISE",
    "frechet_ruler",
]


# --------------------------------------------------------------------------------- Fréchet distance


@dataclass(frozen=True)
class GaussianStats:
    """Mean ``mu`` (d,) and covariance ``sigma`` (d, d) of a set of feature vectors, in float64."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int


def gaussian_stats(features: torch.Tensor | np.ndarray) -> GaussianStats:
    """Fit a Gaussian to ``features`` of shape (N, d): sample mean and unbiased covariance.

    Needs at least two rows; a 1-D input is an error rather than silently read as one feature.
    """
    x = features.detach().cpu().double().numpy() if isinstance(features, torch.Tensor) else np.asarray(features, np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"gaussian_stats expects features of shape (N >= 2, d), got {x.shape}")
    return GaussianStats(mu=x.mean(axis=0), sigma=np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1]), n=x.shape[0])


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix by eigendecomposition."""
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(a: GaussianStats, b: GaussianStats) -> float:
    r"""Fréchet (2-Wasserstein squared) distance between N(mu_a, S_a) and N(mu_b, S_b).

    .. math::  d^2 = \lVert \mu_a - \mu_b \rVert^2 + \operatorname{tr}\big(S_a + S_b - 2 (S_a S_b)^{1/2}\big)

    :math:`\operatorname{tr}(S_a S_b)^{1/2}` is computed stably as
    :math:`\operatorname{tr}(S_a^{1/2} S_b S_a^{1/2})^{1/2}`, a symmetric PSD matrix with the same
    eigenvalues as :math:`S_a S_b`, so no complex square roots appear. Checked against the closed
    form for diagonal and for rotated covariances in ``tests/test_metrics.py``.
    """
    if a.mu.shape != b.mu.shape:
        raise ValueError(f"feature dimensions differ: {a.mu.shape} vs {b.mu.shape}")
    root_a = _sqrtm_psd(a.sigma)
    cross = _sqrtm_psd(root_a @ b.sigma @ root_a)
    diff = a.mu - b.mu
    value = float(diff @ diff + np.trace(a.sigma) + np.trace(b.sigma) - 2.0 * np.trace(cross))
    return max(value, 0.0)


def frechet_distance_features(x: torch.Tensor | np.ndarray, y: torch.Tensor | np.ndarray) -> float:
    """:func:`frechet_distance` between Gaussians fitted to two feature sets (N, d) and (M, d)."""
    return frechet_distance(gaussian_stats(x), gaussian_stats(y))


# ------------------------------------------------------------------------------------ mode coverage


@dataclass(frozen=True)
class ModeCoverage:
    """Result of :func:`mode_coverage`.

    ``counts[k]`` is the number of samples within ``n_sigma`` standard deviations of mode ``k``;
    ``modes_covered`` counts modes with at least ``min_count`` such samples; ``high_quality`` is the
    share (0-1) of samples within ``n_sigma`` standard deviations of *some* mode. ``spread`` is the
    root-mean-square distance of those samples to their centre divided by its value for samples of the
    mixture itself (:func:`real_spread`): 1 for the data, below 1 for modes narrower than the data's
    (which the share of high-quality samples does not penalise), NaN without high-quality samples.
    """

    modes_covered: int
    n_modes: int
    high_quality: float
    counts: list[int]
    spread: float = float("nan")


class CoveredModes:
    """For a training result with a ``coverage`` field (a :class:`ModeCoverage` of its final samples): the two
    numbers the 2-D chapters quote, ``result.modes_covered`` and ``result.high_quality``."""

    coverage: ModeCoverage

    @property
    def modes_covered(self) -> int:
        return self.coverage.modes_covered

    @property
    def high_quality(self) -> float:
        return self.coverage.high_quality


def real_spread(dim: int, n_sigma: float = 3.0) -> float:
    r"""RMS distance to its centre, in units of :math:`\sigma`, of a sample of :math:`N(c, \sigma^2 I_d)` that lies
    within ``n_sigma`` standard deviations of the centre.

    :math:`T = \lVert x - c\rVert^2/\sigma^2` follows a :math:`\chi^2_d` law, and
    :math:`\E[T \mid T < a] = d\,P(\chi^2_{d+2} < a)/P(\chi^2_d < a)` with :math:`a` = ``n_sigma`` squared
    (the density identity :math:`t f_d(t) = d f_{d+2}(t)`); for d = 2, a = 9: :math:`\sqrt{1.899} = 1.378`.
    """
    a = torch.tensor(n_sigma ** 2 / 2, dtype=torch.float64)
    ratio = torch.special.gammainc(torch.tensor(dim / 2 + 1, dtype=torch.float64), a) / torch.special.gammainc(
        torch.tensor(dim / 2, dtype=torch.float64), a)
    return float(torch.sqrt(dim * ratio))


def mode_coverage(samples: torch.Tensor, centers: torch.Tensor, sigma: float, *, min_count: int = 20,
                  n_sigma: float = 3.0) -> ModeCoverage:
    """Modes covered and share of high-quality samples for a mixture of isotropic Gaussians.

    A sample is *high quality* when its distance to the nearest centre is below ``n_sigma * sigma`` (the
    rule of the VEEGAN and PacGAN papers); a mode is *covered* when at least ``min_count`` high-quality
    samples are assigned to it (nearest centre). Those papers count a mode from one such sample
    (``min_count=1``); the book's default of 20 does not credit a generator with a mode for a few stray points.
    """
    if samples.dim() != 2 or centers.dim() != 2 or samples.shape[1] != centers.shape[1]:
        raise ValueError(f"mode_coverage expects samples (N, d) and centers (K, d), got "
                         f"{tuple(samples.shape)} and {tuple(centers.shape)}")
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    x = samples.detach().float().cpu()
    c = centers.detach().float().cpu()
    dist, idx = torch.cdist(x, c).min(dim=1)
    good = dist < n_sigma * sigma
    counts = torch.bincount(idx[good], minlength=c.shape[0])
    rms = float((dist[good].double() ** 2).mean().sqrt() / sigma) if bool(good.any()) else float("nan")
    return ModeCoverage(modes_covered=int((counts >= min_count).sum()), n_modes=int(c.shape[0]),
                        high_quality=float(good.float().mean()) if len(x) else 0.0,
                        counts=[int(v) for v in counts], spread=rms / real_spread(c.shape[1], n_sigma))


def coverage_over_seeds(modes: list[int], high_quality: list[float],
                        spread: list[float] | None = None) -> dict[str, object]:
    """One table row's coverage columns from runs over seeds: ``modes_mean``/``modes_std`` and
    ``hq_mean``/``hq_std`` (sample standard deviation; NaN for one run) and the per-seed values
    (``per_seed_modes``, ``per_seed_hq`` rounded to 4 digits); with the runs' ``spread``
    (:class:`ModeCoverage`) also ``spread_mean`` and ``per_seed_spread`` (3 digits; None where a run had no
    high-quality sample). The GAN and diffusion
    2-D tables share it."""
    m = np.asarray(modes, dtype=float)
    q = np.asarray(high_quality, dtype=float)
    if len(m) == 0 or len(m) != len(q) or (spread is not None and len(spread) != len(m)):
        raise ValueError(f"need one high-quality share per run (and one spread, when given), got {len(m)} mode "
                         f"counts, {len(q)} shares and {None if spread is None else len(spread)} spreads")
    several = len(m) > 1
    out = {"modes_mean": float(m.mean()), "modes_std": float(m.std(ddof=1)) if several else float("nan"),
           "hq_mean": float(q.mean()), "hq_std": float(q.std(ddof=1)) if several else float("nan"),
           "per_seed_modes": [int(v) for v in m], "per_seed_hq": [round(float(v), 4) for v in q]}
    if spread is not None:  # a run without high-quality samples has no spread: None (JSON null), not NaN
        finite = [float(v) for v in spread if math.isfinite(v)]
        out["spread_mean"] = float(np.mean(finite)) if len(finite) == len(spread) else None
        out["per_seed_spread"] = [round(float(v), 3) if math.isfinite(v) else None for v in spread]
    return out


def mixture_bench_metrics(mixture: str, runs: Sequence) -> tuple[dict[str, object], dict[str, list]]:
    """The bench metrics of CONVENTIONS.md for one 2-D mixture from its runs over seeds (each with
    ``modes_covered``, ``high_quality`` and ``coverage.spread``, as the GAN and diffusion 2-D results have):
    the means ``MIXTURE.modes_covered``, ``MIXTURE.high_quality``, ``MIXTURE.spread`` and the matching
    ``per_seed`` lists, from :func:`coverage_over_seeds`."""
    modes = [r.modes_covered for r in runs]
    hq = [r.high_quality for r in runs]
    cov = coverage_over_seeds(modes, hq, [r.coverage.spread for r in runs])
    means = {f"{mixture}.modes_covered": cov["modes_mean"], f"{mixture}.high_quality": cov["hq_mean"],
             f"{mixture}.spread": cov["spread_mean"]}
    per_seed = {f"{mixture}.modes_covered": modes, f"{mixture}.high_quality": hq,
                f"{mixture}.spread": cov["per_seed_spread"]}
    return means, per_seed


# ---------------------------------------------------------------------------- the MNIST classifier


class MnistClassifier(nn.Module):
    r"""A small convolutional MNIST classifier used only to *evaluate* generators.

    ``(N, 1, 28, 28)`` in [0, 1] → conv 5x5 (c1) → ReLU → max-pool 2 → conv 5x5 (c2) → ReLU →
    max-pool 2 → flatten (c2·4·4) → linear → ReLU = **features** (``feature_dim``) → linear → 10
    logits. The features are the space in which :func:`frechet_distance` compares image sets.
    """

    def __init__(self, c1: int = 16, c2: int = 32, feature_dim: int = 64):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, c1, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(c2 * 16, feature_dim), nn.ReLU(),
        )
        self.head = nn.Linear(feature_dim, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"MnistClassifier expects images (N, 1, 28, 28) in [0, 1], got {tuple(x.shape)}")
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@dataclass(frozen=True)
class ClassifierConfig:
    """Training configuration of the evaluation classifier; quick and full values side by side.

    ``train_subset`` (None: all 60,000) trains on the first images only; tests use it. ``cpu_threads``: on a
    CPU, the threads the training runs on in both modes (the classifier is a measuring instrument: pinned,
    its weights do not depend on how many cores the machine has).
    """

    c1: int = 16
    c2: int = 32
    feature_dim: int = 64
    epochs: int = 2
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 1234
    train_subset: int | None = None
    cpu_threads: int | None = 2

    @classmethod
    def for_mode(cls, mode: str | None = None, **overrides) -> "ClassifierConfig":
        return runtime.for_mode(cls, mode,
                                quick=dict(c1=16, c2=32, feature_dim=64, epochs=2),
                                full=dict(c1=32, c2=64, feature_dim=128, epochs=6), **overrides)

    def key(self) -> str:
        """Short hash naming the cached weights: of this configuration and of the code that trains the
        classifier, so neither another configuration nor changed code ever loads stale weights."""
        return config_key(self, MnistClassifier, train_mnist_classifier, length=10)


@dataclass
class ClassifierResult:
    model: MnistClassifier
    config: ClassifierConfig
    test_accuracy: float
    train_seconds: float
    history: dict[str, list[float]] = field(default_factory=dict)
    from_cache: bool = False


@torch.no_grad()
def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device, batch: int = 1000) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(x), batch):
        correct += int((model(x[i:i + batch].to(device)).argmax(1).cpu() == y[i:i + batch]).sum())
    return correct / len(x)


MnistSplits = tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def _splits(data: MnistSplits | None) -> MnistSplits:
    """``((x_train, y_train), (x_test, y_test))``: ``data`` when given, else :func:`load_mnist`."""
    return data if data is not None else (load_mnist("train"), load_mnist("test"))


def train_mnist_classifier(config: ClassifierConfig, device: torch.device | str = "cpu",
                           progress: bool = True, data: MnistSplits | None = None) -> ClassifierResult:
    """Train :class:`MnistClassifier` on the 60,000 training images (Adam, one-cycle schedule).

    Returns the model in eval mode and its accuracy on the 10,000 test images. ``data`` passes
    already loaded ``((x_train, y_train), (x_test, y_test))`` to skip reading the files again.
    """
    from tqdm.auto import tqdm

    device = torch.device(device)
    gen = runtime.seed_everything(config.seed)
    (x, y), (xt, yt) = _splits(data)
    if config.train_subset is not None:
        x, y = x[:config.train_subset], y[:config.train_subset]
    model = MnistClassifier(config.c1, config.c2, config.feature_dim).to(device)
    steps_per_epoch = len(x) // config.batch_size
    total = steps_per_epoch * config.epochs
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=total, pct_start=0.15)
    history: dict[str, list[float]] = {"loss": []}
    start = time.perf_counter()
    bar = tqdm(total=total, desc="MNIST classifier", disable=not progress, leave=False)
    model.train()
    with runtime.cpu_threads(config.cpu_threads if device.type == "cpu" else None):
        for _ in range(config.epochs):
            order = torch.randperm(len(x), generator=gen)
            for i in range(steps_per_epoch):
                idx = order[i * config.batch_size:(i + 1) * config.batch_size]
                loss = F.cross_entropy(model(x[idx].to(device)), y[idx].to(device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                history["loss"].append(float(loss.detach()))
                bar.update(1)
        bar.close()
        seconds = time.perf_counter() - start
        acc = _accuracy(model, xt, yt, device)
    return ClassifierResult(model=model.eval(), config=config, test_accuracy=acc, train_seconds=seconds,
                            history=history)


def classifier_path(config: ClassifierConfig) -> Path:
    """Where the cached weights of ``config`` live: ``cache_dir()/models/mnist_classifier-<key>.pt``."""
    return cache_dir() / "models" / f"mnist_classifier-{config.key()}.pt"


def load_or_train_mnist_classifier(mode: str | None = None, device: torch.device | str = "cpu", *,
                                   config: ClassifierConfig | None = None, path: Path | None = None,
                                   progress: bool = True, data: MnistSplits | None = None) -> ClassifierResult:
    """Load the cached evaluation classifier, or train it and cache it atomically.

    The checkpoint stores the configuration; a file written for another configuration or one that
    cannot be read is retrained and replaced, never silently used.
    """
    config = config or ClassifierConfig.for_mode(mode)
    path = Path(path) if path is not None else classifier_path(config)
    device = torch.device(device)
    try:
        state = load_checkpoint(path, kind="mnist-classifier")
    except Exception:  # noqa: BLE001 - a corrupt cache file is simply rebuilt
        state = None
    if state is not None and state.get("config") == asdict(config):
        model = MnistClassifier(config.c1, config.c2, config.feature_dim)
        model.load_state_dict(state["model"])
        return ClassifierResult(model=model.to(device).eval(), config=config,
                                test_accuracy=float(state["test_accuracy"]),
                                train_seconds=float(state["train_seconds"]), from_cache=True)
    result = train_mnist_classifier(config, device, progress=progress, data=data)
    save_checkpoint({"kind": "mnist-classifier", "config": asdict(config),
                     "model": {k: v.cpu() for k, v in result.model.state_dict().items()},
                     "test_accuracy": result.test_accuracy, "train_seconds": result.train_seconds}, path)
    return result


@torch.no_grad()
def classifier_features(classifier: MnistClassifier, images: torch.Tensor, batch: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """Penultimate-layer features (N, feature_dim) and class probabilities (N, 10) of ``images`` in [0, 1]."""
    classifier.eval()
    device = next(classifier.parameters()).device
    feats, probs = [], []
    for i in range(0, len(images), batch):
        f = classifier.features(images[i:i + batch].to(device).float())
        feats.append(f.cpu())
        probs.append(classifier.head(f).softmax(dim=1).cpu())
    return torch.cat(feats), torch.cat(probs)


@dataclass(frozen=True)
class ClassifierMetrics:
    """What the classifier says about a set of generated images.

    ``class_shares[k]`` is the share of samples the classifier assigns to digit ``k``;
    ``mean_confidence`` the mean of the largest class probability; ``frechet`` the Fréchet distance
    between the features of the samples and of the reference (real test) images.
    """

    class_shares: list[float]
    class_share_min: float
    class_share_max: float
    classes_present: int
    mean_confidence: float
    frechet: float
    n: int


def classifier_metrics(images: torch.Tensor, classifier: MnistClassifier, reference: GaussianStats, *,
                       min_share: float = 0.01) -> ClassifierMetrics:
    """Score ``images`` (N, 1, 28, 28) in [0, 1]: class shares, confidence, Fréchet distance.

    ``classes_present`` counts digits with at least ``min_share`` of the samples.
    """
    if images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise ValueError(f"classifier_metrics expects images (N, 1, 28, 28), got {tuple(images.shape)}")
    feats, probs = classifier_features(classifier, images)
    conf, label = probs.max(dim=1)
    shares = torch.bincount(label, minlength=10).double() / len(label)
    return ClassifierMetrics(
        class_shares=[float(s) for s in shares], class_share_min=float(shares.min()),
        class_share_max=float(shares.max()), classes_present=int((shares >= min_share).sum()),
        mean_confidence=float(conf.mean()), frechet=frechet_distance(gaussian_stats(feats), reference),
        n=len(images))


def real_frechet_floor(classifier: MnistClassifier, n: int = 10_000, seed: int = 0,
                       data: MnistSplits | None = None) -> tuple[GaussianStats, float]:
    """Reference statistics of the real test images and the real-vs-real floor.

    Returns the Gaussian fitted to the classifier features of ``n`` test images, and the Fréchet
    distance between it and ``n`` training images drawn at random (seeded): the distance two
    independent sets of *real* digits already have, which no generator can be expected to beat.
    """
    (x, _), (xt, _) = _splits(data)
    gen = torch.Generator().manual_seed(seed)
    test_feats, _ = classifier_features(classifier, xt[:n])
    train_feats, _ = classifier_features(classifier, x[torch.randperm(len(x), generator=gen)[:n]])
    ref = gaussian_stats(test_feats)
    return ref, frechet_distance(ref, gaussian_stats(train_feats))


@dataclass
class MnistEvaluator:
    """Everything needed to score generated digits: the classifier, the real test images'
    feature statistics, and the real-vs-real floor of the Fréchet distance."""

    classifier: ClassifierResult
    reference: GaussianStats
    frechet_floor: float

    def __call__(self, images: torch.Tensor) -> ClassifierMetrics:
        return classifier_metrics(images, self.classifier.model, self.reference)


def mnist_evaluator(mode: str | None = None, device: torch.device | str = "cpu", *, progress: bool = True,
                    data: MnistSplits | None = None) -> MnistEvaluator:
    """Load (or train and cache) the classifier of ``mode`` and compute the reference and floor."""
    data = _splits(data)
    clf = load_or_train_mnist_classifier(mode, device, progress=progress, data=data)
    reference, floor = real_frechet_floor(clf.model, data=data)
    return MnistEvaluator(classifier=clf, reference=reference, frechet_floor=floor)


#: The pixel-noise levels of :func:`frechet_ruler` (standard deviations, pixels in [0, 1]).
RULER_NOISE: tuple[float, ...] = (0.05, 0.1, 0.2)


def frechet_ruler(evaluator: MnistEvaluator, images: torch.Tensor, *, seed: int = 0) -> dict[str, float]:
    r"""A ruler for reading a generator's Fréchet distance: real digits under small, known damage, each scored
    as the ratio of its Fréchet distance to the evaluator's real-vs-real floor.

    ``images`` are real digits (N, 1, 28, 28) in [0, 1] other than the evaluator's test reference, e.g. a
    slice of the training set. Rows, in order: the images untouched (another draw of real digits, so
    the ratio shows how much the floor itself moves); shifted right by one pixel (``torch.roll``; the
    last column of an MNIST image is almost always blank, so the roll is in effect a shift); binarised at
    0.5; Gaussian pixel noise of each standard deviation in :data:`RULER_NOISE` (seeded by ``seed``, clipped to [0, 1]);
    blurred by the 3x3 binomial kernel :math:`\tfrac{1}{16}(1, 2, 1)^\top (1, 2, 1)`. A generator
    whose ratio is above a row's is farther from the data, in this feature space, than real digits
    with that damage.
    """
    if images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise ValueError(f"frechet_ruler expects real digits of shape (N, 1, 28, 28), got {tuple(images.shape)}")
    if not (images.min() >= 0 and images.max() <= 1):
        raise ValueError("frechet_ruler expects pixels in [0, 1] (the range of aigc_lessons.data.load_mnist)")
    x = images.float()
    gen = torch.Generator().manual_seed(seed)
    kernel = torch.tensor([1.0, 2.0, 1.0])
    kernel = (torch.outer(kernel, kernel) / 16).view(1, 1, 3, 3)
    damaged = {"untouched": x, "shifted by one pixel": torch.roll(x, 1, dims=3),
               "binarised at 0.5": (x > 0.5).float()}
    for sigma in RULER_NOISE:
        damaged[f"pixel noise, sigma {sigma:g}"] = (x + sigma * torch.randn(x.shape, generator=gen)).clamp(0, 1)
    damaged["blurred (3x3 binomial)"] = F.conv2d(x, kernel, padding=1)
    return {name: evaluator(imgs).frechet / evaluator.frechet_floor for name, imgs in damaged.items()}
