"""The unit tests' thresholds on trained models, calibrated like the notebook checks (``unit-*`` entries).

:mod:`aigc_lessons.calibrate` merges :data:`UNIT_CHECKS` into its ``CHECKS`` and :data:`UNIT_MEASURES` into
its ``MEASURES``, so ``python -m aigc_lessons.calibrate unit-...`` measures them over seeds and
floating-point paths, ``tests/test_calibration.py`` checks their margins and that an untrained model fails
them, and the unit tests take their thresholds from there (``calibrate.run_unit``, ``assert_checks``).
"""

from __future__ import annotations

import math
from typing import Callable

from .thresholds import MEASURED as _MEASURED
from .thresholds import Threshold

_UNIT = "unit test: quick mode only"


def _unit(**quick: Threshold) -> dict[str, dict[str, Threshold]]:
    """A unit test's checks: measured in quick mode (the mode the tests run in); full mode repeats them."""
    return {"quick": quick, "full": {k: Threshold(t.op, t.value, _UNIT) for k, t in quick.items()}}


def _q(op: str, value: float, note: str = "") -> Threshold:
    return Threshold(op, value, _MEASURED + (f"; {note}" if note else ""))


#: The unit tests' thresholds on trained models (``unit-*``; not shown on the performance page). Each
#: entry's tests take their thresholds from here (``assert_checks(name, metrics, "quick", only=...)``) with
#: the metrics of :func:`run_unit`, which runs the same training as the calibration.
UNIT_CHECKS: dict[str, dict[str, dict[str, Threshold]]] = {
    "unit-gan-disc1d": _unit(
        max_abs_error_vs_d_star=_q("<", 0.05, "the chapter's stated tolerance"),
        weighted_abs_error_vs_d_star=_q("<", 0.015, "relaxed from 0.01"),
        max_abs_d_minus_p_data=_q(">", 0.9, "tightened from 0.5, which an untrained D nearly meets"),
        late_d_loss_above_minimum=_q("<", 0.02),
        late_d_loss_below_minimum=_q("<", 0.015, "relaxed from 0.01"),
        argmax_d_distance_from_data_mode=_q(">", 2.0),
        corr_d_p_data=_q("<", 0.4, "tightened from 0.6; D*'s own is 0.32"),
        max_rel_error_recovered_density=_q("<", 0.3)),
    "unit-gan-detached-fake": _unit(fixed_generator_weight_change=_q(">", 1.0, "tightened from 1e-3")),
    "unit-gan-max-max": _unit(
        buggy_mean_d_of_g_z=_q("<", 0.05), buggy_mean_d_loss=_q("<", 0.1),
        buggy_high_quality_samples=_q("<", 25, "of 2,500: under 1%"), buggy_radius_gap=_q(">", 1.0),
        buggy_sample_shift=_q(">", 0.05, "the buggy generator did train: untrained or frozen, 0"),
        fixed_mean_d_of_g_z=_q(">", 0.2), fixed_radius_gap=_q("<", 0.6, "relaxed from 0.5")),
    "unit-gan-ring-300": _unit(ring_gap_ratio=_q("<", 0.65, "relaxed from 0.5")),
    "unit-gan-steps": _unit(
        discriminator_last_over_first_loss=_q("<", 1.0),
        generator_steps_lowering_loss=_q(">=", 18, "of 19; G's last loss over its first is 0.994-0.9998")),
    "unit-diffusion-2d": _unit(late_over_early_training_loss=_q("<", 0.6), trained_over_untrained_loss=_q("<", 0.5)),
    "unit-attention-fusion": _unit(alpha_drop_for_noisy_images=_q(">", 0.1), attention_accuracy=_q(">", 0.6)),
    "unit-careers-finetune": _unit(last_over_first_epoch_loss=_q("<", 1.0),
                                   train_accuracy_over_majority=_q(">", 0.0)),
    "unit-careers-logreg": _unit(test_accuracy=_q(">", 0.7, "relaxed from 0.8; 20 test points")),
    "unit-lm-bigram": _unit(sgd_over_counts_perplexity=_q("<", 1.11, "relaxed from 1.1"),
                            uniform_over_sgd_perplexity=_q(">", 4.0)),
    "unit-lm-gpt": _unit(val_loss_drop=_q(">", 0.7)),
    "unit-lm-twin": _unit(first_minus_last_val_estimate=_q(">", 0.5)),
    "unit-lm-keep-best": _unit(steps_after_best=_q(">", 0),
                               final_minus_best_val_loss=_q(">", 0.02, "relaxed from 0.05")),
    "unit-lm-causal-mask": _unit(leaky_over_causal_train_loss=_q("<", 0.5),
                                 leaky_minus_causal_prefix_loss=_q(">", 0.3)),
    "unit-mnist-classifier": _unit(
        test_accuracy=_q(">", 0.85), real_classes_present=_q(">", 9, "all ten"), real_class_share_min=_q(">", 0.04),
        real_class_share_max=_q("<", 0.2), blank_frechet_over_real=_q(">", 10.0)),
    "unit-vae-tiny": _unit(
        test_neg_elbo_drop=_q(">", 19.0, "relaxed from 20"), final_test_neg_elbo=_q("<", 200.0),
        iwae_k1_minus_neg_elbo_abs=_q("<", 1.0),
        nll_k1_minus_k10=_q(">", 1.0), nll_k10_minus_k100=_q(">", 0.0), nll_k100=_q(">", 0.0),
        share_of_images_k100_below_k1=_q(">", 0.7, "replaces NLL(k=100) <= NLL(k=1) + 25 per image")),
    "unit-vae-iwae": _unit(test_neg_elbo_drop=_q(">", 10.0)),
    "unit-vae-kl-sign": _unit(
        wrong_final_train_loss=_q("<", 0.0), wrong_kl_nats=_q(">", 1e3), wrong_over_fixed_kl=_q(">", 100.0),
        wrong_over_fixed_mean_abs_mu=_q(">", 10.0), wrong_minus_fixed_reconstruction_nats=_q(">", 0.0),
        fixed_final_train_loss=_q("<", 300.0), fixed_kl_nats=_q("<", 50.0)),
    "unit-vae-mse": _unit(
        wrong_kl_nats=_q("<", 0.5), wrong_active_units=_q("<", 1, "none"), wrong_reconstruction_spread=_q("<", 0.1),
        fixed_active_units=_q(">=", 8), fixed_kl_nats=_q(">", 2.0), fixed_reconstruction_spread=_q(">", 5.0),
        wrong_minus_fixed_reconstruction_nats=_q(">", 50.0),
        wrong_reconstruction_nats=_q("<", 400.0, "the wrong model did train (to the average digit): untrained 541")),
    "unit-vae-reparam": _unit(wrong_kl_nats=_q("<", 0.5), wrong_active_units=_q("<", 1, "none"),
                              fixed_active_units=_q(">=", 8),
                              wrong_reconstruction_nats=_q("<", 400.0, "the decoder did train: untrained 541")),
    "unit-vae-bench": _unit(test_nll_nats=_q("<", 250.0, "untrained: 544"),
                            neg_elbo_minus_nll=_q(">", 3.0, "tightened from -1")),
}


