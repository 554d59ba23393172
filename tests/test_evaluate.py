"""helpers.evaluate: safe loading with clear messages, and measuring a model on any cats/ and dogs/ folder.

The models are tiny, built here with weights=None-style random or hand-set weights, and saved into tmp_path.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from helpers import data
from helpers.data import DataError
from helpers.evaluate import ModelError, evaluate, load_model, main


def _colour_model(side: int | None = 24):
    """Says 'dog' when an image is bluer than it is red: right on every smoke image (warm cats, cool dogs)."""
    import keras

    inputs = keras.Input((side, side, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.layers[-1].set_weights([np.array([[-20.0], [0.0], [20.0]]), np.zeros(1)])
    return model


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "colour.keras"
    _colour_model().save(path)
    return path


@pytest.fixture
def photos(tmp_path):
    """Validation photos laid out as cats/ and dogs/, plus files that must be skipped, not crashed on."""
    root = data.make_smoke_dataset(tmp_path / "smoke", counts={"train": 1, "validation": 5})
    folder = root / "validation"
    (folder / "cats" / "notes.jpg").write_text("not a photo")
    (folder / "dogs" / "empty.jpg").write_bytes(b"")
    Image.new("RGB", (50, 40), (40, 80, 220)).convert("P").save(folder / "dogs" / "palette.png")
    return folder


def test_a_good_model_loads_under_safe_mode(saved):
    model = load_model(saved)
    assert tuple(model.input_shape) == (None, 24, 24, 3)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "nothing.keras", "No model at"),
        (lambda p: p, "is a folder"),
        (lambda p: (p / "old.h5").write_bytes(b"\x89HDF\r\n") and p / "old.h5", "legacy HDF5"),
        (lambda p: (p / "model.pkl").write_bytes(b"x") and p / "model.pkl", "not a .keras file"),
        (lambda p: (p / "junk.keras").write_bytes(b"garbage" * 20) and p / "junk.keras", "damaged"),
    ],
    ids=["missing", "folder", "h5", "other-suffix", "corrupt"],
)
def test_unusable_model_files_get_a_short_message(tmp_path, make, message):
    with pytest.raises(ModelError, match=message) as caught:
        load_model(make(tmp_path))
    assert len(str(caught.value).splitlines()) <= 2


def test_a_truncated_keras_file_is_reported_as_damaged(saved, tmp_path):
    cut = tmp_path / "cut.keras"
    cut.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    with pytest.raises(ModelError, match="damaged"):
        load_model(cut)


def test_code_inside_a_model_file_is_refused_unless_trusted(tmp_path):
    import keras

    inputs = keras.Input((8, 8, 3))
    outputs = keras.layers.Dense(1)(keras.layers.Lambda(lambda t: t / 255.0)(keras.layers.Flatten()(inputs)))
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(ModelError, match=r"Python code.*trusted=True") as caught:
        load_model(path)
    assert "could do anything" in str(caught.value)
    assert load_model(path, trusted=True).count_params() == 8 * 8 * 3 + 1  # explicit opt-in for a file we made


def test_evaluate_resizes_to_the_models_input_and_skips_unusable_files(saved, photos):
    result = evaluate(saved, photos)
    assert result.image_size == (24, 24) and result.n_images == 11
    assert result.accuracy == 1.0
    assert result.confusion.loc["cats", "cats"] == 5 and result.confusion.loc["dogs", "dogs"] == 6
    assert result.counts.loc["dogs", "skipped"] == 1 and result.counts.loc["cats", "skipped"] == 1
    text = result.text()
    assert "24x24 (the model's input size)" in text and "2 unusable file(s) skipped" in text and "notes.jpg" in text


def test_evaluate_on_a_dataset_root_uses_validation(saved, photos):
    assert evaluate(saved, photos.parent).n_images == 11


def test_an_input_size_mismatch_is_reported_not_silently_resized(saved, photos):
    with pytest.raises(ModelError, match=r"mismatch: the model takes 24x24 images, image_size asks for 32x32"):
        evaluate(saved, photos, image_size=32)


def test_a_model_of_any_size_needs_image_size_and_reports_the_one_used(photos):
    flexible = _colour_model(side=None)
    with pytest.raises(ModelError, match="image_size="):
        evaluate(flexible, photos)
    result = evaluate(flexible, photos, image_size=20)
    assert result.image_size == (20, 20) and result.accuracy == 1.0


def test_folder_problems_stop_evaluation_with_the_scan_message(saved, tmp_path):
    (tmp_path / "one" / "cats").mkdir(parents=True)
    with pytest.raises(DataError, match="only cats/"):
        evaluate(saved, tmp_path / "one")


@pytest.mark.parametrize("splits", [("train", "val"), ("train", "test"), ("validation", "test")])
def test_split_folders_are_never_scored_as_the_two_classes(saved, tmp_path, splits):
    root = data.make_smoke_dataset(tmp_path / "smoke", counts={"train": 2, "validation": 2})
    (root / "validation").rename(root / splits[1])
    if splits[0] != "train":
        (root / "train").rename(root / splits[0])
    with pytest.raises(DataError, match=rf"holds split folders .*pass the split to measure on, e.g. .*{splits[1]}"):
        evaluate(saved, root)
    assert evaluate(saved, root / splits[1]).accuracy == 1.0


def test_command_line_prints_accuracy_matrix_and_counts(saved, photos, capsys):
    assert main([str(saved), str(photos)]) == 0
    out = capsys.readouterr().out
    assert "Accuracy 100.0% on 11 images" in out and "Confusion matrix" in out and "Per class" in out
    assert main([str(saved.parent / "missing.keras"), str(photos)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No model at") and "Traceback" not in err


def test_running_out_of_memory_names_the_batch_size_to_lower(saved, photos):
    import tensorflow as tf

    model = load_model(saved)

    class Hungry:
        input_shape, layers, predict = model.input_shape, model.layers, model.predict

        def __call__(self, x, training=False):
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")

    with pytest.raises(ModelError, match=r"Out of memory at batch_size=32: lower it \(e.g. batch_size=8"):
        evaluate(Hungry(), photos)


def _check_tool():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    import check_saved_models

    return check_saved_models


def test_make_tests_saved_model_check_names_a_missing_or_damaged_model(photos, tmp_path, capsys):
    """tools/check_saved_models.py (run by make test after the notebooks): each notebook's model must evaluate."""
    tool = _check_tool()
    model = _colour_model()
    model.compile(loss="binary_crossentropy", metrics=["accuracy"])
    models_dir = tmp_path / "work" / "models"
    models_dir.mkdir(parents=True)
    for number in tool.SAVED_BY:
        model.save(models_dir / f"{number}_colour.keras")
    assert tool.check(tmp_path / "work", photos) == []
    out = capsys.readouterr().out  # 11 usable photos (one a palette PNG), unusable ones skipped
    assert out.count("accuracy 100.0% (11 right; Keras's compiled accuracy: 11 right)") == len(tool.SAVED_BY)

    (models_dir / "06_colour.keras").unlink()
    (models_dir / "04_colour.keras").write_bytes(b"garbage" * 20)
    problems = tool.check(tmp_path / "work", photos)
    assert len(problems) == 2
    assert "04_colour.keras" in problems[0] and "damaged" in problems[0]
    assert problems[1].startswith("notebook 06 saved no model")


