"""Chapter 3 exercises (VAEs): the KL term in closed form, the reparameterized sample, a Bernoulli
log-likelihood that survives a confident decoder, a loss with a classic bug, and the importance-weighted
bound on a model whose log-evidence is known exactly."""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import Exercise, ExerciseFailure, close, expect, expect_close, expect_shape

Tensor = torch.Tensor


def _bits(shape, gen: torch.Generator, dtype=torch.float32) -> Tensor:
    return torch.bernoulli(torch.full(shape, 0.5, dtype=dtype), generator=gen)


# ------------------------------------------------------------------------------------------ 3.1


def kl_diag_to_standard_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """Return KL( N(mu, diag(exp(logvar))) || N(0, I) ) in nats, one value per row: ``mu`` and
    ``logvar`` have shape (..., d), the result has shape (...). Use the closed form of one latent
    dimension and add it up over the last axis (the d latent dimensions)."""
    raise NotImplementedError


def _check_kl(fn) -> None:
    from ..vae import kl_monte_carlo, kl_standard_normal

    gen = torch.Generator().manual_seed(3)
    f64 = torch.float64
    mu = torch.cat([torch.zeros(1, 3, dtype=f64), 1.5 * torch.randn(3, 3, generator=gen, dtype=f64)])
    logvar = torch.cat([torch.zeros(1, 3, dtype=f64), torch.tensor([[-3.0, 0.0, 1.2]], dtype=f64),
                        torch.randn(2, 3, generator=gen, dtype=f64)])
    kl = expect_shape(fn(mu.clone(), logvar.clone()), (4,),
                      "the KL of 4 rows of 3 latent dimensions (one number per row: add up the dimensions)",
                      "4 行、每行 3 个隐变量维度的 KL（每行一个数：把各维相加）")
    expect_close(kl[0], 0.0, "the KL of the prior itself (mu = 0, logvar = 0, the first row)", atol=1e-7,
                 hint="There q is the prior itself, so the terms must cancel: check the constant term of your formula.",
                 what_zh="先验自身的 KL（mu = 0，logvar = 0，第一行）",
                 hint_zh="此时 q 就是先验本身，所以各项必须相互抵消：检查你公式中的常数项。")
    expect(bool((kl.double() >= -1e-9).all()), f"your KL is negative in some rows ({kl.tolist()}); a KL divergence "
                                               "never is. Check the signs of the terms.",
           f"你的 KL 在某些行上为负（{kl.tolist()}）；KL散度永远不会为负。检查各项的符号。")
    mc, se = kl_monte_carlo(mu, logvar, 200_000, torch.Generator().manual_seed(0))
    mc, se = mc.sum(-1), se.pow(2).sum(-1).sqrt()  # the dimensions are independent: their KLs add up
    if torch.allclose(kl.double(), mc / 3, rtol=0.02, atol=0.02):
        raise ExerciseFailure("your KL is the average over the latent dimensions. The dimensions of q and p are "
                              "independent, so their KL divergences add up.",
                              "你的 KL 是在各隐变量维度上的平均。q 和 p 的各维相互独立，所以它们的 KL散度应当相加。")
    far = (kl.double() - mc).abs() > 5 * se + 1e-3
    if far.any():
        i = int(far.nonzero()[0])
        raise ExerciseFailure(f"row {i} (mu = {[round(v, 3) for v in mu[i].tolist()]}, "
                              f"logvar = {[round(v, 3) for v in logvar[i].tolist()]}): "
                              f"your KL is {float(kl[i]):.4f}, but a Monte Carlo average of log q(z) - log p(z) over "
                              f"200,000 draws z ~ q gives {float(mc[i]):.4f} +- {float(se[i]):.4f}. Check each term; "
                              "remember that logvar is log(sigma^2): the variance is exp(logvar), the standard "
                              "deviation exp(logvar/2).",
                              f"第 {i} 行（mu = {[round(v, 3) for v in mu[i].tolist()]}，"
                              f"logvar = {[round(v, 3) for v in logvar[i].tolist()]}）："
                              f"你的 KL 是 {float(kl[i]):.4f}，但对 200,000 次抽取 z ~ q 求 log q(z) - log p(z) 的"
                              f"蒙特卡洛平均，得到的是 {float(mc[i]):.4f} +- {float(se[i]):.4f}。逐项检查；"
                              "记住 logvar 是 log(sigma^2)：方差是 exp(logvar)，标准差是 exp(logvar/2)。")
    expect_close(kl, kl_standard_normal(mu, logvar).sum(-1), "the KL (compared with the package's closed form)",
                 rtol=1e-6, atol=1e-9, what_zh="KL（与本软件包的闭式解比较）")
    # other shapes: one row (d,) gives a scalar; a batch of batches keeps its two leading axes
    m1, l1 = torch.tensor([0.5, -1.0]), torch.tensor([0.3, -0.7])
    expect_close(expect_shape(fn(m1, l1), (), "the KL of a single row of shape (2,)", "形状为 (2,) 的单行的 KL"),
                 kl_standard_normal(m1, l1).sum(), "the KL of a single row", what_zh="单行的 KL")
    m3 = torch.randn(2, 5, 4, generator=gen)
    l3 = torch.randn(2, 5, 4, generator=gen) - 8.0  # very small variances: still finite and exact
    got = expect_shape(fn(m3, l3), (2, 5), "the KL for mu, logvar of shape (2, 5, 4)",
                       "mu 和 logvar 形状为 (2, 5, 4) 时的 KL")
    expect_close(got, kl_standard_normal(m3, l3).sum(-1), "the KL for tiny variances (logvar near -8)", rtol=1e-5,
                 hint="Sum over the last axis only.",
                 what_zh="方差极小（logvar 接近 -8）时的 KL", hint_zh="只对最后一个轴求和。")


