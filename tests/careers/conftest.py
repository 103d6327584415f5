"""Fixtures shared by the careers chapter's tests: the data, the raw files, the joined table, MiniLM, the index.

All of them are session-scoped: loading the tables, MiniLM and embedding the 923 occupations happen
once per test session. The occupation index is cached under the session's temporary ``AIGC_DATA_DIR``
(set by ``tests/conftest.py``), never in a reader's real cache.
"""

import csv

import pytest

from aigc_lessons import careers
from aigc_lessons.data import load_occupations
from aigc_lessons.pretrained import load_minilm


@pytest.fixture(scope="session")
def data(mirror):
    return load_occupations()


@pytest.fixture(scope="session")
def joined(data):
    return careers.exposure_table(data)


@pytest.fixture(scope="session")
def raw(mirror):
    """The raw files read with the csv module: ratings per O*NET code, OEWS detailed rows, US total."""
    folder = mirror / "gpts-are-gpts"
    with open(folder / "occ_level.csv", newline="", encoding="utf-8") as fh:
        occ = list(csv.DictReader(fh))
    detailed, total = {}, None
    with open(folder / "national_May2021_dl.csv", newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            if row["O_GROUP"] == "detailed":
                detailed[row["OCC_CODE"]] = row
            elif row["O_GROUP"] == "total":
                total = float(row["TOT_EMP"].replace(",", ""))
    with open(folder / "full_labelset.tsv", newline="", encoding="utf-8") as fh:
        tasks = list(csv.DictReader(fh, delimiter="\t"))
    return {"occ": occ, "detailed": detailed, "total": total, "tasks": tasks}


@pytest.fixture(scope="session")
def encoder():
    return load_minilm("cpu")


@pytest.fixture(scope="session")
def index(data, encoder):
    return careers.build_occupation_index(data, encoder, progress=False)
