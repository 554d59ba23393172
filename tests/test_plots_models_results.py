from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from helpers import models, plots, results, timing
from helpers.profiles import Profile
from notebook_code import notebook_definitions

ROOT_DIR = Path(__file__).resolve().parents[1]


def _axes_are_labelled(fig):
    for ax in fig.axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


def test_plot_curves_labels_percent_and_fine_tune_line():
    runs = {"frozen": {"accuracy": [0.5, 0.7], "val_accuracy": [0.5, 0.6], "loss": [1, 0.5], "val_loss": [1, 0.8]},
            "tuned": {"accuracy": [0.8], "val_accuracy": [0.7], "loss": [0.4], "val_loss": [0.6]}}
    fig = plots.plot_curves(runs, fine_tune_start=2, title="demo")
    _axes_are_labelled(fig)
    acc = fig.axes[0]
    assert acc.get_ylabel() == "accuracy (%)"
    assert max(max(line.get_ydata()) for line in acc.lines if line.get_label() != "fine-tuning starts") == pytest.approx(80)
    labels = [t.get_text() for t in acc.get_legend().get_texts()]
    assert "frozen (training)" in labels and "tuned (validation)" in labels and "fine-tuning starts" in labels


def test_prediction_grid_marks_right_and_wrong_with_symbols():
    imgs = [np.zeros((8, 8, 3), "uint8")] * 3
    fig = plots.prediction_grid(imgs, y_true=[0, 1, 1], p_dog=[0.1, 0.9, 0.2])
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0].startswith("✓ pred cats") and titles[1].startswith("✓ pred dogs")
    assert titles[2].startswith("✗ pred cats") and "true dogs" in titles[2]
    assert fig._suptitle.get_text()


def _tiny_model():
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(2, 3, name="conv")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(1, name="head")(x))


def test_param_counts_follow_trainable_flags():
    m = _tiny_model()
    assert models.param_counts(m) == {"total": 59, "trainable": 59, "non_trainable": 0}
    m.get_layer("conv").trainable = False
    assert models.param_counts(m) == {"total": 59, "trainable": 3, "non_trainable": 56}
    assert models.format_counts(m) == "total 59 | trainable 3 | non-trainable 56"


def test_layer_table_has_one_row_per_layer():
    table = models.layer_table(_tiny_model())
    assert list(table.columns) == ["name", "output_shape", "params", "trainable"]
    assert len(table) == 4 and list(table.name)[1] == "conv" and list(table.name)[-1] == "head"
    assert table.params.sum() == 59 and table.loc[1, "output_shape"] == (None, 6, 6, 2)


def test_weights_guard_explains_failed_downloads():
    with pytest.raises(models.WeightsUnavailable, match="COURSE_RANDOM_WEIGHTS=1"):
        with models.weights_guard():
            raise Exception("URL fetch failure on https://example.invalid/w.h5: None -- no route")
    with pytest.raises(ValueError, match="unrelated"):
        with models.weights_guard():
            raise ValueError("unrelated")


def test_results_record_merges_and_loads():
    p = Profile("smoke")
    results.record("99_demo", p, val_accuracy=np.float32(0.5))
    path = results.record("99_demo", p, seconds=1.5)
    saved = json.loads(path.read_text())
    assert saved["profile"] == "smoke" and saved["figures"] == {"val_accuracy": 0.5, "seconds": 1.5}
    assert results.load("99_demo")["seconds"] == 1.5 and results.load("nothing") == {}


def test_comparison_table_formats_percent_and_missing():
    table = results.comparison([("feature extraction", 89.64, "90% (Chollet)"), ("fine-tuning", None, "95%")])
    assert list(table["this run"]) == ["89.6%", "not run"]


def test_timer_measures_time_and_memory():
    with timing.Timer() as t:
        sum(range(10000))
    assert t.seconds > 0 and t.peak_mb > 10 and t.rate(10) > 0


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux /proc")
def test_peak_memory_is_in_megabytes_of_a_million_bytes():
    # /proc reports VmHWM (the same peak as ru_maxrss) in KiB; KiB / 1000 would read 2.4% low
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    peak_bytes = int(fields["VmHWM"].split()[0]) * 1024
    assert timing.peak_memory_mb() == pytest.approx(peak_bytes / 1e6, rel=0.005)


