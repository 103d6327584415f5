"""Exercises with automatic checks: the learner fills in a function, a check cell says what is wrong.

Each chapter's module (``ch01`` ... ``ch06``) defines, for every exercise, a *template* (the function
the learner completes: its signature, a docstring that states the task, and ``raise
NotImplementedError``) and a *check* that calls a candidate function on small cases and compares it
with an independent reference from the package (the closed form, a Monte Carlo estimate, PyTorch's
own implementation). The worked solutions live in :mod:`aigc_lessons.exercises.solutions`, with the
same names as the templates; the book shows them in a hidden dropdown under each exercise.

In a notebook::

    from aigc_lessons import exercises
    def optimal_discriminator(p_data, p_g):
        ...                                  # your code
    exercises.check("2.1", optimal_discriminator)

:func:`check` never raises for an answer, right or wrong (only an unknown exercise key raises
``KeyError``): it returns (and shows) a :class:`Feedback` whose message names the problem (not done yet, an exception from your code and the line it came from, a wrong shape, a
value that breaks an identity, a threshold missed), so a learner is never left with a traceback. Every
message has an English and a Chinese text; both are shown, English first, unless ``AIGC_LANG`` is ``en`` or
``zh`` (:func:`feedback_languages`).
``make test`` runs every check against its solution (it must pass) and its template (it must fail
with a helpful message); the notebooks in ``notebooks/exercises/`` and the exercise pages are written
from this registry by ``python .ci/exercise_pages.py`` (a test runs it with ``--check``, so they stay
up to date).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

__all__ = ["Exercise", "Feedback", "ExerciseFailure", "check", "get", "all_exercises", "solution_of", "expect_close",
           "distinct_digits", "close", "expect_shape", "expect", "feedback_languages", "LEVELS", "CHAPTERS"]

#: The grades of difficulty, in order.
LEVELS = ("warm-up", "core", "stretch")
#: The chapters that have exercise modules (``chNN.py`` beside this file), by number.
CHAPTERS = tuple(sorted(int(p.stem[2:]) for p in Path(__file__).parent.glob("ch[0-9][0-9].py")))


class ExerciseFailure(AssertionError):
    """Raised by a check when the candidate's answer is wrong; its message (and ``zh``, the same in Chinese)
    is what the learner reads."""

    def __init__(self, message: str, zh: str = ""):
        super().__init__(message)
        self.zh = zh


def feedback_languages() -> tuple[str, ...]:
    """The languages of the feedback: ``AIGC_LANG`` = ``en`` or ``zh`` for one, anything else (the default)
    for both, English first. An unknown value is not an error: a learner always gets both."""
    choice = os.environ.get("AIGC_LANG", "").strip().lower()
    return (choice,) if choice in ("en", "zh") else ("en", "zh")


@dataclass(frozen=True)
class Exercise:
    """One exercise: ``key`` like ``"2.1"``, a ``level`` from :data:`LEVELS`, a Markdown ``prompt``, the
    ``template`` the learner completes and the ``check`` that judges a candidate (raises
    :class:`ExerciseFailure` with a helpful message when it is wrong). ``wrong`` holds plausible
    mistakes (a flipped ratio, a numerically unstable formula) that the check must catch. ``background``
    is a MyST cross-reference to the section of the book the exercise rests on."""

    key: str
    title: str
    level: str
    prompt: str
    template: Callable
    check: Callable[[Callable], None]
    setup: str = ""  # code the notebook runs before the template cell (imports, data)
    wrong: tuple[Callable, ...] = ()  # plausible wrong answers the check must reject (the tests run them)
    background: str = ""  # the section the exercise rests on, e.g. "{ref}`vae-kl`" (shown as "Read first: ...")

    def __post_init__(self):
        if self.level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {self.level!r}")
        if self.key.split(".")[0] != str(self.chapter):
            raise ValueError(f"exercise key {self.key!r} must start with its chapter number")

    @property
    def chapter(self) -> int:
        return int(self.template.__module__.rsplit(".ch", 1)[-1])

    @property
    def name(self) -> str:
        """The name of the function the learner writes (the template's name)."""
        return self.template.__name__


@dataclass(frozen=True)
class Feedback:
    """The verdict of :func:`check`: ``passed`` and a message for the learner (shown in a notebook)."""

    key: str
    passed: bool
    message: str
    message_zh: str = ""

    def _lines(self, markdown: bool) -> list[str]:
        lines = []
        for lang in feedback_languages():
            if lang == "en":
                mark = ("✅ **Passed.**" if self.passed else "❌ **Not yet.**") if markdown else (
                    "PASSED." if self.passed else "NOT YET.")
                lines.append(f"Exercise {self.key}: {mark} {self.message}")
            else:
                mark = ("✅ **通过。**" if self.passed else "❌ **尚未通过。**") if markdown else (
                    "通过。" if self.passed else "尚未通过。")
                lines.append(f"练习 {self.key}：{mark}{self.message_zh or self.message}")
        return lines

    def __str__(self) -> str:
        return "\n".join(self._lines(markdown=False))

    def _repr_markdown_(self) -> str:
        return "<br>\n".join(self._lines(markdown=True))

    def __repr__(self) -> str:
        return str(self)


def _chapter_module(chapter: int):
    return importlib.import_module(f"{__name__}.ch{chapter:02d}")


def all_exercises() -> list[Exercise]:
    """Every exercise of every chapter, in book order."""
    return [ex for ch in CHAPTERS for ex in _chapter_module(ch).EXERCISES]


def get(key: str) -> Exercise:
    """The exercise called ``key`` (``"2.1"``); an unknown key raises ``KeyError`` listing the valid ones."""
    found = {ex.key: ex for ex in all_exercises()}
    if key not in found:
        raise KeyError(f"Unknown exercise {key!r}; valid keys are: {', '.join(found)}.")
    return found[key]


def solution_of(key: str) -> Callable:
    """The worked solution of exercise ``key`` (a function with the template's name)."""
    ex = get(key)
    module = importlib.import_module(f"{__name__}.solutions.ch{ex.chapter:02d}")
    return getattr(module, ex.name)


def _where(exc: BaseException, fn: Callable) -> tuple[str, str]:
    """' (line N of `fn`: `code`)' for the innermost frame of ``exc`` that lies inside ``fn``'s source, in
    English and in Chinese."""
    try:
        lines, first = inspect.getsourcelines(fn)
        filename = inspect.getsourcefile(fn)
    except (OSError, TypeError):
        return "", ""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename == filename and first <= (f.lineno or 0) < first + len(lines)]
    if not frames:
        return "", ""
    text = (frames[-1].line or "").strip()
    if not text:
        return "", ""
    name = getattr(fn, "__name__", "your function")
    line = frames[-1].lineno - first + 1
    return f" (line {line} of `{name}`: `{text}`)", f"（`{name}` 的第 {line} 行：`{text}`）"


