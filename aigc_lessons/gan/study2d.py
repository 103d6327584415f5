"""The comparison of the 2-D methods over seeds: the protocol, a process pool, the table and plots.

:class:`Study2DConfig` states the protocol (every method on both mixtures over several seeds;
the best chosen on the first seed); :func:`compare_methods_2d` runs it, :func:`train_many_2d` spreads
independent runs over processes, :func:`plot_snapshots_2d` draws a run, and :func:`bench_2d` is the
``gan-2d`` benchmark.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Mapping

import numpy as np
import torch

from .. import metrics, runtime
from .toy2d import METHODS_2D, Gan2DConfig, Gan2DResult, get_mixture, train_gan_2d

__all__ = ["Study2DConfig", "Study2DResult", "TARGETS_2D", "selection_score", "table_row", "readable_table", "record_runs", "train_many_2d", "compare_methods_2d",
           "plot_snapshots_2d", "bench_2d"]


@dataclass(frozen=True)
class Study2DConfig:
    """The comparison of methods in the 2-D notebook, quick and full values side by side.

    Protocol: every method in ``methods`` is trained on every mixture in ``mixtures`` with every
    seed in ``seeds``, with its :meth:`~aigc_lessons.gan.toy2d.Gan2DConfig.for_mode` configuration
    and the ``run_overrides`` (tests use them to shrink the study). The *best* method is chosen on the first seed alone: the
    largest sum over mixtures of the share of modes covered, ties broken by the mean share of
    high-quality samples. Choosing on both mixtures matters: the 8-mode ring is easy enough that
    several methods cover it, and only the 25-mode grid separates them. The table reports every
    method over every seed; the benchmark's headline numbers are the best method's, over all seeds
    (the choosing seed included, as the table shows). ``workers`` runs that many trainings at once
    in separate processes on a CPU (the runs are independent and seeded, so the numbers do not
    change with it). ``device``, when set, overrides the device passed to :func:`compare_methods_2d`.
    """

    methods: tuple[str, ...] = tuple(METHODS_2D)
    mixtures: tuple[str, ...] = ("ring", "grid")
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    run_overrides: Mapping[str, object] = field(default_factory=dict)
    workers: int = 1
    device: str | None = None

    @classmethod
    def for_mode(cls, mode: str | None = None, **overrides) -> "Study2DConfig":
        """Quick: every method on both mixtures with one seed (ten short runs), in 2 processes. Full:
        every method over 5 seeds of full runs, on the CPU in up to 16 processes even when a GPU is
        present, because MLPs this small are bound by kernel-launch latency on a GPU and many CPU
        processes finish sooner."""
        cores = os.cpu_count() or 1
        return runtime.for_mode(
            cls, mode,
            quick=dict(seeds=(0,), run_overrides={}, workers=min(2, cores), device=None),
            full=dict(seeds=(0, 1, 2, 3, 4), run_overrides={}, workers=min(16, cores), device="cpu"),
            **overrides)

    def __post_init__(self):
        for name in self.methods:
            if name not in METHODS_2D:
                raise KeyError(f"Unknown 2-D method {name!r}; valid names are: {', '.join(METHODS_2D)}.")
        for name in self.mixtures:
            get_mixture(name)
        if not self.seeds or not self.mixtures or not self.methods:
            raise ValueError("a study needs at least one method, mixture and seed")


@dataclass
class Study2DResult:
    """What :func:`compare_methods_2d` returns.

    ``runs[(mixture, method)]``: the runs over seeds, in the order of ``study.seeds``;
    ``best``: the chosen method; ``table``: a pandas DataFrame with one row per (mixture, method)
    and the mean, standard deviation and per-seed values of its runs.
    """

    study: Study2DConfig
    mode: str
    runs: dict[tuple[str, str], list[Gan2DResult]]
    best: str
    table: object
    train_seconds: float

    def summary(self) -> dict[str, object]:
        """The bench metrics of CONVENTIONS.md: means over seeds of the best method, per-seed lists,
        and whether the chapter's full-mode targets hold on every seed; ``MIXTURE.spread`` (the width of the
        generated modes relative to the data's, :class:`~aigc_lessons.metrics.ModeCoverage`) beside them."""
        out: dict[str, object] = {"best_method": self.best}
        per_seed: dict[str, list] = {}
        every_seed = True
        for mixture in self.study.mixtures:
            means, seeds = metrics.mixture_bench_metrics(mixture, self.runs[(mixture, self.best)])
            out.update(means)
            per_seed.update(seeds)
            n_modes, share = TARGETS_2D[mixture]
            every_seed &= all(m >= n_modes and q >= share for m, q in
                              zip(seeds[f"{mixture}.modes_covered"], seeds[f"{mixture}.high_quality"]))
        out["per_seed"] = per_seed
        out["targets_met_every_seed"] = bool(every_seed)
        # single-seed rows have no spread: None (JSON null) rather than NaN, which is not valid JSON
        out["table"] = self.table.astype(object).where(self.table.notna(), None).to_dict(orient="records")
        return out