def test_weights_guard_explains_corrupted_cache():
    with pytest.raises(models.WeightsUnavailable, match="fails its checksum"):
        with models.weights_guard():
            raise ValueError("Incomplete or corrupted file detected. The sha256 file hash does not match")


def test_a_cached_weight_file_cut_short_is_reported_as_damaged_with_its_path(tmp_path):
    """MobileNetV2's file has no hash in Keras: a download cut short is only found out when the file is read."""
    import keras

    good = tmp_path / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.weights.h5"
    keras.applications.MobileNetV2(input_shape=(32, 32, 3), include_top=False, weights=None, alpha=0.35).save_weights(good)
    cut = tmp_path / "cut.weights.h5"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    with pytest.raises(models.WeightsUnavailable, match=rf"{cut}.*damaged.*Delete it and run again") as info:
        with models.weights_guard():
            keras.applications.MobileNetV2(input_shape=(32, 32, 3), include_top=False, weights=str(cut), alpha=0.35)
    assert "no network" not in str(info.value)
    with models.weights_guard():  # the good file loads through the same path
        keras.applications.MobileNetV2(input_shape=(32, 32, 3), include_top=False, weights=str(good), alpha=0.35)


def test_update_readme_replaces_only_the_block_between_its_markers():
    import importlib.util

    spec = importlib.util.spec_from_file_location("update_readme", ROOT_DIR / "tools" / "update_readme.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    text = "intro\n<!-- bench:start -->\nold \\1 table\n<!-- bench:end -->\n<!-- measured:start -->\nkeep\n<!-- measured:end -->\n"
    out = tool.replace_block(text, "bench", "| new | 1.5× \\1 |")
    assert out == text.replace("old \\1 table", "| new | 1.5× \\1 |")
    with pytest.raises(ValueError, match="bench:start"):
        tool.replace_block("no markers here", "bench", "x")


def test_update_readme_says_whether_solution_cells_ran():
    import importlib.util

    spec = importlib.util.spec_from_file_location("update_readme", ROOT_DIR / "tools" / "update_readme.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    summary = {"profile": "quick", "random_weights": False, "date": "2026-12-07T12:00:00+00:00", "machine": "x86_64",
               "versions": {"keras": "3.15.1"}, "notebooks": {"02_data_augmentation": {"seconds": 60, "peak_mb": 900}}}
    assert "solution" not in tool.table(summary)  # older summaries did not record it
    assert "solution cells not run, as in a learner's *Run all*" in tool.table({**summary, "solutions": False})
    assert "solution cells run too" in tool.table({**summary, "solutions": True})
    figures = {"plain_test_accuracy": 0.758, "test_only_augmented_right": 59, "mcnemar_p": 0.7861}  # 02's paired test
    summary["notebooks"]["02_data_augmentation"]["figures"] = figures
    assert "plain_test_accuracy 75.8%; test_only_augmented_right 59; mcnemar_p 0.79 |" in tool.table(summary)


def test_every_figure_the_readme_promises_is_recorded_under_that_key_and_shown():
    """README's results table names, per notebook, the keys it measures: each notebook must record each key
    (``key=`` in its results.record call) and tools/update_readme.py must show it."""
    import importlib.util
    import re

    spec = importlib.util.spec_from_file_location("update_readme", ROOT_DIR / "tools" / "update_readme.py")
    update_readme = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(update_readme)
    promised = []
    for row in (ROOT_DIR / "README.md").read_text().splitlines():
        cell = row.rstrip(" |").rsplit("|", 1)[-1]
        match = re.match(r"\s*(\d\d): ", cell)
        if row.startswith("|") and match:
            promised += [(match.group(1), key) for key in re.findall(r"`([a-z_]+)`", cell)]
    assert len(promised) >= 10 and ("05", "val_accuracy") in promised and ("06", "val_accuracy") in promised
    for number, key in promised:
        notebook = next((ROOT_DIR / "notebooks").glob(f"{number}_*.ipynb"))
        code = "".join("".join(c["source"]) for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code")
        record = code[code.index("results.record("):]
        assert re.search(rf"\b{key}=", record), f"README promises {key} for {notebook.name}; it records no such key"
        assert key in update_readme.KEYS, f"tools/update_readme.py does not show {key}"


def _layout(model: keras.Model) -> list:
    """What a classifier is made of, layer by layer and inside its nested models, without names Keras numbers."""
    rows = []
    for layer in model.layers:
        config = {k: v for k, v in layer.get_config().items() if k in ("units", "rate", "activation", "factor", "seed")}
        rows.append((type(layer).__name__, layer.trainable, sorted(config.items(), key=str)))
        if isinstance(layer, keras.Model) and layer.name != "vgg16":
            rows.append(_layout(layer))
    return rows


def test_vgg16_classifier_is_the_classifier_notebook_03_builds():
    """04 and 08 import models.vgg16_classifier; 03 teaches it cell by cell: the two must build the same model."""
    from keras.applications import VGG16
    from keras.applications.vgg16 import preprocess_input

    from helpers import augment

    side, seed = 48, 42
    ns = {"keras": keras, "layers": keras.layers, "IMG": side}
    exec(notebook_definitions("03", {"build_head", "build_classifier"}), ns)
    base_03 = VGG16(weights=None, include_top=False, input_shape=(side, side, 3))
    base_03.trainable = False
    raw = keras.Input(shape=(side, side, 3))
    ns.update(conv_base=base_03, augmentation=augment.augmentation_layers(**augment.SOURCE_RECIPE, seed=seed),
              vgg_preprocess=keras.Model(raw, preprocess_input(raw), name="vgg16_preprocess"))
    notebook_03 = ns["build_classifier"](ns["build_head"](tuple(base_03.output.shape[1:])))
    helper = models.vgg16_classifier(VGG16(weights=None, include_top=False, input_shape=(side, side, 3)), seed=seed)
    assert _layout(helper) == _layout(notebook_03)
    assert models.param_counts(helper) == models.param_counts(notebook_03)
    x = np.random.default_rng(0).uniform(0, 255, (2, side, side, 3)).astype("float32")
    helper.set_weights(notebook_03.get_weights())
    assert np.allclose(helper.predict_on_batch(x), notebook_03.predict_on_batch(x), atol=1e-5)


def test_save_history_writes_the_curves_whole_next_to_the_model(tmp_path):
    model_path = tmp_path / "02_small_cnn_plain_smoke_48px.keras"
    path = results.save_history(model_path, {"accuracy": [np.float32(0.5), 0.75], "val_accuracy": [0.25, 1]})
    assert path == tmp_path / "02_small_cnn_plain_smoke_48px.history.json"
    assert json.loads(path.read_text()) == {"accuracy": [0.5, 0.75], "val_accuracy": [0.25, 1.0]}
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no partial file left behind



def test_a_rebuilt_classifier_is_03s_model_with_its_own_head_trained_and_its_best_epoch_kept(stand_in_cache):
    """04 and 08 rebuild 03's model where its file is missing: the head trained must be the model's own, best epoch kept.

    On the smoke stand-in features even an untrained head sorts the generated photos, so accuracy alone cannot show a
    head trained apart from the model: its head must also have moved from the weights the same seed starts it with.
    """
    from keras.applications import VGG16

    from helpers import data

    side, profile = 80, Profile("smoke")
    train, val = data.image_datasets(data.get_dataset(profile), image_size=side, batch_size=8)
    model, history = models.rebuild_vgg16_classifier(profile, train, val, batch_size=8, epochs=3)
    keras.utils.set_random_seed(profile.seed)  # as the rebuild starts: the same base built, the same head initialised
    untrained = models.vgg16_classifier(VGG16(weights=None, include_top=False, input_shape=(side, side, 3)), seed=profile.seed)
    assert _layout(model) == _layout(untrained)
    assert models.param_counts(model)["trainable"] == models.param_counts(untrained)["trainable"]  # the base stays frozen
    head, start = model.get_layer("head").get_weights(), untrained.get_layer("head").get_weights()
    assert not any(np.array_equal(a, b) for a, b in zip(head, start)), "the model's head did not train"
    model.compile(loss="binary_crossentropy", metrics=["accuracy"])
    accuracy = model.evaluate(val, verbose=0, return_dict=True)["accuracy"]
    assert abs(accuracy - max(history["val_accuracy"])) <= 1 / data.count_examples(val) + 1e-6, (accuracy, history)