def check(key: str, fn: Callable, *, show: bool = True) -> Feedback:
    """Run exercise ``key``'s check on ``fn`` and return a :class:`Feedback`; never raises for a wrong answer.

    ``show`` also prints the feedback (in a notebook the returned object renders as well; pass
    ``show=False`` to get it silently).
    """
    ex = get(key)
    if not callable(fn):
        fb = Feedback(key, False, f"`{ex.name}` must be a function; got {type(fn).__name__}.",
                      f"`{ex.name}` 必须是一个函数；收到的是 {type(fn).__name__}。")
    else:
        try:
            ex.check(_guard_inputs(fn, list(inspect.signature(ex.template).parameters)))
        except ExerciseFailure as e:
            fb = Feedback(key, False, str(e), e.zh)
        except NotImplementedError:
            fb = Feedback(key, False, f"`{ex.name}` is not written yet: replace the `raise NotImplementedError` line "
                                      "with your code, run that cell, then this one again.",
                          f"`{ex.name}` 还没有写：把 `raise NotImplementedError` 这一行换成你的代码，"
                          "运行那个单元格，再运行这一个。")
        except Exception as e:  # the learner's code failed: say where and what, not a traceback
            where, where_zh = _where(e, fn)
            fb = Feedback(key, False, f"your function raised {type(e).__name__}: {e}{where}.",
                          f"你的函数抛出了 {type(e).__name__}：{e}{where_zh}。")
        else:
            fb = Feedback(key, True, "Every case of the check holds.", "检查的每个用例都成立。")
    if show:
        print(fb)
    return fb


def _unchanged(saved: torch.Tensor, now: torch.Tensor) -> bool:
    """Whether ``now`` still holds what ``saved`` (a copy taken before the call) holds, NaN for NaN."""
    if saved.shape != now.shape or saved.dtype != now.dtype:
        return False
    now = now.detach()
    same = now == saved
    if saved.is_floating_point() or saved.is_complex():
        same |= torch.isnan(now) & torch.isnan(saved)
    return bool(same.all())


def _guard_inputs(fn: Callable, params: list[str]) -> Callable:
    """``fn``, failing the check as soon as a call changes one of its tensor arguments in place.

    Without this guard a check that computes its expected value from the same tensors afterwards would
    compare against a corrupted reference and show the learner's right number as "expected". ``params``
    are the template's parameter names, for the message."""

    @functools.wraps(fn)
    def guarded(*args, **kwargs):
        named = list(zip(params, args)) + list(kwargs.items())
        saved = [(name, value, value.detach().clone()) for name, value in named if isinstance(value, torch.Tensor)]
        out = fn(*args, **kwargs)
        for name, value, copy in saved:
            if not _unchanged(copy, value):
                raise ExerciseFailure(
                    f"your function changed its argument `{name}` in place (a method ending in _ such as mul_, "
                    "an out= argument, an assignment into it, or x *= ...). The caller still needs that tensor "
                    "as it was: compute a new tensor instead (x = x * 2).",
                    f"你的函数就地修改了它的参数 `{name}`（以 _ 结尾的方法，例如 mul_；out= 参数；对它的元素赋值；"
                    "或 x *= ...）。调用者还需要这个张量的原值：请计算一个新的张量（x = x * 2）。")
        return out

    return guarded