# ------------------------------------------------------------------------------------------ 3.2


def reparameterized_sample(mu: Tensor, logvar: Tensor, eps: Tensor) -> Tensor:
    """Return z = mu + sigma * eps, a sample of N(mu, diag(sigma^2)) with sigma^2 = exp(logvar), computed
    so that autograd carries gradients from z back to both ``mu`` and ``logvar``. ``eps`` is standard
    normal noise drawn by the caller, of the shape of ``mu`` or with extra leading axes (several
    samples); z has the shape of ``eps``."""
    raise NotImplementedError


def _check_reparameterized_sample(fn) -> None:
    gen = torch.Generator().manual_seed(4)
    mu = torch.tensor([[0.5, -1.0], [2.0, 0.0], [-0.3, 1.0]], dtype=torch.float64, requires_grad=True)
    logvar = torch.tensor([[0.0, -2.0], [1.0, 0.4], [-0.5, 0.8]], dtype=torch.float64, requires_grad=True)
    eps = torch.randn(3, 2, generator=gen, dtype=torch.float64)
    z = expect_shape(fn(mu, logvar, eps), (3, 2), "z for mu, logvar and eps of shape (3, 2)",
                     "mu、logvar 和 eps 形状为 (3, 2) 时的 z")
    expect(z.dtype == torch.float64, f"for float64 inputs your z is {z.dtype}: keep the inputs' dtype (no .float()).",
           f"输入是 float64 时你的 z 是 {z.dtype}：请保持输入的 dtype（不要用 .float()）。")
    sigma = torch.exp(0.5 * logvar.detach())
    want = mu.detach() + sigma * eps
    if close(z.detach(), mu.detach() + sigma ** 2 * eps):
        raise ExerciseFailure("your z scales eps by the variance exp(logvar); it must scale it by the standard "
                              "deviation, the square root of the variance.",
                              "你的 z 用方差 exp(logvar) 来缩放 eps；它必须用标准差，即方差的平方根，来缩放 eps。")
    if not close(fn(mu, logvar, eps).detach(), z.detach(), rtol=0.0, atol=0.0):
        raise ExerciseFailure("your z changes from one call to the next with the same mu, logvar and eps: it must be a "
                              "deterministic function of them. Use the eps you are given; do not draw new noise "
                              "inside the function.",
                              "同样的 mu、logvar 和 eps，你的 z 每次调用都不一样：它必须是它们的确定性函数。"
                              "请使用给定的 eps，不要在函数内部抽取新的噪声。")
    expect_close(z.detach(), want, "z", rtol=1e-6, atol=1e-9,
                 hint="z = mu + sigma * eps, with the standard deviation sigma = exp(logvar / 2).",
                 what_zh="z", hint_zh="z = mu + sigma * eps，其中标准差 sigma = exp(logvar / 2)。")
    expect(z.requires_grad, "z carries no gradient: autograd cannot reach mu or logvar. Build z from mu, logvar and "
                            "eps with ordinary tensor operations (no .detach(), no torch.no_grad(), no sampling "
                            "routine).",
           "z 不带梯度：autograd 无法到达 mu 或 logvar。请用普通的张量运算由 mu、logvar 和 eps 构造 z"
           "（不用 .detach()，不用 torch.no_grad()，也不用采样函数）。")
    g_mu, g_lv = torch.autograd.grad(z.sum(), (mu, logvar), allow_unused=True)
    expect(g_mu is not None and g_lv is not None and bool(g_lv.abs().sum() > 0),
           "the gradient of z does not reach " + ("mu" if g_mu is None else "logvar")
           + ": no part of the formula may be detached.",
           "z 的梯度没有到达 " + ("mu" if g_mu is None else "logvar")
           + "：公式的任何部分都不能被 detach。")
    expect_close(g_mu, torch.ones_like(mu), "dz/dmu (summed over the entries of z)", rtol=1e-6,
                 what_zh="dz/dmu（对 z 的各元素求和）")
    expect_close(g_lv, 0.5 * sigma * eps, "dz/dlogvar", rtol=1e-6, hint="Since sigma = exp(logvar / 2), "
                 "dz/dlogvar = sigma * eps / 2; check how you turned logvar into sigma.",
                 what_zh="dz/dlogvar", hint_zh="因为 sigma = exp(logvar / 2)，所以 dz/dlogvar = sigma * eps / 2；"
                 "检查你是如何由 logvar 得到 sigma 的。")
    # many samples at once; the average gradient of E[f(z)] for f(z) = ||z - c||^2 matches the closed form:
    # E[f] = ||mu - c||^2 + sum(sigma^2), so d/dmu = 2 (mu - c) and d/dlogvar = sigma^2.
    eps_k = torch.randn(100_000, 3, 2, generator=gen, dtype=torch.float64)
    zk = expect_shape(fn(mu, logvar, eps_k), (100_000, 3, 2), "z for eps with a leading axis of 100,000 samples",
                      "eps 带有长度为 100,000 的样本前导轴时的 z")
    c = torch.tensor([1.0, -1.0], dtype=torch.float64)
    objective = ((zk - c) ** 2).sum(-1).mean(0).sum()
    g_mu, g_lv = torch.autograd.grad(objective, (mu, logvar))
    expect_close(g_mu, 2 * (mu.detach() - c), "the Monte Carlo gradient of E||z - c||^2 in mu", atol=0.05, rtol=0.0,
                 what_zh="E||z - c||^2 对 mu 的蒙特卡洛梯度")
    expect_close(g_lv, sigma ** 2, "the Monte Carlo gradient of E||z - c||^2 in logvar", atol=0.05, rtol=0.0,
                 hint="The exact gradient is sigma^2.",
                 what_zh="E||z - c||^2 对 logvar 的蒙特卡洛梯度", hint_zh="精确梯度是 sigma^2。")


