"""The chapter's benchmarks, ``diffusion-2d`` and ``diffusion-mnist``, with the GAN chapter's metrics.

:func:`seed_runs_2d` trains the MLP denoiser on each mixture for several seeds and :func:`table_2d`
puts the runs in the GAN chapter's table layout; :func:`bench_2d` (the GAN chapter's five seeds, ring
of 8 and grid of 25) and :func:`bench_mnist` (classifier metrics of generated digits, plus the number of
sampling steps) produce the metrics of CONVENTIONS.md.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch

from .. import metrics, runtime
from .models import UNet
from .train import Diffusion2DConfig, Diffusion2DResult, DiffusionMnistConfig, DiffusionMnistResult, generate_digits, \
    train_diffusion_2d, train_diffusion_mnist

__all__ = ["Study2DConfig", "SEEDS_2D", "seed_runs_2d", "table_2d", "summary_2d", "bench_2d", "score_digits",
           "VsUntrained", "score_vs_untrained", "bench_mnist", "family_table"]

#: the GAN chapter's seeds (:class:`aigc_lessons.gan.Study2DConfig`)
SEEDS_2D = (0, 1, 2, 3, 4)

#: full-mode ``diffusion-mnist``: DDIM step counts of the quality-versus-steps curve (unconditional) and
#: guidance scales of the fidelity-versus-diversity sweep (class-conditional, 50 DDIM steps)
SWEEP_STEPS = (5, 10, 20, 50)
SWEEP_GUIDANCE = (0.0, 1.0, 2.0, 4.0)




@dataclass(frozen=True)
class Study2DConfig:
    """What notebook 12 runs: the seeds and mixtures of the table, the GAN method trained beside the
    diffusion model in quick mode (full mode reads the GAN records in ``results/``), its number of
    steps, and the sampling steps of the DDPM-versus-DDIM curve. The GAN is the GAN chapter's
    stabilised method (``r1_ema``) with that chapter's own configuration for the mode, so the
    comparison is with the best GAN of the book, not a straw man."""

    seeds: tuple[int, ...] = SEEDS_2D
    mixtures: tuple[str, ...] = ("ring", "grid")
    gan_method: str = "r1_ema"
    gan_steps: int = 4000
    curve_steps: tuple[int, ...] = (5, 10, 20, 50, 100, 250)

    @classmethod
    def for_mode(cls, mode: str | None = None, **overrides) -> "Study2DConfig":
        """Quick: two seeds (CPU minutes for the whole notebook). Full: the GAN chapter's five seeds."""
        return runtime.for_mode(cls, mode, quick=dict(seeds=(0, 1), gan_steps=4000),
                                full=dict(seeds=SEEDS_2D, gan_steps=40_000), **overrides)


def seed_runs_2d(mode: str, seeds: tuple[int, ...] = SEEDS_2D, mixtures: tuple[str, ...] = ("ring", "grid"),
                 device: torch.device | str | None = None, progress: bool = True, workers: int = 1,
                 **overrides) -> dict[str, list[Diffusion2DResult]]:
    """``mixture -> runs``, one :func:`train_diffusion_2d` per seed with ``Diffusion2DConfig.for_mode(mode)``.

    On a CPU, ``workers`` > 1 trains that many runs at a time in separate processes
    (:func:`aigc_lessons.runtime.train_runs`); the results do not depend on it."""
    configs = [Diffusion2DConfig.for_mode(mode, mixture=mix, seed=s, **overrides) for mix in mixtures for s in seeds]
    it = iter(runtime.train_runs(train_diffusion_2d, configs, device, workers=workers, progress=progress,
                                 desc="2-D diffusion"))
    return {mix: [next(it) for _ in seeds] for mix in mixtures}


def table_2d(runs: dict[str, list[Diffusion2DResult]], method: str = "diffusion (DDIM)"):
    """One row per mixture in the GAN chapter's table layout (:func:`aigc_lessons.gan.table_row`): means and
    standard deviations over seeds, per-seed values, mode widths and seeds on target."""
    import pandas as pd

    from ..gan.study2d import table_row

    rows = [{**table_row(mix, method, rs[0].config.steps, [r.modes_covered for r in rs],
                         [r.high_quality for r in rs], [r.coverage.spread for r in rs]),
             "train_seconds": float(sum(r.train_seconds for r in rs))} for mix, rs in runs.items()]
    return pd.DataFrame(rows)


def summary_2d(runs: dict[str, list[Diffusion2DResult]]) -> dict[str, object]:
    """The ``gan-2d`` metric names: ``MIXTURE.modes_covered``, ``MIXTURE.high_quality`` and ``MIXTURE.spread``
    (means), ``per_seed``."""
    out: dict[str, object] = {}
    per_seed: dict[str, list] = {}
    for mix, rs in runs.items():
        means, seeds = metrics.mixture_bench_metrics(mix, rs)
        out.update(means)
        per_seed.update(seeds)
    out["per_seed"] = per_seed
    return out


def bench_2d(mode: str, device: torch.device) -> dict[str, object]:
    """``python -m aigc_lessons.bench diffusion-2d``: five seeds on the ring of 8 and the grid of 25.

    The MLPs are small, so they train on the CPU even when a GPU is present (as the GAN chapter's study does),
    one single-thread process per run and core.
    """
    runs = seed_runs_2d(mode, device="cpu", workers=min(2 * len(SEEDS_2D), os.cpu_count() or 1))
    return {"config": {mix: asdict(rs[0].config) for mix, rs in runs.items()}, "metrics": summary_2d(runs),
            "train_seconds": float(sum(r.train_seconds for rs in runs.values() for r in rs))}


