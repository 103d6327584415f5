"""The performance page (.ci/performance_page.py -> book/performance.md) says what the records say.

Every number that the page takes from a benchmark record appears on it as formatted here (these tests
use their own format strings, not the generator's), every verdict is the comparison with the target,
and the page builds when there is no record and no calibration table at all.
"""

import json
import re
from pathlib import Path

import pytest

from aigc_lessons import calibrate

from .ci_scripts import load_script

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"


perf = load_script(".ci/performance_page.py")


def _render(tmp_path: Path, results: Path, calibration: Path | None = None) -> str:
    out = tmp_path / "performance.md"
    code = perf.main(["--results", str(results), "--calibration", str(calibration or tmp_path / "absent.json"),
                      "--out", str(out)])
    assert code == 0
    return out.read_text(encoding="utf-8")


def _write(folder: Path, name: str, record: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(record), encoding="utf-8")


def _rows(page: str, needle: str) -> list[str]:
    return [line for line in page.splitlines() if line.startswith("|") and needle in line]


def _cells(line: str) -> list[str]:
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip()[1:-1])]


def _tables(page: str) -> list[list[dict[str, str]]]:
    """Every pipe table of the page as a list of rows, each a dict from column name to cell. A table of records
    set with one column per record (its header row: 'record' and the record names) is read back into one row per
    record, and the rows of one record that follow its run (given once, above them) get the run's cells, so the
    checks do not depend on the table's layout."""
    blocks, block = [], []
    for line in page.splitlines() + [""]:
        if line.startswith("|"):
            block.append(_cells(line))
        elif block:
            blocks.append(block)
            block = []
    tables: list[list[dict[str, str]]] = []
    for header, _rule, *body in blocks:
        if header[0] == "record" and header[1].startswith("`"):  # one column per record
            tables.append([{"record": header[j], **{row[0]: row[j] for row in body}} for j in range(1, len(header))])
        elif "record" not in header and tables and len(tables[-1]) == 1 and "device" in tables[-1][0]:
            # the rows of one record, whose run the table just above gives once
            tables[-1] = [{**tables[-1][0], **dict(zip(header, row))} for row in body]
        else:
            tables.append([dict(zip(header, row)) for row in body])
    return tables


def _some(row: dict[str, str], columns: list[str]) -> list[str]:
    return [row.get(c, f"<no column {c!r}>") for c in columns]


def _records(page: str, name: str, **match: str) -> list[dict[str, str]]:
    """The rows of record ``name`` (a file name) in its bench's tables (not the list of all records), optionally
    those whose cells equal ``match`` (e.g. ``method="`pacgan`"``)."""
    return [row for t in _tables(page) for row in t if row.get("record") == f"`{name}`" and "device" in row
            and "bench" not in row and all(row.get(k) == v for k, v in match.items())]


RUN = {"mode": "full", "device": "NVIDIA H100 80GB HBM3", "torch": "2.9.0", "commit": "abc1234", "date": "2026-12-01",
       "train_seconds": 100.0, "wall_seconds": 110.0}


# ------------------------------------------------------------------------- the committed records


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    assert RESULTS.is_dir(), "results/ holds the committed benchmark records"
    return _render(tmp_path_factory.mktemp("perf"), RESULTS)


def _committed() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(RESULTS.glob("*.json"))}


def test_every_record_is_listed_with_its_run(page):
    for name, r in _committed().items():
        rows = _records(page, name)  # the rows (or columns) of the record in its bench's tables
        assert rows, f"{name} has no row"
        for row in rows:
            for field in ("torch", "commit", "date"):
                assert str(r[field]) in row[field], f"{name}: {field} {r[field]!r} missing from a row: {row}"
            assert row["device"] == r["device"], f"{name}: device missing from a row: {row}"
            assert row["GPU shared"] in ("yes", "no", "no GPU used"), f"{name}: no GPU-shared cell in {row}"