# ------------------------------------------------------------- the unit tests' trained models (quick mode)
#
# The unit tests that assert a threshold on a trained model take it from CHECKS["unit-..."] too. Each
# entry's measure runs exactly the training its tests run (the same package function and configuration;
# only the seed varies), and :func:`run_unit` hands the tests the metrics and the trained objects, so one
# training serves a group's tests. ``untrained=True`` skips the training (steps or epochs 0, or, where a
# configuration refuses 0, a single step); a group's checks as a whole must fail then. Metrics that need a
# training history come out NaN for an untrained run, and NaN fails every threshold.


def _tail_mean(values: list[float], n: int) -> float:
    """Mean of the last ``n`` values; NaN when there are none (an untrained run has no history)."""
    import numpy as np

    return float(np.mean(values[-n:])) if values else float("nan")


def _head_mean(values: list[float], n: int) -> float:
    import numpy as np

    return float(np.mean(values[:n])) if values else float("nan")


def _keep(keep: dict | None, **objects) -> None:
    if keep is not None:
        keep.update(objects)


def _unit_gan_disc1d(seed: int, untrained: bool, keep: dict | None = None) -> dict[str, float]:
    """tests/gan (test_theory, test_mistakes): the quick 1-D discriminator against D*, and read as a density."""
    import math

    from . import gan

    config = gan.Disc1DConfig.for_mode("quick", seed=seed, **({"steps": 0} if untrained else {}))
    r = gan.train_discriminator_1d(config)
    report = gan.mistake_d_as_density(r)
    grid = gan.quadrature_grid()
    minimum = math.log(4) - 2 * gan.jensen_shannon(gan.P_DATA_1D.pdf(grid), gan.P_G_1D.pdf(grid), grid)
    late = _tail_mean(r.history["d_loss"], 200)
    s, f = report.symptom, report.fixed
    _keep(keep, result=r, report=report, minimum=minimum)
    return {"max_abs_error_vs_d_star": r.max_abs_error,
            "weighted_abs_error_vs_d_star": r.weighted_abs_error,
            "max_abs_d_minus_p_data": float((r.d_learned - r.p_data).abs().max()),
            "late_d_loss_above_minimum": late - minimum,
            "late_d_loss_below_minimum": minimum - late,
            "argmax_d_distance_from_data_mode": abs(s["argmax_D"] - s["argmax_p_data"]),
            "corr_d_p_data": s["corr_D_p_data"],
            "max_rel_error_recovered_density": f["max_rel_error_recovered_density"]}


