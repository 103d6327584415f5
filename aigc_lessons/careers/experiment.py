"""Is fine-tuning worth it? The fine-tuned classifier against baselines on held-out occupations.

Every model is scored on the same test tasks (accuracy, macro-F1, Cohen's kappa against the human
labels): the majority class, logistic regression on frozen MiniLM embeddings, the fine-tuned MiniLM of
:mod:`aigc_lessons.careers.finetune`, and GPT-4's own labels, the second rater the paper's authors
accepted, as the level worth comparing with. :func:`bench_finetune` runs it for ``python -m aigc_lessons.bench careers-finetune``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from .. import runtime
from ..data import Occupations, load_occupations
from ..pretrained import MINILM_DIR_ENV, load_minilm, minilm_path
from .exposure import LABELS, TASK_LABEL_COLUMNS, label_ids
from .finetune import (FinetuneConfig, encode_features, grouped_split, predict_labels,
                       train_exposure_classifier)
from .headline import cohen_kappa, macro_f1

__all__ = [
    "classification_metrics", "majority_baseline", "frozen_logreg_baseline", "occupation_bootstrap", "FinetuneReport",
    "run_finetune_experiment", "bench_finetune", "leads", "RECORD_KEYS",
]


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int]) -> dict[str, float]:
    """Accuracy and macro-F1 over the three labels (indices 0, 1, 2)."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    return {"accuracy": float((y_true == y_pred).mean()), "macro_f1": macro_f1(y_true, y_pred, range(len(LABELS)))}


def majority_baseline(y_train: Sequence[int], y_test: Sequence[int]) -> dict[str, float]:
    """Predict the most frequent training label for every test task."""
    majority = int(np.bincount(np.asarray(y_train), minlength=len(LABELS)).argmax())
    return classification_metrics(y_test, np.full(len(y_test), majority))


#: Short names of the score table's rows in the benchmark record (GPT-4's labels are ``gpt4_vs_human``).
RECORD_KEYS = {"majority class": "majority", "frozen MiniLM + logistic regression": "logreg",
               "fine-tuned MiniLM": "finetuned"}


def _record_key(row: str) -> str:
    """The benchmark record's short name of a score table row (:data:`RECORD_KEYS`; any other row is GPT-4's)."""
    return RECORD_KEYS.get(row, "gpt4_vs_human")


def leads(scores: Mapping[str, float]) -> dict[str, float]:
    """The fine-tuned model's lead over the majority class (accuracy, macro-F1) and over the frozen baseline
    (macro-F1, kappa), from scores named ``"<model>.<metric>"`` (a report's :meth:`FinetuneReport.scores` or a
    benchmark record's metrics): the ``careers-finetune`` checks of ``aigc_lessons.calibrate``."""
    return {"finetuned_accuracy_over_majority": scores["finetuned.accuracy"] - scores["majority.accuracy"],
            "finetuned_macro_f1_over_majority": scores["finetuned.macro_f1"] - scores["majority.macro_f1"],
            "finetuned_macro_f1_over_logreg": scores["finetuned.macro_f1"] - scores["logreg.macro_f1"],
            "finetuned_kappa_over_logreg": scores["finetuned.kappa"] - scores["logreg.kappa"]}


def frozen_logreg_baseline(x_train: np.ndarray, y_train: Sequence[int], x_test: np.ndarray,
                           y_test: Sequence[int], groups: Sequence[str], cs: Sequence[float] = (0.1, 1.0, 10.0, 100.0),
                           seed: int = 0) -> tuple[dict[str, float], np.ndarray, float]:
    """Multinomial logistic regression on frozen MiniLM sentence embeddings.

    The inverse regularisation strength C is chosen among ``cs`` by 5-fold cross-validation on the
    *training* tasks, folds grouped by occupation (``groups``), so the test tasks never steer the choice.
    Returns (metrics on the test tasks, predictions, chosen C).
    """
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import GroupKFold

    x_train, y_train = np.asarray(x_train), np.asarray(y_train)
    groups = np.asarray(groups)
    if len(groups) != len(y_train):
        raise ValueError(f"{len(groups)} groups for {len(y_train)} training rows")
    folds = list(GroupKFold(n_splits=min(5, len(set(groups.tolist())))).split(x_train, y_train, groups))
    cv = LogisticRegressionCV(Cs=list(cs), cv=folds, max_iter=3000, random_state=seed, l1_ratios=(0.0,),
                              scoring="accuracy", use_legacy_attributes=False)
    cv.fit(x_train, y_train)
    best_c = float(np.atleast_1d(cv.C_)[0])
    clf = LogisticRegression(C=best_c, max_iter=3000, random_state=seed).fit(x_train, y_train)
    pred = clf.predict(np.asarray(x_test))
    return classification_metrics(y_test, pred), pred, best_c