#: The chapter's full-mode targets, (modes to cover, share of high-quality samples), on every seed.
TARGETS_2D: Mapping[str, tuple[int, float]] = {"ring": (8, 0.98), "grid": (25, 0.97)}


def selection_score(runs: Mapping[str, Gan2DResult]) -> tuple[float, float]:
    """The protocol's score of one method from its runs on each mixture (first seed): the summed
    share of modes covered, then the mean share of high-quality samples (compared as a tuple)."""
    coverage = sum(r.modes_covered / get_mixture(m).n_modes for m, r in runs.items())
    return coverage, float(np.mean([r.high_quality for r in runs.values()]))


def table_row(mixture: str, method: str, steps: int | None, modes: list[int], high_quality: list[float],
              spread: list[float | None] | None = None) -> dict[str, object]:
    """One row of a 2-D comparison table from a method's runs over seeds on ``mixture``: the columns of
    :func:`aigc_lessons.metrics.coverage_over_seeds` (a ``spread`` of None, from a record made before the
    mode width existed, counts as missing) and ``seeds_on_target`` against :data:`TARGETS_2D`. The GAN
    study, the diffusion chapter and the notebooks that read records build their rows with it."""
    n_modes, share = TARGETS_2D.get(mixture, (get_mixture(mixture).n_modes, 1.0))
    widths = None if spread is None else [float("nan") if v is None else float(v) for v in spread]
    cov = metrics.coverage_over_seeds(modes, high_quality, widths)
    return {"mixture": mixture, "method": method, "steps": steps, "seeds": len(modes),
            "modes_mean": cov["modes_mean"], "modes_std": cov["modes_std"], "n_modes": get_mixture(mixture).n_modes,
            "hq_mean": cov["hq_mean"], "hq_std": cov["hq_std"],
            "per_seed_modes": cov["per_seed_modes"], "per_seed_hq": cov["per_seed_hq"],
            "spread_mean": cov.get("spread_mean"), "per_seed_spread": cov.get("per_seed_spread"),
            "seeds_on_target": int(sum(m >= n_modes and q >= share for m, q in zip(modes, high_quality)))}


def readable_table(table):
    """The comparison table as a reader sees it, indexed by mixture and method, narrow enough for a page.

    ``table`` has the columns of :func:`table_row` (and optionally ``chosen``, which marks the method by
    name). Modes read ``mean ± std / n_modes`` and the high-quality share ``mean% ± std`` (the standard
    deviations over seeds; without them for one seed), the values of every seed are joined in one cell
    (left out when every row has one seed, where they repeat the mean), the mode width is the mean over
    seeds, and ``on target`` counts the seeds that reach :data:`TARGETS_2D` out of the seeds run.
    """
    import pandas as pd

    several = int(table["seeds"].max()) > 1
    rows = []
    for _, r in table.iterrows():
        one = int(r.seeds) == 1
        row = {"mixture": r.mixture, "method": r.method + (" (chosen)" if r.get("chosen", False) else ""),
               "steps": "?" if pd.isna(r.steps) else f"{int(r.steps):,}",
               "modes": (f"{r.modes_mean:.0f}" if one else f"{r.modes_mean:.1f} ± {r.modes_std:.1f}")
               + f" / {int(r.n_modes)}",
               "high quality": f"{100 * r.hq_mean:.1f}%" + ("" if one else f" ± {100 * r.hq_std:.1f}")}
        if several:
            row["modes per seed"] = ", ".join(str(int(m)) for m in r.per_seed_modes)
            row["high quality per seed (%)"] = ", ".join(f"{100 * q:.1f}" for q in r.per_seed_hq)
        width = r.get("spread_mean")
        row["mode width"] = "–" if pd.isna(width) else f"{width:.2f}"
        row["on target"] = f"{int(r.seeds_on_target)} of {int(r.seeds)}"
        rows.append(row)
    return pd.DataFrame(rows).set_index(["mixture", "method"])


