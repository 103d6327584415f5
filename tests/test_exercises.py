"""The exercises (aigc_lessons.exercises): every solution passes its check, every template fails it with
a message for the learner (never a traceback), every planted wrong answer is caught, and the notebooks and
pages written from the registry are up to date."""

import re
import subprocess
import sys

import pytest

from aigc_lessons import exercises
from tests.conftest import REPO

ALL = exercises.all_exercises()
KEYS = [ex.key for ex in ALL]


def test_registry_is_well_formed():
    assert len(KEYS) == len(set(KEYS)), "exercise keys must be unique"
    for chapter in exercises.CHAPTERS:
        mine = [ex for ex in ALL if ex.chapter == chapter]
        assert 4 <= len(mine) <= 8, f"chapter {chapter} has {len(mine)} exercises; 4-8 expected"
        assert {ex.level for ex in mine} == set(exercises.LEVELS), f"chapter {chapter} lacks a level"
        assert [ex.key for ex in mine] == [f"{chapter}.{i}" for i in range(1, len(mine) + 1)]
    for ex in ALL:  # the build (-n -W) fails on a cross-reference to a label that does not exist
        assert re.fullmatch(r"(.* )?\{(ref|doc)\}`[^`]+`", ex.background), f"{ex.key}: background {ex.background!r}"
    with pytest.raises(KeyError, match="valid keys"):
        exercises.get("99.1")


@pytest.mark.parametrize("key", KEYS)
def test_the_solution_passes(key):
    fb = exercises.check(key, exercises.solution_of(key), show=False)
    assert fb.passed, fb.message


@pytest.mark.parametrize("key", KEYS)
def test_the_template_fails_with_a_message(key):
    ex = exercises.get(key)
    fb = exercises.check(key, ex.template, show=False)
    assert not fb.passed
    assert fb.message and "Traceback" not in fb.message and len(fb.message) < 600, fb.message


@pytest.mark.parametrize("key", [ex.key for ex in ALL if ex.wrong])
def test_every_planted_wrong_answer_is_caught(key):
    for wrong in exercises.get(key).wrong:
        fb = exercises.check(key, wrong, show=False)
        assert not fb.passed, f"{key}: the check accepts the wrong answer {wrong.__name__}"
        assert "Traceback" not in fb.message


def test_check_never_raises_for_bad_candidates(capsys):
    key = KEYS[0]
    assert not exercises.check(key, 42).passed
    assert not exercises.check(key, lambda *a, **k: None).passed
    assert not exercises.check(key, lambda *a, **k: 1 / 0).passed
    out = capsys.readouterr().out
    assert "ZeroDivisionError" in out and "NOT YET" in out


def test_an_error_names_the_line_of_the_learners_function():
    def optimal_discriminator(p_data, p_g):
        ratio = p_data / (p_data + p_g)
        return ratio.reshape(-1, 7)

    fb = exercises.check("2.1", optimal_discriminator, show=False)
    assert not fb.passed and "RuntimeError" in fb.message and "line 3 of `optimal_discriminator`" in fb.message


def test_notebooks_and_pages_are_written_from_the_registry():
    out = subprocess.run([sys.executable, str(REPO / ".ci" / "exercise_pages.py"), "--check"], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_schedule_computed_in_float32_is_named_as_such():
    """Exercise 6.1 asks for float64. An answer computed in float32 and converted to float64 afterwards passes
    the dtype check and misses the reference by about 1e-8; the message says float32, not "uneven spacing"."""
    import torch

    def betas_in_float32(T, beta_start, beta_end):
        betas = torch.cat([torch.zeros(1), torch.linspace(beta_start, beta_end, T)]).double()
        return betas, torch.cumprod(1 - betas, 0)

    def alpha_bar_in_float32(T, beta_start, beta_end):
        betas = torch.cat([torch.zeros(1, dtype=torch.float64),
                           torch.linspace(beta_start, beta_end, T, dtype=torch.float64)])
        return betas, torch.cumprod(1 - betas.float(), 0).double()

    for wrong, what in ((betas_in_float32, "betas"), (alpha_bar_in_float32, "alpha_bar")):
        fb = exercises.check("6.1", wrong, show=False)
        assert not fb.passed and fb.message.startswith(f"{what} for T = 1000") and "computed in float32" in fb.message, \
            fb.message
        assert "float32" in fb.message_zh
    right = exercises.solution_of("6.1")
    assert exercises.check("6.1", right, show=False).passed


def test_a_mismatch_is_printed_with_the_digits_that_differ():
    assert exercises.distinct_digits(0.1, 0.2) == ("0.1", "0.2")
    a, b = exercises.distinct_digits(0.123456789012, 0.123456789)
    assert a != b and float(a) != float(b), (a, b)
    assert exercises.distinct_digits(1.0, 1.0) == ("1", "1")  # equal values cannot be told apart
    with pytest.raises(exercises.ExerciseFailure, match=r"got 1\.000000001, expected 1\.$"):
        exercises.expect_close(1.000000001, 1.0, "x", rtol=1e-12, atol=0)


def test_an_argument_changed_in_place_is_named_and_the_reference_stays_right():
    """A function that overwrites an input would make a check compute its expected value from the corrupted
    tensor (and show the learner's right number as "expected"); the guard in check() names the argument."""
    import torch

    def kl_diag_to_standard_normal(mu, logvar):
        sq = mu.pow_(2)
        return 0.5 * (sq + logvar.exp() - 1 - logvar).sum(-1)

    fb = exercises.check("3.1", kl_diag_to_standard_normal, show=False)
    assert not fb.passed and "changed its argument `mu` in place" in fb.message, fb.message
    assert "`mu`" in fb.message_zh

    def causal_attention(q, k, v):  # a right answer that changes nothing still passes behind the guard
        n = q.shape[-2]
        s = (q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5).masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1),
                                                                       float("-inf"))
        return torch.softmax(s, dim=-1) @ v

    assert exercises.check("4.1", causal_attention, show=False).passed


def test_an_answer_in_another_float_dtype_is_judged_by_its_values():
    """Exercise 3.3: a right answer that computes in float64 for float32 inputs must pass (the check's own
    comparisons once crashed with "Double did not match Float")."""
    import torch.nn.functional as F

    def bernoulli_log_likelihood(x, logits):
        lg = logits.double()
        return (x.double() * lg - F.softplus(lg)).sum(-1)

    fb = exercises.check("3.3", bernoulli_log_likelihood, show=False)
    assert fb.passed, fb.message
