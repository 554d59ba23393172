"""Notebook 04 on its own, as on Colab (one runtime per notebook): it must rebuild 03's model and start from its head.

In `make test` 04 runs after 03 in one work folder and always finds 03's model, so its rebuild path runs only here.
That the head trained is the model's own is tested on ``models.rebuild_vgg16_classifier`` itself
(tests/test_plots_models_results.py): in smoke an untrained head scores as well, so the figures here cannot show it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def _outputs(nb: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_04_rebuilds_03s_model_and_fine_tunes_from_the_head_it_trained(tmp_path, monkeypatch, stand_in_cache):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path))  # empty: no model of notebook 03's
    monkeypatch.setenv("COURSE_SOLUTIONS", "0")  # a learner's Run all
    nb = nbformat.read(ROOT / "notebooks" / "04_vgg16_fine_tuning.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    text = _outputs(nb)
    assert "rebuilding it: its head trained on features stored once" in text
    best = re.search(r"best validation accuracy (\d+\.\d)% \(kept\)", text)
    start = re.search(r"validation accuracy before fine-tuning, on this run: (\d+\.\d)%", text)
    assert best and start, "04 must print its head's kept accuracy and fine-tuning's starting accuracy"
    saved = json.loads((tmp_path / "results" / "04_vgg16_fine_tuning.json").read_text())["figures"]
    n_val = int(re.search(r"\d+ training, (\d+) validation", text).group(1))
    one_photo = 100 / n_val  # the notebook's own assert allows one photo: a model evaluated twice may flip one
    assert abs(float(best.group(1)) - float(start.group(1))) <= one_photo + 0.05, (best, start)  # starts from the kept head
    assert saved["val_accuracy_start"] == pytest.approx(float(start.group(1)) / 100, abs=0.0006)
    saved_models = sorted((tmp_path / "models").glob("*.keras"))
    assert [p.name[:25] for p in saved_models] == ["04_vgg16_finetuned_smoke_"]  # 03's rebuilt model is not saved as 03's
    from helpers.evaluate import load_model

    model = load_model(saved_models[0])  # safe_mode on
    side = model.inputs[0].shape[1]
    assert model.predict_on_batch(np.zeros((2, side, side, 3), "float32")).shape == (2, 1)
