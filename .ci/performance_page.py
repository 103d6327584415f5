"""Generate the book's performance page (book/performance.md) from the benchmark records.

Every measured number on the page is read from ``results/*.json`` (full-mode records of
``python -m aigc_lessons.bench``) or ``tests/calibration.json`` (quick-mode runs of
``python -m aigc_lessons.calibrate``) when the book is built, and every "met / not met" is computed
here from those numbers and the targets below. The only numbers typed in this file are the chapters'
targets, the published anchors, each with its source, and the provenance notes (``PROVENANCE``), which
quote what the runs' logs said beyond their records. Missing files are not an error: the page
then says what is missing, so the book builds on a fresh checkout.

    python .ci/performance_page.py [--results DIR] [--calibration FILE] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from aigc_lessons.calibrate import CHECKS, Threshold  # noqa: E402 - the project's thresholds and their type
from aigc_lessons.gan.study2d import record_runs  # noqa: E402 - one reader of the 2-D records
DEFAULT_RESULTS = ROOT / "results"
DEFAULT_CALIBRATION = ROOT / "tests" / "calibration.json"
DEFAULT_OUT = ROOT / "book" / "performance.md"

# --------------------------------------------------------------------------------------- the facts

#: What each record's run shared on its machine, from the provenance of the run (results/README.md).
#: An entry applies only to the record with the commit and date it names: a later run written to the
#: same file is described by its own ``note`` instead. ``shared_gpu`` is None for runs that used no GPU.
PROVENANCE: dict[str, dict[str, Any]] = {
    "lm-shakespeare.json": {
        "commit": "7394f7b", "date": "2026-11-26", "shared_gpu": False,
        "detail": "alone on the GPU, while ten single-thread 2-D GAN processes kept the host's CPU cores busy"},
    "lm-shakespeare-rerun.json": {
        "commit": "7394f7b", "date": "2026-11-26", "shared_gpu": False,
        "detail": "the same command later, on a fresh machine of the same kind with nothing else running"},
    "gan-mnist.json": {
        "commit": "7394f7b", "date": "2026-11-26", "shared_gpu": True,
        "detail": "started together with the lm-tang and vae-mnist runs; the three shared the GPU"},
    "lm-tang.json": {
        "commit": "7394f7b", "date": "2026-11-26", "shared_gpu": True,
        "detail": "started together with the gan-mnist and vae-mnist runs; the three shared the GPU"},
    "vae-mnist.json": {
        "commit": "7394f7b", "date": "2026-11-26", "shared_gpu": True,
        "detail": "shared the GPU with the gan-mnist and lm-tang runs, with its training time cut (see its note)"},
    "lm-shakespeare-2026-11-27.json": {
        "commit": "3cee696", "date": "2026-11-27", "shared_gpu": False,
        "detail": "the step-schedule full mode (2,000 steps, best held-out weights kept), alone on an H100 with "
                  "nothing else running; its training seconds count optimisation steps only (not the evaluations "
                  "or the torch.compile warm-up)"},
    "lm-tang-2026-11-27.json": {
        "commit": "3cee696", "date": "2026-11-27", "shared_gpu": False,
        "detail": "alone on the H100, after the CUDA-path checks of `make bench-gpu`"},
    "gan-mnist-2026-11-27.json": {
        "commit": "564f2ee", "date": "2026-11-27", "shared_gpu": True,
        "detail": "the EMA generator and the five-minute training budget; it shared the H100 with a diffusion "
                  "U-Net run and its host's CPU cores with ten 2-D diffusion processes (neither finished in the "
                  "call's time), ran at about 17 steps per second and stopped at its budget after about 5,180 of "
                  "14,040 steps (the run's progress log; records made since then store `steps`)"},
    "diffusion-2d.json": {
        "commit": "84d5f2d", "date": "2026-11-27", "shared_gpu": None,
        "detail": "on the 2-core development machine (no GPU): two single-thread processes, one 20,000-step run "
                  "each at a time, 10 runs in 29 minutes with the cores otherwise idle; it repeats a run of commit "
                  "16db191 (the same modes and shares in every seed) and adds the mode width"},
    "gan-2d.json": {
        "commit": "e31ea41", "date": "2026-11-27", "shared_gpu": None,
        "detail": "on the 2-core development machine (no GPU): the study restricted to `r1_ema` (`--methods "
                  "r1_ema`), two single-thread processes, ten 40,000-step runs in 48 minutes; tests and "
                  "documentation builds shared the cores part of the time"},
    "gan-2d-r1-ema-20k.json": {
        "commit": "b4be5c0", "date": "2026-11-26", "shared_gpu": None,
        "detail": "r1_ema at the 20,000 steps full mode then gave it, on the 2-core development machine (no GPU), "
                  "two single-thread processes"},
    "gan-mnist-levers-cpu.json": {
        "commit": "ed033ae", "date": "2026-11-27", "shared_gpu": None,
        "detail": "on the 2-core development machine (no GPU): twelve 6,000-step runs, each in its own single-thread "
                  "process, two at a time; tests and documentation builds shared the cores part of the time"},
    "careers-finetune.json": {
        "commit": "0efb13f", "date": "2026-11-27", "shared_gpu": None,
        "detail": "on the 2-core development machine (no GPU), with nothing else running on the cores; the model "
                  "trained in float32, because the configuration's bf16 autocast applies on a GPU only. A first run "
                  "of the same configuration at b41198c, before the intervals were recorded, gave the same scores "
                  "to every digit"},
    "gan-mnist-levers-cpu-12k.json": {
        "commit": "4e7c281", "date": "2026-11-27", "shared_gpu": None,
        "detail": "on the 2-core development machine (no GPU): four 12,000-step runs, each in its own single-thread "
                  "process, two at a time, with no other heavy job on the cores; up to 6,000 steps they repeat the "
                  "training of the 6,000-step study (their 2,000-sample Fréchet distances at 3,000 and 6,000 steps "
                  "agree with its runs' to seven significant digits)"},
    "careers-finetune-seed1.json": {
        "commit": "ec0eec1", "date": "2026-11-27", "shared_gpu": None,
        "detail": "the same configuration with seed 1 (`--seed 1`), which holds out another fifth of the "
                  "occupations, on the 2-core development machine (no GPU) with nothing else running on the cores; "
                  "float32, as above"},
    "gan-2d-runs.json": {
        "commit": "7394f7b", "date": "2026-11-26", "shared_gpu": None,
        "detail": "one single-thread CPU process per run on the GPU machine's CPU cores; no GPU was used"},
}

SYMBOL = {"<=": "≤", ">=": "≥", "<": "<", ">": ">"}
class Target(Threshold):
    """A full-mode target, ``measured op value``, as the page states it (``why`` holds the wording)."""

    @property
    def label(self) -> str:
        return self.why

    def met(self, measured: float) -> bool:
        return self.holds(float(measured))


#: The chapters' full-mode targets (the same values as the full-mode checks of aigc_lessons.calibrate,
#: which a test compares).
#: The GPT's speed target: the loss target reached within this many seconds of training on one H100/H200.
SPEED = Target("<=", 15.0, "held-out loss ≤ 1.47 within 15 s of training")

TARGETS: dict[str, dict[str, Target]] = {
    "lm-shakespeare": {"val_loss": Target("<=", 1.47, "held-out loss ≤ 1.47 nats/char")},
    "vae-mnist": {"test_nll_nats": Target("<=", 84.0, "test NLL ≤ 84.0 nats"),
                  "stretch": Target("<=", 82.9, "stretch: test NLL ≤ 82.9 nats")},
    "gan-mnist": {"class_share_min": Target(">=", 0.05, "smallest class share ≥ 5%"),
                  "class_share_max": Target("<=", 0.15, "largest class share ≤ 15%"),
                  "mean_confidence": Target(">=", 0.9, "mean classifier confidence ≥ 0.9"),
                  "frechet_vs_floor": Target("<=", 3.0, "Fréchet distance ≤ 3 × the real-vs-real floor")},
    "lm-tang": {"format_rate": Target(">=", 0.95, "format rate ≥ 95%")},
    "careers-finetune": {
        "finetuned_accuracy_over_majority": Target(">", 0.05, "accuracy more than 0.05 above the majority class's"),
        "finetuned_macro_f1_over_majority": Target(">", 0.15, "macro-F1 more than 0.15 above the majority class's"),
        "finetuned_macro_f1_over_logreg": Target(">", 0.0, "macro-F1 above the frozen baseline's"),
        "finetuned_kappa_over_logreg": Target(">", 0.0, "kappa above the frozen baseline's")},
    "diffusion-mnist": {"classes_present": Target(">=", 10, "every digit among the samples"),
                        "mean_confidence": Target(">=", 0.9, "mean classifier confidence ≥ 0.9"),
                        "frechet_vs_floor": Target("<=", 2.0, "Fréchet distance ≤ 2 × the real-vs-real floor")},
}
#: gan-2d: mixture -> (modes to cover, least share of high-quality samples), in every seed.
TARGETS_2D: dict[str, tuple[int, float]] = {"ring": (8, 0.98), "grid": (25, 0.97)}

#: Published anchors: (what, number as published, setting, citation key). Numbers from other code on
#: other hardware, shown for scale.
ANCHORS: dict[str, list[tuple[str, str, str, str]]] = {
    "lm-shakespeare": [
        ("nanoGPT, `shakespeare_char` configuration (6 layers, 6 heads, 384 channels, context 256)",
         "1.4697", "best validation loss, about 3 minutes on one A100", "karpathy2022nanogpt")],
    "vae-mnist": [
        ("VAE, one stochastic layer", "86.76", "test NLL in nats, k = 5,000 (their Table 1)", "burda2016importance"),
        ("IWAE, two stochastic layers, trained with k = 50", "82.90", "test NLL in nats, k = 5,000 (their Table 1)",
         "burda2016importance")],
}

KNOWN_BENCHES = {"lm-shakespeare", "lm-tang", "vae-mnist", "gan-mnist", "gan-mnist-levers", "gan-2d", "gan-2d-per-run",
                 "diffusion-2d", "diffusion-mnist", "careers-finetune"}
CHECK_ORDER = ["first-look-bigram", "gan-2d", "gan-mnist", "vae-mnist", "diffusion-2d", "diffusion-mnist",
               "lm-shakespeare", "lm-tang", "attention-fusion", "careers-finetune"]
METHOD_ORDER = ["non_saturating", "saturating", "wgan_gp", "pacgan", "r1_ema"]


# ----------------------------------------------------------------------------------------- helpers


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def esc(text: Any) -> str:
    """A table cell: one line, no unescaped pipes."""
    return " ".join(str(text).split()).replace("|", "\\|")


def num(x: float, digits: int = 3) -> str:
    return f"{float(x):.{digits}f}"


def pct(x: float, digits: int = 2) -> str:
    return f"{100 * float(x):.{digits}f}%"


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return out + [""]


def same_in_every_row(header: list[str], rows: list[list[Any]], columns: list[str]) -> tuple[list[str], list[list[Any]], dict[str, Any]]:
    """Take out of the table those of ``columns`` whose cell is the same in every row (of at least two rows), so a
    wide table loses the columns that say nothing row by row: returns the header and rows without them and
    ``{column: value}`` of the columns taken out, for a sentence above the table."""
    drop = [i for i, name in enumerate(header)
            if name in columns and len(rows) > 1 and len({str(r[i]) for r in rows}) == 1]
    keep = [i for i in range(len(header)) if i not in drop]
    return [header[i] for i in keep], [[r[i] for i in keep] for r in rows], {header[i]: rows[0][i] for i in drop}


def provenance(name: str, record: dict) -> dict[str, Any] | None:
    """The PROVENANCE entry of ``name`` when it describes this very record (same commit and date)."""
    entry = PROVENANCE.get(name)
    if entry and entry["commit"] == record.get("commit") and entry["date"] == record.get("date"):
        return entry
    return None


def shared_gpu(name: str, record: dict) -> str:
    """'yes', 'no' or 'no GPU used': from the run's provenance, else from the record's note."""
    entry = provenance(name, record)
    if entry is not None:
        flag = entry["shared_gpu"]
    elif str(record.get("device", "")).lower().startswith("cpu"):
        flag = None
    else:  # a record whose run differed from the plain command says so in its note
        flag = "shar" in str(record.get("note", "")).lower()
    return "no GPU used" if flag is None else "yes" if flag else "no"


def run_cells(name: str, record: dict) -> list[str]:
    """The columns every row carries: record, device, torch, commit, date, shared GPU."""
    return [f"`{name}`", record.get("device", "?"), record.get("torch", "?"), f"`{record.get('commit', '?')}`",
            record.get("date", "?"), shared_gpu(name, record)]


RUN_HEADER = ["record", "device", "torch", "commit", "date", "GPU shared"]

#: A table of at most this many records is set with one column per record: its quantities read downwards, so
#: the results are not pushed beyond the right edge of the page by the six run columns.
COLUMNS_AT_MOST = 4


def record_table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A table of records (each row starts with ``run_cells``). Up to ``COLUMNS_AT_MOST`` rows are transposed:
    the first row names the records, each further row is one quantity, its name in the first column (set in
    bold by book/_static/site.css, which knows such a table by the record names in its header). Longer tables
    keep one row per record; when all their rows come from one record, its run columns are given once, in a
    table of their own just above. A plain pipe table: inside a ``{table}`` directive its cells would have no source
    line, and Sphinx would leave them out of the Chinese edition's catalogue."""
    if len(rows) > COLUMNS_AT_MOST:
        run = len(RUN_HEADER)
        if header[:run] == RUN_HEADER and len({tuple(map(str, r[:run])) for r in rows}) == 1:
            # the rows of one record (a study's variants): its run once, as a column, then the rows without it
            return record_table(RUN_HEADER, [rows[0][:run]]) + table(header[run:], [r[run:] for r in rows])
        return table(header, rows)
    body = [[name] + [row[i] for row in rows] for i, name in enumerate(header) if i]
    return table([header[0]] + [row[0] for row in rows], body)