def _unit_gan_detached(seed: int, untrained: bool, keep: dict | None = None) -> dict[str, float]:
    """tests/gan/test_mistakes.py, mistake (a): 10 steps with the buggy and the fixed generator step."""
    from . import gan

    report = gan.mistake_detached_fake(steps=0 if untrained else 10, seed=seed)
    _keep(keep, report=report)
    return {"fixed_generator_weight_change": report.fixed["generator_weight_change"]}


def _unit_gan_max_max(seed: int, untrained: bool, keep: dict | None = None) -> dict[str, float]:
    """tests/gan/test_mistakes.py, mistake (c): 300 steps with both players maximising V, and fixed."""
    import warnings

    from . import gan

    with warnings.catch_warnings():  # untrained: the means over the last 50 of no steps are NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        report = gan.mistake_max_over_both_players(steps=0 if untrained else 300, seed=seed)
    bug, fix = report.symptom, report.fixed
    n_eval = gan.Gan2DConfig().n_eval  # the samples the shares are measured on
    _keep(keep, report=report)
    return {"buggy_mean_d_of_g_z": bug["mean_D_of_G_z"], "buggy_mean_d_loss": bug["mean_d_loss"],
            "buggy_high_quality_samples": round(bug["high_quality"] * n_eval),
            "buggy_radius_gap": abs(bug["mean_sample_radius"] - 2.0),
            "buggy_sample_shift": bug["mean_sample_shift"],
            "fixed_mean_d_of_g_z": fix["mean_D_of_G_z"],
            "fixed_radius_gap": abs(fix["mean_sample_radius"] - 2.0)}


def _unit_gan_ring(seed: int, untrained: bool, keep: dict | None = None) -> dict[str, float]:
    """tests/gan/test_toy2d.py: 300 steps of the non-saturating GAN move the samples onto the ring."""
    from . import gan

    config = gan.Gan2DConfig.for_mode("quick", steps=0 if untrained else 300, batch_size=128, width=64,
                                      snapshot_every=300, seed=seed)
    res = gan.train_gan_2d(config, "cpu", progress=False)
    centres = gan.ring_mixture().centers_tensor

    def mean_gap(points):  # mean distance to the nearest centre
        return __import__("torch").cdist(points, centres).min(dim=1).values.mean().item()

    _keep(keep, result=res)
    return {"ring_gap_ratio": mean_gap(res.snapshots[config.steps]) / mean_gap(res.snapshots[0])}