def _table_row(mixture: str, method: str, runs: list[Gan2DResult], best: str) -> dict[str, object]:
    row = table_row(mixture, method, runs[0].config.steps, [r.modes_covered for r in runs],
                    [r.high_quality for r in runs], [r.coverage.spread for r in runs])
    return {"mixture": mixture, "method": method, "chosen": method == best, **row,
            "train_seconds": float(sum(r.train_seconds for r in runs))}


def record_runs(record: Mapping) -> dict[tuple[str, str], list[dict]]:
    """(mixture, method) -> that method's runs on that mixture, sorted by seed, each a dict with ``seed``,
    ``modes_covered``, ``high_quality``, ``steps`` and ``spread`` (None where the record has none), from a
    ``results/`` record: a per-run record (a ``runs`` list) or a ``gan-2d`` bench record (its table's
    per-seed columns). The performance page and the diffusion notebook read records with it."""
    groups: dict[tuple[str, str], list[dict]] = {}
    if "runs" in record:
        for run in record["runs"]:
            groups.setdefault((run["mixture"], run["method"]), []).append({"spread": None, **run})
        for runs in groups.values():
            runs.sort(key=lambda x: x["seed"])
        return groups
    seeds = list(record.get("config", {}).get("study", {}).get("seeds", []))
    for row in record.get("metrics", {}).get("table", []):
        if row.get("role", "seeds") != "seeds":  # older records also held single-seed selection rows
            continue
        n = len(row["per_seed_modes"])
        ids = seeds if len(seeds) == n else list(range(n))
        spreads = row.get("per_seed_spread") or [None] * n
        groups[(row["mixture"], row["method"])] = [
            {"seed": s, "modes_covered": mo, "high_quality": hq, "steps": row.get("steps"), "spread": sp}
            for s, mo, hq, sp in zip(ids, row["per_seed_modes"], row["per_seed_hq"], spreads)]
    return groups


def train_many_2d(configs: list[Gan2DConfig], device: torch.device | str | None = None, *, workers: int = 1,
                  progress: bool = True) -> list[Gan2DResult]:
    """Train independent 2-D runs, ``workers`` at a time in separate processes (1: in this process;
    :func:`aigc_lessons.runtime.train_runs`; :func:`~aigc_lessons.runtime.process_map` says what a script
    needs for several workers).

    Each run is seeded by its own config, so the results do not depend on ``workers``. On a CPU the
    runs use one thread each (:func:`aigc_lessons.runtime.single_thread_if_cpu`), so two workers keep two cores busy.
    """
    return runtime.train_runs(train_gan_2d, configs, device, workers=workers, progress=progress, desc="2-D runs")


def compare_methods_2d(study: Study2DConfig | None = None, mode: str | None = None,
                       device: torch.device | str | None = None, progress: bool = True) -> Study2DResult:
    """Run the protocol of :class:`Study2DConfig` and return every run, the chosen method and the table."""
    import pandas as pd

    m = runtime.resolve_mode(mode)
    study = study or Study2DConfig.for_mode(m)
    device = study.device or device
    keys = [(mixture, method) for method in study.methods for mixture in study.mixtures]
    configs = [Gan2DConfig.for_mode(m, method=method, mixture=mixture, seed=seed, **dict(study.run_overrides))
               for mixture, method in keys for seed in study.seeds]
    results = iter(train_many_2d(configs, device, workers=study.workers, progress=progress))
    runs = {key: [next(results) for _ in study.seeds] for key in keys}
    best = max(study.methods, key=lambda k: selection_score({mix: runs[(mix, k)][0] for mix in study.mixtures}))
    table = pd.DataFrame([_table_row(mix, k, runs[(mix, k)], best) for mix in study.mixtures for k in study.methods])
    seconds = sum(r.train_seconds for rs in runs.values() for r in rs)
    return Study2DResult(study=study, mode=m, runs=runs, best=best, table=table, train_seconds=seconds)


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


def bench_2d(mode: str, device: torch.device, *, methods: tuple[str, ...] | None = None) -> dict[str, object]:
    """``python -m aigc_lessons.bench gan-2d``: the 2-D study of :func:`compare_methods_2d`; ``methods``
    restricts it to some of the methods (the record's ``config.study.methods`` says which ran)."""
    study = Study2DConfig.for_mode(mode, **({"methods": tuple(methods)} if methods else {}))
    result = compare_methods_2d(study, mode, device, progress=True)
    configs = {f"{mix}/{method}": asdict(runs[0].config) for (mix, method), runs in result.runs.items()}
    return {"config": {"study": asdict(result.study), "runs": configs}, "metrics": result.summary(),
            "train_seconds": result.train_seconds}
