"""Shared fixtures: every unit test gets its own cache and work folder, and no profile leaks in from the shell."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib

matplotlib.use("Agg")

import pytest


@pytest.fixture(autouse=True)
def isolated_course_env(tmp_path, monkeypatch):
    """Point the cache and work folders at tmp_path and clear the course's settings."""
    for var in ("COURSE_PROFILE", "COURSE_RANDOM_WEIGHTS", "COURSE_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path / "work"))
    yield
