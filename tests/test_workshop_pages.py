"""The workshop pieces of every chapter page and the instructor guide's arithmetic.

Every chapter page opens with learning objectives and prerequisites with times, and closes with a summary
and exercises that link the generated exercise page and notebook (both in the table of contents); the
instructor guide's plans add up to the hours it states.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted(ROOT.glob("book/ch0*/index.md"))
TOC = (ROOT / "_toc.yml").read_text(encoding="utf-8")


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.parent.name)
def test_chapter_opens_with_objectives_and_closes_with_summary_and_exercises(page):
    text = page.read_text(encoding="utf-8")
    heads = [h.strip() for h in re.findall(r"^## (.+)$", text, flags=re.M)]
    for needed in ("Learning objectives", "Prerequisites and time", "Summary", "Exercises"):
        assert needed in heads, f"{page.parent.name}: no '## {needed}' section"
    assert heads.index("Learning objectives") < heads.index("Prerequisites and time") < heads.index("Summary") \
        < heads.index("Exercises"), f"{page.parent.name}: sections out of order: {heads}"
    objectives = text.split("## Learning objectives", 1)[1].split("\n## ", 1)[0]
    assert len(re.findall(r"^\d+\. ", objectives, flags=re.M)) >= 3, "fewer than three numbered objectives"
    chapter = page.parent.name[2:4]
    exercises = text.split("\n## Exercises", 1)[1]
    assert "{doc}`exercises`" in exercises and f"exercises/ch{chapter}_exercises" in exercises
    folder = page.parent.relative_to(ROOT).as_posix()
    assert f"file: {folder}/exercises\n" in TOC and f"file: notebooks/exercises/ch{chapter}_exercises\n" in TOC


def test_no_placeholder_is_left_on_any_page():
    for page in ROOT.glob("book/**/*.md"):
        assert "RUNTIME_TBD" not in page.read_text(encoding="utf-8"), page


def _rows(table: str) -> list[list[str]]:
    """The body rows of the first Markdown table in ``table``, as lists of stripped cells."""
    rows = [r for r in table.splitlines() if r.startswith("|") and not r.startswith("|---")][1:]
    return [[c.strip() for c in r.strip("|").split("|")] for r in rows]


def _columns(table: str, names: tuple[str, ...]) -> tuple[int, ...]:
    """The positions of the columns called ``names`` in the header of the first Markdown table in ``table``."""
    header = next(r for r in table.splitlines() if r.startswith("|"))
    cells = [c.strip() for c in header.strip("|").split("|")]
    return tuple(cells.index(n) for n in names)


def _minutes(rows: list[list[str]], columns: tuple[int, ...]) -> list[int]:
    return [sum(int(r[i]) for i in columns if r[i].isdigit()) for r in rows]


def _plans() -> tuple[str, str]:
    """The instructor guide's one-day and two-day plans, each from its bold heading to the next, with its table."""
    text = (ROOT / "book" / "instructor_guide.md").read_text(encoding="utf-8")
    one, two = text.split("**One day**", 1)[1].split("## Preparing the room", 1)[0].split("**Two days**")
    return one, two


def test_the_instructor_guides_plans_add_up_to_the_hours_it_states():
    one, two = _plans()
    timed = ("lecture", "lab", "discussion")
    for name, plan in (("one-day", one), ("two-day", two)):
        rows, minutes, lab = _rows(plan), _columns(plan, timed), _columns(plan, ("in the lab",))[0]
        assert all(r[i].isdigit() for r in rows for i in minutes), f"every {name} block states its minutes"
        assert all(r[lab] for r in rows), f"every {name} lab names what it runs"
    assert "about seven hours" in one
    assert abs(sum(_minutes(_rows(one), _columns(one, timed))) / 60 - 7) <= 0.5
    assert "about seven and a half hours a day" in two[:80]
    rows = _rows(two)
    for day in ("1", "2"):
        total = sum(_minutes([r for r in rows if r[0] == day], _columns(two, timed)))
        assert abs(total / 60 - 7.5) <= 0.25, (day, total)
    assert "file: book/instructor_guide\n" in TOC


def test_the_instructor_guides_labs_name_notebooks_and_exercises_that_exist():
    notebooks = {p.name[:2] for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    exercises = set(re.findall(r"^## (\d\.\d) ", "".join(p.read_text(encoding="utf-8")
                                                        for p in ROOT.glob("book/ch0*/exercises.md")), flags=re.M))
    for plan in _plans():
        column = _columns(plan, ("in the lab",))[0]
        for cell in (r[column] for r in _rows(plan)):
            for number in re.findall(r"\b(\d\d)\b", cell):
                assert number in notebooks, f"the lab '{cell}' names notebook {number}, which does not exist"
            for first, last in re.findall(r"exercises? (\d\.\d)(?: (?:and|to) (\d\.\d))?", cell):
                for name in (first, last or first):
                    assert name in exercises, f"the lab '{cell}' names exercise {name}, which does not exist"


def test_every_concept_question_is_well_formed():
    """Each chapter page has concept questions (the quiz directive of book/_ext/quiz.py) with two or more
    choices, exactly one right answer and an explanation for every choice (the build also enforces this)."""
    import yaml

    for page in CHAPTERS:
        blocks = re.findall(r"```\{quiz\}\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)
        assert len(blocks) >= 3, f"{page.parent.name}: {len(blocks)} concept questions, 3 or more expected"
        for block in blocks:
            q = yaml.safe_load(block)
            assert len(q["choices"]) >= 2 and sum(bool(c.get("correct")) for c in q["choices"]) == 1
            assert all(c.get("text") and c.get("why") for c in q["choices"])
