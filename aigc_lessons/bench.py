"""Run the chapters' training functions outside Jupyter and write results JSON.

    python -m aigc_lessons.bench gan-2d gan-mnist vae-mnist lm-shakespeare lm-tang
    python -m aigc_lessons.bench --list
    AIGC_MODE=full python -m aigc_lessons.bench gan-2d --methods r1_ema --device cpu   # one method, CPU processes
    AIGC_MODE=full python -m aigc_lessons.bench lm-shakespeare      # on a GPU
    AIGC_MODE=full torchrun --nproc_per_node 4 -m aigc_lessons.bench lm-shakespeare   # data parallel

Each benchmark is a function ``bench(mode: str, device: torch.device) -> dict`` returning
``{"config": {...}, "metrics": {...}, "train_seconds": float}``; this module adds mode, device,
the torch version, commit, date and wall time (the layout is fixed by the course's CONVENTIONS.md) and
writes ``NAME.json`` to ``$AIGC_RESULTS_DIR`` when it is set (in either mode), otherwise to ``results/``
in full mode and to a temporary folder in quick mode, so quick runs never overwrite full-mode GPU
records kept under ``results/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from . import runtime

# name -> "module:function"; a chapter registers its benchmarks here.
BENCHES: dict[str, str] = {
    "first-look-bigram": "aigc_lessons.bigram:bench",
    "gan-2d": "aigc_lessons.gan:bench_2d",
    "gan-mnist": "aigc_lessons.gan:bench_mnist",
    "vae-mnist": "aigc_lessons.vae:bench_mnist",
    "diffusion-2d": "aigc_lessons.diffusion:bench_2d",
    "diffusion-mnist": "aigc_lessons.diffusion:bench_mnist",
    "lm-shakespeare": "aigc_lessons.lm:bench_shakespeare",
    "lm-tang": "aigc_lessons.lm:bench_tang",
    "careers-finetune": "aigc_lessons.careers:bench_finetune",
}

# The benchmarks whose training function runs data-parallel under torchrun (the others run on one process).
DISTRIBUTED = ("lm-shakespeare", "lm-tang")

REPO_ROOT = Path(__file__).resolve().parent.parent


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def _commit() -> str:
    """The repository's short commit; ``$AIGC_COMMIT`` where the code runs from a copy without git metadata."""
    if os.environ.get("AIGC_COMMIT", "").strip():
        return os.environ["AIGC_COMMIT"].strip()
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def results_dir(mode: str) -> Path:
    """``$AIGC_RESULTS_DIR`` when set (in either mode); otherwise ``results/`` of the repository in full
    mode and a temporary folder in quick mode."""
    override = os.environ.get("AIGC_RESULTS_DIR", "").strip()
    if override:
        return Path(override)
    if mode == "full":
        return REPO_ROOT / "results"
    return Path(tempfile.gettempdir()) / "aigc_lessons_results"


def resolve(name: str):
    if name not in BENCHES:
        raise KeyError(f"Unknown benchmark {name!r}; valid names are: {', '.join(BENCHES)}.")
    module, func = BENCHES[name].split(":")
    return getattr(importlib.import_module(module), func)


def run(name: str, mode: str | None = None, device: str | None = None, **options) -> dict[str, Any]:
    """Run one benchmark and return its record (not yet written); ``options`` go to the benchmark function
    (``gan-2d`` takes ``methods``, a subset of the methods its study trains)."""
    m = runtime.resolve_mode(mode)
    d = runtime.resolve_device(device)
    func = resolve(name)
    commit = _commit()  # the code that runs: read before a long run, during which the checkout may move on
    start = time.perf_counter()
    out = func(mode=m, device=d, **options)
    wall = time.perf_counter() - start
    dev_name = torch.cuda.get_device_name(d) if d.type == "cuda" else str(d)
    note = {"note": out["note"]} if out.get("note") else {}  # how the run differed from the plain command
    return {
        "bench": name,
        "mode": m,
        "device": dev_name,
        "torch": torch.__version__,
        "commit": commit,
        "date": _dt.date.today().isoformat(),
        "train_seconds": round(float(out.get("train_seconds", wall)), 2),
        "wall_seconds": round(wall, 2),
        "config": _jsonable(out.get("config", {})),
        "metrics": _jsonable(out.get("metrics", {})),
        **note,
    }


def write(record: dict[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record['bench']}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aigc_lessons.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--mode", default=None, help="quick | full | auto (default: $AIGC_MODE or auto)")
    parser.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N | mps")
    parser.add_argument("--methods", default=None,
                        help="gan-2d only: a comma-separated subset of the study's methods (e.g. r1_ema)")
    parser.add_argument("--seed", type=int, default=None,
                        help="careers-finetune only: the seed of the occupation split and of training (default: the "
                             "config's, 0)")
    args = parser.parse_args(argv)
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip()) if args.methods else None
    options: dict[str, Any] = {}
    for option, value, bench_name in (("methods", methods, "gan-2d"), ("seed", args.seed, "careers-finetune")):
        if value is None:
            continue
        if set(args.names) - {bench_name}:
            print(f"error: --{option} applies to {bench_name} only", file=sys.stderr)
            return 2
        options[option] = value
    if args.list or not args.names:
        for name, target in BENCHES.items():
            print(f"{name:20} {target}")
        return 0
    status = 0
    with runtime.distributed(args.device) as (rank, world, device):
        for name in args.names:
            if world > 1 and name not in DISTRIBUTED:
                print(f"error: {name} runs on one process; under torchrun only {', '.join(DISTRIBUTED)}",
                      file=sys.stderr)
                status = 2
                continue
            try:
                record = run(name, args.mode, str(device), **options)
            except KeyError as exc:
                print(f"error: {exc.args[0]}", file=sys.stderr)
                status = 2
                continue
            if rank == 0:
                path = write(record, results_dir(record["mode"]))
                print(json.dumps(record["metrics"], ensure_ascii=False))
                print(f"{name}: {record['wall_seconds']} s -> {path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