def test_a_table_of_a_few_records_has_a_column_per_record(page):
    """The six run columns would push a bench's results beyond the page's right edge; a table of up to
    COLUMNS_AT_MOST records is set with one column per record, and a longer table of one record's rows gives
    the run once, above them."""
    lines = page.splitlines()
    headers = [i for i, line in enumerate(lines) if line.startswith("| record |") and not lines[i - 1].startswith("|")]
    assert headers
    for i in headers:
        n_rows = next(j for j in range(i, len(lines)) if not lines[j].startswith("|")) - i - 2
        header = _cells(lines[i])
        if header[1].startswith("`"):  # one column per record
            assert len(header) - 1 <= perf.COLUMNS_AT_MOST, header
        elif "device" in header and "bench" not in header:  # a bench's table with one row per record
            assert n_rows > perf.COLUMNS_AT_MOST, f"{n_rows} records set one per row: {header}"
            names = {_cells(line)[0] for line in lines[i + 2: i + 2 + n_rows]}
            assert len(names) > 1, f"the rows of one record repeat its run in every row: {names}"


def test_the_numbers_of_each_record_appear_on_the_page(page):
    for name, r in _committed().items():
        m = r.get("metrics", {})
        bench = r["bench"]
        rows = " ".join(_rows(page, f"`{name}`") + [" | ".join(row.values()) for row in _records(page, name)])
        expected = []
        if bench == "lm-shakespeare":
            expected = [f"{m['val_loss']:.3f}", f"{m['steps']:,}", f"{m['tokens_per_second']:,.0f}",
                        f"{r['train_seconds']:.2f}"]
        elif bench == "lm-tang":
            expected = [f"{m['val_loss']:.3f}", f"{100 * m['format_rate']:.2f}%",
                        f"{100 * m['format_rate_train']:.2f}%", f"{m['steps']:,}"]
        elif bench == "vae-mnist":
            expected = [f"{m['test_nll_nats']:.3f}", f"{m['test_nll_stderr']:.3f}", f"{m['test_neg_elbo_nats']:.3f}",
                        f"{m['k']:,}", f"{m['steps']:,}", f"{r['config']['max_train_seconds']:g}"]
        elif bench == "gan-mnist":
            expected = [f"{100 * m['class_share_min']:.2f}%", f"{100 * m['class_share_max']:.2f}%",
                        f"{m['mean_confidence']:.3f}", f"{m['frechet']:.2f}", f"{m['frechet_real_floor']:.2f}",
                        f"{m['frechet'] / m['frechet_real_floor']:.2f}"]
        elif bench == "gan-mnist-levers":
            for run in m["runs"]:
                (row,) = _records(page, name, variant=f"`{run['variant']}`")
                assert f"{run['frechet_vs_floor']:.2f}" in row["Fréchet / floor per seed"] and \
                    f"{run['mean_confidence']:.3f}" in row["mean confidence"], \
                    f"{name}: {run['variant']} seed {run['seed']} not in its row {row}"
        elif bench == "careers-finetune":
            for key in ("majority", "logreg", "finetuned", "gpt4_vs_human"):
                expected += [f"{m[key + '.' + metric]:.3f}" for metric in ("accuracy", "macro_f1", "kappa")]
            expected += [f"{m['n_train']:,}", f"{m['n_test']:,} ({m['n_test_occupations']:,})"]
            for key in ("logreg", "gpt4_vs_human"):
                for metric in ("accuracy", "macro_f1", "kappa"):
                    low, high = m[f"finetuned_minus_{key}.{metric}_ci95"]
                    expected.append(f"[{low:+.3f}, {high:+.3f}]")
        elif bench == "gan-2d-per-run":
            for run in r["runs"]:
                expected += [f"{100 * run['high_quality']:.2f}%", f"{run['steps']:,}"]
            for mixture in {x["mixture"] for x in r["runs"]}:
                for method in {x["method"] for x in r["runs"]}:
                    runs = sorted((x for x in r["runs"] if (x["mixture"], x["method"]) == (mixture, method)),
                                  key=lambda x: x["seed"])
                    per_seed = ", ".join(str(x["modes_covered"]) for x in runs)
                    assert any(row["method"] == f"`{method}`" and row["modes covered per seed"] == per_seed
                               for row in _records(page, name)), \
                        f"{name}: modes {per_seed} of {method} on the {mixture} not on the page"
        elif bench in ("gan-2d", "diffusion-2d"):
            per_seed = m["per_seed"]  # modes, high-quality shares and mode widths, seed by seed
            for mixture in ("ring", "grid"):
                expected += [", ".join(map(str, per_seed[f"{mixture}.modes_covered"])),
                             ", ".join(f"{100 * q:.2f}%" for q in per_seed[f"{mixture}.high_quality"]),
                             ", ".join(f"{w:.2f}" for w in per_seed[f"{mixture}.spread"])]
        else:
            raise AssertionError(f"{name}: no check of the numbers of a {bench!r} record: add one here")
        for text in expected:
            assert text in rows, f"{name}: {text} is not on the page"