def load_records(folder: Path) -> dict[str, dict]:
    if not folder.is_dir():
        return {}
    paths = sorted(folder.glob("*.json"), key=lambda p: p.stem)  # NAME.json before NAME-rerun.json
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in paths}


def of_bench(records: dict[str, dict], *benches: str) -> list[tuple[str, dict]]:
    return [(n, r) for n, r in records.items() if r.get("bench") in benches]


def notes(items: list[tuple[str, dict]]) -> list[str]:
    """One line per record: how its run differed or what it shared (provenance, then the record's note)."""
    out = []
    for name, record in items:
        said = []
        entry = provenance(name, record)
        if entry is not None:
            said.append(entry["detail"])
        if record.get("note"):
            said.append(f"the record's note: \"{record['note']}\"")
        if said:
            out.append(f"- `{name}`: " + "; ".join(said) + ".")
    return out + [""] if out else []


# ------------------------------------------------------------------------------------ the sections


def gan_mnist_values(record: dict) -> dict[str, float]:
    m = record["metrics"]
    return {"class_share_min": m["class_share_min"], "class_share_max": m["class_share_max"],
            "mean_confidence": m["mean_confidence"], "frechet_vs_floor": m["frechet"] / m["frechet_real_floor"]}


def targets_met(bench: str, values: dict[str, float]) -> dict[str, bool]:
    return {k: t.met(values[k]) for k, t in TARGETS[bench].items() if k in values}


