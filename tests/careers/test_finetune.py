"""Chapter 5 fine-tuning: grouped split, cached frozen features, training, resuming, full mode starts."""

import dataclasses

import numpy as np
import pytest
import torch

from aigc_lessons import calibrate, careers, runtime
from aigc_lessons.careers.finetune import _pad_states
from aigc_lessons.checkpoint import CheckpointError

TINY = careers.FinetuneConfig(n_train=48, n_test=24, batch_size=8, epochs=2, max_length=32,
                              trainable_layers=1, checkpoint_every=3)


@pytest.fixture(scope="module")
def tiny(data, encoder):
    split = careers.grouped_split(data.tasks, TINY.test_fraction, TINY.seed, n_train=TINY.n_train,
                                  n_test=TINY.n_test)
    feats = careers.encode_features(split.train["Task"].tolist(), encoder, 1, max_length=TINY.max_length)
    labels = careers.label_ids(split.train["human_exposure_agg"])
    return split, feats, labels


def test_grouped_split_keeps_occupations_apart(data):
    split = careers.grouped_split(data.tasks, 0.2, seed=3)
    assert not split.overlap
    assert len(split.train) + len(split.test) == len(data.tasks)
    assert 0.19 < len(split.test) / len(data.tasks) < 0.22
    sub = careers.grouped_split(data.tasks, 0.2, seed=3, n_train=100, n_test=50)
    assert len(sub.train) == 100 and len(sub.test) == 50 and not sub.overlap
    assert set(sub.test["O*NET-SOC Code"]) <= set(split.test["O*NET-SOC Code"])
    with pytest.raises(ValueError, match="n_train"):
        careers.grouped_split(data.tasks, 0.2, n_train=10**6)


@pytest.mark.parametrize("k", [1, 6])
def test_cached_features_reproduce_the_frozen_model(tiny, encoder, k):
    split, _, _ = tiny
    texts = split.train["Task"].tolist()[:8]
    feats = careers.encode_features(texts, encoder, k, max_length=32)
    model = careers.ExposureClassifier(encoder.model, k).eval()
    hidden, mask = _pad_states(feats.hidden)
    with torch.no_grad():
        pooled = model.pooled(hidden, mask)
    # running the copied top-k layers on the cached states gives the full frozen model's embedding
    assert torch.allclose(pooled, feats.frozen, atol=1e-5)
    assert torch.allclose(feats.frozen, careers.embed_texts(texts, encoder, max_length=32), atol=1e-5)


def test_training_fits_its_training_tasks(tiny, data, encoder):
    _, feats, labels = tiny
    # TINY trained for 4 epochs on the fixture's split and features: the calibrated unit-careers-finetune run
    metrics, objects = calibrate.run_unit("unit-careers-finetune", TINY.seed, data=data, encoder=encoder)
    assert objects["config"] == dataclasses.replace(TINY, epochs=4)
    assert torch.equal(objects["features"].frozen, feats.frozen) and np.array_equal(objects["labels"], labels)
    res = objects["result"]
    assert res.steps == res.total_steps == 4 * 6
    assert res.resumed_from == 0
    losses = res.history["train_loss"]
    assert metrics["last_over_first_epoch_loss"] == pytest.approx(np.mean(losses[-6:]) / np.mean(losses[:6]))
    pred = careers.predict_labels(res.model, feats)
    majority = careers.majority_baseline(labels, labels)["accuracy"]
    assert metrics["train_accuracy_over_majority"] == pytest.approx((pred == labels).mean() - majority)
    # the last epoch's loss below the first's; training accuracy above the majority class's share
    calibrate.assert_checks("unit-careers-finetune", metrics, "quick")
    # the pretrained encoder is untouched (the classifier trains a copy of its top layer)
    assert res.model.layers[0].output.dense.weight.data_ptr() != encoder.model.encoder.layer[5].output.dense.weight.data_ptr()