def _unit_gan_steps(seed: int, untrained: bool, keep: dict | None = None) -> dict[str, float]:
    """tests/gan/test_toy2d.py: 20 plain SGD steps of ``discriminator_step``, and of ``generator_step``, on one
    fixed batch. D's loss falls by about half (last step over first); G's, against a random D, by less than
    1% in all, but every one of its 19 later steps starts lower than the one before (counted)."""
    import torch

    from . import gan

    out: dict[str, float] = {}
    for player in ("discriminator", "generator"):
        torch.manual_seed(seed)
        config = gan.Gan2DConfig.for_mode("quick", width=16, depth=2)
        G, D = gan.build_gan_2d(config)
        if player == "discriminator":
            real, z = torch.randn(64, 2) + 3.0, torch.randn(64, config.z_dim)
        else:
            z = torch.randn(64, config.z_dim)
        before = {"G": [p.detach().clone() for p in G.parameters()], "D": [p.detach().clone() for p in D.parameters()]}
        loss = gan.get_loss("non_saturating")
        if player == "discriminator":
            opt = torch.optim.SGD(D.parameters(), lr=0.05)
            logs = [gan.discriminator_step(G, D, loss, real, z, opt)["d_loss"] for _ in range(0 if untrained else 20)]
        else:
            opt = torch.optim.SGD(G.parameters(), lr=0.05)
            logs = [gan.generator_step(G, D, loss, z, opt)["g_loss"] for _ in range(0 if untrained else 20)]
        if keep is not None:
            keep[player] = {"G": G, "D": D, "before": before, "logs": logs}
        if player == "discriminator":
            out["discriminator_last_over_first_loss"] = logs[-1] / logs[0] if logs else float("nan")
        else:
            out["generator_steps_lowering_loss"] = sum(b < a for a, b in zip(logs, logs[1:]))
    return out


def _unit_diffusion_2d(seed: int, untrained: bool, keep: dict | None = None) -> dict[str, float]:
    """tests/diffusion: the small MLP denoiser trained 400 steps on the ring, against its own initial weights."""
    import torch

    from . import diffusion, runtime
    from .gan import get_mixture

    config = diffusion.Diffusion2DConfig.for_mode("quick", width=64, depth=2, steps=0 if untrained else 400,
                                                  n_eval=500, sample_steps=20, seed=seed)
    res = diffusion.train_diffusion_2d(config, "cpu", progress=False)
    losses = res.history["loss"]
    runtime.seed_everything(config.seed)  # the same initial weights as the trained model: its untrained self
    fresh = diffusion.MLPDenoiser(2, config.width, config.depth, config.emb_dim, config.fourier, config.fourier_scale)
    pts = get_mixture("ring").sample(2000, torch.Generator().manual_seed(5))
    with torch.no_grad():  # the same points, times and noise for both models
        trained, before = (diffusion.noise_prediction_loss(m, res.schedule, pts,
                                                           generator=torch.Generator().manual_seed(6))
                           for m in (res.model, fresh))
    _keep(keep, result=res, fresh=fresh)
    return {"late_over_early_training_loss": _tail_mean(losses, 50) / _head_mean(losses, 10),
            "trained_over_untrained_loss": float(trained) / float(before)}


def _unit_fusion(seed: int, untrained: bool, keep: dict | None = None) -> dict[str, float]:
    """tests/attention/test_fusion.py: early, late and attention fusion, 2 epochs on 3,000 examples,
    with ten random caption vectors (seeded) instead of MiniLM's."""
    import torch
    import torch.nn.functional as F

    from . import attention

    cfg = attention.FusionConfig(n_train=3000, n_test=1000, epochs=0 if untrained else 2, seed=seed)
    captions = F.normalize(torch.randn(10, 24, generator=torch.Generator().manual_seed(seed)), dim=-1)
    res = attention.train_fusion(cfg, captions)
    a = res.alpha_by_condition
    _keep(keep, result=res, config=cfg, captions=captions)
    return {"alpha_drop_for_noisy_images": a["clean image, right caption"] - a["noisy image, right caption"],
            "attention_accuracy": res.accuracy["attention"]["all"]}


#: the fine-tuning configuration of tests/careers/test_finetune.py (its ``TINY``, trained for 4 epochs)
def _careers_tiny(seed: int):
    from . import careers

    return careers.FinetuneConfig(n_train=48, n_test=24, batch_size=8, epochs=4, max_length=32, trainable_layers=1,
                                  checkpoint_every=3, seed=seed)


