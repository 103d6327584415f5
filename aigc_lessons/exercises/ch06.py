"""Chapter 6 exercises (diffusion models): the linear schedule and its cumulative product, the closed-form
marginal of the forward process, the posterior of one reverse step, a bug in an ancestral sampler, one
deterministic DDIM step, and classifier-free guidance written with a guidance scale."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

import torch

from . import Exercise, ExerciseFailure, expect, expect_close, expect_shape
from . import close as _close

if TYPE_CHECKING:  # the templates' annotations (the notebooks import it in the setup cell)
    from ..diffusion import NoiseSchedule

Tensor = torch.Tensor


def _float32_rounded(got: Tensor, ref: Tensor, rtol: float) -> float | None:
    """The largest relative error of ``got`` if it looks like ``ref`` computed in float32 and then converted to
    float64 (every entry a float32 number, and within ``rtol`` of ``ref``), else None. Values computed in
    float64 almost never all land on float32 numbers, so a right answer in float64 never matches."""
    g = torch.as_tensor(got, dtype=torch.float64)
    r = torch.as_tensor(ref, dtype=torch.float64)
    if g.shape != r.shape or not bool((g.float().double() == g).all()) or not _close(g, r, rtol=rtol, atol=1e-12):
        return None
    return float(((g - r).abs() / r.abs().clamp_min(1e-300)).max())


def _float32_failure(what: str, what_zh: str, err: float) -> ExerciseFailure:
    return ExerciseFailure(
        f"{what}: every entry is a float32 number converted to float64, off the float64 values by up to {err:.1e} "
        "(relative; the check allows 1e-9). They were computed in float32 and converted afterwards; "
        "converting does not bring back the digits float32 dropped. Create the tensors in float64 from the "
        "start, e.g. torch.linspace(..., dtype=torch.float64).",
        f"{what_zh}：每一项都是由 float32 数转换成的 float64，与 float64 的正确值最多相差 {err:.1e}（相对误差；"
        "检查允许 1e-9）。它们是先用 float32 算出来再转换的；转换找不回 float32 丢掉的有效数字。请从一开始就"
        "用 float64 创建张量，例如 torch.linspace(..., dtype=torch.float64)。")


def _fmt(v: Tensor) -> str:
    return "(" + ", ".join(f"{float(x):.4g}" for x in v) + ")"


# ------------------------------------------------------------------------------------------ 6.1


def linear_schedule_alpha_bar(T: int, beta_start: float, beta_end: float) -> tuple[Tensor, Tensor]:
    """Return (betas, alpha_bar) of the linear schedule with T steps: two float64 tensors of length T + 1
    indexed by the time step. betas[1], ..., betas[T] are T evenly spaced values from beta_start (at t = 1)
    to beta_end (at t = T), and alpha_bar[t] is the product of (1 - betas[s]) over s = 1, ..., t. Entry 0
    stands for the clean data: betas[0] = 0 and alpha_bar[0] = 1."""
    raise NotImplementedError


def _check_linear_schedule(fn) -> None:
    from ..diffusion import linear_schedule

    # the package's linear_schedule rescales both ends by 1000 / T; passing ends times T / 1000 undoes that
    for T, lo, hi in ((1000, 1e-4, 0.02), (50, 2e-3, 0.4), (2, 0.1, 0.5)):
        ref = linear_schedule(T, lo * T / 1000, hi * T / 1000)
        out = fn(T, lo, hi)
        expect(isinstance(out, tuple) and len(out) == 2, "return a pair (betas, alpha_bar).",
               "返回一个二元组 (betas, alpha_bar)。")
        betas = expect_shape(out[0], (T + 1,), f"betas for T = {T} (entry 0 is t = 0, the clean data)",
                             f"T = {T} 时的 betas（第 0 项对应 t = 0，即干净的数据）")
        ab = expect_shape(out[1], (T + 1,), f"alpha_bar for T = {T} (entry 0 is t = 0, the clean data)",
                          f"T = {T} 时的 alpha_bar（第 0 项对应 t = 0，即干净的数据）")
        expect(betas.dtype == torch.float64 and ab.dtype == torch.float64,
               f"return float64 tensors (got {betas.dtype} and {ab.dtype}): a product of a thousand factors "
               "loses digits in float32. Pass dtype=torch.float64 where you create the tensors.",
               f"请返回 float64 张量（收到的是 {betas.dtype} 和 {ab.dtype}）：一千个因子的乘积在 float32 下会丢失"
               "有效数字。在创建张量的地方传入 dtype=torch.float64。")
        expect(float(betas[0]) == 0.0 and float(ab[0]) == 1.0,
               f"entry 0 stands for the clean data, so betas[0] must be 0 and alpha_bar[0] 1; got "
               f"{float(betas[0]):.6g} and {float(ab[0]):.6g} (for T = {T}). The T values of the schedule go in "
               "entries 1..T.",
               f"第 0 项代表干净的数据，所以 betas[0] 必须为 0，alpha_bar[0] 必须为 1；收到的是 "
               f"{float(betas[0]):.6g} 和 {float(ab[0]):.6g}（T = {T}）。调度的 T 个值放在第 1..T 项。")
        if not _close(betas, ref.betas, rtol=1e-9, atol=1e-15):
            f32_err = _float32_rounded(betas, ref.betas, rtol=1e-5)
            if f32_err is not None:
                raise _float32_failure(f"betas for T = {T}", f"T = {T} 时的 betas", f32_err)
        expect_close(betas, ref.betas, f"betas for T = {T}, beta_start = {lo}, beta_end = {hi}", rtol=1e-9,
                     atol=1e-15, hint="The first step (betas[1]) gets beta_start, the last (betas[T]) beta_end, "
                                      "and the T values are evenly spaced.",
                     what_zh=f"T = {T}、beta_start = {lo}、beta_end = {hi} 时的 betas",
                     hint_zh="第一步（betas[1]）取 beta_start，最后一步（betas[T]）取 beta_end，T 个值均匀分布。")
        # an explicit running product of the reference betas, independent of torch.cumprod
        prod, by_hand = 1.0, [1.0]
        for b in ref.betas[1:].tolist():
            prod *= 1.0 - b
            by_hand.append(prod)
        by_hand = torch.tensor(by_hand, dtype=torch.float64)
        shifted = torch.cat([by_hand[:1], by_hand[:-1]])
        if _close(ab, shifted, rtol=1e-9, atol=1e-15):
            raise ExerciseFailure(f"alpha_bar is off by one step (T = {T}): your alpha_bar[t] stops at s = t - 1, so "
                                  "alpha_bar[1] is 1 and step t's own factor 1 - beta_t is missing. This is the "
                                  "chapter's mistake (a): with index = time step, entry t includes step t.",
                                  f"alpha_bar 差了一步（T = {T}）：你的 alpha_bar[t] 只乘到 s = t - 1，因此 "
                                  "alpha_bar[1] 为 1，而第 t 步自身的因子 1 - beta_t 缺失了。这正是本章的错误 (a)："
                                  "索引等于时间步时，第 t 项包含第 t 步。")
        abd = ab.double()
        if not _close(abd, by_hand, rtol=1e-9, atol=1e-15):
            f32_err = _float32_rounded(abd, by_hand, rtol=1e-4)
            if f32_err is not None:
                raise _float32_failure(f"alpha_bar for T = {T}", f"T = {T} 时的 alpha_bar", f32_err)
            err = ((abd - by_hand).abs() / by_hand).nan_to_num(nan=float("inf"))
            w = int(err.argmax())
            raise ExerciseFailure(f"alpha_bar for T = {T}: alpha_bar[{w}] is {float(abd[w]):.6g}; the product of the "
                                  f"factors 1 - beta_s for s = 1..{w} is {float(by_hand[w]):.6g}. alpha_bar is a "
                                  "cumulative product, not 1 minus a sum (that is only its first-order approximation, "
                                  "good for small t only).",
                                  f"T = {T} 时的 alpha_bar：alpha_bar[{w}] 是 {float(abd[w]):.6g}；而 s = 1..{w} "
                                  f"的因子 1 - beta_s 的乘积是 {float(by_hand[w]):.6g}。alpha_bar 是累积乘积，而不是 "
                                  "1 减去一个和（那只是它的一阶近似，仅在 t 较小时适用）。")


# ------------------------------------------------------------------------------------------ 6.2


def q_sample_closed_form(schedule: NoiseSchedule, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
    """Return x_t = sqrt(alpha_bar_t) * x0 + sqrt(1 - alpha_bar_t) * noise, a draw from q(x_t | x_0) in one
    step instead of t. x0 and noise have shape (B, ...): points (B, d) or images (B, C, H, W). t is a (B,)
    integer tensor with one time step in 0..T per example, and schedule.alpha_bar[t] is alpha_bar_t (the
    index is the time step; alpha_bar[0] = 1). Return a tensor of x0's shape."""
    raise NotImplementedError