# ------------------------------------------------------------------------------------------ 3.3


def bernoulli_log_likelihood(x: Tensor, logits: Tensor) -> Tensor:
    """Return log p(x | logits) = sum_j [x_j log s_j + (1 - x_j) log(1 - s_j)], s_j = sigmoid(logits_j), in
    nats: ``x`` holds binary pixels (0 or 1) and ``logits`` the decoder's logits, both of shape (..., D);
    sum over the last axis (the pixels), so the result has shape (...). It must stay finite and exact
    for logits of +-100 (a confident decoder), in float32."""
    raise NotImplementedError


def _check_bernoulli(fn) -> None:
    from ..vae import log_bernoulli

    gen = torch.Generator().manual_seed(5)
    x = _bits((4, 12), gen)
    logits = (3 * torch.randn(4, 12, generator=gen)).requires_grad_(True)
    ll = expect_shape(fn(x, logits), (4,), "the log-likelihood of 4 images of 12 pixels (one number per image)",
                      "4 张 12 像素图像的对数似然（每张图像一个数）")
    ref = torch.distributions.Bernoulli(logits=logits.detach()).log_prob(x).sum(-1)
    if bool((ll.detach() > 1e-6).any()):
        raise ExerciseFailure("your log-likelihood is positive for some image. The probability of a binary image is at "
                              "most 1, so its log is at most 0: did you return the loss (the negative) instead?",
                              "你的对数似然在某张图像上为正。二值图像的概率至多为 1，所以它的对数至多为 0："
                              "你是不是返回了损失（即它的相反数）？")
    if close(ll.detach(), ref / 12, rtol=1e-4, atol=1e-8):
        raise ExerciseFailure("your value is the average over the pixels. The pixels are independent given z, so the "
                              "log-probability of the image is the *sum* of the pixels' log-probabilities.",
                              "你的值是在各像素上的平均。给定 z 时各像素相互独立，所以图像的对数概率是"
                              "各像素对数概率之*和*。")
    expect_close(ll.detach(), ref, "log p(x | logits) on moderate logits", rtol=1e-5, atol=1e-5,
                 hint="Compare with torch.distributions.Bernoulli(logits=...).log_prob(x).sum(-1).",
                 what_zh="中等大小的 logits 上的 log p(x | logits)",
                 hint_zh="与 torch.distributions.Bernoulli(logits=...).log_prob(x).sum(-1) 比较。")
    expect(ll.requires_grad, "the log-likelihood must be differentiable in the logits (no .item(), no .detach()).",
           "对数似然必须对 logits 可微（不用 .item()，不用 .detach()）。")
    (g,) = torch.autograd.grad(ll.sum(), logits)
    expect_close(g, x - torch.sigmoid(logits.detach()), "its gradient in the logits", rtol=1e-4, atol=1e-6,
                 what_zh="它对 logits 的梯度")
    # a confident decoder: right about some pixels, badly wrong about others
    xs = torch.tensor([[1.0, 0.0, 1.0, 0.0, 1.0, 0.0]])
    far = torch.tensor([[-100.0, 100.0, 100.0, -100.0, -30.0, 30.0]], requires_grad=True)
    val = fn(xs, far)
    expect(bool(torch.isfinite(val).all()),
           "with logits of +-100 your log-likelihood is not finite: in float32 sigmoid(100) rounds to exactly 1 and "
           "sigmoid(-100) is nearly 0, so log(1 - s) or log(s) becomes log(0). Rewrite both logs in terms of the logit "
           "(softplus is the stable log(1 + exp(.))).",
           "logits 为 +-100 时你的对数似然不是有限值：在 float32 中 sigmoid(100) 恰好舍入为 1，sigmoid(-100) 几乎为 0，"
           "所以 log(1 - s) 或 log(s) 会变成 log(0)。请用 logit 重写这两个对数"
           "（softplus 就是数值稳定的 log(1 + exp(.))）。")
    expect_close(val.detach(), log_bernoulli(xs, far.detach()), "log p(x | logits) for logits of +-100 and +-30",
                 rtol=1e-5, hint="A pixel that is 1 while its logit is -100 costs exactly 100 nats, and a pixel that "
                                 "is 0 while its logit is 30 costs 30; clamping the probability, or its log as "
                                 "F.binary_cross_entropy does at -100, replaces such costs by the clamp's value.",
                 what_zh="logits 为 +-100 和 +-30 时的 log p(x | logits)",
                 hint_zh="像素为 1 而其 logit 为 -100 时，代价恰好是 100 奈特；像素为 0 而其 logit 为 30 时，代价是 30 奈特。"
                         "截断概率，或者像 F.binary_cross_entropy 那样把对数截断在 -100，都会用截断值取代这些代价。")
    (g,) = torch.autograd.grad(val.sum(), far)
    expect(bool(torch.isfinite(g).all()), "the gradient at logits of +-100 is not finite: use the stable form.",
           "logits 为 +-100 时梯度不是有限值：请使用数值稳定的形式。")
    x3 = _bits((2, 3, 5), gen)
    l3 = torch.randn(2, 3, 5, generator=gen)
    got = expect_shape(fn(x3, l3), (2, 3), "the log-likelihood for x and logits of shape (2, 3, 5)",
                       "x 和 logits 形状为 (2, 3, 5) 时的对数似然")
    expect_close(got, log_bernoulli(x3, l3), "the log-likelihood for shape (2, 3, 5)", rtol=1e-5,
                 hint="Sum over the last axis only.",
                 what_zh="形状为 (2, 3, 5) 时的对数似然", hint_zh="只对最后一个轴求和。")


