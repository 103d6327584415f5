import json

import pytest
import torch

from aigc_lessons import bench


def test_unknown_bench_lists_names():
    with pytest.raises(KeyError, match="gan-2d"):
        bench.resolve("nope")


def test_every_registered_bench_resolves():
    for name in bench.BENCHES:
        assert callable(bench.resolve(name)), name


def test_bench_writes_the_conventions_layout(mirror, monkeypatch, tmp_path):
    monkeypatch.setenv("AIGC_DATA_MIRROR", str(mirror))
    monkeypatch.setenv("AIGC_RESULTS_DIR", str(tmp_path))
    assert bench.main(["first-look-bigram", "--mode", "quick", "--device", "cpu"]) == 0
    record = json.loads((tmp_path / "first-look-bigram.json").read_text())
    assert set(record) == {"bench", "mode", "device", "torch", "commit", "date", "train_seconds",
                           "wall_seconds", "config", "metrics"}
    assert record["mode"] == "quick" and record["metrics"]["val_ppl_counts"] < 13
    assert bench.main(["nope"]) == 2


def test_quick_results_never_land_in_the_committed_folder(monkeypatch):
    monkeypatch.delenv("AIGC_RESULTS_DIR", raising=False)
    assert bench.results_dir("quick") != bench.REPO_ROOT / "results"
    assert bench.results_dir("full") == bench.REPO_ROOT / "results"


def test_under_torchrun_only_the_data_parallel_benches_run(monkeypatch, capsys):
    import contextlib

    from aigc_lessons import bench, runtime

    @contextlib.contextmanager
    def two_processes(device=None):
        yield 1, 2, torch.device("cpu")

    monkeypatch.setattr(runtime, "distributed", two_processes)
    assert bench.main(["gan-2d"]) == 2
    assert "gan-2d runs on one process; under torchrun only lm-shakespeare, lm-tang" in capsys.readouterr().err


def test_make_bench_runs_every_registered_benchmark():
    import re
    from pathlib import Path

    from aigc_lessons import bench

    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^bench:.*\n((?:\t.*\n)+)", makefile, re.M).group(1).replace("\\\n", " ")
    names = recipe.split("aigc_lessons.bench", 1)[1].split()
    assert sorted(names) == sorted(bench.BENCHES), names


def test_the_record_names_the_commit_that_started_the_run(monkeypatch):
    """A long run must not take the commit of a checkout that moved on while it trained."""
    head = iter(["aaaa111", "bbbb222"])
    monkeypatch.setattr(bench, "_commit", lambda: next(head))
    monkeypatch.setitem(bench.BENCHES, "toy", "tests.test_bench:_toy_bench")
    record = bench.run("toy", "quick", "cpu")
    assert record["commit"] == "aaaa111" and record["metrics"] == {"x": 1.0} and "note" not in record


def test_a_benchmark_can_say_how_its_run_differed(monkeypatch):
    """A benchmark's ``note`` becomes the record's top-level ``note`` (CONVENTIONS); an empty one is left out."""
    monkeypatch.setitem(bench.BENCHES, "toy", "tests.test_bench:_toy_noted")
    assert bench.run("toy", "quick", "cpu")["note"] == "ran on a copy"


def _toy_bench(mode, device):
    bench._commit()  # the checkout moves on while the benchmark runs
    return {"config": {}, "metrics": {"x": 1.0}, "train_seconds": 0.0}


def _toy_noted(mode, device):
    return {"config": {}, "metrics": {}, "train_seconds": 0.0, "note": "ran on a copy"}
