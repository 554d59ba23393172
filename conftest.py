"""pytest's settings for the whole repository: how `make test`'s parallel workers share out the notebooks.

Here, at the top, so that it holds however pytest is started (`pytest notebooks -n 2` as well as `make test`).
"""

from __future__ import annotations

from pathlib import Path

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
    """Send whole work units (see :func:`work_unit`) to the workers, those with the most tests first."""
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return WorkUnitScheduling(config, log)
