"""Chapter 2 exercises (GANs): the optimal discriminator, a stable generator loss, a training step
that keeps the two players apart, the mode-coverage count of the 2-D benchmark, and the R1 penalty."""

from __future__ import annotations

import inspect
import math

import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import Exercise, ExerciseFailure, expect, expect_close, expect_shape

Tensor = torch.Tensor


# ------------------------------------------------------------------------------------------ 2.1


def optimal_discriminator(p_data: Tensor, p_g: Tensor) -> Tensor:
    """Return D*(x) = p_data(x) / (p_data(x) + p_g(x)) for density values on a grid (same shape in and
    out); where both densities are 0, return 1/2."""
    raise NotImplementedError


def _check_optimal_discriminator(fn) -> None:
    from ..gan import theory

    x = theory.quadrature_grid(-12.0, 12.0, 48_001)
    p, q = theory.P_DATA_1D.pdf(x), theory.P_G_1D.pdf(x)
    d = expect_shape(fn(p.clone(), q.clone()), tuple(x.shape), "D*(x) on a grid of 48,001 points",
                     "含 48,001 个点的网格上的 D*(x)")
    flipped = q / (p + q)
    if torch.allclose(d.double(), flipped, rtol=1e-6):
        raise ExerciseFailure("you returned p_g / (p_data + p_g): the probability that x is *generated*. "
                              "D is the probability that x is real.",
                              "你返回的是 p_g / (p_data + p_g)：x 是*生成*样本的概率。D 是 x 为真实样本的概率。")
    expect_close(d, p / (p + q), "D*(x)", rtol=1e-6, atol=1e-12,
                 hint="D* is a ratio of densities, pointwise; not a density itself.",
                 what_zh="D*(x)", hint_zh="D* 是逐点的密度之比，它本身并不是密度。")
    zeros = torch.zeros(3, dtype=torch.float64)
    expect_close(fn(zeros, zeros), torch.full((3,), 0.5), "D* where both densities are 0",
                 hint="both densities vanish there, so D* is undefined; the convention is 1/2 "
                      "(no evidence either way).",
                 what_zh="两个密度都为 0 处的 D*",
                 hint_zh="那里两个密度都为零，所以 D* 没有定义；约定取 1/2（没有偏向任何一方的证据）。")
    # the identity the chapter derives: V(D*, G) = -log 4 + 2 JSD(p_data || p_g)
    v = theory.value_function(d.double(), p, q, x)
    expect_close(v, -math.log(4) + 2 * theory.jensen_shannon(p, q, x), "V(D*, G) computed with your D*",
                 rtol=1e-6, hint="at the optimum the value must equal -log 4 + 2 JSD.",
                 what_zh="用你的 D* 算出的 V(D*, G)", hint_zh="在最优点处，该值必须等于 -log 4 + 2 JSD。")


# ------------------------------------------------------------------------------------------ 2.2


def non_saturating_generator_loss(fake_logit: Tensor) -> Tensor:
    """Return the non-saturating generator loss -mean(log D(G(z))) from the discriminator's *logits*
    on a generated batch (D = sigmoid(logit)). It must stay finite and exact for logits of +-100."""
    raise NotImplementedError


def _check_non_saturating(fn) -> None:
    logits = torch.tensor([-3.0, -0.5, 0.0, 0.7, 4.0], requires_grad=True)
    loss = fn(logits)
    expect_shape(loss, (), "the loss (a scalar: the mean over the batch)", "损失（一个标量：在批次上的均值）")
    expect_close(loss.detach(), -torch.log(torch.sigmoid(logits.detach())).mean(), "the loss on moderate logits",
                 rtol=1e-5, hint="the loss is the *mean* of -log sigmoid(logit).",
                 what_zh="中等大小的 logits 上的损失", hint_zh="损失是 -log sigmoid(logit) 的*均值*。")
    expect(loss.requires_grad, "the loss must be differentiable in the logits (do not call .item() or detach).",
           "损失必须对 logits 可微（不要调用 .item() 或 detach）。")
    (g,) = torch.autograd.grad(loss, logits)
    expect_close(g, -(1 - torch.sigmoid(logits.detach())) / 5, "its gradient in the logits", rtol=1e-4,
                 what_zh="它对 logits 的梯度")
    far = torch.tensor([-100.0, 100.0])
    val = fn(far)
    expect(bool(torch.isfinite(val)), "with a logit of -100 the loss is not finite: sigmoid(-100) underflows to 0 "
                                      "in float32 and log(0) = -inf. Write -log(sigmoid(l)) as softplus(-l).",
           "logit 为 -100 时损失不是有限值：在 float32 中 sigmoid(-100) 下溢为 0，而 log(0) = -inf。"
           "把 -log(sigmoid(l)) 写成 softplus(-l)。")
    expect_close(val.detach(), torch.tensor((100.0 + 0.0) / 2), "the loss at logits (-100, 100)", rtol=1e-4,
                 hint="-log sigmoid(-100) is 100 (to float precision) and -log sigmoid(100) is 0.",
                 what_zh="logits 为 (-100, 100) 时的损失",
                 hint_zh="-log sigmoid(-100) 等于 100（在浮点精度内），-log sigmoid(100) 等于 0。")