def test_the_page_cites_only_keys_of_the_bibliography(page):
    bib = (ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    keys = set(re.findall(r"^@\w+\{([^,]+),", bib, re.M))
    cited = {k.strip() for group in re.findall(r"\{cite:[pt]\}`([^`]+)`", page) for k in group.split(",")}
    assert cited and cited <= keys, f"unknown keys: {cited - keys}"
    assert {"karpathy2022nanogpt", "burda2016importance", "srivastava2017veegan", "lin2018pacgan"} <= cited


# ------------------------------------------------------------------------------ computed verdicts


def test_targets_compare_as_stated():
    vae = perf.TARGETS["vae-mnist"]
    assert vae["test_nll_nats"].met(83.508) and vae["test_nll_nats"].met(84.0)
    assert not vae["test_nll_nats"].met(84.01)
    assert not vae["stretch"].met(83.508) and vae["stretch"].met(82.9)
    assert not perf.TARGETS["gan-mnist"]["frechet_vs_floor"].met(41.4 / 1.82)
    assert perf.TARGETS["gan-mnist"]["frechet_vs_floor"].met(3.0)
    lm = perf.TARGETS["lm-shakespeare"]["val_loss"]
    assert lm.met(1.47) and not lm.met(1.4701)


def test_verdicts_on_the_page_are_computed_from_the_record(tmp_path):
    results = tmp_path / "results"
    _write(results, "vae-mnist.json", {**RUN, "bench": "vae-mnist", "config": {"max_train_seconds": 570.0},
                                       "metrics": {"test_nll_nats": 83.508, "test_nll_stderr": 0.2, "k": 5000,
                                                   "n_test": 10000, "test_neg_elbo_nats": 90.1, "steps": 100}})
    _write(results, "gan-mnist.json", {**RUN, "bench": "gan-mnist", "metrics": {
        "class_share_min": 0.074, "class_share_max": 0.125, "mean_confidence": 0.95, "frechet": 41.4,
        "frechet_real_floor": 1.82}})
    _write(results, "lm-shakespeare.json", {**RUN, "bench": "lm-shakespeare", "metrics": {"val_loss": 1.5}})
    _write(results, "lm-shakespeare-fast.json", {**RUN, "bench": "lm-shakespeare", "metrics": {
        "val_loss": 1.46, "best_step": 1000, "val_loss_final": 1.55, "seconds_to_target": 15.2, "mfu": 0.25,
        "steps": 2000}})
    page = _render(tmp_path, results)
    (vae,) = _records(page, "vae-mnist.json")
    assert _some(vae, ["test NLL (nats, ± s.e.)", "k / test images", "test −ELBO (nats)", "active units",
                       "target (84.0)", "stretch (82.9)"]) == ["83.508 ± 0.200", "5,000 / 10,000", "90.100", "?", "met",
                                                              "**not met**"], vae
    (gan,) = _records(page, "gan-mnist.json")
    assert _some(gan, ["Fréchet / floor", "≤ 3", "all targets"]) == ["22.75", "**not met**", "**not met**"], gan
    assert _some(gan, ["class shares", "5–15%", "mean confidence", "≥ 0.9"]) == ["7.40% to 12.50%", "met", "0.950",
                                                                                "met"], gan  # 41.4 / 1.82 > 3
    lm_columns = ["MFU", "held-out loss (nats/char)", "at step", "final loss", "s to 1.47", "target", "speed target"]
    (lm,) = _records(page, "lm-shakespeare.json")
    assert _some(lm, lm_columns) == ["—", "1.500", "—", "—", "—", "**not met**", "—"], lm  # no best step, no speed
    (fast,) = _records(page, "lm-shakespeare-fast.json")
    assert _some(fast, lm_columns) == ["25.0%", "1.460", "1,000", "1.550", "15.2", "met", "**not met**"], fast  # > 15 s


def test_gan_2d_needs_every_mode_in_every_seed(tmp_path):
    runs = [{"method": "pacgan", "mixture": "ring", "seed": s, "steps": 10, "modes_covered": m, "high_quality": hq}
            for s, m, hq in [(0, 8, 0.99), (1, 8, 0.985), (2, 7, 0.99)]]
    runs += [{"method": "saturating", "mixture": "ring", "seed": s, "steps": 10, "modes_covered": 8,
              "high_quality": 0.981} for s in range(3)]
    _write(tmp_path / "r", "gan-2d-runs.json", {**RUN, "bench": "gan-2d-per-run", "device": "cpu", "runs": runs})
    page = _render(tmp_path, tmp_path / "r")
    columns = ["modes covered per seed", "fewest modes", "mean modes", "seeds on target", "target"]
    (pac,) = _records(page, "gan-2d-runs.json", method="`pacgan`")
    assert _some(pac, columns) == ["8, 8, 7", "7", "7.7", "2 of 3", "**not met**"], pac
    (sat,) = _records(page, "gan-2d-runs.json", method="`saturating`")
    assert _some(sat, columns[3:] + ["GPU shared"]) == ["3 of 3", "met", "no GPU used"], sat


def test_a_gan_2d_bench_record_of_one_method(tmp_path):
    row = {"mixture": "grid", "method": "r1_ema", "steps": 40000, "per_seed_modes": [25, 25],
           "per_seed_hq": [0.985, 0.969], "per_seed_spread": [0.41, 0.43]}
    _write(tmp_path / "r", "gan-2d.json", {**RUN, "bench": "gan-2d", "device": "cpu",
                                           "config": {"study": {"methods": ["r1_ema"], "seeds": [3, 4]}},
                                           "metrics": {"table": [row]}})
    page = _render(tmp_path, tmp_path / "r")
    assert "study run with the method `r1_ema` only (1 of the chapter's 5 methods)" in page
    (r1,) = _records(page, "gan-2d.json", method="`r1_ema`")
    assert _some(r1, ["steps", "seeds", "modes covered per seed", "fewest modes", "mean modes",
                      "high-quality share per seed"]) == ["40,000", "3, 4", "25, 25", "25", "25.0", "98.50%, 96.90%"], r1
    assert _some(r1, ["mode width per seed", "seeds on target", "target"]) == ["0.41, 0.43", "1 of 2", "**not met**"]


def test_shared_gpu_comes_from_provenance_only_for_the_run_it_describes(tmp_path):
    results = tmp_path / "results"
    # the file name of a 2026-11-26 record, but another run: the provenance entry does not apply
    _write(results, "lm-tang.json", {**RUN, "bench": "lm-tang", "metrics": {
        "val_loss": 5.0, "format_rate": 0.97, "format_rate_train": 0.99}})
    _write(results, "vae-mnist.json", {**RUN, "bench": "vae-mnist", "note": "GPU shared with a training job",
                                       "metrics": {"test_nll_nats": 85.0}})
    page = _render(tmp_path, results)
    assert _some(_records(page, "lm-tang.json")[0], ["date", "GPU shared"]) == ["2026-12-01", "no"]
    assert _some(_records(page, "vae-mnist.json")[0], ["date", "GPU shared"]) == ["2026-12-01", "yes"]
    committed = json.loads((RESULTS / "lm-tang.json").read_text(encoding="utf-8"))
    assert perf.shared_gpu("lm-tang.json", committed) == "yes"


def test_targets_match_the_full_mode_checks():
    full = {name: modes["full"] for name, modes in calibrate.CHECKS.items()}
    pairs = [("vae-mnist", "test_nll_nats"), ("lm-shakespeare", "val_loss"), ("lm-tang", "format_rate"),
             ("gan-mnist", "class_share_min"), ("gan-mnist", "class_share_max"), ("gan-mnist", "mean_confidence"),
             ("gan-mnist", "frechet_vs_floor")]
    for bench, metric in pairs:
        ours, theirs = perf.TARGETS[bench][metric], full[bench][metric]
        assert (ours.op, ours.value) == (theirs.op, theirs.value), f"{bench}.{metric}: {ours} vs {theirs}"
    assert set(perf.TARGETS["careers-finetune"]) == set(full["careers-finetune"])
    for metric, theirs in full["careers-finetune"].items():
        ours = perf.TARGETS["careers-finetune"][metric]
        assert (ours.op, ours.value) == (theirs.op, theirs.value), f"careers-finetune.{metric}: {ours} vs {theirs}"
    for metric in ("classes_present", "mean_confidence", "frechet_vs_floor"):
        ours, theirs = perf.TARGETS["diffusion-mnist"][metric], full["diffusion-mnist"][metric]
        assert (ours.op, ours.value) == (theirs.op, theirs.value), f"diffusion-mnist.{metric}: {ours} vs {theirs}"
    assert perf.TARGETS_2D["grid"] == (full["diffusion-2d"]["grid_modes"].value,
                                       full["diffusion-2d"]["grid_high_quality"].value)
    assert perf.TARGETS_2D["ring"] == (full["gan-2d"]["ring_best_modes"].value,
                                       full["gan-2d"]["ring_best_high_quality"].value)


# ------------------------------------------------------------------------ missing inputs, calibration


def test_the_page_builds_with_no_results_and_no_calibration(tmp_path):
    page = _render(tmp_path, tmp_path / "no-results", tmp_path / "no-calibration.json")
    assert page.startswith("(performance)=\n# Performance")
    assert "No benchmark record is in `results/` yet" in page
    assert "is not present, so this section has no numbers" in page
    assert "met |" not in page
    assert "1.4697" in page and "82.90" in page  # the anchors stay


def test_the_calibration_section_summarises_the_runs(tmp_path):
    table = {"vae-mnist": {"torch": "2.5.1+cpu", "date": "2026-11-27", "runs": [
        {"seed": s, "float_path": p, "threads": t, "seconds": sec, "metrics": {"test_nll_nats": v}}
        for s, p, t, sec, v in [(0, "native", 1, 100.0, 93.0), (1, "native", 1, 300.0, 95.5),
                                (0, "avx2", 2, 200.0, 94.0)]]}}
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(table), encoding="utf-8")
    page = _render(tmp_path, tmp_path / "no-results", path)
    (row,) = _rows(page, "`test_nll_nats`")
    assert "| 93 | 94.17 | 95.5 | 200.0 | 2.5.1+cpu | 2026-11-27 | < 100 | yes |" in row, row
    assert "2-core CPU" in page


