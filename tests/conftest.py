"""Shared test fixtures. Tests use the real data mirror (``AIGC_DATA_MIRROR``), never mocks of the data."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


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