# ------------------------------------------------------------------------------------------ 3.4


def vae_loss(model: nn.Module, x: Tensor, eps: Tensor) -> Tensor:
    """The training loss of a VAE with a Bernoulli decoder: the negative ELBO, in nats per image,
    averaged over the batch, for binary images ``x`` (B, D). ``model.encode(x)`` gives the mean and
    log-variance (B, d) of q(z|x); ``model.decoder_output(z)`` gives the decoder's logits (B, D); the one
    sample of z uses the noise ``eps`` (B, d). The loss must stay exact for a confident decoder.
    This version trains without an error, but the model it trains ignores its latent code. Find the
    bug and fix it."""
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * eps  # reparameterized sample
    recon = torch.sigmoid(model.decoder_output(z))  # pixel probabilities
    reconstruction = F.mse_loss(recon, x)  # how far the reconstruction is from x
    kl = 0.5 * (mu ** 2 + torch.exp(logvar) - 1 - logvar).sum(-1).mean()  # KL(q(z|x) || N(0, I))
    return reconstruction + kl


def _tiny_vae(seed: int, confident: bool = False):
    from ..vae import VAE

    with torch.random.fork_rng(devices=[]):  # leave the learner's global random state alone
        torch.manual_seed(seed)
        model = VAE(data_dim=20, hidden=(16,), latent_dim=3)
    if confident:  # a decoder that is sure of every pixel: logits of several tens
        with torch.no_grad():
            model.decoder[-1].weight.mul_(60.0)
            model.decoder[-1].bias.mul_(60.0)
    return model