class VsUntrained(NamedTuple):
    """What :func:`score_vs_untrained` returns: the two scores and the trained model's samples."""

    trained: object
    untrained: object
    samples: torch.Tensor


def score_vs_untrained(evaluator, result: DiffusionMnistResult, n: int, steps: int, *, batch: int = 250
                       ) -> VsUntrained:
    """The trained U-Net's ``n`` unconditional DDIM samples (``steps`` steps, seed 123) and those of an untrained
    U-Net initialised from the run's seed, both scored by ``evaluator``: the reference every check of the trained
    model compares with (notebook 13, the bench, the calibration)."""
    config = result.config
    samples = generate_digits(result.model, result.schedule, n, steps=steps, seed=123, batch=batch)
    trained = evaluator(samples)
    torch.manual_seed(config.seed)
    fresh = UNet(config.channels, config.emb_dim).to(next(result.model.parameters()).device)
    untrained = evaluator(generate_digits(fresh, result.schedule, n, steps=steps, seed=123, batch=batch))
    return VsUntrained(trained, untrained, samples)


def score_digits(evaluator, images: torch.Tensor) -> dict[str, float]:
    """The ``gan-mnist`` metric names of ``images`` scored by an :class:`aigc_lessons.metrics.MnistEvaluator`."""
    return _metric_names(evaluator(images))


def _metric_names(m) -> dict[str, float]:
    return {"class_share_min": m.class_share_min, "class_share_max": m.class_share_max,
            "classes_present": m.classes_present, "mean_confidence": m.mean_confidence, "frechet": m.frechet}


def family_table(evaluator, families: dict[str, dict]):
    """The cross-family table: one row per model, its samples scored by one :class:`~aigc_lessons.metrics.MnistEvaluator`.

    ``families`` maps a name to ``{"images": (n, 1, 28, 28) in [0, 1], "train_seconds": float,
    "evaluations": network evaluations per sample}``; every model must bring the same number of
    images, so the Fréchet distances (biased upwards at small n) compare like with like. The
    evaluator's real-vs-real floor (10,000 real test digits against 10,000 training digits) is the
    distance two sets of real digits already have, the scale against which the rows are read.
    """
    import pandas as pd

    sizes = {name: len(f["images"]) for name, f in families.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"every family needs the same number of samples, got {sizes}")
    rows = []
    for name, f in families.items():
        m = evaluator(f["images"])
        rows.append({"model": name, "samples": sizes[name], "Fréchet distance": m.frechet,
                     "Fréchet / real floor": m.frechet / evaluator.frechet_floor,
                     "mean confidence": m.mean_confidence, "smallest class share": m.class_share_min,
                     "largest class share": m.class_share_max, "training (s)": f["train_seconds"],
                     "network evaluations per sample": f["evaluations"]})
    return pd.DataFrame(rows).set_index("model")


def bench_mnist(mode: str, device: torch.device) -> dict[str, object]:
    """``python -m aigc_lessons.bench diffusion-mnist``: the U-Net's unconditional samples, scored.

    Metrics (CONVENTIONS.md): those of ``gan-mnist`` for ``n_eval`` unconditional samples (10,000 in
    full mode) drawn with DDIM on ``sampling_steps`` steps; plus, for context, the same scores of
    class-conditional samples (uniform labels) at the config's guidance scale and the untrained
    U-Net's Fréchet distance, and the training steps done. Full mode adds the quality-versus-steps curve
    (``steps_sweep``, unconditional) and the guidance sweep (``guidance_sweep``, class-conditional), 5,000
    samples per point.
    """
    from ..data import load_mnist
    from ..metrics import mnist_evaluator

    data = (load_mnist("train"), load_mnist("test"))
    evaluator = mnist_evaluator(mode, device, data=data)
    config = DiffusionMnistConfig.for_mode(mode)
    result = train_diffusion_mnist(config, device, images=data[0][0], labels=data[0][1])
    n, steps = config.n_eval, config.sample_steps
    batch = 1000 if device.type == "cuda" else 250

    def score(model, n_samples: int = n, **kw) -> dict[str, float]:
        return score_digits(evaluator, generate_digits(model, result.schedule, n_samples, seed=123, batch=batch, **kw))

    labels = torch.arange(n) % 10
    scores = score_vs_untrained(evaluator, result, n, steps, batch=batch)
    trained, untrained = _metric_names(scores.trained), _metric_names(scores.untrained)
    guided = score(result.model, labels=labels, guidance=config.guidance, steps=steps)
    out = {**trained, "frechet_real_floor": evaluator.frechet_floor, "sampling_steps": steps, "n_samples": n,
           "frechet_untrained": untrained["frechet"], "guided": {"guidance": config.guidance, **guided},
           "classifier_test_accuracy": evaluator.classifier.test_accuracy, "steps": len(result.history["loss"])}
    if mode == "full":  # the chapter's two curves at published scale (5,000 samples per point)
        m = min(n, 5000)
        out["steps_sweep"] = [{"sampling_steps": s, **score(result.model, m, steps=s)} for s in SWEEP_STEPS]
        out["guidance_sweep"] = [{"guidance": w, **score(result.model, m, labels=labels[:m], guidance=w, steps=50)}
                                 for w in SWEEP_GUIDANCE]
    return {"config": {"diffusion": asdict(config), "classifier": asdict(evaluator.classifier.config)},
            "metrics": out, "train_seconds": result.train_seconds}
