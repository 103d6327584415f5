"""The loss table of the GAN chapter: each loss at known inputs, gradients, Lipschitz tools."""

import math

import pytest
import torch
import torch.nn as nn

from aigc_lessons import gan

DOUBLE = dict(dtype=torch.float64)


def test_the_five_losses_are_registered_and_unknown_names_fail():
    assert set(gan.losses) == {"saturating", "non_saturating", "least_squares", "wasserstein", "hinge"}
    with pytest.raises(KeyError, match="valid names are"):
        gan.get_loss("minimax")
    with pytest.raises(TypeError):
        gan.losses["mine"] = gan.losses["hinge"]  # the table is read-only


def test_bce_discriminator_loss_is_minus_the_value_function():
    # at logits 0 both D(x) and D(G(z)) are 1/2: -log(1/2) - log(1/2) = 2 log 2
    zero = torch.zeros(4, **DOUBLE)
    assert gan.get_loss("non_saturating").discriminator(zero, zero).item() == pytest.approx(2 * math.log(2), abs=1e-12)
    real, fake = torch.tensor([2.0, -1.0, 0.3], **DOUBLE), torch.tensor([-3.0, 0.5], **DOUBLE)
    direct = -torch.log(torch.sigmoid(real)).mean() - torch.log(1 - torch.sigmoid(fake)).mean()
    for name in ("saturating", "non_saturating"):
        assert gan.get_loss(name).discriminator(real, fake).item() == pytest.approx(direct.item(), abs=1e-12)
    # stable where the naive formula overflows: D(x) = sigma(-800) underflows to 0
    assert gan.get_loss("non_saturating").discriminator(torch.tensor([-800.0], **DOUBLE), zero[:1]).item() == pytest.approx(800 + math.log(2))


def test_generator_losses_at_known_logits():
    fake = torch.tensor([0.0], **DOUBLE)
    assert gan.get_loss("saturating").generator(fake).item() == pytest.approx(-math.log(2))  # log(1 - 1/2)
    assert gan.get_loss("non_saturating").generator(fake).item() == pytest.approx(math.log(2))  # -log(1/2)
    logits = torch.tensor([-4.0, 1.0, 3.0], **DOUBLE)
    d = torch.sigmoid(logits)
    assert gan.get_loss("saturating").generator(logits).item() == pytest.approx(torch.log(1 - d).mean().item())
    assert gan.get_loss("non_saturating").generator(logits).item() == pytest.approx(-torch.log(d).mean().item())


def test_least_squares_values():
    ls = gan.get_loss("least_squares")
    one, zero = torch.ones(3, **DOUBLE), torch.zeros(3, **DOUBLE)
    assert ls.discriminator(one, zero).item() == 0.0  # real on target b = 1, fake on target a = 0
    assert ls.discriminator(zero, one).item() == pytest.approx(1.0)  # 1/2 * 1 + 1/2 * 1
    real, fake = torch.tensor([0.5, 3.0], **DOUBLE), torch.tensor([-1.0, 2.0, 0.0], **DOUBLE)
    # 1/2 mean((0.5-1)^2, (3-1)^2) + 1/2 mean(1, 4, 0) = 1/2 * 2.125 + 1/2 * 5/3
    assert ls.discriminator(real, fake).item() == pytest.approx(0.5 * 2.125 + 0.5 * 5 / 3)
    assert ls.generator(one).item() == 0.0
    assert ls.generator(zero).item() == pytest.approx(0.5)
    assert ls.generator(torch.tensor([3.0], **DOUBLE)).item() == pytest.approx(2.0)  # 1/2 (3-1)^2


def test_wasserstein_and_hinge_values():
    real, fake = torch.tensor([1.0, 3.0], **DOUBLE), torch.tensor([0.0, 2.0], **DOUBLE)
    w = gan.get_loss("wasserstein")
    assert w.discriminator(real, fake).item() == pytest.approx(1.0 - 2.0)  # E f(fake) - E f(real)
    assert w.generator(fake).item() == pytest.approx(-1.0)
    h = gan.get_loss("hinge")
    real, fake = torch.tensor([2.0, 0.5], **DOUBLE), torch.tensor([-2.0, 0.5], **DOUBLE)
    # relu(1-2)=0, relu(1-0.5)=0.5 -> 0.25 ; relu(1-2)=0, relu(1+0.5)=1.5 -> 0.75
    assert h.discriminator(real, fake).item() == pytest.approx(1.0)
    assert h.generator(fake).item() == pytest.approx(0.75)


