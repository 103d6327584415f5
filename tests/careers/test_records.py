"""The chapter's sentence on the full-mode fine-tuning record (book/ch05_careers/index.md) against results/."""

import json
from pathlib import Path

from aigc_lessons import careers

ROOT = Path(__file__).resolve().parent.parent.parent
PAGE = " ".join((ROOT / "book" / "ch05_careers" / "index.md").read_text(encoding="utf-8").split())


def test_the_fine_tuned_model_leads_the_frozen_baseline_and_gpt4_in_kappa_beyond_resampling():
    record = json.loads((ROOT / "results" / "careers-finetune.json").read_text(encoding="utf-8"))
    m, cfg = record["metrics"], record["config"]
    assert record["mode"] == "full" and cfg == {**careers.FinetuneConfig.for_mode("full").__dict__,
                                                "logreg_cs": cfg["logreg_cs"]}
    assert cfg["trainable_layers"] == 6 and cfg["epochs"] == 4 and cfg["test_fraction"] == 0.2
    assert "(all six layers, four epochs;" in PAGE and "four fifths of the occupations" in PAGE
    for key in ("finetuned", "logreg", "gpt4_vs_human"):
        assert f"\\kappa = {m[key + '.kappa']:.3f}" in PAGE, f"{key} kappa {m[key + '.kappa']:.3f} not in the chapter"
    assert m["finetuned.kappa"] > m["logreg.kappa"] > m["gpt4_vs_human.kappa"]
    # "Both leads hold over resamples of the held-out occupations, and on a second split"
    assert "Both leads hold over resamples of the held-out occupations, and on a second split that holds out another" \
           " fifth of them" in PAGE
    second = json.loads((ROOT / "results" / "careers-finetune-seed1.json").read_text(encoding="utf-8"))
    assert second["config"] == {**cfg, "seed": 1} and cfg["seed"] == 0
    for metrics in (m, second["metrics"]):
        assert metrics["finetuned.kappa"] > metrics["logreg.kappa"] > metrics["gpt4_vs_human.kappa"]
        assert metrics["finetuned_minus_logreg.kappa_ci95"][0] > 0
        assert metrics["finetuned_minus_gpt4_vs_human.kappa_ci95"][0] > 0