def section_shakespeare(records: dict[str, dict], summary: list[list[Any]]) -> list[str]:
    items = of_bench(records, "lm-shakespeare")
    target = TARGETS["lm-shakespeare"]["val_loss"]
    out = ["(perf-lm-shakespeare)=", "## Character-level Shakespeare (`lm-shakespeare`)", "",
           f"Target: {target.label} ({{doc}}`ch04_transformers/index`); the speed target is the training time "
           "at which it is first reached (`seconds_to_target`). The anchor is nanoGPT's reference run on the same "
           "corpus with a model of the same size; its README reports the best validation loss of the run "
           "{cite:p}`karpathy2022nanogpt`. Records made before the full mode kept its best weights hold the loss "
           "at the end of training.", ""]
    out += table(["anchor", "published value", "setting", "source"],
                 [[a, v, s, f"{{cite:p}}`{k}`"] for a, v, s, k in ANCHORS["lm-shakespeare"]])
    if not items:
        return out + ["No `lm-shakespeare` record is in `results/` yet.", ""]
    rows = []
    for name, r in items:
        m, train = r["metrics"], r.get("config", {}).get("train", {})
        ok = target.met(m["val_loss"])
        stt = m.get("seconds_to_target")
        rows.append(run_cells(name, r) + [
            ("none (steps)" if train["time_budget_s"] is None else f"{train['time_budget_s']:g}")
            if "time_budget_s" in train else "?",
            num(r["train_seconds"], 2), f"{m['steps']:,}" if "steps" in m else "?",
            f"{m['tokens_per_second']:,.0f}" if "tokens_per_second" in m else "?",
            pct(m["mfu"], 1) if m.get("mfu") is not None else "—",
            num(m["val_loss"]), f"{m['best_step']:,}" if "best_step" in m else "—",
            num(m["val_loss_final"]) if "val_loss_final" in m else "—",
            num(stt, 1) if stt is not None else "—", verdict(ok),
            verdict(SPEED.met(stt)) if stt is not None else "—"])
        summary.append(["lm-shakespeare", f"`{name}`", target.label, num(m["val_loss"]), verdict(ok)])
        if stt is not None:
            summary.append(["lm-shakespeare", f"`{name}`", SPEED.label, f"{num(stt, 1)} s", verdict(SPEED.met(stt))])
    out += record_table(RUN_HEADER + ["budget (s)", "train (s)", "steps", "tokens/s", "MFU", "held-out loss (nats/char)",
                               "at step", "final loss", "s to 1.47", "target", "speed target"], rows)
    out += ["The held-out loss is that of the weights kept: the best evaluation where the record has a step for it, "
            "else the end of training. *MFU* is the model FLOPs utilisation (model FLOPs per second over the GPU's "
            "dense bf16 peak); *s to 1.47* is the training time (optimisation steps only, without evaluations and "
            "compilation) of the first evaluation at or below the target.", ""]
    out += notes(items)
    out += shakespeare_story(records)
    return out


def shakespeare_story(records: dict[str, dict]) -> list[str]:
    """What the two 2026-11-26 records say together (only while both are the records of that session)."""
    a, b = records.get("lm-shakespeare.json"), records.get("lm-shakespeare-rerun.json")
    if not (a and b and provenance("lm-shakespeare.json", a) and provenance("lm-shakespeare-rerun.json", b)):
        return []
    ma, mb = a["metrics"], b["metrics"]
    target = TARGETS["lm-shakespeare"]["val_loss"]
    from aigc_lessons.lm import TrainConfig

    full = TrainConfig.for_mode("full")
    stepped = [(n, r) for n, r in records.items()
               if r.get("bench") == "lm-shakespeare" and r["config"]["train"].get("keep_best")]
    step_schedule_recorded = bool(stepped)
    later = []
    for n, r in stepped:
        m = r["metrics"]
        if "best_step" in m and "val_loss_final" in m:
            reached = (f", first at or below {target.value:g} after {num(m['seconds_to_target'], 1)} s of training"
                       if m.get("seconds_to_target") is not None else "")
            later.append(f"In `{n}` the best held-out loss, {num(m['val_loss'])}, came at step {m['best_step']:,} of "
                         f"{m['steps']:,}{reached}; by the last step the loss had risen to {num(m['val_loss_final'])}, "
                         "the overfitting of the rerun, which keeping the best weights no longer passes on to the "
                         "result.")
    return [
        "**Reading the records together.** The two records of 2026-11-26 (`lm-shakespeare.json` and "
        "`lm-shakespeare-rerun.json`) ran the same command with the same training-time budget. "
        f"The first made {ma['steps']:,} steps, at {ma['tokens_per_second']:,.0f} tokens per second, because its "
        "host's CPU cores were busy and the Python side of the training loop was slowed down. The rerun, on an "
        f"idle machine, made {mb['steps']:,} steps ({mb['steps'] / ma['steps']:.1f} times as many) at "
        f"{mb['tokens_per_second']:,.0f} tokens per second, and ended at {num(mb['val_loss'])} nats per "
        f"character against the first run's {num(ma['val_loss'])}: with the extra steps the model overfit the "
        "small corpus, its training loss falling far below its held-out loss (`results/README.md` in the "
        f"repository has the details). The target is {'met' if target.met(ma['val_loss']) else 'not met'} by the "
        f"run that stopped early by accident and {'met' if target.met(mb['val_loss']) else 'not met'} by the run "
        "on an unloaded machine, so the first record's result is not one this configuration reaches by itself. "
        "nanoGPT's README quotes the best validation loss of its run, whereas those records hold the loss at the "
        "end of training; the two agree only when training ends near its best point. Since then the full mode's "
        f"schedule is {full.steps:,} steps rather than a time budget, so a faster GPU takes the same steps sooner, "
        "and it keeps the weights of its best held-out evaluation, reporting both the best and the final loss "
        "(`seconds_to_target` records when the target was first reached)"
        + ("." if step_schedule_recorded else "; no GPU run of that configuration is recorded yet.")
        + "".join(" " + x for x in later), ""]


