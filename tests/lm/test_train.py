"""aigc_lessons.lm.train: the learning-rate schedule, training, evaluation, and resumable checkpoints."""

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from aigc_lessons import calibrate, lm, runtime
from aigc_lessons.checkpoint import CheckpointError


def test_lr_schedule_warms_up_then_anneals_to_min_lr(tiny_train):
    cfg = tiny_train(steps=100, warmup_steps=10, lr=1e-3, min_lr=1e-4)
    assert cfg.lr_at(0.0, 0) == pytest.approx(1e-4)
    assert cfg.lr_at(0.1, 10) == pytest.approx(1e-4 + 0.9e-3 * 0.5 * (1 + math.cos(math.pi * 0.1)))
    assert cfg.lr_at(1.0, 100) == pytest.approx(1e-4)
    assert cfg.lr_at(2.0, 300) == pytest.approx(1e-4)


def test_training_lowers_the_loss_and_evaluate_is_cross_entropy(shakespeare, tiny_cfg, tiny_train):
    # GPT(tiny_cfg()) from torch.manual_seed(0), trained with tiny_train(steps=80, seed=0): the calibrated
    # unit-lm-gpt run
    metrics, objects = calibrate.run_unit("unit-lm-gpt", 0, splits=shakespeare)
    m, before, res = objects["model"], objects["loss_before"], objects["result"]
    assert m.cfg == tiny_cfg() and objects["config"] == tiny_train(steps=80, seed=0)
    assert abs(before - math.log(65)) < 0.1  # small random init: close to uniform
    assert res.finished and res.steps == 80
    assert metrics["val_loss_drop"] == before - res.metrics["val_loss"]
    calibrate.assert_checks("unit-lm-gpt", metrics, "quick")  # held-out loss at least 0.7 nats below the start
    assert res.history["step"][0] == 0 and res.history["step"][-1] == 80
    w = shakespeare.val[:33]
    with torch.no_grad():
        manual = F.cross_entropy(m.eval()(w[None, :-1])[0], w[1:])
    assert lm.evaluate(m, w, max_tokens=32) == pytest.approx(float(manual), abs=1e-5)


def test_interrupted_training_resumes_exactly(shakespeare, tiny_cfg, tiny_train, tmp_path):
    """40 steps straight == 15 steps, stop, then resume from the atomic checkpoint to 40."""
    cfg = tiny_train(steps=40, checkpoint_interval=7)
    torch.manual_seed(0)
    straight = lm.train_lm(lm.GPT(tiny_cfg()), shakespeare, cfg, checkpoint_path=tmp_path / "a.pt", progress=False)
    torch.manual_seed(0)
    part = lm.train_lm(lm.GPT(tiny_cfg()), shakespeare, cfg, checkpoint_path=tmp_path / "b.pt", stop_after=15,
                       progress=False)
    assert not part.finished and part.steps == 15 and "val_loss" not in part.metrics
    torch.manual_seed(123)  # a fresh process would start from a different random init: it must not matter
    resumed = lm.train_lm(lm.GPT(tiny_cfg()), shakespeare, cfg, checkpoint_path=tmp_path / "b.pt", progress=False)
    assert resumed.resumed_from == 15 and resumed.steps == 40
    for (k, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), k
    assert straight.history["batch_loss"] == resumed.history["batch_loss"]
    with pytest.raises(CheckpointError, match="model.n_embd: 32 -> 64"):  # another architecture
        lm.train_lm(lm.GPT(tiny_cfg(n_embd=64)), shakespeare, cfg, checkpoint_path=tmp_path / "b.pt", progress=False)
    with pytest.raises(CheckpointError, match="kind"):
        lm.train_lm(lm.gpt2_twin(tiny_cfg()), shakespeare, cfg, checkpoint_path=tmp_path / "b.pt", progress=False)