def _marginal_diagnosis(fn, schedule) -> tuple[str, str]:
    """A hint naming the mistake the candidate makes, found from one small case with known noise (in English
    and in Chinese)."""
    x0 = torch.tensor([[2.0, -1.0], [0.5, 1.5], [-1.0, 3.0]], dtype=torch.float64)
    noise = torch.tensor([[0.3, -1.2], [1.1, 0.4], [-0.7, 0.9]], dtype=torch.float64)
    t = torch.tensor([5, 20, 40])
    try:
        got = fn(schedule, x0.clone(), t.clone(), noise.clone())
    except Exception:  # noqa: BLE001 - the main check reports the learner's exception
        return "", ""
    ab, b = schedule.alpha_bar[t][:, None], schedule.betas[t][:, None]
    mistakes = [
        ((1 - b).sqrt() * x0 + b.sqrt() * noise,
         "Your draw matches one step of the chain, with beta_t, not t of them: the chapter's mistake (b).",
         "你的抽样结果相当于链的一步（用 beta_t），而不是 t 步：这是本章的错误 (b)。"),
        (schedule.alpha_bar[t - 1][:, None].sqrt() * x0 + (1 - schedule.alpha_bar[t - 1][:, None]).sqrt() * noise,
         "Your draw uses the alpha_bar of step t - 1: the index of schedule.alpha_bar is the time step itself.",
         "你的抽样用了第 t - 1 步的 alpha_bar：schedule.alpha_bar 的索引就是时间步本身。"),
        (ab.sqrt() * x0 + (1 - ab) * noise, "The noise is scaled by its variance; it needs the standard deviation.",
         "噪声乘的是它的方差；应该乘标准差。"),
        (ab * x0 + (1 - ab).sqrt() * noise,
         "The signal is scaled by alpha_bar_t; the mean of x_t is sqrt(alpha_bar_t) x0.",
         "信号乘的是 alpha_bar_t；x_t 的均值是 sqrt(alpha_bar_t) x0。"),
    ]
    for expected, hint, hint_zh in mistakes:
        if _close(got, expected):
            return " " + hint, hint_zh
    return "", ""