def _unit_careers_finetune(seed: int, untrained: bool, keep: dict | None = None, data=None,
                           encoder=None) -> dict[str, float]:
    """tests/careers/test_finetune.py: MiniLM's top layer and a head fine-tuned on 48 tasks for 4 epochs
    (24 steps); the split, the cached features and the training all follow the seed."""
    import math

    import numpy as np

    from . import careers
    from .data import load_occupations
    from .pretrained import load_minilm

    cfg = _careers_tiny(seed)
    data = data if data is not None else load_occupations()
    encoder = encoder if encoder is not None else load_minilm("cpu")
    split = careers.grouped_split(data.tasks, cfg.test_fraction, cfg.seed, n_train=cfg.n_train, n_test=cfg.n_test)
    feats = careers.encode_features(split.train["Task"].tolist(), encoder, cfg.trainable_layers,
                                    max_length=cfg.max_length)
    labels = careers.label_ids(split.train["human_exposure_agg"])
    res = careers.train_exposure_classifier(cfg, feats, labels, encoder, stop_after=0 if untrained else None,
                                            progress=False)
    per_epoch = math.ceil(len(labels) / cfg.batch_size)
    losses = res.history["train_loss"]
    pred = careers.predict_labels(res.model, feats)
    majority = careers.majority_baseline(labels, labels)["accuracy"]
    _keep(keep, result=res, config=cfg, features=feats, labels=labels, predictions=pred)
    return {"last_over_first_epoch_loss": _tail_mean(losses, per_epoch) / _head_mean(losses, per_epoch),
            "train_accuracy_over_majority": float(np.mean(pred == labels)) - majority}


def _unit_careers_logreg(seed: int, untrained: bool, keep: dict | None = None) -> dict[str, float]:
    """tests/careers/test_experiment.py: the frozen-embedding baseline (cross-validated logistic regression)
    on 40 synthetic 5-d points whose label is the sign of the first coordinate, scored on 20 more.
    Untrained: the model without features, the majority class."""
    import numpy as np

    from . import careers

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(60, 5))
    y = (x[:, 0] > 0).astype(int)
    if untrained:
        metrics, pred, c = careers.majority_baseline(y[:40], y[40:]), None, float("nan")
    else:
        metrics, pred, c = careers.frozen_logreg_baseline(x[:40], y[:40], x[40:], y[40:], groups=np.arange(40) % 8,
                                                          seed=seed)
    _keep(keep, metrics=metrics, predictions=pred, c=c, y_test=y[40:])
    return {"test_accuracy": metrics["accuracy"]}


def _unit_bigram(seed: int, untrained: bool, keep: dict | None = None) -> dict[str, float]:
    """tests/lm/test_bigram.py: the bigram table trained by gradient descent for 200 steps (the notebook's
    ``first-look-bigram`` check trains 300)."""
    from . import bigram
    from .data import load_text

    result = bigram.train_bigram(load_text("tinyshakespeare"), bigram.BigramConfig(steps=0 if untrained else 200,
                                                                                   seed=seed), progress=False)
    m = result.metrics
    _keep(keep, result=result)
    return {"sgd_over_counts_perplexity": m["val_ppl_sgd"] / m["val_ppl_counts"],
            "uniform_over_sgd_perplexity": m["val_ppl_uniform"] / m["val_ppl_sgd"]}


def _tiny_gpt(splits, **overrides):
    """The small GPT of tests/lm/conftest.py's ``tiny_cfg`` (context 32, 2 layers, 4 heads, 32 wide)."""
    from . import lm

    return lm.GPTConfig(**{**dict(vocab_size=splits.tokenizer.vocab_size, block_size=32, n_layer=2, n_head=4,
                                  n_embd=32), **overrides})


def _tiny_train(**overrides):
    """The short training of tests/lm/conftest.py's ``tiny_train`` (batches of 8, one thread)."""
    from . import lm

    return lm.TrainConfig(**{**dict(steps=40, batch_size=8, lr=3e-3, min_lr=3e-4, warmup_steps=5, eval_interval=20,
                                    eval_batches=2, final_eval_tokens=1024, checkpoint_interval=10, log_interval=5,
                                    cpu_threads=1), **overrides})


def _unit_lm_gpt(seed: int, untrained: bool, keep: dict | None = None, splits=None) -> dict[str, float]:
    """tests/lm/test_train.py: the small GPT, 80 steps on tiny-shakespeare; init and data order follow the seed."""
    import torch

    from . import lm

    splits = splits if splits is not None else lm.shakespeare_splits()
    torch.manual_seed(seed)
    model = lm.GPT(_tiny_gpt(splits))
    before = lm.evaluate(model, splits.val, max_tokens=2048)
    config = _tiny_train(steps=0 if untrained else 80, seed=seed)
    res = lm.train_lm(model, splits, config, progress=False)
    _keep(keep, result=res, model=model, loss_before=before, config=config)
    return {"val_loss_drop": before - res.metrics["val_loss"]}


