"""Fine-tuning MiniLM to predict a task's exposure label (E0/E1/E2) from its text.

The config (:class:`FinetuneConfig`), a split that keeps occupations apart (:func:`grouped_split`),
frozen-encoder features computed once (:func:`encode_features`), the classifier (the top MiniLM layers,
mean pooling and a linear head) and its training loop, which checkpoints and resumes through
:func:`aigc_lessons.checkpoint.save_training` / :func:`~aigc_lessons.checkpoint.resume_training`.
The comparison with baselines is in :mod:`aigc_lessons.careers.experiment`.
"""

from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import runtime
from ..checkpoint import resume_training, save_training
from ..pretrained import Encoder, mean_pool
from .exposure import LABELS, TASK_LABEL_COLUMNS
from .search import _length_batches

__all__ = [
    "FinetuneConfig", "TaskSplit", "grouped_split", "TaskFeatures", "encode_features", "ExposureClassifier",
    "FinetuneResult", "train_exposure_classifier", "predict_labels",
]



@dataclass
class FinetuneConfig:
    """Fine-tuning MiniLM to predict a task's exposure label (E0/E1/E2) from its text.

    Quick and full values side by side (see :meth:`for_mode`). ``n_train`` / ``n_test`` subsample the
    grouped split (``None``: all of it); ``trainable_layers``: how many of the 6 transformer layers (from
    the top) are trained; the token embeddings and the layers below stay frozen, so their outputs are
    computed once and cached (:func:`encode_features`). ``target``: whose labels are the truth (``human``).
    """

    seed: int = 0
    target: str = "human"
    test_fraction: float = 0.2
    n_train: int | None = 1000
    n_test: int | None = 500
    max_length: int = 48
    batch_size: int = 16
    eval_batch_size: int = 64
    epochs: int = 3
    lr: float = 3e-4
    head_lr: float = 5e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    trainable_layers: int = 1
    dropout: float = 0.1
    bf16: bool = False
    logreg_cs: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0)
    checkpoint_every: int = 50
    cpu_threads: int | None = 2  # on a CPU: threads for training (None: unchanged)
    deterministic: bool = True  # torch's deterministic algorithms during training

    @classmethod
    def for_mode(cls, mode: str | None = None, **overrides) -> "FinetuneConfig":
        """Quick: 1,000 training tasks, the top layer trained for 3 epochs on CPU. Full: all 19,265 tasks
        (80/20 by occupation), all 6 layers for 4 epochs, bf16 autocast on one GPU."""
        return runtime.for_mode(
            cls, mode,
            quick=dict(n_train=1000, n_test=500, max_length=48, batch_size=16, eval_batch_size=64, epochs=3,
                       lr=3e-4, head_lr=5e-3, trainable_layers=1, bf16=False, checkpoint_every=50, cpu_threads=2,
                       deterministic=True),
            full=dict(n_train=None, n_test=None, max_length=64, batch_size=64, eval_batch_size=512, epochs=4,
                      lr=5e-5, head_lr=1e-3, trainable_layers=6, bf16=True, checkpoint_every=200, cpu_threads=None,
                      deterministic=False),
            **overrides)

    def validate(self) -> None:
        if self.target not in TASK_LABEL_COLUMNS:
            raise ValueError(f"target must be one of {list(TASK_LABEL_COLUMNS)}, got {self.target!r}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {self.test_fraction}")
        if not 1 <= self.trainable_layers <= 6:
            raise ValueError(f"trainable_layers must be 1..6 (MiniLM has 6 layers), got {self.trainable_layers}")
        for name in ("batch_size", "eval_batch_size", "epochs", "max_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


@dataclass
class TaskSplit:
    """Train and test tasks, split by occupation: no occupation has tasks on both sides."""

    train: pd.DataFrame
    test: pd.DataFrame

    @property
    def overlap(self) -> set[str]:
        return set(self.train["O*NET-SOC Code"]) & set(self.test["O*NET-SOC Code"])


def grouped_split(tasks: pd.DataFrame, test_fraction: float = 0.2, seed: int = 0, *,
                  n_train: int | None = None, n_test: int | None = None) -> TaskSplit:
    """Hold out whole occupations: shuffle the occupations, move them to the test side until it holds
    ``test_fraction`` of the tasks, then (optionally) draw ``n_train`` / ``n_test`` tasks from each side.

    Grouping matters: tasks of one occupation share wording, so a random task split would let the model
    see near-copies of its test tasks during training.
    """
    if "O*NET-SOC Code" not in tasks.columns:
        raise ValueError("tasks must have an 'O*NET-SOC Code' column (full_labelset.tsv)")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    counts = tasks["O*NET-SOC Code"].value_counts().sort_index()
    order = rng.permutation(len(counts))
    cum = np.cumsum(counts.to_numpy()[order])
    n_test_occ = int(np.searchsorted(cum, test_fraction * len(tasks)) + 1)
    test_codes = set(counts.index[order[:n_test_occ]])
    is_test = tasks["O*NET-SOC Code"].isin(test_codes).to_numpy()
    train, test = tasks[~is_test], tasks[is_test]
    if n_train is not None:
        if n_train > len(train):
            raise ValueError(f"n_train={n_train} but the training side has {len(train)} tasks")
        train = train.iloc[np.sort(rng.choice(len(train), n_train, replace=False))]
    if n_test is not None:
        if n_test > len(test):
            raise ValueError(f"n_test={n_test} but the test side has {len(test)} tasks")
        test = test.iloc[np.sort(rng.choice(len(test), n_test, replace=False))]
    return TaskSplit(train=train, test=test)


@dataclass
class TaskFeatures:
    """Frozen-encoder outputs for a list of texts, computed once.

    ``hidden[i]``: (T_i, 384) token states entering the first trainable layer (after ``6 - k`` frozen
    layers); ``frozen``: (N, 384) sentence embeddings of the whole frozen model (the baseline's input).
    """

    hidden: list[torch.Tensor]
    frozen: torch.Tensor
    trainable_layers: int

    def __len__(self) -> int:
        return len(self.hidden)


@torch.inference_mode()
def encode_features(texts: Sequence[str], encoder: Encoder, trainable_layers: int, *, max_length: int = 48,
                    batch_size: int = 64, progress: bool = False) -> TaskFeatures:
    """One frozen forward pass per text gives both the cached states below the trainable layers and the
    frozen sentence embedding, so neither the baseline nor the fine-tuning pays for the frozen layers twice.
    """
    from tqdm.auto import tqdm

    n_layers = encoder.model.config.num_hidden_layers
    if not 1 <= trainable_layers <= n_layers:
        raise ValueError(f"trainable_layers must be 1..{n_layers}, got {trainable_layers}")
    texts = list(texts)
    ids = encoder.tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    hidden: list[torch.Tensor] = [torch.empty(0)] * len(ids)
    frozen = torch.empty(len(ids), encoder.model.config.hidden_size)
    encoder.model.eval()
    for idx in tqdm(_length_batches([len(x) for x in ids], batch_size), desc="frozen encoder",
                    disable=not progress, leave=False):
        input_ids, mask = _pad([ids[i] for i in idx], encoder.tokenizer.pad_token_id)
        out = encoder.model(input_ids=input_ids.to(encoder.device), attention_mask=mask.to(encoder.device),
                            output_hidden_states=True)
        states = out.hidden_states[n_layers - trainable_layers].float().cpu()
        frozen[torch.as_tensor(idx)] = mean_pool(out.last_hidden_state, mask.to(encoder.device)).float().cpu()
        for row, i in enumerate(idx):
            hidden[i] = states[row, : len(ids[i])].clone()
    return TaskFeatures(hidden=hidden, frozen=frozen, trainable_layers=trainable_layers)


class ExposureClassifier(nn.Module):
    """The top ``k`` MiniLM layers (a trainable copy), mean pooling and a linear head over E0/E1/E2.

    .. math:: p(y \\mid \\text{task}) = \\operatorname{softmax}\\big(W\\, \\hat e + b\\big),\\qquad
              \\hat e = \\text{mean\\_pool}\\big(L_6 \\circ \\dots \\circ L_{7-k}(h^{(6-k)})\\big)

    where :math:`h^{(6-k)}` are the cached token states after the frozen layers. With ``k = 6`` the whole
    transformer is fine-tuned (only the token embeddings stay fixed).
    """

    def __init__(self, encoder_model: nn.Module, trainable_layers: int, dropout: float = 0.1,
                 n_labels: int = len(LABELS)):
        super().__init__()
        layers = encoder_model.encoder.layer
        if not 1 <= trainable_layers <= len(layers):
            raise ValueError(f"trainable_layers must be 1..{len(layers)}, got {trainable_layers}")
        self.config = encoder_model.config
        self.layers = nn.ModuleList(copy.deepcopy(layer) for layer in list(layers)[len(layers) - trainable_layers:])
        for p in self.layers.parameters():
            p.requires_grad_(True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.config.hidden_size, n_labels)

    def pooled(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Sentence embedding (B, 384) from cached states (B, T, 384) and mask (B, T)."""
        from transformers.masking_utils import create_bidirectional_mask

        if hidden.dim() != 3 or attention_mask.shape != hidden.shape[:2]:
            raise ValueError(f"expected (B, T, H) states and a (B, T) mask, got {tuple(hidden.shape)} and "
                             f"{tuple(attention_mask.shape)}")
        mask4 = create_bidirectional_mask(config=self.config, inputs_embeds=hidden, attention_mask=attention_mask)
        h = hidden
        for layer in self.layers:
            h = layer(h, mask4)
            h = h[0] if isinstance(h, tuple) else h
        return mean_pool(h, attention_mask)

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Logits (B, 3)."""
        return self.head(self.dropout(self.pooled(hidden, attention_mask)))


def _pad(ids: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, x in enumerate(ids):
        input_ids[i, :len(x)] = torch.tensor(x)
        mask[i, :len(x)] = 1
    return input_ids, mask


def _pad_states(states: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(s.shape[0] for s in states)
    out = torch.zeros(len(states), width, states[0].shape[1])
    mask = torch.zeros(len(states), width, dtype=torch.long)
    for i, s in enumerate(states):
        out[i, : s.shape[0]] = s
        mask[i, : s.shape[0]] = 1
    return out, mask


def _epoch_batches(lengths: np.ndarray, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """Shuffled batches of similar-length examples, the same for a given (seed, epoch) after a resume."""
    rng = np.random.default_rng([seed, epoch])
    perm = rng.permutation(len(lengths))
    chunk = batch_size * 32
    batches = []
    for start in range(0, len(perm), chunk):
        part = perm[start:start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i:i + batch_size] for i in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


@dataclass
class FinetuneResult:
    """What :func:`train_exposure_classifier` returns: the model, per-step losses, steps done, seconds."""

    model: ExposureClassifier
    history: dict[str, list[float]]
    steps: int
    total_steps: int
    train_seconds: float
    resumed_from: int = 0


def train_exposure_classifier(cfg: FinetuneConfig, features: TaskFeatures, labels: Sequence[int],
                              encoder: Encoder, *, checkpoint_path: str | os.PathLike | None = None,
                              stop_after: int | None = None, progress: bool = True) -> FinetuneResult:
    """Fine-tune the top ``cfg.trainable_layers`` MiniLM layers and a head with cross-entropy.

    AdamW (weight decay ``cfg.weight_decay``), linear warm-up then linear decay, gradient clipping at 1,
    bf16 autocast on CUDA when ``cfg.bf16``. With ``checkpoint_path`` the trainable weights, optimizer,
    schedule, RNG states and loss history are written atomically every ``cfg.checkpoint_every`` steps and
    at the end; a later call with the same config and the same number of training tasks resumes and
    reproduces the uninterrupted run (bit for bit with ``cfg.deterministic``, as in quick mode) (another config raises
    :class:`~aigc_lessons.checkpoint.CheckpointError` naming the fields that differ).
    ``stop_after`` stops once the total step count reaches it (the stand-in for an interruption).
    """
    from tqdm.auto import tqdm

    cfg.validate()
    if features.trainable_layers != cfg.trainable_layers:
        raise ValueError(f"features were cached below {features.trainable_layers} trainable layers, "
                         f"the config asks for {cfg.trainable_layers}")
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    if len(y) != len(features):
        raise ValueError(f"{len(features)} feature rows but {len(y)} labels")
    dev = encoder.device
    gen = runtime.seed_everything(cfg.seed)
    model = ExposureClassifier(encoder.model, cfg.trainable_layers, cfg.dropout).to(dev)
    lengths = np.array([h.shape[0] for h in features.hidden])
    steps_per_epoch = math.ceil(len(lengths) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    opt = torch.optim.AdamW([{"params": model.head.parameters(), "lr": cfg.head_lr},
                             {"params": model.layers.parameters(), "lr": cfg.lr}], weight_decay=cfg.weight_decay)
    warm = max(1, int(cfg.warmup_fraction * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    # what a checkpoint must match: the config and the number of training tasks it was trained on
    run = {"kind": "careers-finetune", "config": {**asdict(cfg), "train_tasks": len(lengths)},
           "modules": {"model": model}, "optimizers": {"optimizer": opt, "scheduler": sched}, "generator": gen}
    state = resume_training(checkpoint_path, **run)
    history: dict[str, list[float]] = state["history"] if state else {"train_loss": []}
    step = resumed_from = state["step"] if state else 0

    stop = total if stop_after is None else min(total, stop_after)
    use_bf16 = cfg.bf16 and dev.type == "cuda"
    model.train()
    start = time.perf_counter()
    bar = tqdm(total=stop, initial=step, desc="fine-tune", disable=not progress, leave=False)
    with runtime.reproducible(dev, cfg.cpu_threads, cfg.deterministic):
        while step < stop:
            epoch, within = divmod(step, steps_per_epoch)
            batch = _epoch_batches(lengths, cfg.batch_size, cfg.seed, epoch)[within]
            hidden, mask = _pad_states([features.hidden[i] for i in batch])
            with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=use_bf16):
                logits = model(hidden.to(dev), mask.to(dev))
            loss = F.cross_entropy(logits.float(), y[batch].to(dev))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            history["train_loss"].append(float(loss.detach()))
            step += 1
            bar.update(1)
            if checkpoint_path is not None and (step % cfg.checkpoint_every == 0 or step == stop):
                save_training(checkpoint_path, step=step, history=history, **run)
    bar.close()
    model.eval()
    return FinetuneResult(model=model, history=history, steps=step, total_steps=total,
                          train_seconds=time.perf_counter() - start, resumed_from=resumed_from)


@torch.inference_mode()
def predict_labels(model: ExposureClassifier, features: TaskFeatures, *, batch_size: int = 64,
                   bf16: bool = False) -> np.ndarray:
    """Predicted label indices (0=E0, 1=E1, 2=E2) for cached features."""
    model.eval()
    dev = next(model.parameters()).device
    out = np.empty(len(features), dtype=np.int64)
    for idx in _length_batches([h.shape[0] for h in features.hidden], batch_size):
        hidden, mask = _pad_states([features.hidden[i] for i in idx])
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=bf16 and dev.type == "cuda"):
            logits = model(hidden.to(dev), mask.to(dev))
        out[idx] = logits.argmax(-1).cpu().numpy()
    return out