def test_least_squares_optimal_discriminator_is_the_same_ratio():
    # pointwise minimiser of 1/2 p (D-1)^2 + 1/2 q D^2 is p / (p + q) (Mao et al. with a=0, b=1)
    p, q = torch.tensor([0.3, 1.2, 0.01], **DOUBLE), torch.tensor([0.7, 0.1, 0.5], **DOUBLE)
    d = gan.optimal_discriminator(p, q).requires_grad_(True)
    objective = (0.5 * p * (d - 1) ** 2 + 0.5 * q * d ** 2).sum()
    (grad,) = torch.autograd.grad(objective, d)
    assert grad.abs().max().item() < 1e-12


def test_saturating_gradient_vanishes_when_the_discriminator_wins():
    d = torch.tensor([1e-3, 0.1, 0.5, 0.9], **DOUBLE)
    sat = gan.generator_logit_gradient("saturating", d)
    ns = gan.generator_logit_gradient("non_saturating", d)
    torch.testing.assert_close(sat, -d)  # d/dl log(1 - sigma(l)) = -sigma(l) = -D
    torch.testing.assert_close(ns, -(1 - d))  # d/dl -log sigma(l) = -(1 - D)
    assert abs(ns[0] / sat[0]).item() == pytest.approx(999.0)  # at D(G(z)) = 0.001
    with pytest.raises(ValueError):
        gan.generator_logit_gradient("saturating", 0.0)


def test_gradient_penalty_of_a_linear_critic():
    critic = nn.Linear(2, 1, bias=False).double()
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 4.0]]))
    real, fake = torch.randn(16, 2, **DOUBLE), torch.randn(16, 2, **DOUBLE)
    g = torch.Generator().manual_seed(0)
    assert gan.gradient_penalty(critic, real, fake, g).item() == pytest.approx((5.0 - 1.0) ** 2)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[0.6, 0.8]]))  # unit norm: no penalty
    assert gan.gradient_penalty(critic, real, fake, g).item() == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError):
        gan.gradient_penalty(critic, real, fake[:3])


def test_gradient_penalty_pushes_the_gradient_norm_to_one():
    critic = nn.Linear(2, 1, bias=False).double()
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 4.0]]))
    opt = torch.optim.SGD(critic.parameters(), lr=0.1)
    x = torch.randn(32, 2, **DOUBLE)
    for _ in range(60):
        opt.zero_grad()
        gan.gradient_penalty(critic, x, -x).backward()
        opt.step()
    assert critic.weight.norm().item() == pytest.approx(1.0, abs=1e-3)


def test_clip_weights():
    net = nn.Linear(3, 3)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[0.5, -2.0, 0.001], [3.0, 0.0, -0.01], [0.0, 0.0, 0.0]]))
    gan.clip_weights(net, 0.01)
    assert net.weight.abs().max().item() <= 0.01
    assert net.weight[0, 2].item() == pytest.approx(0.001)  # inside the box: unchanged
    with pytest.raises(ValueError):
        gan.clip_weights(net, 0.0)


def test_every_loss_cites_an_entry_of_the_bibliography():
    from pathlib import Path

    bib = (Path(__file__).resolve().parents[2] / "book" / "references.bib").read_text(encoding="utf-8")
    for loss in gan.losses.values():
        assert "{" + loss.reference + "," in bib, loss.reference



def test_unknown_loss_error_lists_every_valid_name():
    with pytest.raises(KeyError, match="valid names are: saturating, non_saturating, least_squares, wasserstein, hinge"):
        gan.get_loss("minimax")


def test_logit_gradient_at_the_books_point_in_float64():
    """The book quotes the two gradients at D(G(z)) = 0.001, passed as a plain float: -0.001 and -0.999."""
    sat = gan.generator_logit_gradient("saturating", 0.001)
    ns = gan.generator_logit_gradient("non_saturating", 0.001)
    assert sat.dtype == ns.dtype == torch.float64
    assert sat.item() == pytest.approx(-0.001, rel=1e-12)
    assert ns.item() == pytest.approx(-0.999, rel=1e-12)
    for bad in (0.0, 1.0, 1.5, -0.2):
        with pytest.raises(ValueError, match=r"^D\(G\(z\)\) must lie strictly between 0 and 1$"):
            gan.generator_logit_gradient("non_saturating", bad)


