"""Checkpoints that survive interruption: written atomically, loaded safely, resumed exactly.

A checkpoint is a dict of tensors and plain Python values (numbers, strings, lists, tuples, dicts,
``None``) saved with :func:`torch.save`. Three promises:

* **Atomic.** :func:`save_checkpoint` goes through :func:`aigc_lessons.files.atomic_write`, so a crash
  in the middle leaves the previous checkpoint intact.
* **Safe.** :func:`load_checkpoint` uses ``torch.load(..., weights_only=True)``: a file that holds any
  other Python object (a pickle that would run code when loaded) is refused with
  :class:`CheckpointError` naming the file. This matters for checkpoints passed around a workshop.
* **Exact and honest resume.** :func:`save_training` stores the modules, optimisers, schedulers,
  history, step and every random-number state; :func:`resume_training` restores them, but first
  checks that the checkpoint was written for the same configuration and raises
  :class:`CheckpointError` naming the fields that differ. Tensors are loaded onto the CPU and copied
  into the modules wherever they live, so a checkpoint written on a GPU resumes on a CPU.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import random
import re
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from .files import atomic_write, code_hash

__all__ = ["CheckpointError", "config_key", "save_checkpoint", "load_checkpoint", "rng_state", "set_rng_state",
           "plain_config", "cache_path", "check_config", "save_training", "resume_training"]


class CheckpointError(RuntimeError):
    """The checkpoint file exists but cannot be used (corrupt, unsafe, another model or config)."""


# ------------------------------------------------------------------------------------ save and load


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """Atomically write ``state`` (tensors and plain Python values) to ``path``."""
    return atomic_write(path, lambda fh: torch.save(state, fh))


def load_checkpoint(path: str | os.PathLike, *, kind: str | None = None,
                    map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
    """Load a checkpoint safely, or return ``None`` if ``path`` does not exist.

    Only tensors and plain Python values are accepted (``weights_only=True``). When ``kind`` is given
    the checkpoint's ``"kind"`` entry must match, so a GAN checkpoint is never loaded into a VAE.
    """
    target = Path(path)
    if not target.exists():
        return None
    try:
        state = torch.load(target, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - corrupt, truncated or unsafe: the same advice
        raise CheckpointError(f"Checkpoint {target} cannot be loaded safely ({_load_failure(exc)}); "
                              "delete it to start afresh.") from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"Checkpoint {target} does not hold a dict; delete it to start afresh.")
    if kind is not None and state.get("kind") != kind:
        raise CheckpointError(f"Checkpoint {target} is of kind {state.get('kind')!r}, expected {kind!r}; "
                              "use another checkpoint path or delete it.")
    return state


def _load_failure(exc: BaseException) -> str:
    """Why ``torch.load(..., weights_only=True)`` refused a file, in one clause for the error message.

    torch words three cases differently: a pickled object outside the allowed types ("Unsupported
    global: GLOBAL module.name", or "unsupported GLOBAL module.name" for a blocked module such as
    ``posix``), bytes that are not a pickle at all ("Unsupported operand"), and a zip archive cut short
    ("PytorchStreamReader failed ..."). An empty file ends in ``EOFError``.
    """
    text = str(exc)
    unsafe = re.search(r"[Uu]nsupported (?:global: )?GLOBAL (\S+)", text)
    if unsafe:
        return f"it holds {unsafe.group(1)}, which is neither a tensor nor a plain value"
    if isinstance(exc, EOFError) or not text.strip():
        return "it is empty or cut short"
    if "PytorchStreamReader" in text:
        return f"it is truncated or damaged: {text.split('. ')[0].strip()}"
    if "Unsupported operand" in text or isinstance(exc, pickle.UnpicklingError):
        return "it is not a file written by torch.save, or it is damaged"
    return f"{type(exc).__name__}: {text.strip().splitlines()[0]}"


# ------------------------------------------------------------------------------- random-number state


def rng_state(generator: torch.Generator | None = None) -> dict[str, Any]:
    """Python, NumPy, torch CPU and CUDA random states (and an explicit generator's), as plain values.

    NumPy's state is stored as a tensor, not as a NumPy array, so that the checkpoint loads with
    ``weights_only=True``.
    """
    np_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
                  "pos": int(np_state["state"]["pos"]), "has_gauss": int(np_state["has_gauss"]),
                  "gauss": float(np_state["gauss"])},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }
    if generator is not None:
        state["generator"] = generator.get_state()
        state["generator_device"] = generator.device.type
    return state


def set_rng_state(state: dict[str, Any], generator: torch.Generator | None = None) -> None:
    """Restore what :func:`rng_state` captured.

    CUDA states are restored only where CUDA is available (a GPU checkpoint resumes on a CPU). An
    explicit generator saved on another kind of device cannot take the saved state; it keeps its seed
    and a warning says that the resumed run is no longer bit-identical.
    """
    random.setstate(_as_tuple(state["python"]))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"].cpu())
    if state.get("cuda") is not None and torch.cuda.is_available():
        cuda = [s.cpu() for s in state["cuda"]][: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(cuda)
    if generator is not None and state.get("generator") is not None:
        saved_device = state.get("generator_device", "cpu")
        if saved_device != generator.device.type:
            warnings.warn(f"the checkpoint's generator ran on {saved_device}, this run's on "
                          f"{generator.device.type}: its random stream restarts from the seed", stacklevel=2)
        else:
            generator.set_state(state["generator"].cpu())


def _as_tuple(value):
    return tuple(_as_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value


# ------------------------------------------------------------------------------------- configuration


def plain_config(config: Any) -> Any:
    """A configuration as plain values: dataclasses become dicts, tuples lists, paths strings."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: plain_config(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, Mapping):
        return {str(k): plain_config(v) for k, v in config.items()}
    if isinstance(config, (list, tuple)):
        return [plain_config(v) for v in config]
    if isinstance(config, os.PathLike):
        return os.fspath(config)
    if config is None or isinstance(config, (bool, int, float, str)):
        return config
    return repr(config)


def config_key(config: Any, *code: Any, length: int = 12) -> str:
    """A short hash of a configuration and of the code that uses it (:func:`~aigc_lessons.files.code_hash` of
    each module, function or class in ``code``; a string is taken as such a hash), for naming checkpoint and
    cache files.

    A file named by it is reached again only with the same configuration *and* the same code, so an updated
    book never resumes, or refuses to resume, a file written by an older version: it starts a new one.
    """
    code_id = "|".join(c if isinstance(c, str) else code_hash(c) for c in code)  # a str: a code hash already made
    blob = json.dumps({"code": code_id, "config": plain_config(config)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def cache_path(name: str, config: Any, *code: Any, folder: str = "checkpoints") -> Path:
    """``<cache>/<folder>/<name>-<key>.pt``, the key :func:`config_key` of ``config`` and ``code``: where a
    chapter keeps the checkpoint (or the cached weights) of one configuration trained by one version of its code."""
    from .data import cache_dir

    return cache_dir() / folder / f"{name}-{config_key(config, *code)}.pt"


def check_config(saved: Any, config: Any, path: str | os.PathLike) -> None:
    """Raise :class:`CheckpointError` naming each field where ``saved`` and ``config`` differ."""
    old, new = plain_config(saved), plain_config(config)
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        diffs = [f"{k}: {old.get(k, '<absent>')!r} -> {new.get(k, '<absent>')!r}"
                 for k in sorted(set(old) | set(new)) if old.get(k, "<absent>") != new.get(k, "<absent>")]
    else:
        diffs = [f"{old!r} -> {new!r}"]
    raise CheckpointError(f"Checkpoint {path} was written with another configuration ({'; '.join(diffs)}); "
                          "resume with the same configuration, or delete the file or pass another path.")


# ----------------------------------------------------------------------------------- training state


def save_training(path: str | os.PathLike, *, kind: str, config: Any, step: int,
                  modules: Mapping[str, torch.nn.Module], optimizers: Mapping[str, Any] | None = None,
                  generator: torch.Generator | None = None, history: Any = None, **extra: Any) -> Path:
    """Write everything a training loop needs to continue exactly, atomically.

    ``modules`` and ``optimizers`` map names to objects with ``state_dict()`` (optimisers,
    learning-rate schedulers, gradient scalers all qualify); ``extra`` holds any further tensors or
    plain values (elapsed seconds, snapshots, a data permutation). Module weights are stored on the CPU.
    """
    state = {"kind": kind, "config": plain_config(config), "step": int(step), "history": history,
             "modules": {k: {n: t.detach().cpu() for n, t in m.state_dict().items()} for k, m in modules.items()},
             "optimizers": {k: o.state_dict() for k, o in (optimizers or {}).items()},
             "rng": rng_state(generator), "extra": extra}
    return save_checkpoint(state, path)


def resume_training(path: str | os.PathLike | None, *, kind: str, config: Any,
                    modules: Mapping[str, torch.nn.Module], optimizers: Mapping[str, Any] | None = None,
                    generator: torch.Generator | None = None) -> dict[str, Any] | None:
    """Restore a run saved by :func:`save_training`; ``None`` when there is no checkpoint to resume.

    Checks the kind and the configuration first (:class:`CheckpointError` names the differing
    fields), then loads modules, optimisers and random states in place and returns the checkpoint's
    dict, whose ``"step"``, ``"history"`` and ``"extra"`` the caller picks up.
    """
    if path is None:
        return None
    state = load_checkpoint(path, kind=kind)
    if state is None:
        return None
    if not all(k in state for k in ("config", "modules", "optimizers", "rng", "step")):
        raise CheckpointError(f"Checkpoint {path} was not written by save_training (an older format?); "
                              "delete it to start afresh.")
    check_config(state["config"], config, path)
    saved_modules, saved_opts = state["modules"], state["optimizers"]
    missing = sorted((set(modules) - set(saved_modules)) | (set(optimizers or {}) - set(saved_opts)))
    if missing:
        raise CheckpointError(f"Checkpoint {path} has no state for {', '.join(missing)}; delete it to start afresh.")
    for name, module in modules.items():
        try:
            module.load_state_dict(saved_modules[name])
        except RuntimeError as exc:
            raise CheckpointError(f"Checkpoint {path}: the weights of {name!r} do not fit this model "
                                  f"({str(exc).splitlines()[0]}); delete it to start afresh.") from exc
    for name, opt in (optimizers or {}).items():
        opt.load_state_dict(saved_opts[name])
    set_rng_state(state["rng"], generator)
    return state