def test_columns_the_same_in_every_row_are_said_once(tmp_path):
    """A column of identical cells widens a table past the page and tells nothing row by row: the calibration
    table says its runs and torch version once, above the table, and the list of records says the mode once."""
    runs = [{"seed": s, "float_path": "avx2", "threads": 2, "seconds": 10.0, "metrics": {"a": 1.0 + s, "b": 2.0}}
            for s in (0, 1)]
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"vae-mnist": {"torch": "2.5.1+cpu", "date": "2026-11-27", "runs": runs}}),
                    encoding="utf-8")
    results = tmp_path / "results"
    _write(results, "toy.json", {**RUN, "bench": "toy"})  # benches the page has no section for: listed only
    _write(results, "toy-levers.json", {**RUN, "bench": "toy", "mode": "quick net"})
    page = _render(tmp_path, results, path)
    calibration = next(t for t in _tables(page) if "metric" in t[0])
    assert len(calibration) == 2 and "torch" not in calibration[0] and "runs (float path:threads)" not in calibration[0]
    assert "Each row summarises 2 runs (2 seeds; float path:threads avx2:2). All of them ran on torch 2.5.1+cpu." in page
    listed = next(t for t in _tables(page) if "bench" in t[0] and "record" in t[0])
    assert "mode" not in listed[0] and listed[0]["train / wall (s)"] == "100.00 / 110.00"
    assert "Every record is a full-mode run, except `toy-levers.json` (mode: quick net)." in page


