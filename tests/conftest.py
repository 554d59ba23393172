"""Shared fixtures: every unit test gets its own cache and work folder, and no profile leaks in from the shell."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib

matplotlib.use("Agg")

import pytest

# `make test` runs on TEST_JOBS pytest-xdist workers. A notebook's cells must run in order in one kernel, and 02 reads
# what 01 recorded, 04 loads the model 03 saved: each notebook group below is one unit of work, run by one worker in
# file order. (A scheduler, not `--dist loadgroup`: on pytest 9.2 that silently stops grouping, pytest-xdist#1386.)
NOTEBOOK_GROUPS = {"02": "01", "04": "03"}


def work_unit(nodeid: str) -> str:
    """The unit of work a test belongs to: its notebook group for a notebook cell, else its test module."""
    path = nodeid.split("::", 1)[0]
    if not path.endswith(".ipynb"):
        return path
    number = Path(path).name[:2]
    return f"notebooks {NOTEBOOK_GROUPS.get(number, number)}"


@pytest.hookimpl(optionalhook=True)  # called by pytest-xdist only; plain `pytest` runs everything in order
def pytest_xdist_make_scheduler(config, log):
    """Schedule whole work units (see :func:`work_unit`) on the workers, largest first."""
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return WorkUnitScheduling(config, log)


@pytest.fixture(autouse=True)
def isolated_course_env(tmp_path, monkeypatch):
    """Point the cache and work folders at tmp_path and clear the course's settings."""
    for var in ("COURSE_PROFILE", "COURSE_RANDOM_WEIGHTS", "COURSE_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path / "work"))
    yield