# ------------------------------------------------------------------------------------------ 2.3


def gan_training_step(G: nn.Module, D: nn.Module, opt_g, opt_d, real: Tensor, z: Tensor) -> tuple[float, float]:
    """One step of GAN training with the non-saturating loss, as the chapter teaches it: first the
    discriminator on a real and a generated batch, then the generator through the *updated* D on the
    same generated batch. This version has a bug: the generator's weights end up different from a
    correct step. Find it and fix it. Returns (discriminator loss, generator loss)."""
    opt_d.zero_grad()
    opt_g.zero_grad()  # both players start from clean gradients
    fake = G(z)
    d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()
    d_loss.backward(retain_graph=True)  # keep the graph: the generator's update below goes through `fake` again
    opt_d.step()
    g_loss = F.softplus(-D(fake)).mean()
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()


def _models(seed: int):
    torch.manual_seed(seed)
    G = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    D = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 1))
    return G, D


def _reference_step(G, D, opt_g, opt_d, real, z):
    fake = G(z)
    d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss = F.softplus(-D(fake)).mean()
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()


def _check_training_step(fn) -> None:
    gen = torch.Generator().manual_seed(0)
    real, z = torch.randn(64, 2, generator=gen) + 2.0, torch.randn(64, 2, generator=gen)
    runs = []
    for step in (fn, _reference_step):
        G, D = _models(0)
        opt_g, opt_d = torch.optim.SGD(G.parameters(), lr=0.1), torch.optim.SGD(D.parameters(), lr=0.1)
        out = step(G, D, opt_g, opt_d, real, z)
        runs.append((G, D, out))
    (G, D, out), (G_ref, D_ref, _) = runs
    expect(isinstance(out, tuple) and len(out) == 2, "return (discriminator loss, generator loss).",
           "请返回（判别器损失，生成器损失）。")
    for (name, a), b in zip(D.named_parameters(), D_ref.parameters()):
        expect(torch.allclose(a, b, atol=1e-6), f"the discriminator's `{name}` differs from a correct step: "
                                                "its update should see only its own loss on the real and fake batches.",
               f"判别器的 `{name}` 与正确的一步的结果不同：它的更新应当只看到它自己在真实批次和生成批次上的损失。")
    for (name, a), b in zip(G.named_parameters(), G_ref.parameters()):
        expect(torch.allclose(a, b, atol=1e-6),
               f"after one step the generator's `{name}` differs from a correct step: the "
               "discriminator's loss reached G's gradients. Detach the fake batch for D's update (or clear G's "
               "gradients after D's backward pass), so that G follows only its own loss.",
               f"一步之后，生成器的 `{name}` 与正确的一步的结果不同：判别器的损失进入了 G 的梯度。"
               "在更新 D 时把生成的批次 detach（或在 D 的反向传播之后清空 G 的梯度），使 G 只依据它自己的损失更新。")


# ------------------------------------------------------------------------------------------ 2.4


def count_modes(samples: Tensor, centers: Tensor, sigma: float, min_count: int = 20) -> tuple[int, float]:
    """Return (modes covered, share of high-quality samples) for samples (N, 2) of a mixture with
    centres (K, 2) and standard deviation sigma: a sample is high quality if it lies within 3 sigma of
    its nearest centre; a mode is covered if at least ``min_count`` high-quality samples have it as
    their nearest centre."""
    raise NotImplementedError