def occupation_bootstrap(y_true: Sequence[int], pred_a: Sequence[int], pred_b: Sequence[int], groups: Sequence[str],
                         *, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> dict[str, tuple[float, float]]:
    """Percentile interval of ``metric(a) - metric(b)`` for accuracy, macro-F1 and Cohen's kappa, resampling
    whole test *occupations* (``groups``) with replacement.

    The tasks of one occupation resemble each other, so they are not independent draws; resampling single
    tasks would make the interval too narrow when a model's errors cluster by occupation. Both models are scored on the same resample each time
    (a paired comparison). With one occupation every resample is the test set itself, so the interval is the
    observed difference.
    """
    y, a, b, g = (np.asarray(v) for v in (y_true, pred_a, pred_b, groups))
    if not len(y) == len(a) == len(b) == len(g) or len(y) == 0:
        raise ValueError(f"need one label, two predictions and one group per test task, got {len(y)}, {len(a)}, "
                         f"{len(b)} and {len(g)}")
    if not 0.0 < level < 1.0 or n_boot < 1:
        raise ValueError(f"level must be in (0, 1) and n_boot >= 1, got {level} and {n_boot}")
    _, inverse = np.unique(g, return_inverse=True)
    members = [np.flatnonzero(inverse == k) for k in range(inverse.max() + 1)]
    labels = range(len(LABELS))

    def scores(idx: np.ndarray, pred: np.ndarray) -> dict[str, float]:
        return {**classification_metrics(y[idx], pred[idx]), "kappa": cohen_kappa(y[idx], pred[idx], labels)}

    rng = np.random.default_rng(seed)
    diffs: dict[str, list[float]] = {"accuracy": [], "macro_f1": [], "kappa": []}
    for _ in range(n_boot):
        idx = np.concatenate([members[k] for k in rng.integers(0, len(members), len(members))])
        sa, sb = scores(idx, a), scores(idx, b)
        for name in diffs:
            diffs[name].append(sa[name] - sb[name])
    tail = 100 * (1 - level) / 2
    return {name: (float(np.percentile(d, tail)), float(np.percentile(d, 100 - tail))) for name, d in diffs.items()}


@dataclass
class FinetuneReport:
    """Every model on the same held-out tasks, with the human-vs-GPT-4 agreement as the reference.

    ``metrics``: rows ``majority class``, ``frozen MiniLM + logistic regression``, ``fine-tuned MiniLM``
    and ``gpt4 labels vs human (agreement)``; columns ``accuracy``, ``macro_f1``, ``kappa`` (Cohen's kappa
    against the human labels). ``intervals``: for the fine-tuned model against the logistic-regression row and
    the GPT-4 row (keyed by those row names), the 95% interval of the difference per metric over resampled test
    occupations (:func:`occupation_bootstrap`); :meth:`differences` tabulates them.
    """

    config: FinetuneConfig
    metrics: pd.DataFrame
    history: dict[str, list[float]]
    n_train: int
    n_test: int
    n_test_occupations: int
    train_seconds: float
    encode_seconds: float
    confusion_finetuned: pd.DataFrame
    steps: int = 0
    logreg_c: float = float("nan")
    intervals: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)

    def check_metrics(self) -> dict[str, float]:
        """What the ``careers-finetune`` checks of ``aigc_lessons.calibrate`` test (:func:`leads` of the
        report's scores)."""
        return leads(self.scores())

    def scores(self) -> dict[str, float]:
        """The score table as ``{"<model>.<metric>": value}``, the models named by :data:`RECORD_KEYS`
        (the layout of the benchmark record's metrics)."""
        return {f"{_record_key(row)}.{col}": float(self.metrics.loc[row, col])
                for row in self.metrics.index for col in self.metrics.columns}

    def differences(self) -> pd.DataFrame:
        """Fine-tuned minus each compared row: the observed difference and its 95% interval, one row per
        (compared model, metric)."""
        ft = self.metrics.loc["fine-tuned MiniLM"]
        rows = {(other, metric): {"observed": ft[metric] - self.metrics.loc[other, metric], "95% low": low,
                                  "95% high": high}
                for other, by_metric in self.intervals.items() for metric, (low, high) in by_metric.items()}
        table = pd.DataFrame.from_dict(rows, orient="index")
        table.index.names = ["fine-tuned MiniLM minus", "metric"]
        return table