def _unit_lm_twin(seed: int, untrained: bool, keep: dict | None = None, splits=None) -> dict[str, float]:
    """tests/lm/test_train.py: the Hugging Face GPT-2 twin of the small GPT, 30 steps of the same loop."""
    import torch

    from . import lm

    splits = splits if splits is not None else lm.shakespeare_splits()
    config = _tiny_train(steps=0 if untrained else 30, seed=seed)
    torch.manual_seed(seed)
    res = lm.train_lm(lm.gpt2_twin(_tiny_gpt(splits)), splits, config, progress=False)
    h = res.history["val_loss"]
    _keep(keep, result=res, config=config)
    return {"first_minus_last_val_estimate": h[0] - h[-1]}


def _unit_lm_keep_best(seed: int, untrained: bool, keep: dict | None = None, splits=None) -> dict[str, float]:
    """tests/lm/test_train.py: a schedule whose learning rate climbs to 0.5 wrecks the small GPT late;
    ``keep_best`` returns the weights of the best evaluation."""
    import torch

    from . import lm

    splits = splits if splits is not None else lm.shakespeare_splits()
    steps = 0 if untrained else 60
    config = _tiny_train(steps=steps, lr=3e-3, min_lr=0.5, warmup_steps=5, eval_interval=10, keep_best=True,
                         seed=seed)
    torch.manual_seed(seed)
    res = lm.train_lm(lm.GPT(_tiny_gpt(splits)), splits, config, progress=False)
    _keep(keep, result=res, config=config)
    return {"steps_after_best": steps - res.metrics["best_step"],
            "final_minus_best_val_loss": res.metrics["val_loss_final"] - res.metrics["val_loss"]}


def _unit_lm_causal_mask(seed: int, untrained: bool, keep: dict | None = None, splits=None) -> dict[str, float]:
    """tests/lm/test_mistakes.py: the GPT trained 300 steps with and without the causal mask."""
    import warnings

    from . import lm

    with warnings.catch_warnings():  # untrained: the mean of no logged batch losses is NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        report = lm.causal_mask_mistake(steps=0 if untrained else 300, seed=seed, splits=splits)
    _keep(keep, report=report)
    return {"leaky_over_causal_train_loss": report.symptom["train_loss"] / report.fixed["train_loss"],
            "leaky_minus_causal_prefix_loss": report.symptom["prefix_loss"] - report.fixed["prefix_loss"]}


#: the small evaluation classifier of tests/test_metrics.py (4,096 training images, two epochs)
def _tiny_classifier(seed: int):
    from . import metrics

    return metrics.ClassifierConfig(c1=8, c2=16, feature_dim=32, epochs=2, batch_size=64, lr=5e-3, train_subset=4096,
                                    seed=seed)


def _unit_mnist_classifier(seed: int, untrained: bool, keep: dict | None = None, data=None) -> dict[str, float]:
    """tests/test_metrics.py: the small MNIST classifier, its accuracy, and what it says about 2,000 real
    test digits and 500 blank images. Untrained: the same network at its initial weights."""
    import torch

    from . import metrics, runtime
    from .data import load_mnist

    data = data if data is not None else (load_mnist("train"), load_mnist("test"))
    config = _tiny_classifier(seed)
    (_, _), (xt, yt) = data
    if untrained:
        runtime.seed_everything(config.seed)
        clf = metrics.MnistClassifier(config.c1, config.c2, config.feature_dim).eval()
        accuracy = metrics._accuracy(clf, xt, yt, torch.device("cpu"))
    else:
        result = metrics.train_mnist_classifier(config, "cpu", progress=False, data=data)
        clf, accuracy = result.model, result.test_accuracy
    reference, floor = metrics.real_frechet_floor(clf, n=2000, data=data)
    real = metrics.classifier_metrics(xt[2000:4000], clf, reference)
    blank = metrics.classifier_metrics(torch.zeros(500, 1, 28, 28), clf, reference)
    _keep(keep, classifier=clf, config=config, test_accuracy=accuracy, reference=reference, floor=floor, real=real,
          blank=blank)
    return {"test_accuracy": accuracy, "real_classes_present": real.classes_present,
            "real_class_share_min": real.class_share_min, "real_class_share_max": real.class_share_max,
            "blank_frechet_over_real": blank.frechet / max(real.frechet, floor)}


