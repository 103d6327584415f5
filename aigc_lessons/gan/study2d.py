"""The comparison of the 2-D methods over seeds: the protocol, a process pool, the table and plots.

:class:`Study2DConfig` states the protocol (pick the best method on the ring, then train it over
several seeds on each mixture); :func:`compare_methods_2d` runs it, :func:`train_many_2d` spreads
independent runs over processes, :func:`plot_snapshots_2d` draws a run, and :func:`bench_2d` is the
``gan-2d`` benchmark.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Mapping

import numpy as np
import torch

from .. import runtime
from .toy2d import METHODS_2D, Gan2DConfig, Gan2DResult, get_mixture, train_gan_2d

__all__ = ["Study2DConfig", "Study2DResult", "train_many_2d", "compare_methods_2d", "plot_snapshots_2d",
           "bench_2d"]


@dataclass(frozen=True)
class Study2DConfig:
    """The comparison of methods in the 2-D notebook, quick and full values side by side.

    Protocol: every method in ``methods`` is trained once (seed ``seeds[0]``) on
    ``selection_mixture`` with its :meth:`~aigc_lessons.gan.toy2d.Gan2DConfig.for_mode` configuration; the method that
    covers the most modes (ties: the larger share of high-quality samples) is the *best*. The best
    method (every method when ``all_methods_all_seeds``) is then trained on each of ``mixtures`` with
    every seed in ``seeds``, with the overrides in ``seed_overrides[mixture]`` (quick mode: fewer
    steps, so that a CPU can afford five seeds). ``run_overrides`` apply to every run (tests use
    them to shrink the study). The table reports mean and spread over seeds and the number of
    steps of every row. ``workers`` runs that many trainings at once in separate processes on a CPU
    (the runs are independent and seeded, so the numbers do not change with it). ``device``, when
    set, overrides the device passed to :func:`compare_methods_2d`.
    """

    methods: tuple[str, ...] = tuple(METHODS_2D)
    selection_mixture: str = "ring"
    mixtures: tuple[str, ...] = ("ring", "grid")
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    seed_overrides: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    run_overrides: Mapping[str, object] = field(default_factory=dict)
    all_methods_all_seeds: bool = False
    workers: int = 1
    device: str | None = None

    @classmethod
    def for_mode(cls, mode: str | None = None, **overrides) -> "Study2DConfig":
        """Quick: the best method over 5 short seed runs, 2 processes. Full: every method over 5 full
        seed runs, on the CPU in up to 16 processes even when a GPU is present, because MLPs this
        small are bound by kernel-launch latency on a GPU and many CPU processes finish sooner."""
        cores = os.cpu_count() or 1
        return runtime.for_mode(
            cls, mode,
            quick=dict(seed_overrides={"ring": {"steps": 800}, "grid": {"steps": 800}}, all_methods_all_seeds=False,
                       workers=min(2, cores), device=None),
            full=dict(seed_overrides={}, all_methods_all_seeds=True, workers=min(16, cores), device="cpu"),
            **overrides)

    def __post_init__(self):
        for name in self.methods:
            if name not in METHODS_2D:
                raise KeyError(f"Unknown 2-D method {name!r}; valid names are: {', '.join(METHODS_2D)}.")
        for name in (self.selection_mixture, *self.mixtures):
            get_mixture(name)
        if not self.seeds:
            raise ValueError("at least one seed is needed")


@dataclass
class Study2DResult:
    """What :func:`compare_methods_2d` returns.

    ``selection``: one run per method on the selection mixture; ``best``: the chosen method;
    ``seed_runs[(mixture, method)]``: the runs over seeds; ``table``: a pandas DataFrame with one
    row per (mixture, method, steps) and the mean and standard deviation over its seeds.
    """

    study: Study2DConfig
    mode: str
    selection: dict[str, Gan2DResult]
    best: str
    seed_runs: dict[tuple[str, str], list[Gan2DResult]]
    table: object
    train_seconds: float

    def summary(self) -> dict[str, object]:
        """The bench metrics of CONVENTIONS.md: means over seeds of the best method, per-seed lists."""
        metrics: dict[str, object] = {"best_method": self.best}
        per_seed: dict[str, list[float]] = {}
        for mixture in self.study.mixtures:
            runs = self.seed_runs[(mixture, self.best)]
            modes = [r.modes_covered for r in runs]
            hq = [r.high_quality for r in runs]
            metrics[f"{mixture}.modes_covered"] = float(np.mean(modes))
            metrics[f"{mixture}.high_quality"] = float(np.mean(hq))
            per_seed[f"{mixture}.modes_covered"] = modes
            per_seed[f"{mixture}.high_quality"] = hq
        metrics["per_seed"] = per_seed
        # single-seed rows have no spread: None (JSON null) rather than NaN, which is not valid JSON
        metrics["table"] = self.table.astype(object).where(self.table.notna(), None).to_dict(orient="records")
        return metrics


def _table_row(mixture: str, method: str, runs: list[Gan2DResult], role: str) -> dict[str, object]:
    modes = np.array([r.modes_covered for r in runs], dtype=float)
    hq = np.array([r.high_quality for r in runs], dtype=float)
    return {"mixture": mixture, "method": method, "role": role, "steps": runs[0].config.steps, "seeds": len(runs),
            "modes_mean": modes.mean(), "modes_std": modes.std(ddof=1) if len(runs) > 1 else float("nan"),
            "n_modes": get_mixture(mixture).n_modes,
            "hq_mean": hq.mean(), "hq_std": hq.std(ddof=1) if len(runs) > 1 else float("nan"),
            "per_seed_modes": [int(v) for v in modes], "per_seed_hq": [round(float(v), 4) for v in hq],
            "train_seconds": float(sum(r.train_seconds for r in runs))}


def _train_2d_worker(config: Gan2DConfig, device: str) -> Gan2DResult:
    """Entry point of a worker process: one run, no progress bar, CPU tensors back."""
    result = train_gan_2d(config, device, progress=False)
    result.generator.cpu()
    result.discriminator.cpu()
    return result


def train_many_2d(configs: list[Gan2DConfig], device: torch.device | str | None = None, *, workers: int = 1,
                  progress: bool = True) -> list[Gan2DResult]:
    """Train independent 2-D runs, ``workers`` at a time in separate processes (1: in this process).

    Each run is seeded by its own config, so the results do not depend on ``workers``. On a CPU the
    runs use one thread each (:func:`aigc_lessons.runtime.single_thread_if_cpu`), so two workers keep two cores busy.
    Workers are started with multiprocessing's ``spawn`` method, which re-imports the calling
    script: a script (not a notebook) that asks for several workers needs the usual
    ``if __name__ == "__main__":`` guard around its top-level code.
    """
    from tqdm.auto import tqdm

    dev = str(runtime.resolve_device(None if device is None else str(device)))
    if workers <= 1 or len(configs) <= 1 or dev != "cpu":
        return [train_gan_2d(c, dev, progress=progress) for c in configs]
    import concurrent.futures as cf
    import multiprocessing as mp

    results: list[Gan2DResult | None] = [None] * len(configs)
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(_train_2d_worker, c, dev): i for i, c in enumerate(configs)}
        for fut in tqdm(cf.as_completed(futures), total=len(futures), desc=f"2-D runs ({workers} processes)",
                        disable=not progress, leave=False):
            results[futures[fut]] = fut.result()
    return results  # type: ignore[return-value]


def compare_methods_2d(study: Study2DConfig | None = None, mode: str | None = None,
                       device: torch.device | str | None = None, progress: bool = True) -> Study2DResult:
    """Run the protocol of :class:`Study2DConfig` and return every run and the table."""
    import pandas as pd

    m = runtime.resolve_mode(mode)
    study = study or Study2DConfig.for_mode(m)
    device = study.device or device
    sel_configs = [Gan2DConfig.for_mode(m, method=k, mixture=study.selection_mixture, seed=study.seeds[0],
                                        **dict(study.run_overrides)) for k in study.methods]
    selection = dict(zip(study.methods, train_many_2d(sel_configs, device, workers=study.workers, progress=progress)))
    best = max(study.methods, key=lambda k: (selection[k].modes_covered, selection[k].high_quality))
    planned: dict[tuple[str, str], list[Gan2DConfig]] = {}
    for mixture in study.mixtures:
        for method in (study.methods if study.all_methods_all_seeds else (best,)):
            planned[(mixture, method)] = [
                Gan2DConfig.for_mode(m, method=method, mixture=mixture, seed=seed,
                                     **{**study.run_overrides, **study.seed_overrides.get(mixture, {})})
                for seed in study.seeds]
    # a seed run identical to a selection run is not trained twice
    done = {r.config: r for r in selection.values()}
    todo = [c for cfgs in planned.values() for c in cfgs if c not in done]
    done.update(zip(todo, train_many_2d(todo, device, workers=study.workers, progress=progress)))
    seed_runs = {key: [done[c] for c in cfgs] for key, cfgs in planned.items()}
    rows = [_table_row(study.selection_mixture, k, [r], "selection") for k, r in selection.items()]
    rows += [_table_row(mix, k, runs, "seeds") for (mix, k), runs in seed_runs.items()]
    seconds = sum(r.train_seconds for r in done.values())
    return Study2DResult(study=study, mode=m, selection=selection, best=best, seed_runs=seed_runs,
                         table=pd.DataFrame(rows), train_seconds=seconds)


def plot_snapshots_2d(result: Gan2DResult, steps: list[int] | None = None, axes=None):
    """Scatter the generator's samples at several training steps over the mixture's centres."""
    import matplotlib.pyplot as plt

    mixture = get_mixture(result.config.mixture)
    steps = steps or sorted(result.snapshots)
    if axes is None:
        _, axes = plt.subplots(1, len(steps), figsize=(2.6 * len(steps), 2.8), sharex=True, sharey=True)
    axes = np.atleast_1d(axes)
    c = mixture.centers_tensor
    lim = float(c.abs().max()) + 1.0
    for ax, step in zip(axes, steps):
        pts = result.snapshots[step]
        ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.4, label="generated")
        ax.scatter(c[:, 0], c[:, 1], s=25, marker="x", color="red", label="mode centres")
        ax.set_title(f"step {step}")
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_xlabel("$x_1$ (data units)")
    axes[0].set_ylabel("$x_2$ (data units)")
    axes[0].legend(loc="lower left", fontsize=7, markerscale=3)
    return axes


def bench_2d(mode: str, device: torch.device) -> dict[str, object]:
    """``python -m aigc_lessons.bench gan-2d``: the 2-D study of :func:`compare_methods_2d`."""
    result = compare_methods_2d(Study2DConfig.for_mode(mode), mode, device, progress=True)
    configs = {f"{mix}/{method}": asdict(runs[0].config) for (mix, method), runs in result.seed_runs.items()}
    configs.update({f"selection/{k}": asdict(r.config) for k, r in result.selection.items()})
    return {"config": {"study": asdict(result.study), "runs": configs}, "metrics": result.summary(),
            "train_seconds": result.train_seconds}
