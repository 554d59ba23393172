"""The course-wide comparison table: every model the notebooks trained, read from the results files a run recorded.

Introduced in ``07_choosing_a_strategy.ipynb``. Reads ``<work dir>/results/*.json`` (written by
:func:`helpers.results.record`, gathered by ``make run``); a notebook that has not run shows as "not run".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from helpers.results import results_dir

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ["notebook", "run", "backbone", "strategy", "input size", "total params", "trainable params",
           "val accuracy", "training time (s)", "profile"]
NOT_RUN = "not run"


def _sibling(figures: Mapping[str, Any], key: str, name: str) -> Any:
    """The figure that goes with ``key`` (``val_accuracy_X`` -> ``name_X``), else the notebook-wide ``name``."""
    specific = key.replace("val_accuracy", name)
    return figures.get(specific, figures.get(name))


def _fmt_int(value: Any) -> str:
    return f"{int(value):,}" if isinstance(value, (int, float)) else "—"


def rows_for(stem: str, record: Mapping[str, Any], backbone: str, strategy: str) -> list[list[Any]]:
    """One row per ``*val_accuracy*`` figure of one notebook's record (or one row saying none was recorded)."""
    figures = record.get("figures", {})
    profile = record.get("profile", "?") + (" (random weights)" if record.get("random_weights") else "")
    keys = sorted(k for k in figures if "val_accuracy" in k and isinstance(figures[k], (int, float)))
    if not keys:
        return [[stem, "—", backbone, strategy, "—", "—", "—", "no validation accuracy recorded", "—", profile]]
    rows = []
    for key in keys:
        run = key.replace("val_accuracy", "").strip("_").replace("_", " ") or "—"
        size = _sibling(figures, key, "image_size")
        seconds = _sibling(figures, key, "seconds_fit")
        if seconds is None:
            seconds = _sibling(figures, key, "seconds")
        rows.append([
            stem, run, backbone, strategy,
            f"{int(size)}×{int(size)}" if isinstance(size, (int, float)) else "—",
            _fmt_int(_sibling(figures, key, "total_params")),
            _fmt_int(_sibling(figures, key, "trainable_params")),
            f"{100 * figures[key]:.1f}%",
            f"{seconds:.0f}" if isinstance(seconds, (int, float)) else "—",
            profile,
        ])
    return rows


def course_table(catalogue: Mapping[str, tuple[str, str]]) -> pd.DataFrame:
    """07: every recorded model of the course on one table.

    ``catalogue`` maps a notebook number ("05") to its (backbone, strategy). Every results file is read; a
    catalogued notebook without one shows "not run", so the table never fails on a partial run.
    """
    import pandas as pd

    files = {p.stem: p for p in sorted(results_dir().glob("[0-9][0-9]_*.json"))}
    numbers = sorted(set(catalogue) | {stem[:2] for stem in files})
    rows: list[list[Any]] = []
    for number in numbers:
        backbone, strategy = catalogue.get(number, ("see the notebook", "—"))
        stems = [stem for stem in files if stem[:2] == number]
        if not stems:
            rows.append([number, "—", backbone, strategy, "—", "—", "—", NOT_RUN, "—", "—"])
            continue
        for stem in stems:
            try:
                record = json.loads(files[stem].read_text())
            except (OSError, ValueError):
                rows.append([stem, "—", backbone, strategy, "—", "—", "—", "unreadable results file", "—", "—"])
                continue
            found = rows_for(stem, record, backbone, strategy)
            if number in catalogue or found[0][7] != "no validation accuracy recorded":
                rows.extend(found)  # notebooks outside the catalogue only when they trained a model
    return pd.DataFrame(rows, columns=COLUMNS)
