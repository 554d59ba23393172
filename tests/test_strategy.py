"""Helpers added for notebooks 05-07: cached weight files, the cut-layer explorer, the course table, their checks."""

from __future__ import annotations

import hashlib
import json

import keras
import numpy as np
import pytest

from helpers import compare, exercises, plots, results, widgets
from helpers.models import WeightsUnavailable, imagenet_weights_file
from helpers.profiles import Profile
from notebook_code import notebook_definitions

UNREACHABLE = "http://127.0.0.1:9/no-such-weights.h5"  # port 9 (discard): refused at once, no network needed


def test_weights_file_is_none_without_pretrained_weights(tmp_path):
    for profile in (Profile("smoke", random_weights=True), Profile("quick", random_weights=True)):
        assert imagenet_weights_file(profile, "w.h5", UNREACHABLE, "0" * 32, cache_dir=str(tmp_path)) is None


def test_smoke_takes_the_stand_in_of_the_architecture_the_file_is_named_for(monkeypatch, tmp_path):
    from helpers import smoke_weights

    monkeypatch.setattr(smoke_weights, "ensure", lambda architecture: tmp_path / f"{architecture}.weights.h5")
    name = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert imagenet_weights_file(Profile("smoke"), name, UNREACHABLE, "0" * 32) == str(tmp_path / "inception_v3.weights.h5")
    with pytest.raises(ValueError, match="No smoke stand-in for w.h5"):
        imagenet_weights_file(Profile("smoke"), "w.h5", UNREACHABLE, "0" * 32)


def test_weights_file_comes_from_a_prefilled_cache_offline(tmp_path):
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    payload = b"pretend weights"
    (models_dir / "w.h5").write_bytes(payload)
    digest = hashlib.md5(payload).hexdigest()
    path = imagenet_weights_file(Profile("quick"), "w.h5", UNREACHABLE, digest, cache_dir=str(tmp_path))
    assert path == str(models_dir / "w.h5")


def test_weights_file_missing_offline_gives_one_clear_error(tmp_path):
    with pytest.raises(WeightsUnavailable, match="could not be downloaded"):
        imagenet_weights_file(Profile("quick"), "w.h5", UNREACHABLE, "0" * 32, cache_dir=str(tmp_path))
    assert not (tmp_path / "models" / "w.h5").exists()


def _tiny_base():
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="c1")(inp)
    x = keras.layers.MaxPooling2D(name="p1")(x)
    return keras.Model(inp, keras.layers.Conv2D(2, 1, name="c2")(x))


def test_cut_layer_explorer_describes_the_chosen_layer():
    base = _tiny_base()
    shapes = {name: base.get_layer(name).output.shape for name in ("c1", "p1", "c2")}
    box = widgets.cut_layer_explorer(shapes, default="p1", dense_units=10)
    pick, info = box.children
    assert "(None, 3, 3, 4)" in info.value and "36 numbers" in info.value and f"{37 * 10 + 11:,}" in info.value
    pick.value = "c1"
    assert "(None, 6, 6, 4)" in info.value and "144 numbers" in info.value


def test_cut_head_check_matches_a_built_head(capsys):
    base = _tiny_base()
    x = keras.layers.Flatten()(base.get_layer("p1").output)
    x = keras.layers.Dense(10)(x)
    head = keras.Model(base.input, keras.layers.Dense(1)(keras.layers.Dropout(0.2)(x)))
    for layer in base.layers:
        layer.trainable = False
    trainable = int(sum(np.prod(w.shape) for w in head.trainable_weights))
    shapes = {name: base.get_layer(name).output.shape for name in ("c1", "p1", "c2")}
    assert exercises.check_cut_head_params(trainable, shapes, "p1", dense_units=10)
    assert not exercises.check_cut_head_params(trainable + 1, shapes, "p1", dense_units=10)
    assert not exercises.check_cut_head_params(None, shapes, "p1")
    assert "Not answered" in capsys.readouterr().out


def test_inception_range_check():
    assert exercises.check_inception_input_range((-1.0, 1.0))
    assert not exercises.check_inception_input_range((0.0, 1.0))
    assert not exercises.check_inception_input_range("nonsense")


def test_mobilenet_fine_tune_checks_match_the_published_counts():
    base = keras.applications.MobileNetV2(input_shape=(160, 160, 3), include_top=False, weights=None)
    assert exercises.check_trainable_after_fine_tune_at(1_862_721, base, 100, head_params=1_281)
    frozen_bn = sum(isinstance(layer, keras.layers.BatchNormalization) for layer in base.layers[:100])
    assert exercises.check_frozen_batchnorm(frozen_bn, base, 100)
    assert not exercises.check_frozen_batchnorm(frozen_bn + 1, base, 100)


