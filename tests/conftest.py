"""Shared fixtures: every unit test gets its own cache and work folder, and no profile leaks in from the shell."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib

matplotlib.use("Agg")

import pytest

# make test fills the course cache (smoke stand-in weights, generated images) before the tests start. Read here, before
# isolated_course_env points COURSE_CACHE_DIR at an empty folder for each test; `stand_in_cache` points it back.
STAND_IN_CACHE = os.environ.get("COURSE_CACHE_DIR")


@pytest.fixture(autouse=True)
def isolated_course_env(tmp_path, monkeypatch):
    """Point the cache and work folders at tmp_path and clear the course's settings."""
    for var in ("COURSE_PROFILE", "COURSE_RANDOM_WEIGHTS", "COURSE_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path / "work"))
    yield


@pytest.fixture
def stand_in_cache(monkeypatch):
    """Point COURSE_CACHE_DIR back at the cache make test filled, where a fresh one would rebuild a stand-in (20-30 s)."""
    if STAND_IN_CACHE is None:
        monkeypatch.delenv("COURSE_CACHE_DIR")
    else:
        monkeypatch.setenv("COURSE_CACHE_DIR", STAND_IN_CACHE)