def section_tang(records: dict[str, dict], summary: list[list[Any]]) -> list[str]:
    items = of_bench(records, "lm-tang")
    target = TARGETS["lm-tang"]["format_rate"]
    out = ["(perf-lm-tang)=", "## Tang quatrains (`lm-tang`)", "",
           f"Target: {target.label} of generated poems, measured against the training poems' own format rate "
           "(some real quatrains use other punctuation, so the training set itself is a little below 100%). "
           "No published held-out loss exists for this corpus split and tokenizer, so the loss is shown without "
           "an anchor ({doc}`ch04_transformers/index`).", ""]
    if not items:
        return out + ["No `lm-tang` record is in `results/` yet.", ""]
    rows, sentences = [], []
    for name, r in items:
        m = r["metrics"]
        n = r.get("config", {}).get("sampling", {}).get("n")
        ok = target.met(m["format_rate"])
        rows.append(run_cells(name, r) + [num(r["train_seconds"], 2), f"{m['steps']:,}" if "steps" in m else "?",
                                          num(m["val_loss"]), pct(m["format_rate"]),
                                          str(n) if n else "?", pct(m["format_rate_train"]), verdict(ok)])
        summary.append(["lm-tang", f"`{name}`", target.label, pct(m["format_rate"]), verdict(ok)])
        if n:
            n, p = int(n), float(m["format_rate_train"])
            k = round(float(m["format_rate"]) * n)
            if k >= n:
                prob, outcome = p ** n, f"{n} well-formed poems out of {n}"
            else:  # binomial: k or fewer well-formed poems out of n
                prob = sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k + 1))
                outcome = f"{k} or fewer well-formed poems out of {n}"
            verdict_text = ("so a sample this size cannot tell the two rates apart." if prob >= 0.05 else
                            "so the model's rate is measurably below the training poems'.")
            sentences.append(
                f"In `{name}`, {pct(m['format_rate'])} of {n} generated poems have the format, against "
                f"{pct(m['format_rate_train'])} of the training poems. A sampler whose format rate equalled the "
                f"training poems' would produce {outcome} with probability {prob:.2f}, {verdict_text}")
    out += record_table(RUN_HEADER + ["train (s)", "steps", "held-out loss (nats/char)", "format rate",
                               "poems sampled", "training poems' rate", "target"], rows)
    out += notes(items)
    return out + [" ".join(sentences), ""] if sentences else out


def section_vae(records: dict[str, dict], summary: list[list[Any]]) -> list[str]:
    items = of_bench(records, "vae-mnist")
    target, stretch = TARGETS["vae-mnist"]["test_nll_nats"], TARGETS["vae-mnist"]["stretch"]
    out = ["(perf-vae-mnist)=", "## VAE on binarized MNIST (`vae-mnist`)", "",
           f"Target: {target.label}, estimated with the importance-weighted bound on the full test set; "
           f"{stretch.label}, the two-layer IWAE of {{cite:t}}`burda2016importance`. The protocol is in "
           "{ref}`vae-nll-table`.", ""]
    out += table(["anchor", "published value (nats)", "setting", "source"],
                 [[a, v, s, f"{{cite:p}}`{k}`"] for a, v, s, k in ANCHORS["vae-mnist"]])
    if not items:
        return out + ["No `vae-mnist` record is in `results/` yet.", ""]
    rows = []
    for name, r in items:
        m, cfg = r["metrics"], r.get("config", {})
        units = m.get("active_units")
        dims = [cfg.get("latent_dim"), cfg.get("latent_dim2")][: len(units or [])]
        active = ", ".join(f"{u} of {d}" if d else str(u) for u, d in zip(units, dims)) if units else "?"
        budget = cfg.get("max_train_seconds")
        rows.append(run_cells(name, r) + [
            f"{budget:g}" if budget else "none", num(r["train_seconds"], 2), f"{m['steps']:,}" if "steps" in m else "?",
            f"{num(m['test_nll_nats'])} ± {num(m['test_nll_stderr'])}" if "test_nll_stderr" in m
            else num(m["test_nll_nats"]),
            f"{m['k']:,} / {m['n_test']:,}" if "k" in m and "n_test" in m else "?",
            num(m["test_neg_elbo_nats"]) if "test_neg_elbo_nats" in m else "?", active,
            verdict(target.met(m["test_nll_nats"])), verdict(stretch.met(m["test_nll_nats"]))])
        summary.append(["vae-mnist", f"`{name}`", target.label, num(m["test_nll_nats"]),
                        verdict(target.met(m["test_nll_nats"]))])
    out += record_table(RUN_HEADER + ["budget (s)", "train (s)", "steps", "test NLL (nats, ± s.e.)", "k / test images",
                               "test −ELBO (nats)", "active units", "target (84.0)", "stretch (82.9)"], rows)
    out += notes(items)
    configured = configured_vae_budget()
    cut = [n for n, r in items if configured and r.get("config", {}).get("max_train_seconds")
           and r["config"]["max_train_seconds"] < configured]
    if cut:
        out += [f"The full configuration trains for up to {configured:g} s (`VAEConfig.for_mode(\"full\")`); "
                + ", ".join(f"`{n}`" for n in cut) + " had the shorter budget shown in its row, on a GPU it did "
                "not have to itself, and its verdicts are for that shorter run.", ""]
    return out


def configured_vae_budget() -> float | None:
    """``max_train_seconds`` of the full VAE configuration, read from the package (None if unavailable)."""
    try:
        from aigc_lessons.vae import VAEConfig  # imported here: only a page with a VAE record needs it

        return VAEConfig.for_mode("full").max_train_seconds
    except Exception:  # noqa: BLE001 - the page still builds when the VAE module cannot be imported
        return None