def test_diffusion_records_get_their_verdicts(tmp_path):
    results = tmp_path / "results"
    _write(results, "diffusion-2d.json", {**RUN, "bench": "diffusion-2d", "device": "cpu",
                                          "config": {"ring": {"steps": 100}, "grid": {"steps": 100}},
                                          "metrics": {"per_seed": {
                                              "ring.modes_covered": [8, 8], "ring.high_quality": [0.99, 0.985],
                                              "grid.modes_covered": [25, 24], "grid.high_quality": [0.98, 0.99],
                                              "grid.spread": [0.7, None]}}})
    _write(results, "diffusion-mnist.json", {**RUN, "bench": "diffusion-mnist", "metrics": {
        "classes_present": 10, "mean_confidence": 0.95, "frechet": 3.0, "frechet_real_floor": 2.0, "steps": 50,
        "sampling_steps": 100, "class_share_min": 0.08,
        "steps_sweep": [{"sampling_steps": 5, "frechet": 9.0, "mean_confidence": 0.8, "class_share_min": 0.07}]}})
    page = _render(tmp_path, results)
    columns = ["mixture", "steps", "modes covered per seed", "high-quality share per seed", "mode width per seed",
               "seeds on target", "target"]
    ring, grid = _records(page, "diffusion-2d.json")
    assert _some(ring, columns) == ["ring", "100", "8, 8", "99.00%, 98.50%", "—", "2 of 2", "met"], ring  # no widths
    assert _some(grid, columns) == ["grid", "100", "25, 24", "98.00%, 99.00%", "0.70, —", "1 of 2", "**not met**"]
    (mnist,) = _records(page, "diffusion-mnist.json")
    assert _some(mnist, ["digits present", "mean confidence", "Fréchet", "real-vs-real floor", "Fréchet / floor",
                         "all targets"]) == ["10", "0.950", "3.00", "2.00", "1.50", "met"], mnist  # 1.5 <= 2
    assert "| `diffusion-mnist.json` | sampling steps | 5 | 9.00 | 0.800 | 7.00% |" in page