def _tiny_vae(seed: int, **overrides):
    """The small VAE of tests/vae/conftest.py's ``tiny`` (784-128-8 ELU, 150 steps, a test curve every 50)."""
    from . import vae

    return vae.VAEConfig(**{**dict(hidden=(128,), latent_dim=8, activation="elu", batch_size=100, steps=150, lr=3e-3,
                                   eval_every=50, checkpoint_every=50, eval_subset=200, seed=seed), **overrides})


def _vae_tiny_data(data):
    """tests/vae/conftest.py's ``mnist``: 5,000 training digits and the first 500 test digits binarized once."""
    from . import vae

    if data is not None:
        return data
    x, _ = vae.mnist_flat("train")
    xt, _ = vae.mnist_flat("test")
    return x[:5000], vae.fixed_binarization(xt[:500])


def _test_curve(result, config, x_test) -> list[float]:
    """The run's test negative-ELBO curve; for an untrained run the one value of its initial weights."""
    from . import vae

    curve = list(result.history["test_neg_elbo"])
    return curve or [vae.negative_elbo(result.model, x_test[: config.eval_subset], seed=config.seed + 1)]


def _unit_vae_tiny(seed: int, untrained: bool, keep: dict | None = None, data=None) -> dict[str, float]:
    """tests/vae (test_train, test_evaluate): the small VAE trained 150 steps on 5,000 digits, its test curve,
    and the importance-weighted NLL of 200 test digits for k = 1, 10, 100."""
    from . import vae

    x, xt = _vae_tiny_data(data)
    config = _tiny_vae(seed)
    result = vae.train_vae(config, x, xt, device="cpu", stop_after=0 if untrained else None, progress=False)
    curve = _test_curve(result, config, xt)
    neg_elbo = vae.negative_elbo(result.model, xt[:200], n_samples=20)
    iwae = vae.iwae_curve(result.model, xt[:200], [1, 10, 100])
    nll = [iwae[k].nll for k in (1, 10, 100)]
    _keep(keep, result=result, curve=curve, neg_elbo_20=neg_elbo, iwae_curve=iwae)
    return {"test_neg_elbo_drop": curve[0] - curve[-1], "final_test_neg_elbo": curve[-1],
            "iwae_k1_minus_neg_elbo_abs": abs(nll[0] - neg_elbo),
            "nll_k1_minus_k10": nll[0] - nll[1], "nll_k10_minus_k100": nll[1] - nll[2], "nll_k100": nll[2],
            "share_of_images_k100_below_k1": float((iwae[100].per_example <= iwae[1].per_example).float().mean())}


def _unit_vae_iwae(seed: int, untrained: bool, keep: dict | None = None, data=None) -> dict[str, float]:
    """tests/vae/test_train.py: the small VAE trained 100 steps on the IWAE bound with k = 4."""
    from . import vae

    x, xt = _vae_tiny_data(data)
    config = _tiny_vae(seed, objective="iwae", k_train=4, steps=100)
    result = vae.train_vae(config, x, xt, device="cpu", stop_after=0 if untrained else None, progress=False)
    curve = _test_curve(result, config, xt)
    _keep(keep, result=result, curve=curve)
    return {"test_neg_elbo_drop": curve[0] - curve[-1]}


def _vae_mistake(kind: str, seed: int, untrained: bool, keep: dict | None, data):
    """One of the VAE chapter's mistakes as tests/vae/test_mistakes.py runs it (5,000 training digits, 500 for
    measuring). Untrained: one step, the fewest the mistakes' configuration takes."""
    from . import vae

    data = data if data is not None else vae.mistake_data(n_train=5000, n_eval=500)
    fn, steps = {"kl_sign": (vae.mistake_kl_sign, 150), "mse": (vae.mistake_mse_reconstruction, 200),
                 "reparam": (vae.mistake_no_reparameterization, 150)}[kind]
    report = fn(steps=1 if untrained else steps, data=data, seed=seed)
    _keep(keep, report=report)
    return report.symptom, report.fixed