# ---------------------------------------------------------------------------------- helpers for checks


def close(a, b, rtol: float = 1e-5, atol: float = 1e-6) -> bool:
    """Whether two tensors (or numbers) have one shape, are finite and agree to the tolerances, compared
    in float64 whatever their dtypes: the quiet test a check uses to diagnose a mistake before it fails."""
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return a.shape == b.shape and bool(torch.isfinite(a).all()) and torch.allclose(a, b, rtol=rtol, atol=atol)


def expect(condition: bool, message: str, zh: str = "") -> None:
    """Fail the check with ``message`` (and its Chinese text ``zh``) unless ``condition`` holds."""
    if not condition:
        raise ExerciseFailure(message, zh)


def expect_shape(got, shape: tuple[int, ...], what: str, what_zh: str = "") -> torch.Tensor:
    """``got`` as a tensor of exactly ``shape``; otherwise a failure naming ``what`` (``what_zh`` in
    Chinese), the shape and the type."""
    what_zh = what_zh or what
    if not isinstance(got, torch.Tensor):
        try:
            got = torch.as_tensor(got)
        except (TypeError, ValueError, RuntimeError):
            raise ExerciseFailure(f"{what} should be a tensor of shape {tuple(shape)}; got a {type(got).__name__}.",
                                  f"{what_zh} 应当是形状为 {tuple(shape)} 的张量；收到的是 {type(got).__name__}。") from None
    expect(tuple(got.shape) == tuple(shape), f"{what} should have shape {tuple(shape)}; got {tuple(got.shape)}.",
           f"{what_zh} 的形状应为 {tuple(shape)}；实际是 {tuple(got.shape)}。")
    return got


def distinct_digits(got: float, expected: float, least: int = 6) -> tuple[str, str]:
    """Both numbers with ``least`` significant digits, or with as many more (up to 17, all a float64 has)
    as it takes for them to read differently: two values that differ by one part in 10^9 must not be
    shown as the same number in a message that says they differ."""
    for digits in range(least, 18):
        a, b = f"{got:.{digits}g}", f"{expected:.{digits}g}"
        if a != b:
            break
    return a, b


def expect_close(got, expected, what: str, *, rtol: float = 1e-5, atol: float = 1e-8, hint: str = "",
                 what_zh: str = "", hint_zh: str = "") -> None:
    """Fail unless ``got`` equals ``expected`` to the tolerances; the message shows both (the first
    differing entry for a tensor) and ``hint``; ``what_zh`` and ``hint_zh`` are their Chinese texts."""
    what_zh = what_zh or what
    hint_zh = hint_zh or hint
    hint = hint[:1].upper() + hint[1:]  # it follows a full stop
    e = torch.as_tensor(expected, dtype=torch.float64)
    try:
        g = torch.as_tensor(got, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise ExerciseFailure(f"{what} should be a number or a tensor; got a {type(got).__name__}.",
                              f"{what_zh} 应当是一个数或一个张量；收到的是 {type(got).__name__}。") from None
    if g.shape != e.shape:
        raise ExerciseFailure(f"{what} should have shape {tuple(e.shape)}; got {tuple(g.shape)}.",
                              f"{what_zh} 的形状应为 {tuple(e.shape)}；实际是 {tuple(g.shape)}。")
    if not torch.isfinite(g).all():
        raise ExerciseFailure(f"{what} contains NaN or infinity." + (f" {hint}" if hint else ""),
                              f"{what_zh} 含有 NaN 或无穷大。" + hint_zh)
    bad = ~torch.isclose(g, e, rtol=rtol, atol=atol)
    if bad.any():
        if g.dim() == 0:
            a, b = distinct_digits(g.item(), e.item())
            detail, detail_zh = f"got {a}, expected {b}", f"得到 {a}，应为 {b}"
        else:
            i = tuple(int(v) for v in bad.nonzero()[0])
            a, b = distinct_digits(g[i].item(), e[i].item())
            detail = f"at index {i} got {a}, expected {b} ({int(bad.sum())} entries differ)"
            detail_zh = f"下标 {i} 处得到 {a}，应为 {b}（共 {int(bad.sum())} 个元素不同）"
        raise ExerciseFailure(f"{what}: {detail}." + (f" {hint}" if hint else ""), f"{what_zh}：{detail_zh}。" + hint_zh)


def template_source(ex: Exercise) -> str:
    """The template's source as the learner sees it in the notebook."""
    return inspect.getsource(ex.template)
