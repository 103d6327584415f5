"""Fixtures shared by the attention chapter's tests."""

import pytest

from aigc_lessons.runtime import cpu_threads


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small tensors on a shared CPU: one thread is faster than two waiting for each other."""
    with cpu_threads(1):
        yield
