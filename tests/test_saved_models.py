"""Every model a notebook saved in this test run loads safely, scores as Keras scores it, and has learned.

``tools/check_saved_models.py`` for one notebook at a time. ``conftest.py`` puts the check for notebook NN in NN's work
unit, after its last cell, so it runs on the worker that has just run the notebook while the other worker goes on.
Skipped when the notebook is not part of this pytest run (``pytest tests`` alone).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import check_saved_models  # noqa: E402

# Read before tests/conftest.py points it at a temporary folder for each test: the notebooks' kernels got it.
WORK_DIR = os.environ.get("COURSE_WORK_DIR")


@pytest.mark.parametrize("number", check_saved_models.SAVED_BY)
def test_every_model_the_notebook_saved_loads_scores_like_keras_and_learned(number, request, monkeypatch, capsys,
                                                                          stand_in_cache):
    if not any(item.nodeid.startswith(f"notebooks/{number}_") for item in request.session.items):
        pytest.skip(f"notebook {number} is not run in this session")
    if WORK_DIR is None:
        monkeypatch.delenv("COURSE_WORK_DIR", raising=False)
    else:
        monkeypatch.setenv("COURSE_WORK_DIR", WORK_DIR)
    from helpers import data, profiles

    image_dir = data.get_dataset(profiles.resolve_profile("smoke"))
    problems = check_saved_models.check(profiles.work_dir(), image_dir, numbers=(number,))
    with capsys.disabled():  # one line per model in make test's output, as the tool prints them
        print("\n" + capsys.readouterr().out.strip())
    assert not problems, "\n".join(problems)