def test_resume_refuses_another_training_config_or_architecture(shakespeare, tiny_cfg, tiny_train, tmp_path):
    """A checkpoint resumes only the run it was written for; ``stop_after`` counts total steps."""
    cfg, path = tiny_train(steps=30), tmp_path / "run.pt"
    torch.manual_seed(0)
    first = lm.train_lm(lm.GPT(tiny_cfg()), shakespeare, cfg, checkpoint_path=path, stop_after=10, progress=False)
    assert first.steps == 10 and not first.finished
    with pytest.raises(CheckpointError, match=r"lr: 0\.003 -> 0\.001"):
        lm.train_lm(lm.GPT(tiny_cfg()), shakespeare, tiny_train(steps=30, lr=1e-3), checkpoint_path=path,
                    progress=False)
    with pytest.raises(CheckpointError, match="batch_size: 8 -> 16") as err:
        lm.train_lm(lm.GPT(tiny_cfg()), shakespeare, tiny_train(steps=60, batch_size=16), checkpoint_path=path,
                    progress=False)
    assert "steps: 30 -> 60" in str(err.value)
    with pytest.raises(CheckpointError, match="model.causal: True -> False"):  # same weight shapes, another model
        lm.train_lm(lm.GPT(tiny_cfg(causal=False)), shakespeare, cfg, checkpoint_path=path, progress=False)
    # where checkpoints are written does not change the run: allowed to differ, and stop_after is a total
    more = lm.train_lm(lm.GPT(tiny_cfg()), shakespeare, tiny_train(steps=30, checkpoint_interval=3),
                       checkpoint_path=path, stop_after=15, progress=False)
    assert more.resumed_from == 10 and more.steps == 15 and not more.finished


def test_the_same_loop_trains_the_gpt2_twin(shakespeare, tiny_cfg, tiny_train):
    # lm.gpt2_twin(tiny_cfg()) from torch.manual_seed(0), tiny_train(steps=30, seed=0): unit-lm-twin
    metrics, objects = calibrate.run_unit("unit-lm-twin", 0, splits=shakespeare)
    res = objects["result"]
    assert objects["config"] == tiny_train(steps=30, seed=0) and res.steps == 30
    assert metrics["first_minus_last_val_estimate"] == res.history["val_loss"][0] - res.history["val_loss"][-1]
    calibrate.assert_checks("unit-lm-twin", metrics, "quick")  # the estimate falls by more than 0.5 nats


def test_time_budget_stops_the_run_and_anneals(shakespeare, tiny_cfg, tiny_train):
    cfg = tiny_train(steps=10**6, time_budget_s=1.0, eval_interval=10**6)
    res = lm.train_lm(lm.GPT(tiny_cfg()), shakespeare, cfg, progress=False)
    assert res.finished and res.train_seconds >= 1.0 and res.steps < 10**6
    assert res.history["lr"][-1] == pytest.approx(cfg.min_lr, rel=0.05)


def test_configs_for_both_modes():
    for corpus in ("shakespeare", "tang"):
        q, f = lm.TrainConfig.for_mode("quick", corpus), lm.TrainConfig.for_mode("full", corpus)
        assert f.amp_bf16 and f.compile and not q.amp_bf16 and f.time_budget_s is None and f.keep_best
        assert q.time_budget_s is not None and not q.keep_best  # quick: a time budget as safety net
        assert q.cpu_threads == 1 and f.cpu_threads is None
        assert lm.GPTConfig.for_mode("full", 65, corpus).kernel == "sdpa"
    assert lm.GPTConfig.for_mode("full", 65).n_embd == 384
    assert lm.TrainConfig.for_mode("quick", "twin").steps == 200
    assert lm.TrainConfig.for_mode("quick", "tang", steps=7).steps == 7  # a keyword overrides one field
    with pytest.raises(ValueError, match="corpus"):
        lm.TrainConfig.for_mode("quick", "klingon")
    with pytest.raises(ValueError, match="corpus"):
        lm.GPTConfig.for_mode("quick", 65, "klingon")
    with pytest.raises(TypeError):
        lm.TrainConfig.for_mode("quick", max_steps=10)  # the old name is gone


