import os

import pytest
import torch

from aigc_lessons import checkpoint


def test_roundtrip_and_kind(tmp_path):
    path = tmp_path / "run" / "ckpt.pt"
    checkpoint.save_checkpoint({"kind": "gan", "step": 3, "w": torch.arange(4)}, path)
    state = checkpoint.load_checkpoint(path, kind="gan")
    assert state["step"] == 3 and torch.equal(state["w"], torch.arange(4))
    with pytest.raises(checkpoint.CheckpointError, match="expected 'vae'"):
        checkpoint.load_checkpoint(path, kind="vae")
    assert checkpoint.load_checkpoint(tmp_path / "missing.pt") is None


def test_failed_write_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "ckpt.pt"
    checkpoint.save_checkpoint({"kind": "x", "step": 1}, path)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom in the middle of the write")

    with pytest.raises(RuntimeError, match="boom"):
        checkpoint.save_checkpoint({"kind": "x", "step": 2, "bad": Unpicklable()}, path)
    assert checkpoint.load_checkpoint(path)["step"] == 1
    assert os.listdir(tmp_path) == ["ckpt.pt"], "no temporary file may be left behind"


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "ckpt.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(checkpoint.CheckpointError, match="not a file written by torch.save.*delete it") as err:
        checkpoint.load_checkpoint(path)
    assert str(path) in str(err.value) and "tensor nor a plain value" not in str(err.value)


@pytest.mark.parametrize("damage, reason", [("truncate", "truncated or damaged: PytorchStreamReader"),
                                            ("empty", "empty or cut short")])
def test_damaged_checkpoint_names_the_damage(tmp_path, damage, reason):
    path = tmp_path / "ckpt.pt"
    checkpoint.save_checkpoint({"kind": "x", "w": torch.ones(1000)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"")
    with pytest.raises(checkpoint.CheckpointError, match=reason):
        checkpoint.load_checkpoint(path)


def test_rng_state_roundtrip():
    g = torch.Generator().manual_seed(5)
    state = checkpoint.rng_state(g)
    a = (torch.rand(3), torch.rand(3, generator=g))
    checkpoint.set_rng_state(state, g)
    b = (torch.rand(3), torch.rand(3, generator=g))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


# ------------------------------------------------------------------ safety and the one resume helper

from dataclasses import dataclass  # noqa: E402


@dataclass(frozen=True)
class _Cfg:
    lr: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.9)
    steps: int = 10


def _run(cfg: _Cfg):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 ** s)
    return model, opt, sched


def _train(model, opt, sched, gen, n):
    for _ in range(n):
        x = torch.randn(4, 3, generator=gen)
        opt.zero_grad()
        model(x).pow(2).sum().backward()
        opt.step()
        sched.step()


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    path = tmp_path / "shared_workshop_ckpt.pt"
    torch.save({"kind": "gan", "payload": Payload()}, path)
    with pytest.raises(checkpoint.CheckpointError, match=r"cannot be loaded safely \(it holds \S*mkdir, which is "
                       "neither a tensor nor a plain value") as err:
        checkpoint.load_checkpoint(path, kind="gan")
    assert str(path) in str(err.value)
    assert not marker.exists(), "loading a checkpoint must never run code stored in it"


def test_resume_continues_exactly(tmp_path):
    cfg = _Cfg()
    path = tmp_path / "run.pt"
    model, opt, sched = _run(cfg)
    gen = torch.Generator().manual_seed(1)
    _train(model, opt, sched, gen, 6)
    full = [p.detach().clone() for p in model.parameters()]

    model, opt, sched = _run(cfg)
    gen = torch.Generator().manual_seed(1)
    _train(model, opt, sched, gen, 3)
    checkpoint.save_training(path, kind="toy", config=cfg, step=3, modules={"model": model},
                             optimizers={"opt": opt, "sched": sched}, generator=gen, history=[1.0, 2.0],
                             seconds=1.5)
    model, opt, sched = _run(cfg)
    gen = torch.Generator().manual_seed(99)
    state = checkpoint.resume_training(path, kind="toy", config=cfg, modules={"model": model},
                                       optimizers={"opt": opt, "sched": sched}, generator=gen)
    assert state["step"] == 3 and state["history"] == [1.0, 2.0] and state["extra"]["seconds"] == 1.5
    _train(model, opt, sched, gen, 3)
    for a, b in zip(full, model.parameters()):
        assert torch.equal(a, b), "a resumed run must take exactly the steps of the uninterrupted one"


def test_resume_with_another_config_names_the_fields(tmp_path):
    path = tmp_path / "run.pt"
    model, opt, sched = _run(_Cfg())
    checkpoint.save_training(path, kind="toy", config=_Cfg(), step=1, modules={"model": model},
                             optimizers={"opt": opt})
    with pytest.raises(checkpoint.CheckpointError, match=r"lr: 0\.001 -> 0\.002") as err:
        checkpoint.resume_training(path, kind="toy", config=_Cfg(lr=2e-3, steps=20), modules={"model": model},
                                   optimizers={"opt": opt})
    assert "steps: 10 -> 20" in str(err.value) and "betas" not in str(err.value)
    assert checkpoint.resume_training(tmp_path / "none.pt", kind="toy", config=_Cfg(), modules={}) is None
    assert checkpoint.resume_training(None, kind="toy", config=_Cfg(), modules={}) is None


