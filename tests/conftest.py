"""Shared test fixtures. Tests use the real data mirror (``AIGC_DATA_MIRROR``), never mocks of the data.

Every test session writes into its own temporary ``AIGC_DATA_DIR`` (caches, trained evaluation
models, indexes), so a test never touches a reader's real cache and every run exercises the
cache-miss path first. Expensive shared objects are session-scoped fixtures here.
"""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def temporary_data_dir(tmp_path_factory) -> Path:
    """A fresh ``AIGC_DATA_DIR`` for the whole session (restored afterwards)."""
    path = tmp_path_factory.mktemp("aigc_data_dir")
    before = os.environ.get("AIGC_DATA_DIR")
    os.environ["AIGC_DATA_DIR"] = str(path)
    yield path
    if before is None:
        os.environ.pop("AIGC_DATA_DIR", None)
    else:
        os.environ["AIGC_DATA_DIR"] = before


@pytest.fixture(scope="session")
def mirror() -> Path:
    value = os.environ.get("AIGC_DATA_MIRROR") or str(REPO.parent / "shared" / "data-mirror")
    path = Path(value)
    if not (path / "SHA256SUMS").is_file():
        pytest.fail(
            f"The data mirror was not found at {path}. Set AIGC_DATA_MIRROR to the course's data mirror "
            "(make test does this when ../shared/data-mirror exists)."
        )
    return path


@pytest.fixture
def optimizer_step_state():
    """A list that receives ``(threads, deterministic algorithms on)`` at every optimiser step taken
    while the test runs (a global step hook: the state inside the training loop, not a mock of it)."""
    import torch
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    seen: list[tuple[int, bool]] = []
    handle = register_optimizer_step_pre_hook(
        lambda opt, args, kwargs: seen.append((torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())))
    yield seen
    handle.remove()
