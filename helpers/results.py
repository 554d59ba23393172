"""What a run records: one JSON file per notebook in the work folder, and the results tables built from them.

Introduced in ``00_start_here.ipynb``; ``make run`` gathers these files into its summary.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from helpers.profiles import Profile, as_dict, work_dir

if TYPE_CHECKING:
    import pandas as pd


def results_dir() -> Path:
    """Folder of the per-notebook result files (``<work dir>/results``)."""
    path = work_dir() / "results"
    path.mkdir(parents=True, exist_ok=True)
    return path


def record(notebook: str, profile: Profile, **figures: Any) -> Path:
    """Merge ``figures`` (accuracies, seconds, epochs...) into ``results/<notebook>.json`` and return its path."""
    path = results_dir() / f"{notebook}.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    data.update(as_dict(profile))
    data["recorded"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    data.setdefault("figures", {}).update({k: _plain(v) for k, v in figures.items()})
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def load(notebook: str) -> dict[str, Any]:
    """The figures a notebook recorded in this work folder, or an empty dict if it has not run yet."""
    path = results_dir() / f"{notebook}.json"
    return json.loads(path.read_text()).get("figures", {}) if path.is_file() else {}


def save_history(model_path: Path, history: Mapping[str, Sequence[float]]) -> Path:
    """Write a run's learning curves next to its model (``<model>.history.json``), whole or not at all, for 04 and 07."""
    import os

    path = Path(model_path).with_suffix(".history.json")
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps({key: [float(v) for v in values] for key, values in history.items()}))
    os.replace(partial, path)  # a notebook reading it at the same moment sees the old file or the new one
    return path


def comparison(rows: list[tuple[str, float | None, str]]) -> pd.DataFrame:
    """Table of (what, this run's value in %, the source's published figure with attribution)."""
    import pandas as pd

    return pd.DataFrame(
        [(what, "not run" if ours is None else f"{ours:.1f}%", source) for what, ours, source in rows],
        columns=["result", "this run", "published by the source"],
    ).set_index("result")


def _plain(value: Any) -> Any:
    """Numbers from NumPy or TensorFlow as plain Python numbers, so JSON can hold them."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        return value.item()
    return value
