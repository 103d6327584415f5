"""Data-parallel training (DDP, gloo on the CPU): two processes take the same steps as one process on
the same global batch; and the full mode's schedule does not depend on the machine's speed."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from aigc_lessons import lm
from aigc_lessons.runtime import distributed

TINY = dict(vocab_size=65, block_size=32, n_layer=2, n_head=4, n_embd=32)  # dropout 0: no per-rank masks
TRAIN = dict(steps=12, batch_size=8, lr=3e-3, min_lr=3e-4, warmup_steps=3, eval_interval=6, eval_batches=2,
             final_eval_tokens=1024, checkpoint_interval=6, log_interval=2, cpu_threads=1)


def _train(out_dir: str, checkpoint: bool) -> None:
    torch.manual_seed(0)
    model, rows = lm.GPT(lm.GPTConfig(**TINY)), set()
    model.register_forward_pre_hook(lambda m, args: rows.add(args[0].shape[0]) if m.training else None)
    res = lm.train_lm(model, lm.shakespeare_splits(), lm.TrainConfig(**TRAIN),
                      checkpoint_path=os.path.join(out_dir, "run.pt") if checkpoint else None, progress=False)
    rank = dist.get_rank() if dist.is_initialized() else 0
    torch.save({"weights": res.model.state_dict(), "batch_loss": res.history["batch_loss"],
                "val_loss": res.metrics["val_loss"], "rows": sorted(rows)}, os.path.join(out_dir, f"rank{rank}.pt"))


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank), OMP_NUM_THREADS="1")
    with distributed("cpu") as (r, w, dev):
        assert (r, w, dev.type) == (rank, world, "cpu")
        _train(out_dir, checkpoint=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_match_one_process_on_the_global_batch(tmp_path):
    single, multi = tmp_path / "single", tmp_path / "multi"
    single.mkdir(), multi.mkdir()
    _train(str(single), checkpoint=False)
    mp.spawn(_worker, args=(2, _free_port(), str(multi)), nprocs=2, join=True)
    one = torch.load(single / "rank0.pt", weights_only=True)
    assert one["rows"] == [8]
    for rank in (0, 1):
        two = torch.load(multi / f"rank{rank}.pt", weights_only=True)
        assert two["rows"] == [4]  # each process trains on its half of the global batch
        for k, w in one["weights"].items():  # the same weights on both ranks as in one process
            torch.testing.assert_close(two["weights"][k], w, rtol=1e-4, atol=1e-5, msg=k)
        assert two["batch_loss"] == pytest.approx(one["batch_loss"], rel=1e-4)
        assert two["val_loss"] == pytest.approx(one["val_loss"], rel=1e-4)
    assert (multi / "run.pt").exists()  # written by rank 0


def test_distributed_is_one_process_without_torchrun(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with distributed("cpu") as (rank, world, dev):
        assert (rank, world, dev.type) == (0, 1, "cpu") and not dist.is_initialized()


def test_a_global_batch_must_split_evenly(monkeypatch, shakespeare):
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda: 3)
    monkeypatch.setattr(dist, "get_rank", lambda: 0)
    with pytest.raises(ValueError, match="batch_size 8 is not divisible by the 3 processes"):
        lm.train_lm(lm.GPT(lm.GPTConfig(**TINY)), shakespeare, lm.TrainConfig(**TRAIN), progress=False)