def _check_vae_loss(fn) -> None:
    from ..vae import kl_standard_normal, log_bernoulli

    for seed, confident in ((0, False), (1, False), (2, True)):
        model = _tiny_vae(seed, confident)
        gen = torch.Generator().manual_seed(10 + seed)
        x = _bits((16, 20), gen)
        eps = torch.randn(16, 3, generator=gen)
        # the package's tested loss draws the same eps from a generator with the same seed
        ref_gen = torch.Generator().manual_seed(10 + seed)
        _bits((16, 20), ref_gen)
        ref = model.loss(x, "elbo", 1, 1.0, ref_gen)
        got = fn(model, x.clone(), eps.clone())
        loss = expect_shape(got, (), "the loss (one number: the average over the batch)",
                            "损失（一个数：在批次上的平均）")
        with torch.no_grad():
            mu, logvar = model.encode(x)
            logits = model.decoder_output(mu + torch.exp(0.5 * logvar) * eps)
            rec = -log_bernoulli(x, logits).mean()
            kl = kl_standard_normal(mu, logvar).sum(-1).mean()
        expect_close(rec + kl, ref.loss.detach(), "internal: the reference loss", rtol=1e-5,
                     what_zh="内部检查：参考损失")
        value = loss.detach().double()
        what = "a confident decoder (logits of several tens)" if confident else f"a small VAE (seed {seed})"
        what_zh = "自信的解码器（logits 达几十）" if confident else f"小型 VAE（随机种子 {seed}）"
        if torch.isclose(value, (rec - kl).double(), rtol=1e-5):
            raise ExerciseFailure(f"on {what} your loss is reconstruction - KL: the KL term has the wrong sign. The "
                                  "ELBO subtracts the KL, so its negative, the loss, adds it.",
                                  f"在{what_zh}上，你的损失是“重构项 - KL”：KL 项的符号错了。ELBO 减去 KL，"
                                  "所以它的相反数，也就是损失，要加上 KL。")
        if torch.isclose(value, F.mse_loss(torch.sigmoid(logits), x).double() + kl, rtol=1e-5):
            half = x[0].numel() / 2
            raise ExerciseFailure("the reconstruction term is a squared error averaged over the pixels: the "
                                  f"likelihood of a Gaussian decoder with variance {half:g} per pixel (half the "
                                  "number of pixels; 392 on MNIST), so noisy that no code "
                                  "is worth its KL (the model collapses onto the prior). Use the decoder the docstring "
                                  "names, in nats summed over the pixels of each image.",
                                  f"重构项是在像素上取平均的平方误差：这相当于每个像素方差为 {half:g}（像素数的一半；"
                                  "MNIST 上为 392）的高斯解码器的似然，"
                                  "噪声大到任何编码都不值得付出它的 KL 代价（模型坍塌到先验上）。请使用文档字符串"
                                  "所指定的解码器，以奈特为单位，并对每张图像的像素求和。")
        sse = F.mse_loss(torch.sigmoid(logits), x, reduction="sum") / len(x)
        with torch.no_grad():  # three slips in the sample itself, scored with the right loss
            slips = (
                (model.decoder_output(mu),
                 "your loss decodes the mean mu instead of the sample z = mu + sigma * eps: the ELBO's reconstruction "
                 "term is an expectation over z ~ q(z|x), estimated with the given noise.",
                 "你的损失解码的是均值 mu，而不是样本 z = mu + sigma * eps：ELBO 的重构项是对 z ~ q(z|x) 的期望，"
                 "要用给定的噪声来估计。"),
                (model.decoder_output(mu + torch.exp(logvar) * eps),
                 "your sample scales eps by the variance exp(logvar); the standard deviation is exp(logvar / 2).",
                 "你的样本用方差 exp(logvar) 缩放 eps；标准差是 exp(logvar / 2)。"),
                (model.decoder_output(mu + logvar * eps),
                 "your sample scales eps by logvar itself; the standard deviation is exp(logvar / 2).",
                 "你的样本直接用 logvar 缩放 eps；标准差是 exp(logvar / 2)。"),
            )
        for slip_logits, message, message_zh in slips:
            if torch.isclose(value, (-log_bernoulli(x, slip_logits).mean() + kl).double(), rtol=1e-5):
                raise ExerciseFailure(f"on {what}: {message}", f"在{what_zh}上：{message_zh}")
        again = fn(model, x.clone(), eps.clone())
        if not torch.equal(torch.as_tensor(again).detach().double(), value):
            raise ExerciseFailure("your loss changes from one call to the next with the same model, x and eps: use the "
                                  "eps you are given for the sample of z; do not draw new noise inside the function.",
                                  "同样的模型、x 和 eps，你的损失每次调用都不一样：请用给定的 eps 来抽取 z 的样本，"
                                  "不要在函数内部抽取新的噪声。")
        if torch.isclose(value, (sse + kl).double(), rtol=1e-5):
            raise ExerciseFailure("the reconstruction term is still a squared error: summed, it is the likelihood of "
                                  "a Gaussian decoder with variance 1/2, not of the Bernoulli decoder the docstring "
                                  "names.",
                                  "重构项仍然是平方误差：求和之后，它是方差为 1/2 的高斯解码器的似然，"
                                  "而不是文档字符串所指定的伯努利解码器的似然。")
        expect_close(value, ref.loss.detach(), f"the loss on {what}", rtol=1e-5, atol=1e-4,
                     hint=f"The negative ELBO there is {float(rec):.3f} (reconstruction: -log p(x|z) summed over "
                          f"pixels, averaged over images) + {float(kl):.3f} (KL); "
                     + ("compute the likelihood from the logits, not from sigmoid probabilities, which round to 0 "
                        "or 1." if confident else "compare each of your two terms with these numbers."),
                     what_zh=f"{what_zh}上的损失",
                     hint_zh=f"这里的负 ELBO 是 {float(rec):.3f}（重构项：-log p(x|z) 对像素求和、对图像取平均）"
                             f"+ {float(kl):.3f}（KL）；"
                     + ("请用 logits 计算似然，而不要用会舍入为 0 或 1 的 sigmoid 概率。"
                        if confident else "把你的两项分别与这两个数比较。"))
        expect(loss.requires_grad, "the loss must be differentiable in the model's weights (no .item(), no .detach()).",
               "损失必须对模型的权重可微（不用 .item()，不用 .detach()）。")
        grads = torch.autograd.grad(loss, list(model.parameters()), allow_unused=True)
        ref_grads = torch.autograd.grad(ref.loss, list(model.parameters()))
        for (name, _), g, r in zip(model.named_parameters(), grads, ref_grads):
            expect(g is not None and close(g, r, rtol=1e-3, atol=1e-4),
                   f"the gradient of your loss in `{name}` differs from the negative ELBO's: every term must stay "
                   "connected to the encoder and the decoder.",
                   f"你的损失对 `{name}` 的梯度与负 ELBO 的梯度不同：每一项都必须与编码器和解码器保持连接。")


# ------------------------------------------------------------------------------------------ 3.5


def importance_weighted_bound(log_joint: Callable[[Tensor, Tensor], Tensor], x: Tensor, mu: Tensor, logvar: Tensor,
                              k: int, generator: torch.Generator | None = None) -> Tensor:
    """Return one draw of the importance-weighted bound L_k = log (1/k) sum_i p(x, z_i) / q(z_i | x) for each row
    of ``x``, shape (N,), where q(z|x) = N(mu, diag(exp(logvar))) with ``mu``, ``logvar`` of shape (N, d).
    Draw the k samples by reparameterization from eps = torch.randn((k, N, d), generator=generator,
    dtype=mu.dtype); ``log_joint(x, z)`` returns log p(x, z), shape (k, N), for z of shape (k, N, d).
    It must not underflow when the log-weights are around -5000."""
    raise NotImplementedError


def _lg_model(diagonal_posterior: bool = False):
    """A small linear-Gaussian model (D = 6, d = 2): its log p(x), posterior and ELBO are closed forms."""
    from ..vae import LinearGaussian

    gen = torch.Generator().manual_seed(7)
    q, _ = torch.linalg.qr(torch.randn(6, 2, generator=gen, dtype=torch.float64))
    W = q * torch.tensor([2.0, 1.0], dtype=torch.float64)  # orthogonal columns: W^T W is diagonal
    if not diagonal_posterior:  # mix the columns: the posterior becomes correlated
        W = W @ torch.tensor([[1.0, 0.8], [-0.4, 1.0]], dtype=torch.float64)
    b = torch.randn(6, generator=gen, dtype=torch.float64)
    return LinearGaussian(W=W, b=b, sigma2=0.3), gen