def _check_count_modes(fn) -> None:
    from .. import metrics
    from ..gan.toy2d import get_mixture

    for name in ("ring", "grid"):
        mix = get_mixture(name)
        centers = mix.centers_tensor
        gen = torch.Generator().manual_seed(1)
        # a generator that drops the last modes, puts 25 widely spread points on one (only 16 of them within
        # 3 sigma) and 19 close ones on another (both too few to cover a mode), and sprays noise
        keep = centers[: len(centers) - 3]
        pts = [keep[torch.randint(len(keep), (2000,), generator=gen)] + mix.sigma * torch.randn(2000, 2, generator=gen),
               centers[-1] + 2.0 * mix.sigma * torch.randn(25, 2, generator=gen).clamp(-1.4, 1.4),
               centers[-2] + 0.5 * mix.sigma * torch.randn(19, 2, generator=gen),
               4 * torch.randn(456, 2, generator=gen)]
        samples = torch.cat(pts)
        ref = metrics.mode_coverage(samples, centers, mix.sigma)
        rule_min = inspect.signature(metrics.mode_coverage).parameters["min_count"].default  # the book's 20
        got = fn(samples.clone(), centers.clone(), mix.sigma)
        expect(isinstance(got, tuple) and len(got) == 2, "return a pair (modes covered, high-quality share).",
               "请返回一个二元组（被覆盖的模式数，高质量样本占比）。")
        modes, hq = got
        expect(int(modes) == ref.modes_covered,
               f"on the {name} ({len(centers)} modes) you count {int(modes)} modes covered; the rule gives "
               f"{ref.modes_covered}. Assign each high-quality sample to its *nearest* centre, and count a mode only "
               f"from {rule_min} such samples.",
               f"在 {name} 混合分布（{len(centers)} 个模式）上，你数出 {int(modes)} 个被覆盖的模式；按规则应为 "
               f"{ref.modes_covered} 个。把每个高质量样本分配给离它*最近*的中心，并且只有当这样的样本达到 {rule_min} 个时"
               "才把该模式计为被覆盖。")
        expect_close(float(hq), ref.high_quality, f"the high-quality share on the {name}", rtol=1e-6,
                     hint="it is the share of *all* samples within 3 sigma of their nearest centre.",
                     what_zh=f"{name} 混合分布上的高质量样本占比",
                     hint_zh="它是*全部*样本中落在最近中心 3 sigma 范围内的样本所占的比例。")
    modes, _ = fn(centers.repeat(5, 1), centers.clone(), mix.sigma, min_count=5)
    expect(int(modes) == len(centers), "with min_count=5 and five samples exactly on every centre, every mode "
                                           "is covered: use min_count, do not hard-code 20.",
           "当 min_count=5 且每个中心上恰好各有 5 个样本时，每个模式都被覆盖：请使用 min_count，不要把 20 写死。")


# ------------------------------------------------------------------------------------------ 2.5


def r1_penalty(D: nn.Module, real: Tensor) -> Tensor:
    """Return the R1 penalty without its factor gamma/2: the mean over the batch of the squared norm of
    D's gradient with respect to each real sample, E ||grad_x D(x)||^2. ``real`` is a batch (B, ...)
    and D returns one logit per sample. The result must be differentiable in D's weights, since the
    discriminator minimises it, and the caller's batch must come back unchanged."""
    raise NotImplementedError


class _Quadratic(nn.Module):
    """D(x) = sum_i a_i x_i^2: its gradient 2 a * x differs from sample to sample."""

    def __init__(self, a: Tensor):
        super().__init__()
        self.a = nn.Parameter(a)

    def forward(self, x: Tensor) -> Tensor:
        return (self.a * x.pow(2)).sum(dim=1, keepdim=True)