def section_gan_mnist(records: dict[str, dict], summary: list[list[Any]]) -> list[str]:
    items = of_bench(records, "gan-mnist")
    out = ["(perf-gan-mnist)=", "## DCGAN on MNIST (`gan-mnist`)", "",
           "Targets: every digit between 5% and 15% of the generated samples, a mean classifier confidence of at "
           "least 0.9, and a Fréchet distance at most three times the real-vs-real floor (the distance between "
           "10,000 real test digits and 10,000 real training digits, which no generator can be expected to beat). The Fréchet distance is computed on the "
           "features of the course's own MNIST classifier, not Inception, so it is comparable only with the "
           "floor and the untrained generator of the same record ({ref}`ch02-metrics-math`); there is no "
           "published anchor for it. Section 5 of {doc}`../notebooks/03_dcgan_mnist` gives the ratio a scale: real digits "
           "shifted by one pixel, binarised, noised or blurred, scored against the same floor.", ""]
    if not items:
        return out + ["No `gan-mnist` record is in `results/` yet.", ""]
    rows = []
    for name, r in items:
        m = r["metrics"]
        v = gan_mnist_values(r)
        met = targets_met("gan-mnist", v)
        shares_ok = met["class_share_min"] and met["class_share_max"]
        rows.append(run_cells(name, r) + [
            num(r["train_seconds"], 2), f"{m['steps']:,}" if "steps" in m else "?",
            f"{pct(m['class_share_min'])} to {pct(m['class_share_max'])}",
            verdict(shares_ok), num(m["mean_confidence"]), verdict(met["mean_confidence"]),
            num(m["frechet"], 2), num(m["frechet_real_floor"], 2),
            num(m["frechet_untrained"], 2) if "frechet_untrained" in m else "?",
            num(v["frechet_vs_floor"], 2), verdict(met["frechet_vs_floor"]), verdict(all(met.values()))])
        summary.append(["gan-mnist", f"`{name}`", "class shares 5–15%, confidence ≥ 0.9, Fréchet ≤ 3 × floor",
                        f"{pct(m['class_share_min'])}–{pct(m['class_share_max'])}, {num(m['mean_confidence'])}, "
                        f"{num(v['frechet_vs_floor'], 2)} × floor", verdict(all(met.values()))])
    out += record_table(RUN_HEADER + ["train (s)", "steps", "class shares", "5–15%", "mean confidence", "≥ 0.9", "Fréchet",
                               "real-vs-real floor", "untrained generator", "Fréchet / floor", "≤ 3", "all targets"],
                 rows)
    out += notes(items)
    acc = [f"{pct(r['metrics']['classifier_test_accuracy'])} (`{n}`)" for n, r in items
           if "classifier_test_accuracy" in r["metrics"]]
    if acc:
        out += ["The evaluation classifier that scores the samples has a test accuracy of " + "; ".join(acc) + ".",
                ""]
    return out


LEVER_NAMES = {"loss": "loss", "ema": "EMA decay", "r1_weight": "R1 γ", "lr": "learning rate (G)",
               "lr_d": "learning rate (D)"}


def levers_text(changes: dict) -> str:
    """A variant's changes to the common configuration, in words ('none' for the plain DCGAN)."""
    return ", ".join(f"{LEVER_NAMES.get(k, k)} {v:g}" if isinstance(v, (int, float)) else f"{LEVER_NAMES.get(k, k)} "
                     f"`{v}`" for k, v in changes.items()) or "none (non-saturating loss)"


def section_gan_mnist_levers(records: dict[str, dict], summary: list[list[Any]]) -> list[str]:
    """The CPU study of the DCGAN's levers (``.ci/dcgan_levers.py``): no target, so no summary row."""
    items = of_bench(records, "gan-mnist-levers")
    if not items:
        return []
    out = ["(perf-gan-mnist-levers)=", "### Which levers lower the DCGAN's Fréchet distance (CPU study)", "",
           "The full-size DCGAN needs a GPU, so its levers were first compared on two CPU cores: the quick "
           "architecture (32 channels, batch 64) trained with the full mode's learning rate for the same number of "
           "steps, one lever changed at a time, and scored like the rows above (the full-mode evaluation classifier, "
           "10,000 samples). `.ci/dcgan_levers.py` in the repository runs it. The network is smaller than the full "
           "mode's, so the ratios are not comparable with the rows above; what each table compares is its variants "
           "with each other, at equal steps.", ""]
    for name, r in items:
        variants = r.get("config", {}).get("variants", {})
        groups: dict[str, list[dict]] = {}
        for run in r["metrics"]["runs"]:
            groups.setdefault(run["variant"], []).append(run)
        rows, means = [], {}
        for variant, runs in groups.items():
            ratios = [float(x["frechet_vs_floor"]) for x in runs]
            means[variant] = statistics.fmean(ratios)
            rows.append(run_cells(name, r) + [
                f"`{variant}`", levers_text(variants.get(variant, {})), f"{runs[0]['steps']:,}",
                ", ".join(str(x["seed"]) for x in runs), ", ".join(num(v, 2) for v in ratios), num(means[variant], 2),
                ", ".join(num(x["mean_confidence"]) for x in runs),
                ", ".join(f"{pct(x['class_share_min'])} to {pct(x['class_share_max'])}" for x in runs)])
        out += record_table(RUN_HEADER + ["variant", "changed", "steps", "seeds", "Fréchet / floor per seed", "mean",
                                   "mean confidence", "class shares"], rows)
        out += notes([(name, r)])
        best = min(means, key=means.get)
        text = f"Lowest mean ratio in `{name}`: `{best}` ({num(means[best], 2)}"
        text += (f", against {num(means['ns_ema'], 2)} for `ns_ema`, the plain DCGAN with the averaged generator)."
                 if "ns_ema" in means else ").")
        spreads = [f"`{v}` {num(max(x) - min(x), 2)}" for v, runs in groups.items()
                   if len(x := [float(r["frechet_vs_floor"]) for r in runs]) > 1]
        if spreads:
            text += (" The ratio's range over seeds, where a variant ran with more than one: " + ", ".join(spreads)
                     + "; differences between variants of that size are within the noise.")
        out += [text, ""]
    return out


SPREAD_NOTE = ("*Mode width* is the root-mean-square distance of the high-quality samples to their centre, "
               "divided by its value for samples of the mixture itself: 1.00 for the data, below 1 for modes narrower "
               "than the data's. The high-quality share does not penalise narrow modes (a generator that put every "
               "sample on a centre would score 100%): a share above the real-sample ceiling says that the generated "
               "modes have lighter tails than the data's, not that they are better. A dash: the record was made "
               "before this measure existed.")


def widths(values: list) -> str:
    """Per-seed mode widths, a dash for a record that has none."""
    return ", ".join("—" if v is None else f"{float(v):.2f}" for v in values) if values else "—"


