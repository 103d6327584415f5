"""The comparison protocol over methods and seeds, and the process pool behind it."""

import dataclasses
import json
import math

import pytest
import torch

from aigc_lessons import gan, metrics


def _params(module):
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def test_comparison_protocol_trains_everything_and_picks_on_the_first_seed():
    study = gan.Study2DConfig(methods=("saturating", "non_saturating"), mixtures=("ring", "grid"), seeds=(0, 1),
                              run_overrides={"steps": 20, "batch_size": 32, "width": 16})
    res = gan.compare_methods_2d(study, "quick", "cpu", progress=False)
    assert set(res.runs) == {(mix, k) for mix in study.mixtures for k in study.methods}
    for (mix, k), runs in res.runs.items():
        assert [r.config.seed for r in runs] == [0, 1] and {r.config.mixture for r in runs} == {mix}
        assert {r.config.method for r in runs} == {k}

    def score(k):  # written out: summed share of modes covered on seed 0, then mean high-quality share
        ring, grid = res.runs[("ring", k)][0], res.runs[("grid", k)][0]
        return ring.modes_covered / 8 + grid.modes_covered / 25, (ring.high_quality + grid.high_quality) / 2

    assert res.best == max(study.methods, key=score)
    assert list(res.table["chosen"]) == [k == res.best for _ in study.mixtures for k in study.methods]
    summary = res.summary()
    runs = res.runs[("ring", res.best)]
    assert summary["ring.modes_covered"] == pytest.approx(sum(r.modes_covered for r in runs) / 2)
    assert summary["per_seed"]["ring.high_quality"] == [r.high_quality for r in runs]
    assert summary["targets_met_every_seed"] is False  # 20 steps reach no target
    json.dumps(summary, allow_nan=False)  # the bench writes it: strict JSON, no NaN
    best = res.runs[("ring", res.best)]
    assert summary["per_seed"]["ring.spread"] == [None if math.isnan(r.coverage.spread) else
                                                  round(r.coverage.spread, 3) for r in best]

    # the flag itself, on stand-in runs: true only when every seed of the chosen method meets both targets
    # (ring: 8 modes and 98% high quality; grid: 25 modes and 97%)
    class Run:
        def __init__(self, modes, hq):
            self.modes_covered, self.high_quality = modes, hq
            self.coverage = metrics.ModeCoverage(modes, 25, hq, [], spread=0.9)

    def flag(ring, grid):
        runs = {**res.runs, ("ring", res.best): ring, ("grid", res.best): grid}
        return dataclasses.replace(res, runs=runs).summary()["targets_met_every_seed"]

    on_target = ([Run(8, 0.98), Run(8, 0.99)], [Run(25, 0.97), Run(25, 0.975)])
    assert flag(*on_target) is True
    assert flag([Run(8, 0.98), Run(7, 0.99)], on_target[1]) is False  # one seed misses a ring mode
    assert flag([Run(8, 0.98), Run(8, 0.979)], on_target[1]) is False  # one seed below 98% on the ring
    assert flag(on_target[0], [Run(24, 0.99), Run(25, 0.98)]) is False  # one seed misses a grid mode
    assert flag(on_target[0], [Run(25, 0.99), Run(25, 0.969)]) is False  # one seed below 97% on the grid


def test_selection_prefers_the_grid_coverage_that_separates_methods():
    class Run:  # a stand-in with the two numbers the protocol reads
        def __init__(self, modes, hq):
            self.modes_covered, self.high_quality = modes, hq

    ring_expert = {"ring": Run(8, 0.99), "grid": Run(12, 0.95)}
    all_rounder = {"ring": Run(8, 0.97), "grid": Run(25, 0.93)}
    assert gan.selection_score(all_rounder) > gan.selection_score(ring_expert)
    assert gan.selection_score({"ring": Run(8, 0.9)}) < gan.selection_score({"ring": Run(8, 0.91)})  # tie: quality


def test_parallel_workers_give_the_same_runs_as_one_process():
    cfgs = [gan.Gan2DConfig.for_mode("quick", method=m, steps=15, batch_size=32, width=16)
            for m in ("non_saturating", "pacgan")]
    one = gan.train_many_2d(cfgs, "cpu", workers=1, progress=False)
    two = gan.train_many_2d(cfgs, "cpu", workers=2, progress=False)
    for a, b in zip(one, two):
        assert a.config == b.config
        assert torch.equal(_params(a.generator), _params(b.generator))
        assert a.history["d_loss"] == b.history["d_loss"]


def test_study_for_mode():
    quick, full = gan.Study2DConfig.for_mode("quick"), gan.Study2DConfig.for_mode("full")
    assert quick.seeds == (0,) and full.seeds == (0, 1, 2, 3, 4) and full.device == "cpu"
    assert quick.methods == full.methods == tuple(gan.METHODS_2D) and "r1_ema" in quick.methods
    assert 1 <= quick.workers <= 2 and 1 <= full.workers <= 16
    assert gan.Study2DConfig.for_mode("quick", seeds=(3,)).seeds == (3,)
    with pytest.raises(KeyError):
        gan.Study2DConfig(methods=("unrolled",))
    with pytest.raises(ValueError):
        gan.Study2DConfig(seeds=())


def test_the_bench_can_run_a_subset_of_the_methods(monkeypatch):
    from aigc_lessons import bench
    from aigc_lessons.gan import study2d

    seen = {}

    def fake_compare(study, mode, device, progress=True):
        seen["study"] = study
        raise RuntimeError("stop here")

    monkeypatch.setattr(study2d, "compare_methods_2d", fake_compare)
    with pytest.raises(RuntimeError, match="stop here"):
        bench.run("gan-2d", "full", "cpu", methods=("r1_ema",))
    assert seen["study"].methods == ("r1_ema",) and seen["study"].seeds == (0, 1, 2, 3, 4)
    with pytest.raises(RuntimeError, match="stop here"):
        bench.run("gan-2d", "quick", "cpu")
    assert seen["study"].methods == tuple(gan.METHODS_2D)
    with pytest.raises(KeyError, match="Unknown 2-D method"):
        bench.run("gan-2d", "quick", "cpu", methods=("r2",))
    with pytest.raises(RuntimeError, match="stop here"):  # the command line's --methods
        bench.main(["gan-2d", "--mode", "full", "--device", "cpu", "--methods", "r1_ema, pacgan"])
    assert seen["study"].methods == ("r1_ema", "pacgan")
    assert bench.main(["gan-2d", "lm-tang", "--methods", "r1_ema"]) == 2  # the option belongs to gan-2d
