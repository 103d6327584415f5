"""Which of the DCGAN's levers lower the Fréchet distance? A CPU study at the quick architecture.

    python .ci/dcgan_levers.py run ns_ema 0 --out DIR          # one run: one process, one thread
    python .ci/dcgan_levers.py record DIR                      # -> results/gan-mnist-levers-cpu.json
    python .ci/dcgan_levers.py run ns_ema_r1 0 --steps 12000 --out DIR   # the 12,000-step record's runs
    python .ci/dcgan_levers.py record DIR --out results/gan-mnist-levers-cpu-12k.json --commit HASH

Every run trains :func:`aigc_lessons.gan.train_dcgan` with the quick architecture
(``DCGANConfig.for_mode("quick")``: 32 channels, batch 64) and the full mode's learning rate (2e-4), for
the same number of steps, changing one lever at a time (the ``VARIANTS`` below); it is scored like the
``gan-mnist`` bench, by the *full-mode* evaluation classifier on 10,000 samples (noise seed 123), with a
2,000-sample Fréchet distance at four points of training. The full-size DCGAN needs a GPU; this study
asks, on two CPU cores, which levers are worth its GPU minutes. ``record`` gathers the per-run files
into one record for the performance page (bench ``gan-mnist-levers``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: variant -> the fields of DCGANConfig it changes (besides the common ones in ``base_overrides``)
VARIANTS: dict[str, dict] = {
    "ns": dict(),
    "ns_ema": dict(ema=0.999),
    "hinge_ema": dict(loss="hinge", ema=0.999),
    "ns_ema_ttur": dict(ema=0.999, lr=1e-4, lr_d=4e-4),
    "ns_r1": dict(r1_weight=1.0),
    "ns_ema_r01": dict(ema=0.999, r1_weight=0.1),
    "ns_ema_r1": dict(ema=0.999, r1_weight=1.0),
    "ns_ema_r10": dict(ema=0.999, r1_weight=10.0),
    "hinge_ema_r1": dict(loss="hinge", ema=0.999, r1_weight=1.0),
    "hinge_ema_r1_ttur": dict(loss="hinge", ema=0.999, r1_weight=1.0, lr=1e-4, lr_d=4e-4),
}

DEFAULT_OUT = ROOT / "results" / "gan-mnist-levers-cpu.json"


def base_overrides(steps: int, seed: int) -> dict:
    """What every run shares: the full mode's learning rate, one thread, no snapshots, four evaluations, and
    every lever off (the quick config's R1 too) unless the variant turns it on."""
    return dict(lr=2e-4, steps=steps, seed=seed, cpu_threads=1, snapshot_every=10**9, checkpoint_every=10**9,
                eval_every=steps // 4, r1_weight=0.0, ema=0.0, loss="non_saturating", lr_d=None)


def run(variant: str, seed: int, steps: int, out: Path) -> dict:
    import torch

    from aigc_lessons.data import load_mnist
    from aigc_lessons.gan.dcgan import DCGANConfig, train_and_score
    from aigc_lessons.metrics import mnist_evaluator

    if variant not in VARIANTS:
        raise SystemExit(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    torch.set_num_threads(1)
    data = (load_mnist("train"), load_mnist("test"))
    ev = mnist_evaluator("full", "cpu", data=data, progress=False)
    cfg = DCGANConfig.for_mode("quick", **{**base_overrides(steps, seed), **VARIANTS[variant]})
    tic = time.time()
    result, s = train_and_score(cfg, "cpu", ev, data[0][0], progress=False)
    row = dict(name=variant, seed=seed, steps=steps, fd=s.frechet, floor=ev.frechet_floor,
               ratio=s.frechet / ev.frechet_floor, conf=s.mean_confidence, smin=s.class_share_min,
               smax=s.class_share_max, fd2k=result.history.get("frechet_2k"), eval_step=result.history.get("eval_step"),
               secs=time.time() - tic)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{variant}_s{seed}_{steps}.json").write_text(json.dumps(row), encoding="utf-8")
    print(json.dumps(row))
    return row


def record(folder: Path, out: Path, commit: str, note: str | None) -> dict:
    """One record from the per-run files of ``folder`` (every file must come from the same number of steps)."""
    import torch

    from aigc_lessons.gan.dcgan import DCGANConfig
    from aigc_lessons.metrics import ClassifierConfig

    rows = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*_s*_*.json"))]
    if not rows:
        raise SystemExit(f"no run files in {folder}")
    steps = {r["steps"] for r in rows}
    if len(steps) != 1:
        raise SystemExit(f"runs of different lengths in {folder}: {sorted(steps)}")
    (n_steps,) = steps
    runs = [{"variant": r["name"], "seed": r["seed"], "steps": r["steps"], "frechet": r["fd"],
             "frechet_real_floor": r["floor"], "frechet_vs_floor": r["ratio"], "mean_confidence": r["conf"],
             "class_share_min": r["smin"], "class_share_max": r["smax"],
             "frechet_2k_over_training": {"step": r["eval_step"], "frechet": r["fd2k"]}, "wall_seconds": r["secs"]}
            for r in sorted(rows, key=lambda r: (list(VARIANTS).index(r["name"]), r["seed"]))]
    base = {k: v for k, v in DCGANConfig.for_mode("quick", **base_overrides(n_steps, 0)).__dict__.items()
            if k != "seed"}
    rec = {"bench": "gan-mnist-levers", "mode": "quick architecture, full-mode learning rate and classifier",
           "device": f"cpu ({platform.machine()}, one thread per run)", "torch": torch.__version__, "commit": commit,
           "date": _dt.date.today().isoformat(),
           "config": {"base": base, "variants": {v: VARIANTS[v] for v in dict.fromkeys(r["variant"] for r in runs)},
                      "classifier": ClassifierConfig.for_mode("full").__dict__, "samples": 10_000},
           "metrics": {"runs": runs}}
    if note:
        rec["note"] = note
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rec, indent=1) + "\n", encoding="utf-8")
    print(f"{len(runs)} runs -> {out}")
    return rec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run", help="train and score one variant with one seed")
    p.add_argument("variant", choices=list(VARIANTS))
    p.add_argument("seed", type=int)
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--out", type=Path, required=True, help="folder for the per-run file")
    q = sub.add_parser("record", help="gather the per-run files into one results/ record")
    q.add_argument("folder", type=Path)
    q.add_argument("--out", type=Path, default=DEFAULT_OUT)
    q.add_argument("--commit", required=True, help="the commit whose code made the runs")
    q.add_argument("--note", default=None)
    args = parser.parse_args(argv)
    if args.cmd == "run":
        run(args.variant, args.seed, args.steps, args.out)
    else:
        record(args.folder, args.out, args.commit, args.note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