def on_target_2d(bench: str, label: str, mixture: str, modes: list[int], hq: list[float],
                 summary: list[list[Any]]) -> list[str]:
    """The last two cells of a 2-D row (seeds on target, verdict), with its summary row appended: a seed is on
    target when it covers every mode of ``mixture`` with at least the target share of high-quality samples."""
    n_modes, hq_min = TARGETS_2D[mixture]
    every = [mo >= n_modes and h >= hq_min for mo, h in zip(modes, hq)]
    summary.append([bench, label, f"{n_modes}/{n_modes} modes at ≥ {pct(hq_min, 0)} in every seed",
                    f"min {min(modes)} modes, min {pct(min(hq))}", verdict(all(every))])
    return [f"{sum(every)} of {len(every)}", verdict(all(every))]


def section_gan_2d(records: dict[str, dict], summary: list[list[Any]]) -> list[str]:
    items = of_bench(records, "gan-2d", "gan-2d-per-run")
    out = ["(perf-gan-2d)=", "## GANs on 2-D mixtures of Gaussians (`gan-2d`)", "",
           "Targets, in every seed: all 8 modes of the ring with at least 98% high-quality samples, and all 25 "
           f"modes of the grid with at least 97%. Real samples score {pct(1 - math.exp(-4.5), 1)} high quality "
           "(within three standard deviations of a centre), and a generator whose modes are narrower than the "
           "data's scores more; the counting rule, that value and the mode width are in {ref}`ch02-metrics-math`. The anchors are the 2-D experiments of VEEGAN {cite:p}`srivastava2017veegan` "
           "and PacGAN {cite:p}`lin2018pacgan`, which report the number of modes captured and the share of "
           "high-quality samples on a ring of 8 and a grid of 25 Gaussians for several GAN variants. This page "
           "does not repeat their numbers: they would compare like with like only under the same networks, "
           "training lengths and counting rule, and this page does not establish that.", ""]
    if not items:
        return out + ["No `gan-2d` record is in `results/` yet.", ""]
    for name, r in items:
        if r.get("bench") == "gan-2d-per-run":
            out += [f"`{name}` holds one record per run: every method below was trained on both mixtures with "
                    "every seed, each run in its own process. It is not the `gan-2d` bench's study protocol, which "
                    "also trains WGAN-GP and selects one best method.", ""]
        studied = list(r.get("config", {}).get("study", {}).get("methods", []))
        if r.get("bench") == "gan-2d" and studied and set(studied) != set(METHOD_ORDER):
            names = ", ".join(f"`{m}`" for m in studied)
            which = "the method" if len(studied) == 1 else "the methods"
            trivial = ", so the protocol's choice of a best method had one candidate" if len(studied) == 1 else ""
            out += [f"`{name}` is the `gan-2d` bench's study run with {which} {names} only ({len(studied)} of the "
                    f"chapter's {len(METHOD_ORDER)} methods), every seed on both mixtures{trivial}.", ""]
        groups = record_runs(r)
        order = {m: i for i, m in enumerate(METHOD_ORDER)}
        for mixture, (n_modes, hq_min) in TARGETS_2D.items():
            keys = sorted((k for k in groups if k[0] == mixture), key=lambda k: (order.get(k[1], 99), k[1]))
            if not keys:
                continue
            rows = []
            for key in keys:
                runs = groups[key]
                modes = [int(x["modes_covered"]) for x in runs]
                hq = [float(x["high_quality"]) for x in runs]
                steps = sorted({x.get("steps") for x in runs if x.get("steps") is not None})
                rows.append(run_cells(name, r) + [
                    f"`{key[1]}`", ", ".join(f"{s:,}" for s in steps) or "?",
                    ", ".join(str(x["seed"]) for x in runs), ", ".join(map(str, modes)), min(modes),
                    f"{statistics.fmean(modes):.1f}", ", ".join(pct(h) for h in hq), pct(min(hq)),
                    pct(statistics.fmean(hq)), widths([x.get("spread") for x in runs])]
                    + on_target_2d("gan-2d", f"`{name}` ({mixture}, `{key[1]}`)", mixture, modes, hq, summary))
            out += [f"**{mixture.capitalize()} of {n_modes}** (target: {n_modes} of {n_modes} modes and at least "
                    f"{pct(hq_min, 0)} high-quality samples in every seed):", ""]
            out += record_table(RUN_HEADER + ["method", "steps", "seeds", "modes covered per seed", "fewest modes",
                                       "mean modes", "high-quality share per seed", "lowest share", "mean share",
                                       "mode width per seed",
                                       "seeds on target", "target"], rows)
        out += notes([(name, r)])
    return out + [SPREAD_NOTE, ""]


def section_diffusion(records: dict[str, dict], summary: list[list[Any]]) -> list[str]:
    """The diffusion chapter's records: the 2-D mixtures (the GAN chapter's targets) and MNIST."""
    out = ["(perf-diffusion)=", "## Diffusion models (`diffusion-2d`, `diffusion-mnist`)", "",
           "The 2-D targets are the GAN chapter's (every mode in every seed, at least 98% high-quality samples on the "
           "ring and 97% on the grid), scored with the same counting rule; on MNIST the targets are every digit, a "
           "mean confidence of at least 0.9 and a Fréchet distance at most twice the real-vs-real floor of the same "
           "evaluation classifier ({doc}`ch06_diffusion/index`).", ""]
    items_2d, items_mnist = of_bench(records, "diffusion-2d"), of_bench(records, "diffusion-mnist")
    if not items_2d and not items_mnist:
        return out + ["No `diffusion-*` record is in `results/` yet.", ""]
    rows = []
    for name, r in items_2d:
        per_seed = r["metrics"]["per_seed"]
        for mixture in TARGETS_2D:
            modes = [int(v) for v in per_seed.get(f"{mixture}.modes_covered", [])]
            hq = [float(v) for v in per_seed.get(f"{mixture}.high_quality", [])]
            if not modes:
                continue
            steps = r.get("config", {}).get(mixture, {}).get("steps")
            rows.append(run_cells(name, r) + [mixture, f"{steps:,}" if steps else "?", ", ".join(map(str, modes)),
                                              ", ".join(pct(h) for h in hq),
                                              widths(per_seed.get(f"{mixture}.spread", []))]
                        + on_target_2d("diffusion-2d", f"`{name}` ({mixture})", mixture, modes, hq, summary))
    if rows:
        out += record_table(RUN_HEADER + ["mixture", "steps", "modes covered per seed", "high-quality share per seed",
                                   "mode width per seed", "seeds on target", "target"], rows)
        out += notes(items_2d) + [SPREAD_NOTE, ""]
    rows, curves = [], []
    t = TARGETS["diffusion-mnist"]
    for name, r in items_mnist:
        m = r["metrics"]
        v = {"classes_present": m["classes_present"], "mean_confidence": m["mean_confidence"],
             "frechet_vs_floor": m["frechet"] / m["frechet_real_floor"]}
        met = targets_met("diffusion-mnist", v)
        rows.append(run_cells(name, r) + [
            num(r["train_seconds"], 2), f"{m['steps']:,}" if "steps" in m else "?", str(m.get("sampling_steps", "?")),
            str(m["classes_present"]), num(m["mean_confidence"]), num(m["frechet"], 2),
            num(m["frechet_real_floor"], 2), num(v["frechet_vs_floor"], 2), verdict(all(met.values()))])
        summary.append(["diffusion-mnist", f"`{name}`", "; ".join(x.label for x in t.values()),
                        f"{m['classes_present']} digits, {num(m['mean_confidence'])}, "
                        f"{num(v['frechet_vs_floor'], 2)} × floor", verdict(all(met.values()))])
        for sweep, key in (("steps_sweep", "sampling_steps"), ("guidance_sweep", "guidance")):
            for point in m.get(sweep, []):
                curves.append([f"`{name}`", key.replace("_", " "), f"{point[key]:g}", num(point["frechet"], 2),
                               num(point["mean_confidence"]), pct(point["class_share_min"])])
    if rows:
        out += record_table(RUN_HEADER + ["train (s)", "steps", "DDIM steps", "digits present", "mean confidence",
                                   "Fréchet", "real-vs-real floor", "Fréchet / floor", "all targets"], rows)
        out += notes(items_mnist)
    if curves:
        out += ["The full-mode record's two curves: sample quality against the number of DDIM steps (unconditional "
                "samples), and against the guidance scale (class-conditional samples, 50 DDIM steps).", ""]
        out += table(["record", "varied", "value", "Fréchet", "mean confidence", "smallest class share"], curves)
    return out