def test_a_faster_machine_takes_the_same_steps_in_full_mode(shakespeare, tiny_cfg, tiny_train, monkeypatch):
    """Full mode's schedule is in steps: however fast the clock runs, the same weights come out."""
    full = lm.TrainConfig.for_mode("full")
    assert full.time_budget_s is None and full.keep_best
    import aigc_lessons.lm.train as train_module

    outcomes = []
    for tick in (1e-4, 10.0):  # seconds per clock reading: a very fast and a very slow machine
        clock = iter(range(10**7))
        monkeypatch.setattr(train_module.time, "perf_counter", lambda: next(clock) * tick)
        torch.manual_seed(0)
        res = lm.train_lm(lm.GPT(tiny_cfg()), shakespeare, tiny_train(steps=30, time_budget_s=None, keep_best=True),
                          progress=False)
        outcomes.append(res)
    fast, slow = outcomes
    assert slow.train_seconds > 1000 * fast.train_seconds and fast.steps == slow.steps == 30
    assert fast.metrics["val_loss"] == slow.metrics["val_loss"]
    for a, b in zip(fast.model.state_dict().values(), slow.model.state_dict().values()):
        assert torch.equal(a, b)


def test_keep_best_returns_the_best_evaluated_weights(shakespeare, tiny_cfg, tiny_train):
    """A schedule whose learning rate climbs to 0.5 wrecks the model late: keep_best hands back the
    weights of the lowest held-out estimate and reports both losses."""
    # GPT(tiny_cfg()) from torch.manual_seed(0), trained with the config below: unit-lm-keep-best at seed 0
    metrics, objects = calibrate.run_unit("unit-lm-keep-best", 0, splits=shakespeare)
    cfg, res = objects["config"], objects["result"]
    assert cfg == tiny_train(steps=60, lr=3e-3, min_lr=0.5, warmup_steps=5, eval_interval=10, keep_best=True, seed=0)
    h = res.history
    best_i = min(range(len(h["val_loss"])), key=h["val_loss"].__getitem__)
    assert res.metrics["best_step"] == h["step"][best_i]
    assert metrics["steps_after_best"] == 60 - res.metrics["best_step"]
    # the best evaluation is not the last one, and the weights kept are better than the final ones
    calibrate.assert_checks("unit-lm-keep-best", metrics, "quick")
    again = lm.evaluate(res.model, shakespeare.val, max_tokens=cfg.final_eval_tokens)
    assert again == pytest.approx(res.metrics["val_loss"], abs=1e-6)  # the model returned is the best one
    torch.manual_seed(0)
    plain = lm.train_lm(lm.GPT(tiny_cfg()), shakespeare, dataclasses.replace(cfg, keep_best=False), progress=False)
    assert plain.metrics["val_loss"] == pytest.approx(res.metrics["val_loss_final"], abs=1e-6)
    assert "val_loss_final" not in plain.metrics


def test_quick_training_runs_pinned_and_deterministic(shakespeare, tiny_cfg, tiny_train, optimizer_step_state):
    """Quick configs pin one CPU thread and deterministic kernels inside the loop; full ones neither."""
    for corpus in ("shakespeare", "twin", "tang"):
        quick, full = lm.TrainConfig.for_mode("quick", corpus), lm.TrainConfig.for_mode("full", corpus)
        assert quick.cpu_threads == 1 and quick.deterministic
        assert full.cpu_threads is None and not full.deterministic
    with runtime.cpu_threads(2):
        lm.train_lm(lm.GPT(tiny_cfg()), shakespeare, tiny_train(steps=3, deterministic=True), progress=False)
        assert torch.get_num_threads() == 2
    assert optimizer_step_state and set(optimizer_step_state) == {(1, True)}
    assert not torch.are_deterministic_algorithms_enabled()
