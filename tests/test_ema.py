"""aigc_lessons.ema: the moving average of weights, written out step by step."""

import pytest
import torch
import torch.nn as nn

from aigc_lessons.ema import averaged_copy, ema_decay, ema_update


def test_decay_warms_up_then_stays_constant():
    assert ema_decay(0.999, 0) == pytest.approx(0.1)  # (1 + 0) / (10 + 0)
    assert ema_decay(0.999, 90) == pytest.approx(91 / 100)
    assert ema_decay(0.999, 10**6) == 0.999 and ema_decay(0.5, 100) == 0.5
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match="EMA decay"):
            ema_decay(bad, 3)
    with pytest.raises(ValueError, match="step"):
        ema_decay(0.9, -1)


def test_update_averages_parameters_and_copies_buffers():
    torch.manual_seed(0)
    model, average = nn.BatchNorm1d(3), nn.BatchNorm1d(3)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([1.0, 2.0, 3.0]))
        average.weight.copy_(torch.tensor([3.0, 2.0, 1.0]))
    model(torch.randn(8, 3))  # moves the running statistics
    ema_update(average, model, decay=0.9, step=1000)
    torch.testing.assert_close(average.weight, 0.9 * torch.tensor([3.0, 2.0, 1.0]) + 0.1 * torch.tensor([1.0, 2.0, 3.0]))
    torch.testing.assert_close(average.running_mean, model.running_mean)
    torch.testing.assert_close(average.running_var, model.running_var)
    ema_update(average, model, decay=0.9, step=0)  # warm-up: decay 0.1
    torch.testing.assert_close(average.weight, 0.1 * torch.tensor([2.8, 2.0, 1.2]) + 0.9 * torch.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError):
        ema_update(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)), 0.9, 0)


def test_averaged_copy_is_independent_and_takes_no_gradients():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    average = averaged_copy(model)
    assert all(not p.requires_grad for p in average.parameters())
    assert all(p.requires_grad for p in model.parameters())
    for a, b in zip(average.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()
    with torch.no_grad():
        model[0].weight.add_(1.0)
    assert not torch.equal(average[0].weight, model[0].weight)
