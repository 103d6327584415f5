"""Attention across modalities (aigc_lessons.attention.fusion) and the notebook's mode settings."""

import pytest
import torch

from aigc_lessons import attention as A
from aigc_lessons import calibrate


def test_fusion_attention_weights_follow_the_reliable_modality():
    """alpha = softmax(e) over (image, caption) sums to 1, and the trained query puts less weight on
    the image when the image is drowned in noise than when it is clean."""
    # A.FusionConfig(n_train=3000, n_test=1000, epochs=2), ten random unit caption vectors (seeded 0):
    # any ten distinct caption vectors will do; the calibrated unit-attention-fusion run at seed 0
    metrics, objects = calibrate.run_unit("unit-attention-fusion", 0)
    cfg, res = objects["config"], objects["result"]
    assert (cfg.n_train, cfg.n_test, cfg.epochs) == (3000, 1000, 2) and objects["captions"].shape == (10, 24)
    assert res.alpha.shape == (1000, 2)
    torch.testing.assert_close(res.alpha.sum(-1), torch.ones(1000))
    a = res.alpha_by_condition
    assert metrics["alpha_drop_for_noisy_images"] == a["clean image, right caption"] - a["noisy image, right caption"]
    calibrate.assert_checks("unit-attention-fusion", metrics, "quick")  # alpha drops > 0.1; accuracy > 0.6
    assert set(res.accuracy) == {"early", "late", "attention"}
    with pytest.raises(ValueError, match="caption_embeddings"):
        A.train_fusion(cfg, torch.zeros(9, 4))


def test_configs_take_quick_and_full_values_and_overrides():
    quick, full = A.AttentionDemoConfig.for_mode("quick"), A.AttentionDemoConfig.for_mode("full")
    assert quick.d_ks == (4, 16, 64, 256, 1024) and quick.scaling_queries == 512 and quick.cost_repeats == 5
    assert max(full.d_ks) == 4096 and full.scaling_queries == 4096 and full.cost_repeats == 10
    assert quick.fusion == A.FusionConfig.for_mode("quick") == A.FusionConfig(n_train=8000, n_test=4000, epochs=4)
    assert (full.fusion.n_train, full.fusion.n_test, full.fusion.epochs) == (60000, 10000, 10)
    assert A.FusionConfig.for_mode("full", epochs=1).epochs == 1
    assert A.AttentionDemoConfig.for_mode("quick", cost_heads=2).cost_heads == 2
    with pytest.raises(TypeError):
        A.FusionConfig.for_mode("quick", n_epochs=3)