def test_strategy_check_grades_against_the_rule_it_is_given():
    def rule(size, images):
        return "fine-tune the top blocks" if size == "large" and images == "similar" else "feature extraction"

    assert exercises.check_strategy(" Fine-tune the top blocks", rule, size="large", images="similar")
    assert not exercises.check_strategy("fine-tune the top blocks", rule, size="small", images="similar")
    assert not exercises.check_strategy(None, rule, size="small", images="similar")

def test_clone_check_knows_clone_model_reinitialises():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    assert exercises.check_clone_keeps_weights(False, model)
    assert not exercises.check_clone_keeps_weights(True, model)


def test_progressive_plot_is_labelled():
    fig = plots.plot_accuracy_vs_trainable([0, 10, 30], {"validation": [0.5, 0.6, 0.7]}, title="demo")
    ax = fig.axes[0]
    assert ax.get_title() == "demo" and ax.get_xlabel() and ax.get_ylabel() == "accuracy (%)"
    assert list(ax.lines[0].get_ydata()) == pytest.approx([50, 60, 70])


def test_course_table_reads_records_and_marks_missing_notebooks():
    results.record("05_inceptionv3_mixed7", Profile("quick", random_weights=True),
                   val_accuracy_dropout=0.9, val_accuracy_no_dropout=0.8, seconds_fit_dropout=12.0,
                   trainable_params=38_537_217, total_params=47_512_481, image_size=150)
    results.record("00_start_here", Profile("quick"), train_images=2000)
    (results.results_dir() / "03_broken.json").write_text("{not json")
    catalogue = {"03": ("VGG16", "feature extraction"), "05": ("InceptionV3", "mixed7"), "06": ("MobileNetV2", "ft")}
    table = compare.course_table(catalogue)
    assert list(table.columns) == compare.COLUMNS
    assert "00_start_here" not in set(table.notebook)  # no model, not catalogued: left out
    row = table[(table.notebook == "05_inceptionv3_mixed7") & (table.run == "dropout")].iloc[0]
    assert row["val accuracy"] == "90.0%" and row["training time (s)"] == "12" and row["input size"] == "150×150"
    assert row["trainable params"] == "38,537,217" and row["profile"] == "quick (random weights)"
    other = table[(table.notebook == "05_inceptionv3_mixed7") & (table.run == "no dropout")].iloc[0]
    assert other["training time (s)"] == "—" and other["val accuracy"] == "80.0%"
    assert table[table.notebook == "06"].iloc[0]["val accuracy"] == compare.NOT_RUN
    assert table[table.notebook == "03_broken"].iloc[0]["val accuracy"] == "unreadable results file"
    json.dumps(table.to_dict())  # plain values only