class _RecordingQuadraticCritic:
    """f(x) = 1/2 xᵀ A x (gradient A x, written out), remembering the points it was evaluated at."""

    def __init__(self, dim):
        g = torch.Generator().manual_seed(11)
        b = torch.randn(dim, dim, generator=g, dtype=torch.float64)
        self.A = b @ b.T / dim + torch.eye(dim, dtype=torch.float64)
        self.seen = []

    def __call__(self, x):
        self.seen.append(x.detach().clone())
        return 0.5 * ((x @ self.A) * x).sum(-1)


def test_gradient_penalty_interpolates_per_sample_and_penalises_the_gradient_norm():
    """x̂_i = ε_i x_i + (1 - ε_i) x̃_i with ONE ε_i in [0, 1] per sample, on the segment between the real
    and the generated sample; the penalty is the mean of (‖∇f(x̂_i)‖ - 1)², here ∇f(x̂) = A x̂."""
    g = torch.Generator().manual_seed(5)
    real = torch.randn(64, 3, generator=g, dtype=torch.float64)
    fake = torch.randn(64, 3, generator=g, dtype=torch.float64) + 2.0
    critic = _RecordingQuadraticCritic(3)
    penalty = gan.gradient_penalty(critic, real, fake, torch.Generator().manual_seed(0))
    (x_hat,) = critic.seen
    ratio = (x_hat - fake) / (real - fake)  # ε_i in every coordinate
    torch.testing.assert_close(ratio, ratio[:, :1].expand_as(ratio), atol=1e-9, rtol=0)
    eps = ratio[:, 0]
    assert eps.min() >= 0 and eps.max() <= 1 and eps.std() > 0.1  # uniform draws, one per sample
    expected = ((x_hat @ critic.A).norm(dim=1) - 1.0).pow(2).mean()
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-12)


def test_gradient_penalty_is_reproducible_with_a_generator_and_follows_dtype_and_device():
    real = torch.randn(16, 3, dtype=torch.float64)
    fake = torch.randn(16, 3, dtype=torch.float64)
    critic = _RecordingQuadraticCritic(3)
    a = gan.gradient_penalty(critic, real, fake, torch.Generator().manual_seed(3))
    b = gan.gradient_penalty(critic, real, fake, torch.Generator().manual_seed(3))
    c = gan.gradient_penalty(critic, real, fake, torch.Generator().manual_seed(4))
    assert a.item() == b.item() and a.item() != c.item()
    with pytest.raises(ValueError, match="differ"):
        gan.gradient_penalty(critic, real, fake[:3])
    # a bfloat16 critic gets bfloat16 interpolates (a float32 ε would make its matmul fail)
    half = nn.Linear(3, 1, bias=False).to(torch.bfloat16)
    with torch.no_grad():
        half.weight.copy_(torch.tensor([[0.0, 0.6, 0.8]]))
    out = gan.gradient_penalty(half, real.bfloat16(), fake.bfloat16())
    assert out.dtype == torch.bfloat16 and abs(out.item()) < 1e-2
    # on the meta device nothing may be created on the CPU and left there
    meta = nn.Linear(3, 1).to("meta")
    assert gan.gradient_penalty(meta, torch.empty(4, 3, device="meta"), torch.empty(4, 3, device="meta")).device.type == "meta"


def test_r1_penalty_is_the_mean_squared_input_gradient_on_real_data():
    """E‖∇_x D(x)‖² on real samples; for D(x) = 1/2 xᵀ A x the gradient is A x (written out)."""
    g = torch.Generator().manual_seed(6)
    real = torch.randn(32, 3, generator=g, dtype=torch.float64)
    critic = _RecordingQuadraticCritic(3)
    penalty = gan.r1_penalty(critic, real)
    expected = (real @ critic.A).pow(2).sum(dim=1).mean()
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-12)
    torch.testing.assert_close(critic.seen[0], real, atol=0, rtol=0)  # evaluated at the real samples only
    # the graph is kept, so the penalty can be minimised: for D(x) = (x·w)², ∇_x D = 2 (x·w) w and
    # R1(w) = 4 ‖w‖² mean((x·w)²), whose gradient in w is written out below
    w = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
    r1 = gan.r1_penalty(lambda x: (x @ w) ** 2, real)
    (dw,) = torch.autograd.grad(r1, w)
    s = real @ w.detach()
    expected_dw = 8 * w.detach() * (s ** 2).mean() + 8 * w.detach().pow(2).sum() * (s[:, None] * real).mean(0)
    torch.testing.assert_close(dw, expected_dw)