def _check_importance_weighted_bound(fn) -> None:
    from ..vae import imperfect_posterior, iwae_bound, log_normal_diag, reparameterize

    model, gen = _lg_model()
    x3 = model.b + (torch.randn(3, 6, generator=gen, dtype=torch.float64) * 1.5)
    reps = 1000
    x = x3.repeat_interleave(reps, 0)  # 3 data points, each scored by 1000 independent draws
    m, S = imperfect_posterior(model, x3)
    mu, logvar = m.repeat_interleave(reps, 0), torch.log(S.diagonal()).expand(len(x), 2).clone()
    log_px, elbo = model.log_marginal(x3), model.elbo(x3, m, S)
    means = []
    with torch.random.fork_rng(devices=[]):  # deterministic even if your function draws without the generator
        torch.manual_seed(0)
        g = torch.Generator().manual_seed(0)
        for k in (1, 4, 16, 64):
            lk = expect_shape(fn(model.log_joint, x, mu, logvar, k, g), (len(x),),
                              f"L_{k} for 3000 rows (one number per row)",
                              f"3000 行的 L_{k}（每行一个数）").detach().double().reshape(3, reps)
            expect(bool(torch.isfinite(lk).all()), f"L_{k} is not finite for some rows.",
                   f"L_{k} 在某些行上不是有限值。")
            means.append((k, lk.mean(1), lk.std(1) / math.sqrt(reps)))
    k1, m1, se1 = means[0]
    bad = (m1 - elbo).abs() > 5 * se1 + 1e-3
    expect(not bool(bad.any()),
           f"with k = 1 the bound is one sample of log p(x, z) - log q(z|x), whose average is the ELBO. Over 1000 "
           f"draws yours averages {m1[0]:.3f} +- {se1[0]:.3f} for the first point, but its closed-form ELBO is "
           f"{elbo[0]:.3f}. "
           "Check your log-weights: log p(x, z) minus the log-density of q at the sample.",
           f"k = 1 时，下界是 log p(x, z) - log q(z|x) 的一个样本，其平均值就是 ELBO。在 1000 次抽取上，"
           f"你的下界在第一个数据点上的平均值为 {m1[0]:.3f} +- {se1[0]:.3f}，但它的闭式 ELBO 是 {elbo[0]:.3f}。"
           "检查你的对数权重：应为 log p(x, z) 减去 q 在该样本处的对数密度。")
    table = ", ".join(f"L_{k} = {float(mk[0]):.3f}" for k, mk, _ in means)
    table_zh = "，".join(f"L_{k} = {float(mk[0]):.3f}" for k, mk, _ in means)
    kmax, mk, sk = means[-1]
    rises = (mk - m1 > 5 * torch.sqrt(se1 ** 2 + sk ** 2)).all() and all(
        bool((b > a - 3 * torch.sqrt(sa ** 2 + sb ** 2)).all()) for (_, a, sa), (_, b, sb) in zip(means, means[1:]))
    expect(bool(rises), f"the bound does not grow with k: for the first point {table}, while log p(x) = "
                        f"{log_px[0]:.3f}. L_k is the log of the average weight, not the average of the log-weights.",
           f"下界没有随 k 增大：在第一个数据点上 {table_zh}，而 log p(x) = {log_px[0]:.3f}。"
           "L_k 是平均权重的对数，而不是对数权重的平均。")
    expect(bool((mk <= log_px + 5 * sk + 1e-3).all()),
           f"your bound rises above the log-evidence it bounds: {table}, but log p(x) = {log_px[0]:.3f} for the first "
           "point. An average of k weights divides their sum by k.",
           f"你的下界超过了它所界定的对数证据：{table_zh}，但第一个数据点的 log p(x) = {log_px[0]:.3f}。"
           "k 个权重的平均是把它们的和除以 k。")
    expect(bool((log_px - mk < 0.5 * (log_px - elbo)).all()),
           f"at k = {kmax} the bound should close most of the ELBO's gap: {table}, log p(x) = {log_px[0]:.3f}.",
           f"k = {kmax} 时，下界应当弥合 ELBO 的大部分差距：{table_zh}，log p(x) = {log_px[0]:.3f}。")
    # exact at the posterior: every weight equals p(x)
    model2, _ = _lg_model(diagonal_posterior=True)
    post_mean, post_cov = model2.posterior(x3)
    post_lv = torch.log(post_cov.diagonal()).expand(3, 2).clone()
    got = fn(model2.log_joint, x3, post_mean, post_lv, 8, torch.Generator().manual_seed(1))
    expect_close(got, model2.log_marginal(x3), "L_8 when q is the exact posterior", rtol=0.0, atol=1e-6,
                 hint="At the posterior every weight p(x, z)/q(z|x) equals p(x), so L_k = log p(x) for every k.",
                 what_zh="q 为精确后验时的 L_8",
                 hint_zh="在后验处，每个权重 p(x, z)/q(z|x) 都等于 p(x)，所以对任意 k 都有 L_k = log p(x)。")
    # stable for very negative log-weights: shifting log p(x, z) shifts the bound
    mu_s, lv_s = mu[:5].clone().requires_grad_(True), logvar[:5].clone().requires_grad_(True)
    plain = fn(model.log_joint, x[:5], mu_s, lv_s, 8, torch.Generator().manual_seed(2))
    shifted = fn(lambda xx, zz: model.log_joint(xx, zz) - 5000.0, x[:5], mu_s.detach(), lv_s.detach(), 8,
                 torch.Generator().manual_seed(2))
    expect(bool(torch.isfinite(shifted).all()), "with log-weights near -5000 your bound is not finite: exp(-5000) is 0 "
                                                "in floating point. Compute the log of a mean of exps with logsumexp.",
           "对数权重接近 -5000 时，你的下界不是有限值：在浮点数中 exp(-5000) 为 0。请用 logsumexp 计算指数均值的对数。")
    z = reparameterize(mu[:5], logvar[:5], 8, torch.Generator().manual_seed(2))
    ref = iwae_bound(model.log_joint(x[:5], z) - log_normal_diag(z, mu[:5], logvar[:5]))
    expect_close(plain.detach(), ref, "L_8 on 5 rows, against the package's bound from the same noise", rtol=0.0,
                 atol=1e-8, hint="Draw eps exactly as the docstring says (one call, that shape, that generator) so "
                                 "that the check can reproduce your samples.",
                 what_zh="5 行上的 L_8，与本软件包用相同噪声算出的下界比较",
                 hint_zh="严格按照文档字符串所说的方式抽取 eps（一次调用、那个形状、那个随机数生成器），"
                         "这样检查才能复现你的样本。")
    expect_close(shifted.detach(), ref - 5000.0, "L_8 with log p(x, z) shifted by -5000", rtol=0.0, atol=1e-6,
                 what_zh="log p(x, z) 平移 -5000 后的 L_8")
    expect(plain.requires_grad, "your bound carries no gradient to mu or logvar: build the samples from mu, logvar "
                                "and eps by reparameterization, without detaching anything.",
           "你的下界没有把梯度传到 mu 或 logvar：请用重参数化由 mu、logvar 和 eps 构造样本，不要 detach 任何东西。")
    g_mu, g_lv = torch.autograd.grad(plain.sum(), (mu_s, lv_s), allow_unused=True)
    expect(g_mu is not None and g_lv is not None and bool(g_mu.abs().sum() > 0) and bool(g_lv.abs().sum() > 0),
           "no gradient of the bound reaches mu or logvar: build the samples by reparameterization.",
           "下界的梯度没有到达 mu 或 logvar：请用重参数化构造样本。")
    mu_r, lv_r = mu[:5].clone().requires_grad_(True), logvar[:5].clone().requires_grad_(True)
    z_r = reparameterize(mu_r, lv_r, 8, torch.Generator().manual_seed(2))
    ref_grads = torch.autograd.grad(iwae_bound(model.log_joint(x[:5], z_r) - log_normal_diag(z_r, mu_r, lv_r)).sum(),
                                    (mu_r, lv_r))
    for name, g, r in (("mu", g_mu, ref_grads[0]), ("logvar", g_lv, ref_grads[1])):
        expect_close(g, r, f"the gradient of L_8 in {name} (5 rows, the same noise as the package's bound)",
                     rtol=1e-6, atol=1e-9,
                     hint="the value is right but the gradient is not: the samples z must stay functions of mu and "
                          "logvar all the way (no .detach() on z or eps-scaled terms), and log q(z|x) must be evaluated "
                          "at those same z.",
                     what_zh=f"L_8 对 {name} 的梯度（5 行，与本软件包的下界使用相同的噪声）",
                     hint_zh="数值对了，梯度却不对：样本 z 必须始终是 mu 和 logvar 的函数（不要对 z 或乘了 eps 的项 "
                             ".detach()），并且 log q(z|x) 要在同样的这些 z 上求值。")