#: careers-finetune: the record's model keys and the names the notebook gives them.
CAREERS_MODELS = {"majority": "majority class", "logreg": "frozen MiniLM + logistic regression",
                  "finetuned": "fine-tuned MiniLM", "gpt4_vs_human": "GPT-4's labels against the human ones"}


def careers_values(record: dict) -> dict[str, float]:
    """The metrics that the careers-finetune targets test, by the package's own rule (``careers.leads``)."""
    from aigc_lessons.careers.experiment import leads  # imported here: the careers package takes about a second to load

    return leads(record["metrics"])


def section_careers(records: dict[str, dict], summary: list[list[Any]]) -> list[str]:
    items = of_bench(records, "careers-finetune")
    t = TARGETS["careers-finetune"]
    out = ["(perf-careers-finetune)=", "## Fine-tuning MiniLM on exposure labels (`careers-finetune`)", "",
           "Target: on the tasks of occupations held out from training, the fine-tuned MiniLM beats both baselines, "
           "the majority class and logistic regression on frozen MiniLM embeddings, in macro-F1 and in Cohen's "
           "kappa against the human labels (" + "; ".join(x.label for x in t.values()) + "). GPT-4's own labels, "
           "scored against the human ones on the same tasks, are the reference: the labels' authors used GPT-4 as a "
           "second rater {cite:p}`eloundou2023gpts`. The protocol is in {doc}`../notebooks/11_exposure_finetune`; "
           "there is no published number for this split to compare with.", ""]
    if not items:
        return out + ["No `careers-finetune` record is in `results/` yet.", ""]
    rows, scores, gaps, sentences = [], [], [], []
    for name, r in items:
        m, v = r["metrics"], careers_values(r)
        met = targets_met("careers-finetune", v)
        rows.append(run_cells(name, r) + [
            num(r["train_seconds"], 2), f"{m['steps']:,}" if "steps" in m else "?", f"{m['n_train']:,}",
            f"{m['n_test']:,} ({m['n_test_occupations']:,})", verdict(all(met.values()))])
        summary.append(["careers-finetune", f"`{name}`", "fine-tuned MiniLM above both baselines in macro-F1 and kappa",
                        f"macro-F1 {num(m['finetuned.macro_f1'])} vs {num(m['logreg.macro_f1'])}, kappa "
                        f"{num(m['finetuned.kappa'])} vs {num(m['logreg.kappa'])} (frozen baseline)",
                        verdict(all(met.values()))])
        scores += [[label, f"`{name}`", num(m[f"{key}.accuracy"]), num(m[f"{key}.macro_f1"]), num(m[f"{key}.kappa"])]
                   for key, label in CAREERS_MODELS.items()]
        for key in ("logreg", "gpt4_vs_human"):
            for metric in ("accuracy", "macro_f1", "kappa"):
                ci = m.get(f"finetuned_minus_{key}.{metric}_ci95")
                if ci:
                    gaps.append([CAREERS_MODELS[key], {"macro_f1": "macro-F1"}.get(metric, metric), f"`{name}`",
                                 f"{m[f'finetuned.{metric}'] - m[f'{key}.{metric}']:+.3f}",
                                 f"[{ci[0]:+.3f}, {ci[1]:+.3f}]", "no" if ci[0] <= 0 <= ci[1] else "yes"])
        ci_f1, ci_kappa = m.get("finetuned_minus_logreg.macro_f1_ci95"), m.get("finetuned_minus_logreg.kappa_ci95")
        if ci_f1 and ci_kappa:
            clear = ci_f1[0] > 0 and ci_kappa[0] > 0
            sentences.append(
                f"In `{name}`, the fine-tuned model's lead over the frozen baseline is {v['finetuned_macro_f1_over_logreg']:+.3f} "
                f"in macro-F1 and {v['finetuned_kappa_over_logreg']:+.3f} in kappa; "
                + ("both 95% intervals lie above zero, so the lead is larger than what resampling the test "
                   "occupations moves." if clear else "at least one 95% interval reaches zero, so this test set "
                   "does not establish the lead."))
    out += record_table(RUN_HEADER + ["train (s)", "steps", "training tasks", "test tasks (occupations)", "all targets"], rows)
    out += notes(items)
    out += ["The scores on the held-out tasks (Cohen's kappa against the human labels):", ""]
    out += table(["model", "record", "accuracy", "macro-F1", "kappa"], scores)
    if gaps:
        out += ["The fine-tuned model minus each comparison, with a 95% interval from 1,000 resamples of the test "
                "occupations (whole occupations are drawn, because the tasks of one occupation resemble each other; "
                "`careers.occupation_bootstrap`):", ""]
        out += table(["fine-tuned MiniLM minus", "metric", "record", "difference", "95% interval",
                      "interval excludes zero"], gaps)
    return out + [" ".join(sentences), ""] if sentences else out