def test_the_dcgan_lever_study_records_its_runs_and_renders(tmp_path):
    """``.ci/dcgan_levers.py record`` gathers per-run files into a record the page renders; runs of different
    lengths are refused (the study compares variants at equal steps)."""
    levers = load_script(".ci/dcgan_levers.py")
    runs = tmp_path / "runs"
    runs.mkdir()
    for variant, seed, ratio in (("ns_ema", 0, 70.0), ("ns_ema", 1, 72.0), ("ns_ema_r1", 0, 36.0)):
        (runs / f"{variant}_s{seed}_100.json").write_text(json.dumps(
            dict(name=variant, seed=seed, steps=100, fd=ratio * 2, floor=2.0, ratio=ratio, conf=0.9, smin=0.05,
                 smax=0.15, fd2k=[300.0], eval_step=[100], secs=5.0)), encoding="utf-8")
    rec = levers.record(runs, tmp_path / "results" / "gan-mnist-levers-cpu.json", "abc1234", None)
    assert rec["bench"] == "gan-mnist-levers" and [r["variant"] for r in rec["metrics"]["runs"]] == \
        ["ns_ema", "ns_ema", "ns_ema_r1"]
    assert rec["config"]["variants"] == {"ns_ema": levers.VARIANTS["ns_ema"], "ns_ema_r1": levers.VARIANTS["ns_ema_r1"]}
    page = _render(tmp_path, tmp_path / "results")
    assert "`ns_ema_r1` (36.00, against 71.00 for `ns_ema`" in page and "`ns_ema` 2.00" in page
    (ns_ema,) = _records(page, "gan-mnist-levers-cpu.json", variant="`ns_ema`")
    assert _some(ns_ema, ["changed", "steps", "seeds", "Fréchet / floor per seed", "mean"]) == [
        "EMA decay 0.999", "100", "0, 1", "70.00, 72.00", "71.00"], ns_ema
    (runs / "ns_s0_200.json").write_text((runs / "ns_ema_s0_100.json").read_text().replace('"steps": 100',
                                                                                          '"steps": 200'))
    with pytest.raises(SystemExit, match="different lengths"):
        levers.record(runs, tmp_path / "other.json", "abc1234", None)


