"""Chapter 5 model comparison: metrics, the baselines, and the registered benchmark."""

import numpy as np
import pytest

from aigc_lessons import bench, calibrate, careers


def test_baselines_and_metrics():
    y = np.array([0, 0, 0, 1, 2, 2])
    m = careers.majority_baseline([0, 0, 1], y)
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["macro_f1"] == pytest.approx((2 * 3 / (2 * 3 + 3 + 0)) / 3)
    # 40 + 20 synthetic 5-d points (default_rng(0)) labelled by the sign of the first coordinate: the
    # calibrated unit-careers-logreg run at seed 0
    unit, objects = calibrate.run_unit("unit-careers-logreg", 0)
    metrics, pred, c, y_test = objects["metrics"], objects["predictions"], objects["c"], objects["y_test"]
    calibrate.assert_checks("unit-careers-logreg", unit, "quick")  # held-out accuracy > 0.7 (14 of 20 and more)
    assert c in (0.1, 1.0, 10.0, 100.0)
    assert metrics == careers.classification_metrics(y_test, pred)
    assert metrics["accuracy"] == pytest.approx((pred == y_test).mean())


def test_bench_is_registered():
    assert bench.resolve("careers-finetune") is careers.bench_finetune


def test_occupation_bootstrap_resamples_whole_occupations_and_pairs_the_models():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    groups = np.repeat([f"occ{k}" for k in range(30)], 10)
    noisy = np.where(rng.random(300) < 0.5, y, (y + 1) % 3)  # right on about half the tasks
    same = careers.occupation_bootstrap(y, noisy, noisy, groups, n_boot=200)
    assert all(iv == (0.0, 0.0) for iv in same.values())  # paired: one model against itself differs by nothing
    better = careers.occupation_bootstrap(y, y, noisy, groups, n_boot=200)
    observed = 1.0 - (noisy == y).mean()
    low, high = better["accuracy"]
    assert 0 < low < observed < high  # the perfect model is better on every resample, by about the observed gap
    assert better["kappa"][0] > 0 and better["macro_f1"][0] > 0
    # one occupation: every resample is the whole test set, so the interval is the observed difference; a
    # bootstrap over single tasks would still spread out here
    one = careers.occupation_bootstrap(y, y, noisy, np.zeros(300), n_boot=50)
    assert one["accuracy"] == pytest.approx((observed, observed))
    # occupations that are all-right or all-wrong vary more between resamples than tasks mixed at random
    clustered = np.where(np.repeat(rng.random(30) < 0.5, 10), y, (y + 1) % 3)
    width = {name: np.subtract(*careers.occupation_bootstrap(y, y, p, groups, n_boot=300)["accuracy"][::-1])
             for name, p in (("clustered", clustered), ("mixed", noisy))}
    assert width["clustered"] > 2 * width["mixed"]
    with pytest.raises(ValueError, match="one group per test task"):
        careers.occupation_bootstrap(y, y, y, groups[:10])
    with pytest.raises(ValueError, match="level"):
        careers.occupation_bootstrap(y, y, y, groups, level=1.5)


def test_the_bench_takes_another_seed_from_the_command_line(monkeypatch):
    """``--seed`` gives the bench another split of the occupations (the config's seed); it belongs to this
    benchmark only."""
    from aigc_lessons.careers import experiment

    seen = {}

    def fake_run(cfg, device, **kwargs):
        seen["cfg"] = cfg
        raise RuntimeError("stop here")

    monkeypatch.setattr(experiment, "run_finetune_experiment", fake_run)
    with pytest.raises(RuntimeError, match="stop here"):
        bench.main(["careers-finetune", "--mode", "full", "--device", "cpu", "--seed", "3"])
    assert seen["cfg"].seed == 3 and seen["cfg"].trainable_layers == 6
    with pytest.raises(RuntimeError, match="stop here"):
        bench.run("careers-finetune", "quick", "cpu")
    assert seen["cfg"].seed == careers.FinetuneConfig.for_mode("quick").seed == 0
    assert bench.main(["careers-finetune", "lm-tang", "--seed", "1"]) == 2
    assert bench.main(["lm-tang", "--methods", "r1_ema"]) == 2


def test_check_metrics_are_the_leads_the_careers_checks_test():
    import pandas as pd

    metrics = pd.DataFrame({"accuracy": [0.5, 0.70, 0.74], "macro_f1": [0.22, 0.61, 0.68], "kappa": [0.0, 0.48, 0.57]},
                           index=["majority class", "frozen MiniLM + logistic regression", "fine-tuned MiniLM"])
    report = careers.FinetuneReport(config=careers.FinetuneConfig(), metrics=metrics, history={}, n_train=1, n_test=1,
                                    n_test_occupations=1, train_seconds=0.0, encode_seconds=0.0,
                                    confusion_finetuned=pd.DataFrame())
    values = report.check_metrics()
    assert set(values) == set(calibrate.CHECKS["careers-finetune"]["full"])
    assert values == pytest.approx({"finetuned_accuracy_over_majority": 0.24, "finetuned_macro_f1_over_majority": 0.46,
                                    "finetuned_macro_f1_over_logreg": 0.07, "finetuned_kappa_over_logreg": 0.09})
    calibrate.assert_checks("careers-finetune", values, "full")


def test_the_record_says_its_precision_and_where_minilm_came_from(monkeypatch, tmp_path):
    """A CPU run of the full config trains in float32 although the config says bf16; a run on a copy of
    MiniLM (``AIGC_MINILM_DIR``) says so, with the precision the copy stores."""
    from aigc_lessons.careers import experiment

    monkeypatch.delenv("AIGC_MINILM_DIR", raising=False)
    full, quick = careers.FinetuneConfig.for_mode("full"), careers.FinetuneConfig.for_mode("quick")
    assert experiment._finetune_note(full, "cpu") == "Trained in float32: the config's bf16 autocast applies on CUDA only."
    assert experiment._finetune_note(full, "cuda") == experiment._finetune_note(quick, "cpu") == ""
    for name in ("model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        (tmp_path / name).write_text("")
    (tmp_path / "config.json").write_text('{"dtype": "float16"}')
    monkeypatch.setenv("AIGC_MINILM_DIR", str(tmp_path))
    assert experiment._finetune_note(full, "cuda") == ("MiniLM was loaded from a copy (AIGC_MINILM_DIR) whose weights "
                                                       "are stored in float16, upcast to float32 on loading.")
