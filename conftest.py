"""pytest's settings for the whole repository: how `make test`'s parallel workers share out the notebooks.

Here, at the top, so that it holds however pytest is started (`pytest notebooks -n 2` as well as `make test`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

# `make test` runs on TEST_JOBS pytest-xdist workers. A notebook's cells must run in order in one kernel, and 02 reads
# what 01 recorded, 04 loads the model 03 saved and 08 the models 03 and 04 saved: each notebook group below is one unit of work, run by one worker in
# file order. (A scheduler, not `--dist loadgroup`: on pytest 9.2 that silently stops grouping, pytest-xdist#1386.)
NOTEBOOK_GROUPS = {"02": "01", "04": "03", "08": "03"}


SAVED_MODEL_CHECK = "tests/test_saved_models.py"  # one test per notebook, run in that notebook's unit, after its cells


def notebook_number(nodeid: str) -> str | None:
    """The notebook a test runs or checks: "03" for a cell of notebooks/03_*.ipynb or for the check of 03's models."""
    path = nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        return Path(path).name[:2]
    if path == SAVED_MODEL_CHECK and nodeid.endswith("]"):
        return nodeid.rsplit("[", 1)[1][:-1]
    return None


def work_unit(nodeid: str) -> str:
    """The unit of work a test belongs to: its notebook group for a notebook cell or model check, else its test module."""
    number = notebook_number(nodeid)
    if number is None:
        return nodeid.split("::", 1)[0]
    return f"notebooks {NOTEBOOK_GROUPS.get(number, number)}"


# The order work units are handed out. On a fresh cache make test builds the smoke stand-in weights beside the
# workers (with them, in about 150 s: VGG16, then InceptionV3, then MobileNetV2), so the workers start with the units
# that need none (01+02, 00 and the slowest unit tests, about 100 s of two workers' time), then the notebooks that do,
# the longest first, so that neither worker starts a long unit while the other is nearly done; the other unit tests fill
# in. Smoke, two cores, measured 2026-12-07 with --junitxml: the browser test ~120 s when it runs with the rest, 03+04+08
# 66 s, 06 43 s, 05 40 s, 07 36 s, 01+02 30 s, 04 on its own 25 s, test_profiles 16 s, test_evaluate and test_interpret
# 13 s, test_data 12 s, test_bench 11 s, test_strategy 9 s, 00 and test_robustness 6 s.
UNIT_ORDER = ["tests/test_browser.py", "notebooks 01", "notebooks 00", "tests/test_profiles.py", "tests/test_evaluate.py",
              "tests/test_interpret.py", "tests/test_data.py", "tests/test_bench.py", "tests/test_strategy.py",
              "tests/test_robustness.py", "notebooks 03", "notebooks 05", "notebooks 06", "notebooks 07",
              "tests/test_runs_on_its_own.py"]


def unit_rank(nodeid: str) -> int:
    """Where a test's work unit comes in the queue: its place in :data:`UNIT_ORDER`, else after all of them."""
    unit = work_unit(nodeid)
    return UNIT_ORDER.index(unit) if unit in UNIT_ORDER else len(UNIT_ORDER)


@pytest.hookimpl(optionalhook=True)  # called by pytest-xdist only; plain `pytest` runs everything in order
def pytest_xdist_make_scheduler(config, log):
    """Send whole work units (see :func:`work_unit`) to the workers in the order of :data:`UNIT_ORDER`."""
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    config.option.loadscopereorder = False  # keep the order pytest_collection_modifyitems gave
    return WorkUnitScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    """Order the tests by :func:`unit_rank`, each unit's saved-model checks after its cells; the sort is stable, so a
    notebook's cells keep their order.

    Done here, where every xdist worker collects, because the scheduler names a test by its index in that collection.
    """
    items.sort(key=lambda item: (unit_rank(item.nodeid), item.nodeid.startswith(SAVED_MODEL_CHECK)))