def test_careers_finetune_needs_both_baselines_beaten_in_macro_f1_and_kappa(tmp_path):
    """A fine-tuned model that beats the frozen baseline in macro-F1 but not in kappa misses the target, and
    an interval that reaches zero is read as 'not established'."""
    scores = {"majority": (0.5, 0.22, 0.0), "logreg": (0.70, 0.61, 0.48), "finetuned": (0.74, 0.68, 0.57),
              "gpt4_vs_human": (0.65, 0.57, 0.44)}
    metrics = {f"{k}.{name}": v for k, vals in scores.items() for name, v in zip(("accuracy", "macro_f1", "kappa"),
                                                                                   vals)}
    metrics.update(n_train=15000, n_test=3800, n_test_occupations=180, steps=964)
    metrics.update({f"finetuned_minus_{k}.{name}_ci95": [0.01, 0.09] for k in ("logreg", "gpt4_vs_human")
                    for name in ("accuracy", "macro_f1", "kappa")})
    record = {**RUN, "device": "cpu", "bench": "careers-finetune", "metrics": metrics}
    _write(tmp_path / "a", "careers-finetune.json", record)
    page = _render(tmp_path, tmp_path / "a")
    (row,) = _records(page, "careers-finetune.json")
    assert _some(row, ["test tasks (occupations)", "all targets"]) == ["3,800 (180)", "met"], row
    assert "both 95% intervals lie above zero" in page and "| [+0.010, +0.090] | yes |" in page
    worse_kappa = {**metrics, "finetuned.kappa": 0.47, "finetuned_minus_logreg.kappa_ci95": [-0.03, 0.01]}
    _write(tmp_path / "b", "careers-finetune.json", {**record, "metrics": worse_kappa})
    page = _render(tmp_path, tmp_path / "b")
    assert _records(page, "careers-finetune.json")[0]["all targets"] == "**not met**"
    assert "does not establish the lead" in page and "| [-0.030, +0.010] | no |" in page
    assert "| careers-finetune | `careers-finetune.json` |" in page and page.count("**not met**") >= 2