def test_gpu_checkpoint_resumes_on_a_cpu_only_machine(tmp_path, monkeypatch):
    """A checkpoint written where CUDA was present carries CUDA RNG states; a CPU run must still resume."""
    cfg = _Cfg()
    path = tmp_path / "gpu.pt"
    model, opt, _ = _run(cfg)
    gen = torch.Generator().manual_seed(3)
    checkpoint.save_training(path, kind="toy", config=cfg, step=2, modules={"model": model},
                             optimizers={"opt": opt}, generator=gen)
    state = torch.load(path, weights_only=True)
    state["rng"]["cuda"] = [torch.zeros(16, dtype=torch.uint8), torch.ones(16, dtype=torch.uint8)]
    torch.save(state, path)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    called = []
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", lambda s: called.append(s))
    model2, opt2, _ = _run(cfg)
    out = checkpoint.resume_training(path, kind="toy", config=cfg, modules={"model": model2},
                                     optimizers={"opt": opt2}, generator=torch.Generator())
    assert out["step"] == 2 and not called, "CUDA states are skipped where there is no CUDA"


def test_generator_from_another_device_warns_and_continues(tmp_path):
    state = checkpoint.rng_state(torch.Generator().manual_seed(0))
    state["generator_device"] = "cuda"
    g = torch.Generator().manual_seed(7)
    before = g.get_state()
    with pytest.warns(UserWarning, match="restarts from the seed"):
        checkpoint.set_rng_state(state, g)
    assert torch.equal(g.get_state(), before)


def test_weights_that_do_not_fit_are_a_checkpoint_error(tmp_path):
    path = tmp_path / "run.pt"
    checkpoint.save_training(path, kind="toy", config=_Cfg(), step=1, modules={"model": torch.nn.Linear(3, 2)})
    with pytest.raises(checkpoint.CheckpointError, match="do not fit"):
        checkpoint.resume_training(path, kind="toy", config=_Cfg(), modules={"model": torch.nn.Linear(4, 2)})
    with pytest.raises(checkpoint.CheckpointError, match="no state for opt"):
        checkpoint.resume_training(path, kind="toy", config=_Cfg(), modules={"model": torch.nn.Linear(3, 2)},
                                   optimizers={"opt": torch.optim.SGD(torch.nn.Linear(3, 2).parameters(), 0.1)})


def test_numpy_and_python_random_states_roundtrip_through_a_safe_file(tmp_path):
    import random

    import numpy as np

    path = tmp_path / "rng.pt"
    checkpoint.save_checkpoint({"rng": checkpoint.rng_state()}, path)
    a = (random.random(), float(np.random.rand()))
    checkpoint.set_rng_state(checkpoint.load_checkpoint(path)["rng"])
    assert (random.random(), float(np.random.rand())) == a


def test_a_checkpoint_of_an_older_format_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "old.pt"
    checkpoint.save_checkpoint({"kind": "toy", "model": {}, "step": 3}, path)
    with pytest.raises(checkpoint.CheckpointError, match="not written by save_training"):
        checkpoint.resume_training(path, kind="toy", config=_Cfg(), modules={})


def test_config_key_names_a_file_by_config_and_code():
    """An updated book must start a new checkpoint rather than meet an old one with another configuration."""
    from aigc_lessons import checkpoint, gan

    quick, full = gan.DCGANConfig.for_mode("quick"), gan.DCGANConfig.for_mode("full")
    assert gan.default_checkpoint_path(quick) == gan.default_checkpoint_path(gan.DCGANConfig.for_mode("quick"))
    assert gan.default_checkpoint_path(quick) != gan.default_checkpoint_path(full)
    assert gan.default_checkpoint_path(quick).parent.name == "checkpoints"
    key = checkpoint.config_key(quick, gan.dcgan)
    assert checkpoint.config_key(quick, gan.dcgan, gan.train_dcgan) != key       # other code, other file
    assert checkpoint.config_key(quick) != key and len(key) == 12
    assert checkpoint.config_key(quick, gan.dcgan, length=8) == key[:8]


def test_cache_path_is_the_one_naming_rule_of_the_chapters(monkeypatch, tmp_path):
    """Every chapter names its default checkpoint with checkpoint.cache_path: <cache>/checkpoints/<name>-<key>.pt."""
    import sys

    from aigc_lessons import checkpoint, diffusion, gan, vae

    monkeypatch.setenv("AIGC_DATA_DIR", str(tmp_path))
    quick = gan.DCGANConfig.for_mode("quick")
    path = checkpoint.cache_path("x", quick, gan.dcgan)
    assert path == tmp_path / "checkpoints" / f"x-{checkpoint.config_key(quick, gan.dcgan)}.pt"
    assert checkpoint.cache_path("x", quick, gan.dcgan, folder="models").parent.name == "models"
    assert gan.default_checkpoint_path(quick) == checkpoint.cache_path(
        "dcgan-mnist", quick, gan.dcgan, sys.modules[gan.get_loss.__module__])
    d = diffusion.DiffusionMnistConfig.for_mode("quick")
    assert diffusion.default_checkpoint_path(d).parent == tmp_path / "checkpoints"
    v = vae.VAEConfig.for_mode("quick")
    assert vae.default_checkpoint_path(v, "vae-mnist") == tmp_path / "checkpoints" / f"vae-mnist-{v.key()}.pt"