def _check_q_sample(fn) -> None:
    from ..diffusion import linear_schedule, q_sample

    sched = linear_schedule(50)
    # Monte Carlo: run the one-step kernel x_s = sqrt(1 - beta_s) x_{s-1} + sqrt(beta_s) z, and compare
    gen = torch.Generator().manual_seed(0)
    n, start = 40_000, torch.tensor([-2.0, 0.5, 3.0], dtype=torch.float64)
    x0 = start.repeat(n, 1)
    x = x0.clone()
    for s in range(1, sched.T + 1):
        b = float(sched.betas[s])
        x = math.sqrt(1 - b) * x + math.sqrt(b) * torch.randn(x.shape, generator=gen, dtype=torch.float64)
        if s not in (1, 10, 50):
            continue
        noise = torch.randn(x.shape, generator=gen, dtype=torch.float64)
        got = expect_shape(fn(sched, x0.clone(), torch.full((n,), s), noise), (n, 3), f"x_t for {n} points in 3-D",
                           f"{n} 个三维点的 x_t")
        got = got.double()
        chain_mean, chain_var = x.mean(0), x.var(0)
        mean, var = got.mean(0), got.var(0)
        # two independent estimates: 5 standard errors of their difference
        tol_mean = 5 * (2 * chain_var / n).sqrt() + 1e-9
        tol_var = 5 * chain_var * math.sqrt(4 / n) + 1e-9
        agree = bool(((mean - chain_mean).abs() <= tol_mean).all()) and bool(((var - chain_var).abs() <= tol_var).all())
        if not agree:
            diag, diag_zh = _marginal_diagnosis(fn, sched)
            raise ExerciseFailure(
                f"running the chain up to t = {s} from x0 = {_fmt(start)} ({n} runs), the mean of x_t is "
                f"{_fmt(chain_mean)} and its variance {_fmt(chain_var)}; your closed form gives mean {_fmt(mean)} "
                f"and variance {_fmt(var)}." + diag,
                f"从 x0 = {_fmt(start)} 出发把链运行到 t = {s}（共 {n} 次运行），x_t 的均值是 {_fmt(chain_mean)}，"
                f"方差是 {_fmt(chain_var)}；你的闭式解给出的均值是 {_fmt(mean)}，方差是 {_fmt(var)}。" + diag_zh)
    # exact comparison with the package, for several steps in one batch (t = 0 included) and for images
    gen = torch.Generator().manual_seed(1)
    cases = [(torch.randn(3, 3, generator=gen, dtype=torch.float64), torch.tensor([0, 7, 50])),
             (torch.randn(4, 1, 5, 5, generator=gen), torch.tensor([1, 2, 25, 50]))]
    for x0, t in cases:
        noise = torch.randn(x0.shape, generator=gen, dtype=x0.dtype)
        what = f"x_t for x0 of shape {tuple(x0.shape)} and t = {t.tolist()}"
        what_zh = f"x0 形状为 {tuple(x0.shape)}、t = {t.tolist()} 时的 x_t"
        got = expect_shape(fn(sched, x0.clone(), t.clone(), noise.clone()), tuple(x0.shape), what, what_zh)
        diag, diag_zh = _marginal_diagnosis(fn, sched)
        expect_close(got, q_sample(sched, x0, t, noise), what, rtol=1e-5, atol=1e-6,
                     hint="Each example uses the alpha_bar of its own time step: shape alpha_bar[t] as (B, 1, ..., 1) "
                          "so that it broadcasts over the example's own entries, not across the batch (t = 0 must "
                          "return x0)." + diag,
                     what_zh=what_zh,
                     hint_zh="每个样例都使用它自己时间步的 alpha_bar：把 alpha_bar[t] 的形状变成 (B, 1, ..., 1)，"
                             "使它在该样例自身的元素上广播，而不是跨批次广播（t = 0 时必须返回 x0）。" + diag_zh)


# ------------------------------------------------------------------------------------------ 6.3