def test_the_saved_model_check_fails_at_chance_on_a_wrong_threshold_and_without_a_metric(photos, tmp_path):
    import keras

    tool = _check_tool()
    models_dir = tmp_path / "work" / "models"
    models_dir.mkdir(parents=True)
    right = _colour_model()
    right.compile(loss="binary_crossentropy", metrics=["accuracy"])
    for number in tool.SAVED_BY:
        right.save(models_dir / f"{number}_colour.keras")
    flipped = _colour_model()  # says 'dog' for warm photos: every photo wrong
    flipped.layers[-1].set_weights([-flipped.layers[-1].get_weights()[0], np.zeros(1)])
    flipped.compile(loss="binary_crossentropy", metrics=["accuracy"])
    flipped.save(models_dir / "05_flipped.keras")
    wrong_threshold = _colour_model()  # a sigmoid read as a logit: Keras calls every photo a dog
    wrong_threshold.compile(loss="binary_crossentropy", metrics=[keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")])
    wrong_threshold.save(models_dir / "06_threshold.keras")
    _colour_model().save(models_dir / "07_uncompiled.keras")
    flipped.save(models_dir / "01_flipped.keras")  # from scratch, as a label flipped in 01's training would leave it

    problems = tool.check(tmp_path / "work", photos)
    assert len(problems) == 4, problems
    assert "01_flipped.keras: accuracy 0.0% is not clearly above chance" in problems[0]
    assert "05_flipped.keras: accuracy 0.0% is not clearly above chance" in problems[1]
    assert ("06_threshold.keras: helpers.evaluate gets 11 photos right, Keras's compiled accuracy 6; "
            "they disagree on 5 photo(s)") in problems[2]
    assert "07_uncompiled.keras: saved without a compiled 'accuracy' metric" in problems[3]