def _check_r1(fn) -> None:
    gen = torch.Generator().manual_seed(0)
    linear = nn.Linear(3, 1)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[1.0, -2.0, 0.5]]))
        linear.bias.fill_(0.3)
    real = torch.randn(8, 3, generator=gen)
    before = real.clone()
    val = fn(linear, real)
    expect(linear.weight.grad is None and linear.bias.grad is None,
           "your function wrote gradients into D's parameters (their .grad): calling .backward() inside the penalty "
           "adds the gradient of D(x) in D's weights to whatever the training step accumulates, so the "
           "discriminator's update goes wrong. torch.autograd.grad(D(x).sum(), x, create_graph=True) returns the "
           "gradient with respect to x without touching any .grad.",
           "你的函数把梯度写进了 D 的参数（它们的 .grad）：在惩罚项里调用 .backward()，会把 D(x) 对 D 的权重的梯度"
           "加到训练步骤累积的梯度上，判别器的更新就错了。torch.autograd.grad(D(x).sum(), x, create_graph=True) "
           "返回对 x 的梯度，不会碰任何 .grad。")
    expect(isinstance(val, torch.Tensor), "return a tensor (the penalty), not a Python number.",
           "请返回一个张量（惩罚项），而不是 Python 数值。")
    expect_shape(val, (), "the penalty (a scalar: the mean over the batch)", "惩罚项（一个标量：在批次上的均值）")
    expect_close(val.detach(), torch.tensor(5.25), "the penalty of D(x) = w.x + b with w = (1, -2, 0.5)", rtol=1e-5,
                 hint="a linear D has the gradient w at every x, so the penalty is ||w||^2 = 1 + 4 + 0.25 = 5.25: "
                      "square the norm, do not subtract 1 (that is WGAN-GP's penalty), average over the batch, and take the "
                      "gradient of D(x).sum() (the gradient of a mean divides each sample's gradient by the batch size).",
                 what_zh="D(x) = w.x + b（w = (1, -2, 0.5)）的惩罚项",
                 hint_zh="线性的 D 在每个 x 处的梯度都是 w，所以惩罚项是 ||w||^2 = 1 + 4 + 0.25 = 5.25：要把范数平方，"
                         "不要减去 1（那是 WGAN-GP 的惩罚项），在批次上取平均，并对 D(x).sum() 求梯度（对均值求梯度会把每个样本的梯度"
                         "除以批大小）。")
    expect(torch.equal(real, before) and not real.requires_grad and real.grad is None,
           "the caller's batch came back changed: take the gradient with respect to a detached copy, "
           "real.detach().requires_grad_(True).",
           "调用者传入的批次被改动了：请对一个分离出来的副本求梯度，即 real.detach().requires_grad_(True)。")
    expect(val.requires_grad, "the penalty is not differentiable in D's weights, so the discriminator cannot minimise "
                              "it: pass create_graph=True to torch.autograd.grad.",
           "惩罚项对 D 的权重不可微，判别器就无法最小化它：请给 torch.autograd.grad 传入 create_graph=True。")
    (grad_w,) = torch.autograd.grad(val, linear.weight)
    expect_close(grad_w, 2 * linear.weight.detach(), "the penalty's gradient in w", rtol=1e-5,
                 hint="the derivative of ||w||^2 in w is 2w.", what_zh="惩罚项对 w 的梯度",
                 hint_zh="||w||^2 对 w 的导数是 2w。")
    a = torch.tensor([0.5, -1.0, 2.0])
    xs = torch.randn(6, 3, generator=gen)
    expect_close(fn(_Quadratic(a), xs).detach(), (2 * a * xs).pow(2).sum(dim=1).mean(),
                 "the penalty of D(x) = sum_i a_i x_i^2 on six samples", rtol=1e-5,
                 hint="every sample has its own gradient 2 a * x: take the gradient of D(x).sum() (a mean would "
                      "divide each gradient by the batch size), square each sample's norm, then average.",
                 what_zh="D(x) = sum_i a_i x_i^2 在六个样本上的惩罚项",
                 hint_zh="每个样本都有自己的梯度 2 a * x：对 D(x).sum() 求梯度（取均值会把每个梯度除以批大小），"
                         "先把每个样本的范数平方，再取平均。")
    image_d = nn.Sequential(nn.Flatten(), nn.Linear(16, 1))
    images = torch.rand(5, 1, 4, 4, generator=gen)
    w2 = image_d[1].weight.detach().pow(2).sum()
    expect_close(fn(image_d, images).detach(), w2, "the penalty on a batch of 4x4 images (B, 1, 4, 4)", rtol=1e-5,
                 hint="flatten each sample's gradient before its norm: grad.flatten(1).",
                 what_zh="在一批 4x4 图像 (B, 1, 4, 4) 上的惩罚项",
                 hint_zh="求范数之前先把每个样本的梯度展平：grad.flatten(1)。")


# plausible mistakes each check must catch (tests/test_exercises.py runs them)
def _d_flipped(p_data, p_g):
    return p_g / (p_data + p_g)


def _d_density(p_data, p_g):
    return p_data


def _d_nan_where_empty(p_data, p_g):
    return p_data / (p_data + p_g)


def _ns_naive(fake_logit):
    return -torch.log(torch.sigmoid(fake_logit)).mean()


def _ns_saturating(fake_logit):
    return -F.softplus(fake_logit).mean()


def _ns_sum(fake_logit):
    return F.softplus(-fake_logit).sum()


def _modes_any_sample(samples, centers, sigma, min_count=20):
    dist, nearest = torch.cdist(samples, centers).min(dim=1)
    good = dist < 3 * sigma
    return len(set(nearest[good].tolist())), float(good.float().mean())


