"""`make bench-gpu`: every GPU benchmark of the book in one call of at most a few minutes.

A lent GPU machine comes for about ten minutes, machine start included, without network access and
without the course's shared folder, so everything runs from one prepared command:

1. **CUDA paths** (about a minute): a few steps of every code path that only a GPU reaches (bf16
   autocast, ``torch.compile``, fused AdamW) in the GPT, DCGAN and VAE training functions, for the
   benchmarks that will run, so a broken CUDA path fails in seconds instead of after a long run.
2. **The timed benchmark alone**: ``lm-shakespeare`` with the GPU and the host's cores to itself
   (its ``seconds_to_target`` and tokens/s are speed measurements).
3. **The rest side by side** until the deadline: the 2-D GAN and diffusion studies in CPU processes, and every other
   GPU benchmark as its own process on the shared GPU. Each record says so in its ``note``.

Records go to ``--out`` (default ``$OUT/results`` when ``$OUT`` is set, else ``results/``), one JSON per
benchmark in the layout of ``aigc_lessons.bench``, plus ``bench-gpu.json``: what ran, for how long,
and what failed or did not fit. ``vae-mnist`` trains for 570 s in full mode, so among other benchmarks it runs
only when the budget leaves room for it. Asked for alone (``make bench-gpu BENCHES=vae-mnist BUDGET=540``) it
runs whatever the budget and stops at the deadline with its checkpoint kept (one every 5,000 steps, with the
training time so far): the same command again on the same machine resumes it, so two calls within a lent
machine's ten-minute limit per command finish it.
``careers-finetune`` needs MiniLM: the package, or a half-precision copy named by ``$AIGC_MINILM_DIR``
(``python -m aigc_lessons.pretrained export DIR``); without either it is skipped, with the reason.

    python .ci/bench_gpu.py --budget 480
    python .ci/bench_gpu.py --device cpu --mode quick --benches first-look-bigram --skip-cuda-paths  # a dry run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMED = "lm-shakespeare"
SHARED = ("gan-mnist", "lm-tang", "careers-finetune", "diffusion-mnist")
CPU_ONLY = ("gan-2d", "diffusion-2d")
NEEDS_SECONDS = {"vae-mnist": 640}   # training budget of the full configuration plus evaluation
#: Benchmarks that checkpoint as they train and resume from their checkpoint: asked for alone, they run even
#: when the budget is shorter than NEEDS_SECONDS, and the same command on the same machine continues them.
RESUMABLE = {"vae-mnist": "checkpoints every 5,000 steps with its training time so far"}


def missing_input(name: str) -> str | None:
    """Why benchmark ``name`` cannot run on this machine (a file it needs is absent), or None."""
    if name == "careers-finetune":
        from aigc_lessons import pretrained

        try:
            pretrained.minilm_path()
        except (ImportError, FileNotFoundError) as exc:
            return str(exc)
    return None


def cuda_paths(device: str, names: list[str]) -> dict:
    """A few optimisation steps through every CUDA-only branch of the benchmarks in ``names`` (the GPT's
    when an ``lm-`` benchmark runs, the DCGAN's for ``gan-mnist``, the VAE's for ``vae-mnist``), so a call
    that runs only some benchmarks needs only their data; returns seconds per path."""
    import torch

    from aigc_lessons import gan, lm, vae

    out: dict[str, float] = {}
    if any(n.startswith("lm-") for n in names):
        out["gpt_bf16_compile_fused"] = _gpt_path(device, lm)
    if "gan-mnist" in names:
        t = time.perf_counter()
        gres = gan.train_dcgan(gan.DCGANConfig.for_mode("full"), device, stop_after=3, progress=False)
        assert torch.isfinite(torch.tensor(gres.history["d_loss"][-1])), "DCGAN: CUDA path"
        out["dcgan"] = time.perf_counter() - t
    if "vae-mnist" in names:
        t = time.perf_counter()
        vres = vae.bench_mnist("full", torch.device(device), stop_after=3, eval_images=64, progress=False,
                               checkpoint_path=Path(os.environ.get("TMPDIR", "/tmp")) / "bench-gpu-vae.pt")
        assert vres["metrics"]["test_nll_nats"] == vres["metrics"]["test_nll_nats"], "VAE: bf16 path"
        out["vae_bf16"] = time.perf_counter() - t
    return out


def _gpt_path(device: str, lm) -> float:
    t = time.perf_counter()
    splits = lm.shakespeare_splits()
    mcfg = lm.GPTConfig.for_mode("full", splits.tokenizer.vocab_size)
    tcfg = lm.TrainConfig.for_mode("full", steps=3, eval_interval=3, eval_batches=1, final_eval_tokens=4096,
                                   batch_size=8)
    res = lm.train_lm(lm.GPT(mcfg), splits, tcfg, device=device, progress=False)
    assert res.steps == 3 and res.metrics["val_loss"] == res.metrics["val_loss"], "GPT: bf16/compile/fused path"
    return time.perf_counter() - t


def launch(name: str, mode: str, device: str, out_dir: Path, log_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "AIGC_RESULTS_DIR": str(out_dir), "AIGC_MODE": mode}
    log = open(log_dir / f"{name}.log", "w")
    return subprocess.Popen([sys.executable, "-m", "aigc_lessons.bench", name, "--mode", mode, "--device", device],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def note(out_dir: Path, name: str, text: str) -> None:
    path = out_dir / f"{name}.json"
    if path.exists():
        record = json.loads(path.read_text())
        record["note"] = (record.get("note", "") + " " + text).strip()
        path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budget", type=float, default=480.0, help="seconds for the whole call (default 480)")
    p.add_argument("--mode", default="full")
    p.add_argument("--device", default="cuda")
    p.add_argument("--benches", default=None, help="comma-separated subset (default: every registered bench)")
    p.add_argument("--out", default=None)
    p.add_argument("--skip-cuda-paths", action="store_true")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from aigc_lessons import bench

    start = time.perf_counter()
    deadline = start + args.budget
    out_dir = Path(args.out or (Path(os.environ["OUT"]) / "results" if os.environ.get("OUT") else ROOT / "results"))
    out_dir.mkdir(parents=True, exist_ok=True)
    log_dir = out_dir / "logs"
    log_dir.mkdir(exist_ok=True)
    names = args.benches.split(",") if args.benches else list(bench.BENCHES)
    unknown = [n for n in names if n not in bench.BENCHES]
    if unknown:
        print(f"error: unknown benchmarks {unknown}; valid: {', '.join(bench.BENCHES)}", file=sys.stderr)
        return 2
    summary: dict = {"budget_s": args.budget, "mode": args.mode, "device": args.device, "runs": {}}

    if not args.skip_cuda_paths:
        try:
            summary["cuda_paths_s"] = cuda_paths(args.device, names)
        except Exception as exc:  # noqa: BLE001 - report and go on: the benchmarks may still run
            summary["cuda_paths_error"] = f"{type(exc).__name__}: {exc}"
        print("CUDA paths:", summary.get("cuda_paths_s", summary.get("cuda_paths_error")), flush=True)

    def run_group(group: list[str], shared: bool) -> None:
        procs = {}
        for name in group:
            need = NEEDS_SECONDS.get(name, 0)
            alone = names == [name] and name in RESUMABLE
            if deadline - time.perf_counter() < need and not alone:
                summary["runs"][name] = {"status": f"skipped: needs about {need} s, the budget had less"}
                continue
            if (why := missing_input(name)) is not None:
                summary["runs"][name] = {"status": f"skipped: {why}"}
                print(f"{name}: skipped: {why}", flush=True)
                continue
            device = "cpu" if name in CPU_ONLY else args.device
            procs[name] = (launch(name, args.mode, device, out_dir, log_dir), time.perf_counter())
        for name, (proc, t0) in procs.items():
            try:
                rc = proc.wait(timeout=max(1.0, deadline - time.perf_counter()))
                status = "ok" if rc == 0 else f"failed (exit {rc}; logs/{name}.log)"
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                status = "stopped at the deadline (no record)"
                if name in RESUMABLE:
                    status += (f"; it {RESUMABLE[name]}: run the same command again on this machine to continue "
                               "from its last checkpoint")
            summary["runs"][name] = {"status": status, "seconds": round(time.perf_counter() - t0, 1)}
            if shared and status == "ok":
                note(out_dir, name, "Run by `make bench-gpu` at the same time as the other benchmarks of its group "
                                    "(shared GPU and host CPU).")
            print(f"{name}: {status}", flush=True)

    if TIMED in names:
        run_group([TIMED], shared=False)
    rest = [n for n in names if n != TIMED]
    run_group(rest, shared=len(rest) > 1)
    summary["wall_s"] = round(time.perf_counter() - start, 1)
    (out_dir / "bench-gpu.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0 if all(r["status"] == "ok" or r["status"].startswith("skipped") for r in summary["runs"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