# plausible mistakes each check must catch (tests/test_exercises.py runs them)
def _kl_std_for_var(mu, logvar):
    return 0.5 * (mu ** 2 + torch.exp(0.5 * logvar) - 1 - logvar).sum(-1)


def _kl_no_minus_one(mu, logvar):
    return 0.5 * (mu ** 2 + torch.exp(logvar) - logvar).sum(-1)


def _kl_mean_over_dims(mu, logvar):
    return 0.5 * (mu ** 2 + torch.exp(logvar) - 1 - logvar).mean(-1)


def _rp_variance(mu, logvar, eps):
    return mu + torch.exp(logvar) * eps


def _rp_detached(mu, logvar, eps):
    return (mu + torch.exp(0.5 * logvar) * eps).detach()


def _rp_fresh_noise(mu, logvar, eps):
    return torch.normal(mu.expand_as(eps), torch.exp(0.5 * logvar).expand_as(eps))


def _bern_naive(x, logits):
    s = torch.sigmoid(logits)
    return (x * torch.log(s) + (1 - x) * torch.log(1 - s)).sum(-1)


def _bern_clamped(x, logits):
    s = torch.sigmoid(logits).clamp(1e-7, 1 - 1e-7)
    return (x * torch.log(s) + (1 - x) * torch.log(1 - s)).sum(-1)


def _bern_mean(x, logits):
    return (x * logits - F.softplus(logits)).mean(-1)


def _vae_loss_kl_sign(model, x, eps):
    mu, logvar = model.encode(x)
    logits = model.decoder_output(mu + torch.exp(0.5 * logvar) * eps)
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1).mean()
    return rec - 0.5 * (mu ** 2 + torch.exp(logvar) - 1 - logvar).sum(-1).mean()


def _vae_loss_bce_mean(model, x, eps):
    mu, logvar = model.encode(x)
    logits = model.decoder_output(mu + torch.exp(0.5 * logvar) * eps)
    kl = 0.5 * (mu ** 2 + torch.exp(logvar) - 1 - logvar).sum(-1).mean()
    return F.binary_cross_entropy_with_logits(logits, x) + kl  # averaged over pixels too


