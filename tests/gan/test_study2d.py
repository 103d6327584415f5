"""The comparison protocol over methods and seeds, and the process pool behind it."""

import json

import pytest
import torch

from aigc_lessons import gan


def _params(module):
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def test_comparison_protocol_picks_a_best_method_and_reuses_its_run():
    study = gan.Study2DConfig(methods=("saturating", "non_saturating"), mixtures=("ring",), seeds=(0, 1),
                              run_overrides={"steps": 20, "batch_size": 32, "width": 16})
    res = gan.compare_methods_2d(study, "quick", "cpu", progress=False)
    assert res.best in study.methods
    sel = res.selection[res.best]
    assert res.best == max(study.methods, key=lambda k: (res.selection[k].modes_covered, res.selection[k].high_quality))
    runs = res.seed_runs[("ring", res.best)]
    assert runs[0] is sel and [r.config.seed for r in runs] == [0, 1]
    assert list(res.table["role"]) == ["selection", "selection", "seeds"]
    summary = res.summary()
    assert summary["ring.modes_covered"] == pytest.approx(sum(r.modes_covered for r in runs) / 2)
    assert summary["per_seed"]["ring.high_quality"] == [r.high_quality for r in runs]
    json.dumps(summary, allow_nan=False)  # the bench writes it: strict JSON, no NaN


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
    assert quick.seed_overrides == {"ring": {"steps": 800}, "grid": {"steps": 800}} and not quick.all_methods_all_seeds
    assert full.seed_overrides == {} and full.all_methods_all_seeds and full.device == "cpu"
    assert 1 <= quick.workers <= 2 and 1 <= full.workers <= 16
    assert gan.Study2DConfig.for_mode("quick", seeds=(3,)).seeds == (3,)
    with pytest.raises(KeyError):
        gan.Study2DConfig(methods=("unrolled",))
