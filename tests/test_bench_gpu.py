"""`make bench-gpu` (.ci/bench_gpu.py) on a CPU: the dry run its docstring gives, and a benchmark whose input
is missing on the machine is skipped with the reason instead of failing the call."""

import json

from .ci_scripts import load_script

bench_gpu = load_script(".ci/bench_gpu.py")


def test_a_dry_run_records_what_ran_and_skips_what_cannot(mirror, monkeypatch, tmp_path):
    monkeypatch.setenv("AIGC_DATA_MIRROR", str(mirror))
    incomplete = tmp_path / "minilm"
    incomplete.mkdir()
    monkeypatch.setenv("AIGC_MINILM_DIR", str(incomplete))  # a copy that was never written
    out = tmp_path / "results"
    rc = bench_gpu.main(["--device", "cpu", "--mode", "quick", "--benches", "first-look-bigram,careers-finetune",
                         "--skip-cuda-paths", "--out", str(out), "--budget", "120"])
    summary = json.loads((out / "bench-gpu.json").read_text())
    assert rc == 0, summary
    assert summary["runs"]["first-look-bigram"]["status"] == "ok"
    assert (out / "first-look-bigram.json").exists()
    status = summary["runs"]["careers-finetune"]["status"]
    assert status.startswith("skipped: AIGC_MINILM_DIR=") and "missing config.json" in status
    assert not (out / "careers-finetune.json").exists()


def test_only_the_benchmark_that_needs_minilm_asks_for_it(monkeypatch, tmp_path):
    monkeypatch.setenv("AIGC_MINILM_DIR", str(tmp_path))
    assert "missing" in bench_gpu.missing_input("careers-finetune")
    assert bench_gpu.missing_input("gan-mnist") is None
    monkeypatch.delenv("AIGC_MINILM_DIR")
    assert bench_gpu.missing_input("careers-finetune") is None  # the pinned package is installed here


def test_a_call_exercises_the_cuda_paths_of_its_own_benchmarks_only():
    """A careers-finetune call carries only the careers data: no GPT, DCGAN or VAE path may ask for MNIST
    or tiny-shakespeare."""
    assert bench_gpu.cuda_paths("cpu", ["careers-finetune", "gan-2d", "diffusion-2d"]) == {}


def test_each_cuda_path_runs_for_the_benchmarks_that_need_it(monkeypatch):
    """The positive side: an lm- benchmark runs the GPT's path, gan-mnist the DCGAN's, vae-mnist the VAE's, each
    once and nothing else (the training functions are replaced by recorders; the paths themselves run on a GPU)."""
    from types import SimpleNamespace

    from aigc_lessons import gan, vae

    ran = []
    monkeypatch.setattr(bench_gpu, "_gpt_path", lambda device, lm: ran.append("gpt") or 0.0)
    monkeypatch.setattr(gan, "train_dcgan", lambda *a, **k: ran.append("dcgan") or SimpleNamespace(history={"d_loss": [0.5]}))
    monkeypatch.setattr(vae, "bench_mnist", lambda *a, **k: ran.append("vae") or {"metrics": {"test_nll_nats": 90.0}})
    assert set(bench_gpu.cuda_paths("cpu", ["lm-tang", "careers-finetune"])) == {"gpt_bf16_compile_fused"}
    assert ran == ["gpt"]
    ran.clear()
    assert set(bench_gpu.cuda_paths("cpu", ["gan-mnist", "vae-mnist", "lm-shakespeare", "lm-tang"])) == {
        "gpt_bf16_compile_fused", "dcgan", "vae_bf16"}
    assert ran == ["gpt", "dcgan", "vae"]


def test_a_resumable_benchmark_asked_for_alone_runs_past_a_short_budget(monkeypatch, tmp_path):
    """vae-mnist needs more than one lent-machine command: alone, it starts whatever the budget, is stopped at
    the deadline, and the status says that the same command resumes it; beside other benchmarks it is skipped."""
    import subprocess
    import sys

    started = []

    def launch(name, mode, device, out_dir, log_dir):
        started.append(name)
        return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])

    monkeypatch.setattr(bench_gpu, "launch", launch)
    out = tmp_path / "alone"
    rc = bench_gpu.main(["--device", "cpu", "--benches", "vae-mnist", "--skip-cuda-paths", "--out", str(out),
                         "--budget", "2"])
    status = json.loads((out / "bench-gpu.json").read_text())["runs"]["vae-mnist"]["status"]
    assert rc == 1 and started == ["vae-mnist"], status
    assert status.startswith("stopped at the deadline") and "run the same command again" in status, status
    out = tmp_path / "beside"
    bench_gpu.main(["--device", "cpu", "--benches", "vae-mnist,gan-2d", "--skip-cuda-paths", "--out", str(out),
                    "--budget", "2"])
    runs = json.loads((out / "bench-gpu.json").read_text())["runs"]
    assert runs["vae-mnist"]["status"].startswith("skipped: needs about 640 s"), runs
    assert started == ["vae-mnist", "gan-2d"]