def _unit_vae_kl_sign(seed: int, untrained: bool, keep: dict | None = None, data=None) -> dict[str, float]:
    """tests/vae/test_mistakes.py: the KL added with the wrong sign, 150 steps, and the fixed loss."""
    wrong, fixed = _vae_mistake("kl_sign", seed, untrained, keep, data)
    return {"wrong_final_train_loss": wrong["final_train_loss"], "wrong_kl_nats": wrong["kl_nats"],
            "wrong_over_fixed_kl": wrong["kl_nats"] / fixed["kl_nats"],
            "wrong_over_fixed_mean_abs_mu": wrong["mean_abs_mu"] / fixed["mean_abs_mu"],
            "wrong_minus_fixed_reconstruction_nats": wrong["reconstruction_nats"] - fixed["reconstruction_nats"],
            "fixed_final_train_loss": fixed["final_train_loss"], "fixed_kl_nats": fixed["kl_nats"]}


def _unit_vae_mse(seed: int, untrained: bool, keep: dict | None = None, data=None) -> dict[str, float]:
    """tests/vae/test_mistakes.py: mean-reduced MSE + KL against the Bernoulli likelihood, 200 steps each."""
    wrong, fixed = _vae_mistake("mse", seed, untrained, keep, data)
    return {"wrong_kl_nats": wrong["kl_nats"], "wrong_active_units": wrong["active_units"],
            "wrong_reconstruction_spread": wrong["reconstruction_spread"],
            "fixed_active_units": fixed["active_units"], "fixed_kl_nats": fixed["kl_nats"],
            "fixed_reconstruction_spread": fixed["reconstruction_spread"],
            "wrong_minus_fixed_reconstruction_nats": wrong["reconstruction_nats"] - fixed["reconstruction_nats"],
            "wrong_reconstruction_nats": wrong["reconstruction_nats"]}


def _unit_vae_reparam(seed: int, untrained: bool, keep: dict | None = None, data=None) -> dict[str, float]:
    """tests/vae/test_mistakes.py: ``torch.normal(mu, std)`` against the reparameterised sample, 150 steps each."""
    wrong, fixed = _vae_mistake("reparam", seed, untrained, keep, data)
    return {"wrong_kl_nats": wrong["kl_nats"], "wrong_active_units": wrong["active_units"],
            "fixed_active_units": fixed["active_units"], "wrong_reconstruction_nats": wrong["reconstruction_nats"]}


def _unit_vae_bench(seed: int, untrained: bool, keep: dict | None = None) -> dict[str, float]:
    """tests/vae/test_bench.py: the chapter's quick benchmark stopped after 30 steps, measured on 50 test digits."""
    import tempfile
    from pathlib import Path

    import torch

    from . import vae

    with tempfile.TemporaryDirectory() as folder:  # a fresh checkpoint: never resume another run
        out = vae.bench_mnist("quick", torch.device("cpu"), stop_after=0 if untrained else 30, eval_images=50,
                              checkpoint_path=Path(folder) / "q.pt", progress=False, seed=seed)
    m = out["metrics"]
    _keep(keep, out=out)
    return {"test_nll_nats": m["test_nll_nats"],
            "neg_elbo_minus_nll": m["test_neg_elbo_nats"] - m["test_nll_nats"]}


UNIT_MEASURES: dict[str, Callable[..., dict[str, float]]] = {
    "unit-gan-disc1d": _unit_gan_disc1d,
    "unit-gan-detached-fake": _unit_gan_detached,
    "unit-gan-max-max": _unit_gan_max_max,
    "unit-gan-ring-300": _unit_gan_ring,
    "unit-gan-steps": _unit_gan_steps,
    "unit-diffusion-2d": _unit_diffusion_2d,
    "unit-attention-fusion": _unit_fusion,
    "unit-careers-finetune": _unit_careers_finetune,
    "unit-careers-logreg": _unit_careers_logreg,
    "unit-lm-bigram": _unit_bigram,
    "unit-lm-gpt": _unit_lm_gpt,
    "unit-lm-twin": _unit_lm_twin,
    "unit-lm-keep-best": _unit_lm_keep_best,
    "unit-lm-causal-mask": _unit_lm_causal_mask,
    "unit-mnist-classifier": _unit_mnist_classifier,
    "unit-vae-tiny": _unit_vae_tiny,
    "unit-vae-iwae": _unit_vae_iwae,
    "unit-vae-kl-sign": _unit_vae_kl_sign,
    "unit-vae-mse": _unit_vae_mse,
    "unit-vae-reparam": _unit_vae_reparam,
    "unit-vae-bench": _unit_vae_bench,
}
