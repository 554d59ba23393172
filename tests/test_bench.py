"""The side-by-side benchmark (`make bench`) runs each recipe end to end on a few generated photos."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from helpers import data

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "vgg16_feature_extraction.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("recipe", ["source", "fast", "stream"])
def test_each_recipe_trains_a_head_and_reports_its_figures(tmp_path, recipe):
    root = data.make_smoke_dataset(tmp_path / "smoke", counts={"train": 2, "validation": 1})
    result = _bench().run_recipe(recipe, root, per_class=2, epochs=1, weights=None)
    assert result["recipe"] == recipe and result["train_images"] == 4
    assert 0 < result["seconds_per_epoch"] <= result["seconds_to_trained_head"]
    assert result["images_per_second"] > 0 and math.isfinite(result["images_per_second"])
    assert result["peak_mb"] > 0
    assert result["val_accuracy"] is None  # random weights: no accuracy is reported