def test_solution_cells_run_only_when_asked(monkeypatch, capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    exercises.register_solution_magic()
    monkeypatch.delenv(exercises.ENV_SOLUTIONS, raising=False)
    shell.user_ns.pop("answer_x", None)
    shell.run_cell_magic("solution", "", "answer_x = 42")
    assert "answer_x" not in shell.user_ns and "Solution not run" in capsys.readouterr().out  # a learner's Run all
    shell.run_cell_magic("solution", "run", "answer_x = 42")
    assert shell.user_ns["answer_x"] == 42
    monkeypatch.setenv(exercises.ENV_SOLUTIONS, "1")  # make test
    shell.run_cell_magic("solution", "", "answer_x = 43")
    assert shell.user_ns["answer_x"] == 43
    with pytest.raises(AssertionError):  # a failing solution fails the test run
        shell.run_cell_magic("solution", "", "assert answer_x == 0")


def test_every_notebook_ends_its_exercises_with_one_collapsed_solution_cell():
    import json
    from pathlib import Path

    for path in sorted((Path(__file__).parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        solutions = [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).startswith("%%solution")]
        assert len(solutions) == 1, f"{path.name}: one %%solution cell expected"
        assert solutions[0]["metadata"].get("jupyter", {}).get("source_hidden"), f"{path.name}: solution not collapsed"
        later = cells[cells.index(solutions[0]) + 1:]
        assert not [c for c in later if c["cell_type"] == "code"], f"{path.name}: code after the solution depends on it"


def test_deeper_wins_check_reads_the_run_it_is_given():
    import pandas as pd

    table = pd.DataFrame({"top blocks": [0, 2], "val accuracy": [0.80, 0.85]}).set_index("top blocks")
    better, worse = {"top blocks": 4, "val accuracy": 0.9}, {"top blocks": 4, "val accuracy": 0.85}
    assert exercises.check_deeper_wins(True, better, table) and not exercises.check_deeper_wins(False, better, table)
    assert exercises.check_deeper_wins(False, worse, table)  # a tie is not a win
    assert not exercises.check_deeper_wins(True, None, table)  # not run yet
    assert not exercises.check_deeper_wins(True, {"top blocks": 2, "val accuracy": 0.99}, table)  # not a new depth


def test_smaller_gap_check_reads_both_histories():
    reference = {"accuracy": [0.7, 0.95], "val_accuracy": [0.7, 0.80]}  # gap 0.15
    narrower = {"accuracy": [0.6, 0.85], "val_accuracy": [0.6, 0.80]}  # gap 0.05
    assert exercises.check_smaller_gap(True, narrower, reference) and not exercises.check_smaller_gap(False, narrower, reference)
    assert exercises.check_smaller_gap(False, reference, narrower) and not exercises.check_smaller_gap(True, None, reference)


def test_moved_less_check_reads_both_measurements():
    assert exercises.check_moved_less(True, 0.01, 0.02) and not exercises.check_moved_less(True, 0.03, 0.02)
    assert exercises.check_moved_less(False, 0.03, 0.02) and not exercises.check_moved_less(True, None, 0.02)


def test_higher_check_reads_both_measurements():
    assert exercises.check_higher(True, 0.9, 0.8, "a", "b") and not exercises.check_higher(True, 0.8, 0.8, "a", "b")
    assert exercises.check_higher(False, 0.7, 0.8, "a", "b") and not exercises.check_higher(False, None, 0.8, "a", "b")


def test_07s_rule_puts_the_modality_gate_before_every_other_question():
    """Seed 002: without the same kind of data there is nothing to transfer, whatever the size, task or budget."""
    ns: dict = {}
    exec(notebook_definitions("07", {"choose_strategy"}), ns)
    rule = ns["choose_strategy"]
    for size in ("small", "large"):
        for images in ("similar", "different"):
            assert rule(size, images, modality="different").startswith("no transfer")
            assert not rule(size, images).startswith("no transfer")
    assert rule("large", "similar") == "fine-tune the top blocks" and rule("small", "similar") == "feature extraction"


def test_07s_three_gains_read_known_curves():
    """A pretrained curve that starts higher, climbs less and ends higher: start yes, slope no, asymptote yes."""
    import pandas as pd

    ns: dict = {"pd": pd}
    exec(notebook_definitions("07", {"three_gains"}), ns)
    scratch = [0.50, 0.60, 0.70, 0.75, 0.80, 0.82, 0.83]
    pretrained = [0.85, 0.88, 0.90, 0.90, 0.91]
    gains = ns["three_gains"](scratch, pretrained)
    assert list(gains["higher with transfer"]) == [True, False, True]
    assert gains["from scratch"].tolist() == pytest.approx([0.50, 0.075, 0.83])
    assert gains["pretrained"].tolist() == pytest.approx([0.85, 0.015, 0.91])
    short = ns["three_gains"](scratch, [0.9, 0.95])  # a run stopped after two epochs: its slope over those two
    assert short.loc[short.index[1], "pretrained"] == pytest.approx(0.05)


def test_hub_stand_in_has_hubs_interface_and_07s_layer_reads_it(tmp_path):
    """[0, 1] pixels in, MobileNetV2's pooled features out (the stand-in's own preprocessing), read by 07's HubFeatures."""
    import tensorflow as tf
    from keras.applications.mobilenet_v2 import MobileNetV2, preprocess_input

    from helpers import models

    side = 32
    keras.utils.set_random_seed(3)
    path = models.hub_style_feature_vector(tmp_path / "hub", weights=None, weights_size=side)
    keras.utils.set_random_seed(3)  # the same random weights again, for the known answer
    reference = MobileNetV2(input_shape=(side, side, 3), include_top=False, weights=None, pooling="avg")
    x = np.random.default_rng(0).uniform(0, 1, (2, side, side, 3)).astype("float32")
    want = reference.predict_on_batch(preprocess_input(x * 255.0))

    def close(got):  # random MobileNetV2 features are tiny (about 1e-12): compare relative to their size
        return np.allclose(got, want, rtol=1e-3, atol=1e-3 * np.abs(want).max())

    assert not close(reference.predict_on_batch(preprocess_input(x.copy())))  # the scale of the input shows
    assert close(tf.saved_model.load(str(path))(x).numpy())

    ns: dict = {"layers": keras.layers, "tf": tf}
    exec(notebook_definitions("07", {"HubFeatures"}), ns)
    wrapped = keras.Sequential([keras.Input((side, side, 3)), ns["HubFeatures"](path, 1280), keras.layers.Dense(1)])
    assert models.param_counts(wrapped) == {"total": 1281, "trainable": 1281, "non_trainable": 0}
    assert close(wrapped.layers[0](x).numpy())