def run_finetune_experiment(cfg: FinetuneConfig | None = None, device: torch.device | str | None = None, *,
                            data: Occupations | None = None, checkpoint_path: str | os.PathLike | None = None,
                            stop_after: int | None = None, progress: bool = True) -> FinetuneReport:
    """Split by occupation, then compare majority class, frozen embeddings + logistic regression and the
    fine-tuned model, with GPT-4's own labels scored against the human labels on the same test tasks."""
    cfg = cfg or FinetuneConfig.for_mode()
    cfg.validate()
    dev = device if isinstance(device, torch.device) else runtime.resolve_device(device)
    runtime.seed_everything(cfg.seed)
    data = data or load_occupations()
    split = grouped_split(data.tasks, cfg.test_fraction, cfg.seed, n_train=cfg.n_train, n_test=cfg.n_test)
    label_col = TASK_LABEL_COLUMNS[cfg.target]
    y_train = label_ids(split.train[label_col])
    y_test = label_ids(split.test[label_col])
    encoder = load_minilm(dev)
    t0 = time.perf_counter()
    f_train = encode_features(split.train["Task"].tolist(), encoder, cfg.trainable_layers,
                              max_length=cfg.max_length, batch_size=cfg.eval_batch_size, progress=progress)
    f_test = encode_features(split.test["Task"].tolist(), encoder, cfg.trainable_layers,
                             max_length=cfg.max_length, batch_size=cfg.eval_batch_size, progress=progress)
    encode_seconds = time.perf_counter() - t0
    _, pred_lr, best_c = frozen_logreg_baseline(f_train.frozen.numpy(), y_train, f_test.frozen.numpy(), y_test,
                                                split.train["O*NET-SOC Code"].to_numpy(), cfg.logreg_cs, cfg.seed)
    result = train_exposure_classifier(cfg, f_train, y_train, encoder, checkpoint_path=checkpoint_path,
                                       stop_after=stop_after, progress=progress)
    pred = predict_labels(result.model, f_test, batch_size=cfg.eval_batch_size, bf16=cfg.bf16)
    other = "gpt4" if cfg.target == "human" else "human"
    y_other = label_ids(split.test[TASK_LABEL_COLUMNS[other]])
    majority = np.full(len(y_test), int(np.bincount(y_train, minlength=len(LABELS)).argmax()))
    preds = {"majority class": majority, "frozen MiniLM + logistic regression": pred_lr,
             "fine-tuned MiniLM": pred, f"{other} labels vs {cfg.target} (agreement)": y_other}
    rows = {name: {**classification_metrics(y_test, p), "kappa": cohen_kappa(y_test, p, range(len(LABELS)))}
            for name, p in preds.items()}
    metrics = pd.DataFrame(rows).T[["accuracy", "macro_f1", "kappa"]]
    occupations = split.test["O*NET-SOC Code"].to_numpy()
    intervals = {name: occupation_bootstrap(y_test, pred, preds[name], occupations, seed=cfg.seed)
                 for name in ("frozen MiniLM + logistic regression", f"{other} labels vs {cfg.target} (agreement)")}
    conf = pd.crosstab(pd.Series([LABELS[i] for i in y_test], name=cfg.target),
                       pd.Series([LABELS[i] for i in pred], name="fine-tuned")).reindex(
        index=list(LABELS), columns=list(LABELS), fill_value=0)
    return FinetuneReport(config=cfg, metrics=metrics, history=result.history, n_train=len(split.train),
                          n_test=len(split.test), n_test_occupations=split.test["O*NET-SOC Code"].nunique(),
                          train_seconds=result.train_seconds, encode_seconds=encode_seconds,
                          confusion_finetuned=conf, steps=result.steps, logreg_c=best_c, intervals=intervals)


def bench_finetune(mode: str, device: torch.device, seed: int | None = None) -> dict:
    """Benchmark ``careers-finetune``: accuracy, macro-F1 and kappa of each model on held-out occupations.
    ``seed`` (``--seed`` on the command line) replaces the config's: another split of the occupations."""
    cfg = FinetuneConfig.for_mode(mode, **({} if seed is None else {"seed": seed}))
    start = time.perf_counter()
    report = run_finetune_experiment(cfg, device, progress=False)
    metrics: dict[str, object] = dict(report.scores())
    for other, by_metric in report.intervals.items():  # e.g. finetuned_minus_logreg.kappa_ci95: [low, high]
        for col, (low, high) in by_metric.items():
            metrics[f"finetuned_minus_{_record_key(other)}.{col}_ci95"] = [low, high]
    metrics["steps"] = report.steps
    metrics["n_train"] = report.n_train
    metrics["n_test"] = report.n_test
    metrics["n_test_occupations"] = report.n_test_occupations
    metrics["wall_seconds_experiment"] = time.perf_counter() - start
    return {"config": asdict(cfg), "metrics": metrics,
            "train_seconds": report.train_seconds + report.encode_seconds, "note": _finetune_note(cfg, device)}


def _finetune_note(cfg: FinetuneConfig, device: torch.device) -> str:
    """What a careers-finetune record cannot say in its config: the precision it trained in and where
    MiniLM came from when not from the package."""
    parts = []
    if cfg.bf16 and torch.device(device).type != "cuda":
        parts.append("Trained in float32: the config's bf16 autocast applies on CUDA only.")
    if os.environ.get(MINILM_DIR_ENV):
        stored = json.loads((minilm_path() / "config.json").read_text()).get("dtype", "float32")
        parts.append(f"MiniLM was loaded from a copy ({MINILM_DIR_ENV}) whose weights are stored in {stored}, "
                     "upcast to float32 on loading.")
    return " ".join(parts)