def _vae_loss_bce_probs(model, x, eps):
    mu, logvar = model.encode(x)
    recon = torch.sigmoid(model.decoder_output(mu + torch.exp(0.5 * logvar) * eps))
    rec = F.binary_cross_entropy(recon, x, reduction="sum") / len(x)
    return rec + 0.5 * (mu ** 2 + torch.exp(logvar) - 1 - logvar).sum(-1).mean()


def _iw_log_weights(log_joint, x, mu, logvar, k, generator):
    eps = torch.randn((k, *mu.shape), generator=generator, dtype=mu.dtype)
    z = mu + torch.exp(0.5 * logvar) * eps
    return log_joint(x, z) + 0.5 * (math.log(2 * math.pi) + logvar + eps ** 2).sum(-1)


def _iw_mean_of_logs(log_joint, x, mu, logvar, k, generator=None):
    return _iw_log_weights(log_joint, x, mu, logvar, k, generator).mean(0)


def _iw_no_log_k(log_joint, x, mu, logvar, k, generator=None):
    return torch.logsumexp(_iw_log_weights(log_joint, x, mu, logvar, k, generator), dim=0)


def _iw_detached_samples(log_joint, x, mu, logvar, k, generator=None):
    eps = torch.randn((k, *mu.shape), generator=generator, dtype=mu.dtype)
    z = (mu + torch.exp(0.5 * logvar) * eps).detach()
    log_q = -0.5 * (math.log(2 * math.pi) + logvar + (z - mu) ** 2 * torch.exp(-logvar)).sum(-1)
    return torch.logsumexp(log_joint(x, z) - log_q, dim=0) - math.log(k)


def _iw_naive(log_joint, x, mu, logvar, k, generator=None):
    return torch.log(torch.exp(_iw_log_weights(log_joint, x, mu, logvar, k, generator)).mean(0))


EXERCISES = [
    Exercise("3.1", "The KL term in closed form", "warm-up",
             "Write $\\mathrm{KL}\\big(N(\\mu, \\mathrm{diag}\\,\\sigma^2)\\,\\Vert\\,N(0, I)\\big)$ from `mu` and "
             "`logvar` $= \\log\\sigma^2$, one number per row. The check compares it with a Monte Carlo average of "
             "$\\log q(z) - \\log p(z)$ over 200,000 samples, with the package's closed form, and with 0 where $q$ is "
             "the prior.",
             kl_diag_to_standard_normal, _check_kl, wrong=(_kl_std_for_var, _kl_no_minus_one, _kl_mean_over_dims),
             background="{ref}`vae-kl`"),
    Exercise("3.2", "The reparameterization trick", "warm-up",
             "Turn standard normal noise into a sample of $q = N(\\mu, \\sigma^2)$ as a differentiable function of "
             "$\\mu$ and $\\log\\sigma^2$. The check compares the gradients that reach `mu` and `logvar` with "
             "$\\partial z/\\partial\\mu = 1$ and $\\partial z/\\partial\\log\\sigma^2 = \\sigma\\varepsilon/2$, then "
             "averages the gradient of $\\lVert z - c\\rVert^2$ over 100,000 samples and compares it with the gradient "
             "of its closed-form expectation.",
             reparameterized_sample, _check_reparameterized_sample,
             wrong=(_rp_variance, _rp_detached, _rp_fresh_noise),
             background="{ref}`vae-gradients`"),
    Exercise("3.3", "A Bernoulli log-likelihood that survives a confident decoder", "core",
             "Write $\\log p(x \\mid z)$ for binary pixels from the decoder's logits. `torch.log(torch.sigmoid(l))` is "
             "right on paper and gives $-\\infty$ in float32 once the decoder is confident; clamping the probability "
             "hides the problem and gets the number wrong. Find a form that is exact for logits of $\\pm 100$.",
             bernoulli_log_likelihood, _check_bernoulli, wrong=(_bern_naive, _bern_clamped, _bern_mean),
             background="{ref}`vae-decoders`"),
    Exercise("3.4", "Find the bug in a VAE loss", "core",
             "The loss below runs, its value falls during training, and the model it trains reconstructs every digit "
             "as the same grey blob with a KL near 0 nats. Compare it with the chapter's negative ELBO and fix it. The "
             "check compares your loss and its gradients with the package's `VAE.loss` on the same noise, for two "
             "small VAEs and one whose decoder is very confident.",
             vae_loss, _check_vae_loss, wrong=(_vae_loss_kl_sign, _vae_loss_bce_mean, _vae_loss_bce_probs),
             background="{ref}`vae-elbo`"),
    Exercise("3.5", "The importance-weighted bound", "stretch",
             "Combine the pieces: draw $k$ reparameterized samples from the encoder's $q(z \\mid x)$, form the "
             "log-weights $\\log p(x, z_i) - \\log q(z_i \\mid x)$, and return "
             "$\\mathcal L_k = \\log \\frac1k \\sum_i w_i$ without underflow. The check runs your bound on a "
             "linear-Gaussian model whose $\\log p(x)$ and ELBO are closed forms: $\\mathcal L_1$ must average to the "
             "ELBO, the average must rise with $k$ and stay below $\\log p(x)$, and the bound must equal "
             "$\\log p(x)$ when $q$ is the exact posterior.",
             importance_weighted_bound, _check_importance_weighted_bound,
             setup="import math\nfrom typing import Callable",
             wrong=(_iw_mean_of_logs, _iw_no_log_k, _iw_naive, _iw_detached_samples),
             background="{ref}`vae-iwae`"),
]