def posterior_mean_variance(schedule: NoiseSchedule, x0: Tensor, xt: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    """Return (mean, variance) of the posterior q(x_{t-1} | x_t, x_0) = N(mean, variance * I) for a batch.
    x0 and xt have shape (B, ...); t is a (B,) integer tensor of time steps in 1..T. The mean has x0's
    shape; the variance has shape (B,), one number per example. The schedule's tensors betas, alphas and
    alpha_bar are indexed by the time step (alpha_bar[0] = 1)."""
    raise NotImplementedError


def _check_posterior(fn) -> None:
    from ..diffusion import cosine_schedule, linear_schedule, q_posterior

    gen = torch.Generator().manual_seed(2)
    t = torch.tensor([1, 2, 37, 99, 100])
    for sched in (linear_schedule(100), cosine_schedule(100)):
        name = f"the {sched.name} schedule (T = 100)"
        name_zh = "T = 100 的" + {"linear": "线性", "cosine": "余弦"}.get(sched.name, f" {sched.name} ") + "调度"
        x0 = torch.randn(5, 3, generator=gen, dtype=torch.float64)
        xt = torch.randn(5, 3, generator=gen, dtype=torch.float64)
        out = fn(sched, x0.clone(), xt.clone(), t.clone())
        expect(isinstance(out, tuple) and len(out) == 2, "return a pair (mean, variance).",
               "返回一个二元组 (mean, variance)。")
        mean = expect_shape(out[0], (5, 3), "the posterior mean for 5 examples in 3-D", "5 个三维样例的后验均值")
        var = expect_shape(out[1], (5,), "the posterior variance (one number per example)",
                           "后验方差（每个样例一个数）")
        ref = q_posterior(sched, t, like=x0)
        b = sched.betas[t]
        if _close(var, b) and not _close(var, ref.variance.flatten()):
            raise ExerciseFailure(f"with {name} your variance is beta_t, the variance of one forward step. The "
                                  "posterior also knows x_0, so it is narrower: its precision is the sum of two "
                                  "precisions (from q(x_{t-1} | x_0) and from q(x_t | x_{t-1})).",
                                  f"在 {name_zh}下，你的方差是 beta_t，即一个前向步的方差。后验还知道 x_0，所以"
                                  "它更窄：它的精度是两个精度之和（分别来自 q(x_{t-1} | x_0) 和 q(x_t | x_{t-1})）。")
        # the coefficients of x_0 and x_t, read off by switching one input off
        ones, zeros = torch.ones(5, 1, dtype=torch.float64), torch.zeros(5, 1, dtype=torch.float64)
        c0 = torch.as_tensor(fn(sched, ones, zeros, t.clone())[0]).double().flatten()
        ct = torch.as_tensor(fn(sched, zeros, ones, t.clone())[0]).double().flatten()
        expect_close(c0, ref.coef_x0.flatten(), f"the coefficient of x_0 in the mean ({name}; entries are t = "
                     f"{t.tolist()})", rtol=1e-6, atol=1e-12,
                     hint="It carries sqrt(alpha_bar_{t-1}), the signal kept up to step t - 1, and beta_t over "
                          "1 - alpha_bar_t.",
                     what_zh=f"均值中 x_0 的系数（{name_zh}；各项依次对应 t = {t.tolist()}）",
                     hint_zh="它包含 sqrt(alpha_bar_{t-1})（即到第 t - 1 步为止保留下来的信号），以及 beta_t 除以 "
                             "1 - alpha_bar_t。")
        expect_close(ct, ref.coef_xt.flatten(), f"the coefficient of x_t in the mean ({name}; entries are t = "
                     f"{t.tolist()})", rtol=1e-6, atol=1e-12,
                     hint="One forward step made x_t from x_{t-1} and scaled it by sqrt(alpha_t) (alpha, not "
                          "alpha_bar).",
                     what_zh=f"均值中 x_t 的系数（{name_zh}；各项依次对应 t = {t.tolist()}）",
                     hint_zh="一个前向步由 x_{t-1} 得到 x_t，并把它乘以 sqrt(alpha_t)（是 alpha，不是 alpha_bar）。")
        expect_close(var, ref.variance.flatten(), f"the posterior variance ({name}; entries are t = {t.tolist()})",
                     rtol=1e-6, atol=1e-12,
                     hint="It is the math page's tilde-beta_t: beta_t shrunk by a ratio of two noise levels, "
                          "1 - alpha_bar at steps t - 1 and t.",
                     what_zh=f"后验方差（{name_zh}；各项依次对应 t = {t.tolist()}）",
                     hint_zh="它就是数学页面上的 tilde-beta_t：beta_t 乘以两个噪声水平之比而缩小，这两个噪声水平"
                             "是第 t - 1 步和第 t 步的 1 - alpha_bar。")
        expect(abs(float(var[0])) < 1e-12 and _close(mean[0], x0[0], rtol=1e-7, atol=1e-9),
               f"at t = 1 the posterior is the point x_0 (alpha_bar_0 = 1): its mean must be x_0 and its variance 0; "
               f"got variance {float(var[0]):.6g} and a mean {float((mean[0] - x0[0]).abs().max()):.3g} away from x_0 "
               f"({name}).",
               f"在 t = 1 时，后验就是点 x_0（alpha_bar_0 = 1）：它的均值必须是 x_0，方差必须是 0；实际得到的方差是 "
               f"{float(var[0]):.6g}，均值与 x_0 相差 {float((mean[0] - x0[0]).abs().max()):.3g}（{name_zh}）。")
        expect_close(mean, ref.mean(x0, xt), f"the posterior mean ({name})", rtol=1e-6, atol=1e-9,
                     what_zh=f"后验均值（{name_zh}）")
        # the identity behind it: precisions add (for t >= 2, where both Gaussians are proper)
        prec = 1 / (1 - sched.alpha_bar[t[1:] - 1]) + sched.alphas[t[1:]] / b[1:]
        expect_close(1 / var[1:].double(), prec, "1 / variance for t >= 2", rtol=1e-6,
                     hint="The precision of the posterior is 1 / (1 - alpha_bar_{t-1}) + alpha_t / beta_t.",
                     what_zh="t >= 2 时的 1 / 方差",
                     hint_zh="后验的精度是 1 / (1 - alpha_bar_{t-1}) + alpha_t / beta_t。")
    # images: one variance per example, the mean of the images' shape
    sched = linear_schedule(100)
    x0, xt = torch.randn(3, 1, 4, 4, generator=gen), torch.randn(3, 1, 4, 4, generator=gen)
    t = torch.tensor([3, 50, 100])
    mean, var = fn(sched, x0.clone(), xt.clone(), t.clone())
    expect_shape(var, (3,), "the variance for 3 images (one number per image)", "3 张图像的方差（每张图像一个数）")
    expect_close(expect_shape(mean, (3, 1, 4, 4), "the posterior mean for images (3, 1, 4, 4)",
                              "图像 (3, 1, 4, 4) 的后验均值"),
                 q_posterior(sched, t, like=x0.double()).mean(x0.double(), xt.double()),
                 "the posterior mean for images", rtol=1e-4, atol=1e-4,
                 hint="Shape the per-example coefficients as (B, 1, 1, 1) so that they broadcast over each image.",
                 what_zh="图像的后验均值",
                 hint_zh="把每个样例的系数的形状变成 (B, 1, 1, 1)，使它们在每张图像上广播。")


# ------------------------------------------------------------------------------------------ 6.4


def ddpm_sampler(eps_model: Callable, schedule: NoiseSchedule, n: int, dim: int,
                 generator: torch.Generator) -> Tensor:
    """Ancestral (DDPM) sampling of n points in dim dimensions, as on the chapter's math page with the decoder
    variance sigma_t^2 = beta_t: it must give, draw for draw, what ddpm_sample(eps_model, schedule, (n, dim),
    variance="beta", generator=...) gives. Random numbers come from `generator`: x_T first, then the noise of
    each step in order. This version runs, but its samples are always a little too spread out, however good
    the model is. Find the bug and fix it."""
    x = torch.randn(n, dim, generator=generator)  # x_T ~ N(0, I)
    for t in range(schedule.T, 0, -1):
        eps = eps_model(x, torch.full((n,), t, dtype=torch.long))
        ab_t, ab_prev, beta_t = schedule.alpha_bar[t], schedule.alpha_bar[t - 1], schedule.betas[t]
        x0 = (x - (1 - ab_t).sqrt() * eps) / ab_t.sqrt()  # the clean point the predicted noise implies
        mean = (ab_prev.sqrt() * beta_t * x0 + schedule.alphas[t].sqrt() * (1 - ab_prev) * x) / (1 - ab_t)
        z = torch.randn(n, dim, generator=generator)
        x = mean + beta_t.sqrt() * z  # x_{t-1}
    return x


def _check_ddpm_sampler(fn) -> None:
    from ..diffusion import GaussianMixtureDenoiser, ddpm_sample, linear_schedule

    for T, centre, sigma, n in ((100, [1.0, -0.5], 0.1, 4000), (50, [0.0, 2.0, -1.0], 0.2, 1000)):
        sched = linear_schedule(T)
        model = GaussianMixtureDenoiser(torch.tensor([centre]), sigma, sched)  # the exact noise predictor
        dim = len(centre)
        got = fn(model, sched, n, dim, torch.Generator().manual_seed(0))
        got = expect_shape(got, (n, dim), f"the samples ({n} points in {dim}-D)",
                           f"样本（{n} 个 {dim} 维的点）").double()
        ref = ddpm_sample(model, sched, (n, dim), variance="beta", generator=torch.Generator().manual_seed(0)).double()
        if _close(got, ref, rtol=1e-4, atol=1e-4):
            continue
        expect(bool(torch.isfinite(got).all()), "your samples contain NaN or infinity.", "你的样本含有 NaN 或无穷大。")
        noisy_end = ddpm_sample(model, sched, (n, dim), variance="beta", noise_at_last_step=True,
                                generator=torch.Generator().manual_seed(0)).double()
        gap = float((got - ref).std())
        root_beta = math.sqrt(float(sched.betas[1]))
        msg = (f"with the exact noise predictor of N(mu, {sigma}^2 I) and T = {T}, your samples have variance "
               f"{float(got.var(0).mean()):.4f} per coordinate; a correct sampler's have "
               f"{float(ref.var(0).mean()):.4f}.")
        msg_zh = (f"使用 N(mu, {sigma}^2 I) 的精确噪声预测器、T = {T} 时，你的样本每个坐标的方差是 "
                  f"{float(got.var(0).mean()):.4f}；而正确采样器的样本方差是 "
                  f"{float(ref.var(0).mean()):.4f}。")
        if _close(got, noisy_end, rtol=1e-4, atol=1e-4):
            msg += (f" They differ from a correct sampler's by noise of standard deviation {gap:.4f}, about "
                    f"sqrt(beta_1) = {root_beta:.4f}: look at what the final step, t = 1, returns.")
            msg_zh += (f"它们与正确采样器的样本相差一个标准差为 {gap:.4f} 的噪声，约等于 "
                       f"sqrt(beta_1) = {root_beta:.4f}：看看最后一步（t = 1）返回的是什么。")
        else:
            msg += (" They differ from a correct sampler's at more than the last step: keep the posterior mean, "
                    "the variance beta_t and the order of the random draws as they were.")
            msg_zh += ("它们与正确采样器的样本不只在最后一步有差异：请保持后验均值、方差 beta_t "
                       "以及随机抽样的顺序不变。")
        raise ExerciseFailure(msg, msg_zh)


def _reverse_mean(eps_model, schedule, x, t):
    """The posterior mean of x_{t-1} given x_t and the predicted noise, with beta_t: the planted samplers' shared part."""
    eps = eps_model(x, torch.full((x.shape[0],), t, dtype=torch.long))
    ab_t, ab_prev, beta_t = schedule.alpha_bar[t], schedule.alpha_bar[t - 1], schedule.betas[t]
    x0 = (x - (1 - ab_t).sqrt() * eps) / ab_t.sqrt()
    return (ab_prev.sqrt() * beta_t * x0 + schedule.alphas[t].sqrt() * (1 - ab_prev) * x) / (1 - ab_t), beta_t


def _ddpm_posterior_variance(eps_model, schedule, n, dim, generator):
    x = torch.randn(n, dim, generator=generator)
    for t in range(schedule.T, 0, -1):
        mean, beta_t = _reverse_mean(eps_model, schedule, x, t)
        ab_t, ab_prev = schedule.alpha_bar[t], schedule.alpha_bar[t - 1]
        var = (1 - ab_prev) / (1 - ab_t) * beta_t  # zero at t = 1: hides the bug, changes every other step
        x = mean + var.sqrt() * torch.randn(n, dim, generator=generator)
    return x


def _ddpm_stop_at_x1(eps_model, schedule, n, dim, generator):
    x = torch.randn(n, dim, generator=generator)
    for t in range(schedule.T, 1, -1):  # never takes the last step
        mean, beta_t = _reverse_mean(eps_model, schedule, x, t)
        x = mean + beta_t.sqrt() * torch.randn(n, dim, generator=generator)
    return x


def _ddpm_no_noise(eps_model, schedule, n, dim, generator):
    x = torch.randn(n, dim, generator=generator)
    for t in range(schedule.T, 0, -1):
        x = _reverse_mean(eps_model, schedule, x, t)[0]
    return x


# ------------------------------------------------------------------------------------------ 6.5


def ddim_step(eps_model: Callable, x_t: Tensor, t: int, s: int, alpha_bar: Tensor) -> Tensor:
    """One deterministic DDIM step (eta = 0) from time step t down to an earlier step s (0 <= s < t). Ask
    the noise predictor for eps_hat = eps_model(x_t, t_batch), with t_batch a (B,) long tensor filled with t;
    estimate x0_hat from x_t and eps_hat; return x_s = sqrt(alpha_bar_s) x0_hat + sqrt(1 - alpha_bar_s) eps_hat,
    of x_t's shape. alpha_bar is indexed by the time step (alpha_bar[0] = 1)."""
    raise NotImplementedError


def _check_ddim_step(fn) -> None:
    from ..diffusion import GaussianMixtureDenoiser, ddim_sample, linear_schedule, q_posterior, timesteps

    sched = linear_schedule(1000)
    mu, std = torch.tensor([1.5, -0.5]), 0.5
    model = GaussianMixtureDenoiser(mu[None], std, sched)  # the exact noise predictor of N(mu, std^2 I)
    # every step of the package's sampler, each started from the package's own state
    x_T = torch.randn(256, 2, generator=torch.Generator().manual_seed(0))
    trajectory: list = []
    ddim_sample(model, sched, (256, 2), steps=10, x_T=x_T, trajectory=trajectory)
    states = [(timesteps(sched.T, 10)[0], x_T)] + trajectory
    for (t, x), (s, ref) in zip(states[:-1], states[1:]):
        what = f"x_s after one step from t = {t} to s = {s}"
        what_zh = f"从 t = {t} 到 s = {s} 走一步之后的 x_s"
        got = expect_shape(fn(model, x.clone(), t, s, sched.alpha_bar.clone()), (256, 2), what, what_zh)
        if _close(got, ref, rtol=1e-4, atol=1e-5):
            continue
        x0_hat = (x - (1 - sched.alpha_bar[t]).sqrt() * model(x, torch.full((256,), t))) / sched.alpha_bar[t].sqrt()
        post = q_posterior(sched, t, s, like=x)
        if _close(got, post.mean(x0_hat, x), rtol=1e-4, atol=1e-5):
            raise ExerciseFailure(f"{what}: your step returns the DDPM posterior mean, the ancestral sampler without "
                                  "its noise. DDIM moves differently: it keeps the predicted noise and scales it to "
                                  "the noise level of step s.",
                                  f"{what_zh}：你的这一步返回的是 DDPM 的后验均值，也就是去掉了噪声的祖先采样器。"
                                  "DDIM 的移动方式不同：它保留预测的噪声，并把它缩放到第 s 步的噪声水平。")
        expect_close(got, ref, what, rtol=1e-4, atol=1e-5,
                     hint="The estimate x0_hat is q_sample's formula solved for x_0 (with the noise level of step "
                          "t); the step then puts x0_hat back at the noise level of step s with the same predicted "
                          "noise. Ask the model at step t.",
                     what_zh=what_zh,
                     hint_zh="估计值 x0_hat 就是把 q_sample 的公式对 x_0 求解（用第 t 步的噪声水平）；然后这一步用"
                             "同一个预测噪声，把 x0_hat 放回第 s 步的噪声水平。要在第 t 步询问模型。")
    # with the exact noise predictor, 100 of the 1000 steps carry pure noise close to the data distribution
    seq = timesteps(sched.T, 100) + [0]
    x = torch.randn(4000, 2, generator=torch.Generator().manual_seed(1))
    for t, s in zip(seq[:-1], seq[1:]):
        x = fn(model, x, t, s, sched.alpha_bar)
    x = expect_shape(x, (4000, 2), "the samples after 100 steps", "100 步之后的样本").double()
    expect(bool(torch.allclose(x.mean(0), mu.double(), atol=0.05)) and
           bool(torch.allclose(x.std(0), torch.full((2,), std, dtype=torch.float64), rtol=0.08)),
           f"100 of your steps from pure noise with the exact noise predictor of N({_fmt(mu)}, {std}^2 I) give samples "
           f"with mean {_fmt(x.mean(0))} and standard deviation {_fmt(x.std(0))}; they should match the data's.",
           f"使用 N({_fmt(mu)}, {std}^2 I) 的精确噪声预测器，从纯噪声出发走你的 100 步，得到的样本均值为 "
           f"{_fmt(x.mean(0))}，标准差为 {_fmt(x.std(0))}；它们应当与数据的均值和标准差一致。")


# ------------------------------------------------------------------------------------------ 6.6


def guided_eps(model: Callable, x: Tensor, t: Tensor, y: Tensor, scale: float, null_label: int) -> Tensor:
    """Classifier-free guidance written with a guidance scale s, as many libraries write it:
    eps_uncond + s * (eps_cond - eps_uncond), where eps_cond = model(x, t, y) and eps_uncond is the model's
    prediction with every label replaced by null_label. Call the model once, on a batch of twice the size:
    x, t and y all doubled, the second half of the labels null_label; split the result into its halves.
    x is (B, ...), t and y are (B,); return a tensor of x's shape."""
    raise NotImplementedError


def _labelled_model(n_labels: int, dim: int, calls: list):
    """A toy class-conditional noise predictor, row by row (so batching cannot change its answers); label
    ``n_labels - 1`` plays the null label. It records the batch size of every call in ``calls``."""
    gen = torch.Generator().manual_seed(n_labels)
    W = torch.randn(n_labels, dim, dim, generator=gen, dtype=torch.float64)
    b = torch.randn(n_labels, dim, generator=gen, dtype=torch.float64)

    def model(x: Tensor, t: Tensor, y: Tensor) -> Tensor:
        if t.shape != (len(x),) or y.shape != (len(x),):
            raise ValueError(f"the model takes t and y of shape (B,) = ({len(x)},); got {tuple(t.shape)} and "
                             f"{tuple(y.shape)}")
        calls.append(len(x))
        h = torch.einsum("bd,bde->be", x.double(), W[y]) + b[y]
        return (torch.tanh(h) * (1 + t.double()[:, None] / 100)).to(x.dtype)

    return model


def _check_guided_eps(fn) -> None:
    from ..diffusion import classifier_free_guidance

    gen = torch.Generator().manual_seed(3)
    for n_labels, dim in ((4, 3), (7, 2)):
        calls: list = []
        model, null = _labelled_model(n_labels, dim, calls), n_labels - 1
        x = torch.randn(6, dim, generator=gen, dtype=torch.float64)
        t = torch.tensor([1, 10, 100, 250, 500, 999])
        y = torch.tensor([0, 1, 2, 0, 1, 2])
        cond, uncond = model(x, t, y), model(x, t, torch.full_like(y, null))
        calls.clear()
        at_zero = expect_shape(fn(model, x.clone(), t.clone(), y.clone(), 0.0, null), tuple(x.shape),
                               "the guided prediction at scale 0", "强度为 0 时的引导预测")
        if not _close(at_zero, uncond, atol=1e-7):
            if _close(at_zero, cond, atol=1e-7):
                at_one = fn(model, x.clone(), t.clone(), y.clone(), 1.0, null)
                book = " You have used the scale as the book's w; the book's w is s - 1." \
                    if _close(at_one, 2 * cond - uncond, atol=1e-7) else ""
                book_zh = "你把强度当成了本书中的 w；本书的 w 等于 s - 1。" if book else ""
                raise ExerciseFailure("at scale 0 your guided prediction is the conditional one. With a scale s, 0 "
                                      "means no label at all (the unconditional prediction) and 1 the plain "
                                      "conditional model." + book,
                                      "强度为 0 时，你的引导预测是条件预测。使用强度 s 时，0 表示完全不用标签"
                                      "（无条件预测），1 表示普通的条件模型。" + book_zh)
            if _close(at_zero, model(x, t, torch.zeros_like(y)), atol=1e-7):
                raise ExerciseFailure("at scale 0 your prediction is the model's answer for label 0. The "
                                      "unconditional prediction uses the null label (the argument null_label), a "
                                      "label of its own that the model was trained with in place of the real one.",
                                      "强度为 0 时，你的预测是模型对标签 0 的回答。无条件预测使用空标签（参数 "
                                      "null_label），这是一个单独的标签，模型在训练时用它代替真实标签。")
            expect_close(at_zero, uncond, "at scale 0, the guided prediction", rtol=1e-6, atol=1e-7,
                         hint="Scale 0 must give the unconditional prediction (every label replaced by null_label).",
                         what_zh="强度为 0 时的引导预测",
                         hint_zh="强度 0 必须给出无条件预测（每个标签都换成 null_label）。")
        at_one = expect_shape(fn(model, x.clone(), t.clone(), y.clone(), 1.0, null), tuple(x.shape),
                              "the guided prediction at scale 1", "强度为 1 时的引导预测")
        expect_close(at_one, cond, "at scale 1, the guided prediction", rtol=1e-6, atol=1e-7,
                     hint="Scale 1 must give the plain conditional prediction model(x, t, y).",
                     what_zh="强度为 1 时的引导预测", hint_zh="强度 1 必须给出普通的条件预测 model(x, t, y)。")
        for scale in (3.0, 7.5):
            calls.clear()
            got = expect_shape(fn(model, x.clone(), t.clone(), y.clone(), scale, null), tuple(x.shape),
                               f"the guided prediction at scale {scale}", f"强度为 {scale} 时的引导预测")
            expect(calls == [2 * len(x)],
                   f"at scale {scale} the model was called on batches of sizes {calls}; call it once, on one batch of "
                   f"{2 * len(x)} (the {len(x)} inputs with their labels, then the same inputs with the null label).",
                   f"强度为 {scale} 时，模型被调用时的批次大小依次为 {calls}；应只调用一次，作用在一个大小为 "
                   f"{2 * len(x)} 的批次上（先是带各自标签的 {len(x)} 个输入，再是带空标签的同样这些输入）。")
            book = classifier_free_guidance(model, y, scale - 1, null)(x, t)  # the book's w = s - 1
            expect_close(got, book, f"at scale {scale}, the guided prediction", rtol=1e-6, atol=1e-7,
                         hint="It must equal the book's rule (1 + w) eps_cond - w eps_uncond with w = s - 1: start "
                              "from the unconditional prediction and move s times the difference towards the "
                              "conditional one.",
                         what_zh=f"强度为 {scale} 时的引导预测",
                         hint_zh="它必须等于本书的规则 (1 + w) eps_cond - w eps_uncond，其中 w = s - 1：从无条件预测"
                                 "出发，朝条件预测的方向移动 s 倍的差值。")


from .ch06_wrong import _ls_shifted, _ls_one_minus_sum, _ls_linspace_from_zero, _qs_one_step, _qs_previous_step, _qs_variance, _qs_last_axis, _post_variance_beta, _post_alpha_bar_for_alpha, _post_off_by_one, _post_beta_for_one_minus_alpha_bar  # noqa: E402,E501
from .ch06_wrong import _ddim_noise_of_step_t, _ddim_posterior_mean, _ddim_x0_not_rescaled, _ddim_model_at_s, _cfg_book_w, _cfg_label_zero, _cfg_swapped, _cfg_two_calls  # noqa: E402


# ---------------------------------------------------------------------------------------- registry

_SETUP = "from aigc_lessons.diffusion import NoiseSchedule, linear_schedule"

EXERCISES = [
    Exercise("6.1", "The linear schedule and its cumulative product", "warm-up",
             "Build the linear schedule of Ho et al.: $\\beta_t$ evenly spaced from `beta_start` to `beta_end` as "
             "given, and $\\bar\\alpha_t = \\prod_{s=1}^{t} (1 - \\beta_s)$, both stored with the index equal to the "
             "time step (entry 0 is the clean data). Do not rescale the ends by $1000/T$: the package's "
             "`linear_schedule` does that for $T \\ne 1000$, so the check calls it with both ends multiplied by "
             "$T/1000$, and also compares with a running product written out by hand; it knows the classic off-by-one "
             "of $\\bar\\alpha$.",
             linear_schedule_alpha_bar, _check_linear_schedule,
             wrong=(_ls_shifted, _ls_one_minus_sum, _ls_linspace_from_zero), background="{ref}`ch06-schedules`"),
    Exercise("6.2", "Jump to step t in one draw", "warm-up",
             "Draw $x_t$ from the marginal $q(x_t \\mid x_0) = \\mathcal N(\\sqrt{\\bar\\alpha_t}\\,x_0,\\ "
             "(1-\\bar\\alpha_t) I)$ in one step, for a batch in which every example has its own time step. The check "
             "first runs the chain $x_s = \\sqrt{1-\\beta_s}\\,x_{s-1} + \\sqrt{\\beta_s}\\,z$ step by step on 40,000 "
             "points and compares the mean and variance of your draws with it (a Monte Carlo test with a fixed seed), "
             "then compares exact values with the package's `q_sample` on points and on images.",
             q_sample_closed_form, _check_q_sample,
             setup=_SETUP + "\n\nschedule = linear_schedule(1000)  # to try your function on",
             wrong=(_qs_one_step, _qs_previous_step, _qs_variance, _qs_last_axis), background="{ref}`ch06-marginal`"),
    Exercise("6.3", "The posterior of one reverse step", "core",
             "Write the mean and variance of $q(x_{t-1} \\mid x_t, x_0)$, the Gaussian that every reverse step of "
             "the sampler imitates. The check compares them with the package's `q_posterior`, reads off the "
             "coefficients of $x_0$ and $x_t$ in your mean separately, tests $t = 1$ (where the posterior is the "
             "point $x_0$), and verifies that the precisions add: "
             "$1/\\tilde\\beta_t = 1/(1-\\bar\\alpha_{t-1}) + \\alpha_t/\\beta_t$.",
             posterior_mean_variance, _check_posterior, setup=_SETUP,
             wrong=(_post_variance_beta, _post_alpha_bar_for_alpha, _post_off_by_one,
                    _post_beta_for_one_minus_alpha_bar), background="{ref}`ch06-posterior`"),
    Exercise("6.4", "Find the bug in an ancestral sampler", "core",
             "The sampler below runs and its samples look fine at a glance, yet even with a perfect noise predictor "
             "they always come out a little more spread out than they should. The check runs it with the exact noise "
             "predictor of a Gaussian (`GaussianMixtureDenoiser`) and compares it, draw for draw, with the package's "
             "`ddpm_sample`. Read it against Algorithm 2 of Ho et al. and the chapter's list of mistakes, and fix it.",
             ddpm_sampler, _check_ddpm_sampler,
             setup="from typing import Callable\n\nfrom aigc_lessons.diffusion import GaussianMixtureDenoiser, "
                   "NoiseSchedule, ddpm_sample, linear_schedule",
             wrong=(_ddpm_posterior_variance, _ddpm_stop_at_x1, _ddpm_no_noise), background="{ref}`ch06-sampling`"),
    Exercise("6.5", "One deterministic DDIM step", "stretch",
             "Write one DDIM step with $\\eta = 0$: from $x_t$, estimate $\\hat x_0$ with the model's noise "
             "prediction and move to an earlier step $s$ (not necessarily $t - 1$). The check feeds your step every "
             "state of the package's `ddim_sample` on a Gaussian whose optimal noise prediction is known in closed "
             "form, and compares each step; then it chains your step over 100 of $T = 1000$ time steps from pure noise "
             "and checks that the samples have the data's mean and standard deviation.",
             ddim_step, _check_ddim_step, setup="from typing import Callable", background="{ref}`ch06-sampling`",
             wrong=(_ddim_noise_of_step_t, _ddim_posterior_mean, _ddim_x0_not_rescaled, _ddim_model_at_s)),
    Exercise("6.6", "Classifier-free guidance with a guidance scale", "core",
             "The book writes guidance as $(1 + w)\\,\\varepsilon_\\theta(x_t, t, y) - w\\,"
             "\\varepsilon_\\theta(x_t, t, \\varnothing)$; many libraries write it with a scale $s$ as "
             "$\\varepsilon_{uncond} + s\\,(\\varepsilon_{cond} - \\varepsilon_{uncond})$. Implement the second "
             "form with one call of the model on a doubled batch. The check tests the two ends ($s = 0$ gives the "
             "unconditional prediction, $s = 1$ the conditional one) and compares larger scales with the package's "
             "`classifier_free_guidance` at $w = s - 1$.",
             guided_eps, _check_guided_eps, setup="from typing import Callable",
             wrong=(_cfg_book_w, _cfg_label_zero, _cfg_swapped, _cfg_two_calls), background="{ref}`ch06-guidance`"),
]