def _modes_hq_of_covered(samples, centers, sigma, min_count=20):
    dist, nearest = torch.cdist(samples, centers).min(dim=1)
    good = dist < 3 * sigma
    counts = torch.bincount(nearest[good], minlength=len(centers))
    return int((counts >= min_count).sum()), float(good.sum()) / max(int((counts >= min_count).sum()), 1) / 100


def _r1_grad(D, real, reduce="sum", create_graph=True):
    x = real.detach().requires_grad_(True)
    out = D(x)
    (grad,) = torch.autograd.grad(out.sum() if reduce == "sum" else out.mean(), x, create_graph=create_graph)
    return grad.flatten(1)


def _r1_no_graph(D, real):
    return _r1_grad(D, real, create_graph=False).pow(2).sum(dim=1).mean()


def _r1_norm_not_squared(D, real):
    return _r1_grad(D, real).norm(dim=1).mean()


def _r1_one_centred(D, real):
    return (_r1_grad(D, real).norm(dim=1) - 1).pow(2).mean()


def _r1_grad_of_mean(D, real):
    return _r1_grad(D, real, reduce="mean").pow(2).sum(dim=1).mean()


def _r1_summed_over_batch(D, real):
    return _r1_grad(D, real).pow(2).sum()


def _r1_backward(D, real):
    x = real.detach().requires_grad_(True)
    with warnings.catch_warnings():  # torch warns that backward(create_graph=True) makes a reference cycle
        warnings.simplefilter("ignore", UserWarning)
        D(x).sum().backward(create_graph=True)
    return x.grad.flatten(1).pow(2).sum(dim=1).mean()


def _r1_in_place(D, real):
    real.requires_grad_(True)
    (grad,) = torch.autograd.grad(D(real).sum(), real, create_graph=True)
    return grad.flatten(1).pow(2).sum(dim=1).mean()


EXERCISES = [
    Exercise("2.1", "The optimal discriminator", "warm-up",
             "Write $D^*(x) = p_{data}(x) / (p_{data}(x) + p_g(x))$. The check also plugs your $D^*$ into the value "
             "function and tests the identity $V(D^*, G) = -\\log 4 + 2\\,\\mathrm{JSD}(p_{data}\\Vert p_g)$.",
             optimal_discriminator, _check_optimal_discriminator,
             wrong=(_d_flipped, _d_density, _d_nan_where_empty),
             background="{ref}`ch02-dstar`"),
    Exercise("2.2", "A generator loss that stays finite", "core",
             "Write the non-saturating generator loss from logits. The naive `-torch.log(torch.sigmoid(l))` is right "
             "on paper and wrong in float32 for large negative logits; find the stable form.",
             non_saturating_generator_loss, _check_non_saturating, wrong=(_ns_naive, _ns_saturating, _ns_sum),
             background="{ref}`ch02-saturation`"),
    Exercise("2.3", "Find the bug in a training step", "core",
             "The function below runs without an error, and its losses even look plausible. Compare it line by line "
             "with the training step of the chapter and fix it; the check compares the weights after one step with "
             "a correct step.",
             gan_training_step, _check_training_step,
             background="{ref}`ch02-training-step`"),
    Exercise("2.4", "Count the modes", "stretch",
             "Implement the counting rule of the 2-D benchmark: high-quality samples (within $3\\sigma$ of the nearest "
             "centre) and modes covered (at least `min_count` high-quality samples nearest to them).",
             count_modes, _check_count_modes, wrong=(_modes_any_sample, _modes_hq_of_covered),
             background="{ref}`ch02-metrics-math`"),
    Exercise("2.5", "The R1 penalty", "stretch",
             "Write the zero-centred gradient penalty R1 that the chapter's DCGAN adds to its discriminator's loss, "
             "without its factor $\\gamma/2$: $\\mathbb{E}_{x \\sim p_{data}}\\lVert\\nabla_x D(x)\\rVert^2$, "
             "estimated on a batch of real samples. `torch.autograd.grad` gives the gradient with respect to the input; "
             "the check tries a linear, a quadratic and an image discriminator, whose gradients are known in closed "
             "form, and checks that the discriminator can minimise your penalty.",
             r1_penalty, _check_r1,
             wrong=(_r1_no_graph, _r1_norm_not_squared, _r1_one_centred, _r1_grad_of_mean, _r1_summed_over_batch,
                    _r1_in_place, _r1_backward),
             background="{ref}`the R1 penalty <ch02-gan-r1-ema>`"),
]