def test_resume_reproduces_the_uninterrupted_run(tiny, encoder, tmp_path):
    _, feats, labels = tiny
    full = careers.train_exposure_classifier(TINY, feats, labels, encoder, progress=False)
    path = tmp_path / "ft.pt"
    first = careers.train_exposure_classifier(TINY, feats, labels, encoder, checkpoint_path=path, stop_after=5,
                                              progress=False)
    assert first.steps == 5 and path.exists()
    second = careers.train_exposure_classifier(TINY, feats, labels, encoder, checkpoint_path=path,
                                               progress=False)
    assert second.resumed_from == 5 and second.steps == full.steps
    assert np.allclose(second.history["train_loss"], full.history["train_loss"], atol=1e-6)
    for a, b in zip(second.model.parameters(), full.model.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    # a changed config, or other training tasks, cannot resume this checkpoint
    other = dataclasses.replace(TINY, lr=1e-3)
    with pytest.raises(CheckpointError, match="another configuration.*lr"):
        careers.train_exposure_classifier(other, feats, labels, encoder, checkpoint_path=path, progress=False)
    fewer = careers.TaskFeatures(hidden=feats.hidden[:40], frozen=feats.frozen[:40], trainable_layers=1)
    with pytest.raises(CheckpointError, match="train_tasks: 48 -> 40"):
        careers.train_exposure_classifier(TINY, fewer, labels[:40], encoder, checkpoint_path=path, progress=False)


def test_full_mode_config_starts_on_cpu(tiny, encoder):
    split, _, _ = tiny
    full = careers.FinetuneConfig.for_mode("full")
    assert full.n_train is None and full.trainable_layers == 6 and full.bf16
    quick = careers.FinetuneConfig.for_mode("quick")
    assert quick.n_train is not None and quick.trainable_layers < full.trainable_layers
    assert careers.FinetuneConfig.for_mode("quick", epochs=1) == dataclasses.replace(quick, epochs=1)
    with pytest.raises(TypeError):
        careers.FinetuneConfig.for_mode("quick", max_steps=3)
    texts = split.train["Task"].tolist()[: full.batch_size]
    feats = careers.encode_features(texts, encoder, full.trainable_layers, max_length=full.max_length)
    labels = careers.label_ids(split.train["human_exposure_agg"])[: full.batch_size]
    res = careers.train_exposure_classifier(full, feats, labels, encoder, stop_after=1, progress=False)
    assert res.steps == 1 and np.isfinite(res.history["train_loss"][0])


def test_bad_configs_and_inputs_are_rejected(tiny, encoder):
    _, feats, labels = tiny
    with pytest.raises(ValueError, match="target"):
        dataclasses.replace(TINY, target="robots").validate()
    with pytest.raises(ValueError, match="trainable_layers"):
        dataclasses.replace(TINY, trainable_layers=7).validate()
    with pytest.raises(ValueError, match="labels"):
        careers.train_exposure_classifier(TINY, feats, labels[:-1], encoder, progress=False)
    with pytest.raises(ValueError, match="cached below"):
        careers.train_exposure_classifier(dataclasses.replace(TINY, trainable_layers=2), feats, labels, encoder)
    with pytest.raises(ValueError, match="unknown exposure label"):
        careers.label_ids(["E0", "E3"])


def test_quick_fine_tuning_runs_pinned_and_deterministic(tiny, encoder, optimizer_step_state):
    """Every optimiser step of a quick run sees the config's thread count and deterministic kernels."""
    _, feats, labels = tiny
    quick, full = careers.FinetuneConfig.for_mode("quick"), careers.FinetuneConfig.for_mode("full")
    assert quick.cpu_threads == 2 and quick.deterministic
    assert full.cpu_threads is None and not full.deterministic
    cfg = dataclasses.replace(TINY, epochs=1, cpu_threads=quick.cpu_threads, deterministic=True)
    with runtime.cpu_threads(1):
        careers.train_exposure_classifier(cfg, feats, labels, encoder, progress=False)
        assert torch.get_num_threads() == 1
    assert optimizer_step_state and set(optimizer_step_state) == {(2, True)}
    assert not torch.are_deterministic_algorithms_enabled()