def section_calibration(path: Path) -> list[str]:
    out = ["(perf-quick-cpu)=", "## Quick mode on a CPU", ""]
    if not path.is_file():
        return out + ["The quick-mode calibration table (`tests/calibration.json`, written by "
                      "`python -m aigc_lessons.calibrate`) is not present, so this section has no numbers.", ""]
    data = json.loads(path.read_text(encoding="utf-8"))
    out += ["These are 2-core CPU numbers of the quick configurations that the notebooks run: short trainings, "
            "each in its own process, over several seeds and floating-point paths (`python -m aigc_lessons.calibrate`"
            " writes them). They are not comparable with the full-mode results above. They are the evidence for "
            "the quick-mode thresholds that the notebooks assert; the last column says whether the worst run of "
            "each metric clears its threshold.", ""]
    order = {c: i for i, c in enumerate(CHECK_ORDER)}
    rows, specs = [], []  # specs: (runs, seeds, float paths) of each row, which its runs cell writes
    # unit-test calibrations (``unit-*``) back the test suite's thresholds, not the notebooks': not on the page
    for check in sorted((c for c in data if not c.startswith("unit-")), key=lambda c: (order.get(c, 99), c)):
        entry = data[check]
        runs = entry.get("runs", [])
        if not runs:
            continue
        seconds = statistics.median(float(x["seconds"]) for x in runs)
        seeds = len({x.get("seed") for x in runs})
        settings = ", ".join(sorted({f"{x.get('float_path')}:{x.get('threads')}" for x in runs}))
        metrics = sorted({k for x in runs for k in x["metrics"]})
        for metric in metrics:
            values = [float(x["metrics"][metric]) for x in runs if metric in x["metrics"]]
            th = CHECKS.get(check, {}).get("quick", {}).get(metric)
            if th is not None:
                worst = min(values) if th.op.startswith(">") else max(values)
                clears = "yes" if th.holds(worst) else "**no**"
            specs.append((len(values), f"{seeds} seed{'s' if seeds != 1 else ''}", settings))
            rows.append([f"`{check}`", f"`{metric}`", f"{specs[-1][0]} ({specs[-1][1]}; {specs[-1][2]})", fmt(min(values)),
                         fmt(statistics.fmean(values)), fmt(max(values)), f"{seconds:.1f}",
                         entry.get("torch", "?"), entry.get("date", "?"),
                         f"{SYMBOL.get(th.op, th.op)} {th.value:g}" if th is not None else "none",
                         clears if th is not None else "n/a"])
    runs, torch = "runs (float path:threads)", "torch"
    header, rows, same = same_in_every_row(
        ["check", "metric", runs, "min", "mean", "max", "median seconds per run", torch, "date",
         "quick-mode threshold", "worst run clears it"], rows, [runs, torch])
    if same:  # said once above the table instead of in a column of identical cells
        n, seeds, settings = specs[0]  # the runs column is the same in every row when it was taken out
        out += [" ".join(filter(None, [
            f"Each row summarises {n} runs ({seeds}; float path:threads {settings})." if runs in same else "",
            f"All of them ran on torch {same[torch]}." if torch in same else ""])), ""]
    out += table(header, rows)
    return out


def fmt(x: float) -> str:
    """Counts as integers, other values to four significant digits."""
    if math.isfinite(x) and float(x).is_integer() and abs(x) < 1e6:
        return str(int(x))
    return f"{x:.4g}"


# -------------------------------------------------------------------------------------------- page


def render(results: Path, calibration: Path) -> str:
    records = load_records(results)
    summary: list[list[Any]] = []
    body: list[str] = []
    for section in (section_shakespeare, section_tang, section_vae, section_gan_mnist, section_gan_mnist_levers,
                    section_gan_2d, section_diffusion, section_careers):
        body += section(records, summary)
    body += section_calibration(calibration)

    head = ["(performance)=", "# Performance", "",
            "What the course's models reach when they are trained in full mode (on a GPU or, where a row's device is "
            "`cpu`, on CPU cores), next to the targets each "
            "chapter sets and the published numbers that motivated them. Every measured number on this page is "
            "read from the benchmark records in `results/` when the book is built (`.ci/performance_page.py`), and "
            "every verdict is computed from them; nothing here is typed by hand except the targets, the "
            "published anchors, which carry their sources, and the notes on how a run was made, which quote its "
            "log. `python -m aigc_lessons.bench NAME` in full mode writes "
            "`results/NAME.json`, so a new run updates this page at the next build.", "",
            "For each record, the tables give the device, the torch version, the commit and the date of its run, "
            "and whether the GPU was shared with other jobs at the time; a table of a few records gives each record "
            "a column, to be read downwards. A shared GPU (or a busy host CPU) changes how many steps fit "
            "into a time budget, and so the result: compare records with that in mind. The anchors come from other "
            "code on other hardware; they show the scale of a good result, not a race. A question mark in a table "
            "means that the record was made before that quantity was recorded.", ""]
    if records:
        head += ["## At a glance", ""]
        head += table(["bench", "record", "target", "measured", "verdict"], summary) if summary else [
            "None of the records in `results/` belongs to a benchmark this page knows.", ""]
        head += ["### The records", ""]
        modes: dict[str, list[str]] = {}
        for n, r in records.items():
            modes.setdefault(str(r.get("mode", "?")), []).append(f"`{n}`")
        if len(modes) == 1:
            head += [f"Every record is a `{next(iter(modes))}`-mode run.", ""]
        elif "full" in modes:  # the mode would be a column of one word with a few exceptions: said once instead
            head += ["Every record is a full-mode run, except " + "; ".join(
                f"{', '.join(names)} (mode: {mode})" for mode, names in modes.items() if mode != "full") + ".", ""]
        else:
            head += ["The records' modes: " + "; ".join(f"{mode}: {', '.join(names)}" for mode, names in modes.items())
                     + ".", ""]
        head += table(["record", "bench", "device", "torch", "commit", "date", "GPU shared", "train / wall (s)"],
                      [[f"`{n}`", r.get("bench", "?"), r.get("device", "?"), r.get("torch", "?"),
                        f"`{r.get('commit', '?')}`", r.get("date", "?"), shared_gpu(n, r),
                        f"{num(r['train_seconds'], 2)} / {num(r['wall_seconds'], 2)}"
                        if "train_seconds" in r and "wall_seconds" in r else "per run"]
                       for n, r in records.items()])
        head += ["`results/README.md` in the repository states how each record was made.", ""]
        other = sorted({r.get("bench", "?") for r in records.values()} - KNOWN_BENCHES)
        if other:
            head += ["This page has no section yet for " + ", ".join(f"`{b}`" for b in other) + "; the table above "
                     "lists those records.", ""]
    else:
        head += ["```{note}", "No benchmark record is in `results/` yet: the sections below list the targets and "
                 "anchors only. A GPU run of `python -m aigc_lessons.bench NAME` in full mode adds one.", "```", ""]
    return "\n".join(head + body).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default=str(DEFAULT_RESULTS), help="folder of benchmark records (*.json)")
    parser.add_argument("--calibration", default=str(DEFAULT_CALIBRATION), help="quick-mode calibration table")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="the page to write")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(Path(args.results), Path(args.calibration)), encoding="utf-8")
    n = len(load_records(Path(args.results)))
    cal = "with" if Path(args.calibration).is_file() else "without"
    print(f"performance page: {n} records, {cal} the calibration table -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
