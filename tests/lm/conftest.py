"""Fixtures shared by the language-model tests: the two corpora and tiny model / training configs."""

import pytest

from aigc_lessons import lm
from aigc_lessons.runtime import cpu_threads


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models on a shared CPU: one thread is faster than two waiting for each other."""
    with cpu_threads(1):
        yield


@pytest.fixture(scope="session")
def shakespeare():
    return lm.shakespeare_splits()


@pytest.fixture(scope="session")
def tang():
    return lm.tang_splits()


@pytest.fixture(scope="session")
def tiny_cfg():
    """A factory of small GPT configurations (65 characters, context 32, 2 layers, 32 wide)."""
    def make(vocab=65, **kw):
        base = dict(vocab_size=vocab, block_size=32, n_layer=2, n_head=4, n_embd=32)
        base.update(kw)
        return lm.GPTConfig(**base)
    return make


@pytest.fixture(scope="session")
def tiny_train():
    """A factory of short training configurations (40 steps, batches of 8, a checkpoint every 10 steps)."""
    def make(**kw):
        base = dict(steps=40, batch_size=8, lr=3e-3, min_lr=3e-4, warmup_steps=5, eval_interval=20,
                    eval_batches=2, final_eval_tokens=1024, checkpoint_interval=10, log_interval=5, cpu_threads=1)
        base.update(kw)
        return lm.TrainConfig(**base)
    return make
