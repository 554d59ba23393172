"""helpers.outputs, and evaluate / Grad-CAM reading the three output shapes the course's models end with.

Each model is built to a known answer on every photo: it says 'dog' when a photo is bluer than it is red, and the
folder holds warm cats, cool dogs and one cool photo filed under cats/, so the true accuracy is known before running.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers import data, outputs
from helpers.evaluate import ModelError, evaluate, load_model
from helpers.interpret import _predict_p, grad_cam

SIDE = 24
BLUE_MINUS_RED = np.array([[-20.0], [0.0], [20.0]])  # on the mean colour in [0, 1]: cool photos score high


def _build(shape: str):
    import keras

    inputs = keras.Input((SIDE, SIDE, 3))
    conv = keras.layers.Conv2D(3, 1, name="conv")  # a pass-through 1x1 convolution, for Grad-CAM to look at
    x = conv(keras.layers.Rescaling(1 / 255)(inputs))
    x = keras.layers.GlobalAveragePooling2D()(x)
    if shape == "flat sigmoid":
        dense = keras.layers.Dense(1, activation="sigmoid", name="out")
        out = dense(x)
    elif shape == "nested head":
        dense = keras.layers.Dense(1, activation="sigmoid", name="out")
        head = keras.Sequential([keras.Input((3,)), keras.layers.Dropout(0.2), dense], name="head")
        out = head(x)
    elif shape == "logit":
        dense = keras.layers.Dense(1, name="out")
        out = dense(x)
    elif shape == "softmax":
        dense = keras.layers.Dense(2, activation="softmax", name="out")
        out = dense(x)
    model = keras.Model(inputs, out)
    conv.set_weights([np.eye(3).reshape(1, 1, 3, 3), np.zeros(3)])
    if shape == "softmax":
        dense.set_weights([np.hstack([-BLUE_MINUS_RED, BLUE_MINUS_RED]), np.zeros(2)])
    else:
        dense.set_weights([BLUE_MINUS_RED, np.zeros(1)])
    return model


SHAPES = ("flat sigmoid", "nested head", "logit", "softmax")


@pytest.fixture
def known_folder(tmp_path):
    """5 warm cats + 1 cool photo filed as a cat, 4 cool dogs: the colour rule is right on 9 of 10."""
    root = data.make_smoke_dataset(tmp_path / "smoke", counts={"train": 1, "validation": 5})
    folder = root / "validation"
    dogs = sorted((folder / "dogs").iterdir())
    dogs[0].rename(folder / "cats" / "misfiled_dog.jpg")
    return folder


@pytest.mark.parametrize("shape", SHAPES)
def test_evaluate_scores_every_output_shape_to_the_known_answer(shape, known_folder, tmp_path):
    path = tmp_path / "m.keras"
    _build(shape).save(path)
    result = evaluate(load_model(path), known_folder)
    assert result.accuracy == pytest.approx(0.9)
    assert result.confusion.to_numpy().tolist() == [[5, 1], [0, 4]]  # the misfiled cool photo is called a dog
    wrong = [p.name for p, t, y in zip(result.paths, result.y_true, result.y_pred) if t != y]
    assert wrong == ["misfiled_dog.jpg"]  # per photo, not only in total


def test_the_output_layer_and_activation_are_found_inside_a_nested_head():
    model = _build("nested head")
    assert outputs.output_layer(model).name == "out"
    assert outputs.output_activation(model) == "sigmoid"
    assert outputs.decision_threshold(model) == 0.5
    assert outputs.decision_threshold(_build("logit")) == 0.0
    assert outputs.output_activation(_build("softmax")) == "softmax"


def test_an_output_that_is_neither_probability_nor_logit_is_refused(known_folder):
    import keras

    model = _build("logit")
    outputs.output_layer(model).activation = keras.activations.relu
    with pytest.raises(outputs.UnreadableOutput, match="not a sigmoid, a logit"):
        outputs.decision_threshold(model)
    with pytest.raises(ModelError, match="cannot be read as a class"):
        evaluate(model, known_folder)


@pytest.mark.parametrize("shape", ("flat sigmoid", "nested head", "logit"))
def test_grad_cam_and_occlusion_read_p_dog_the_same_for_every_shape(shape):
    model = _build(shape)
    rng = np.random.default_rng(0)
    batch = rng.uniform(0, 255, (4, SIDE, SIDE, 3)).astype("float32")
    mean = batch.mean(axis=(1, 2)) / 255
    truth = 1 / (1 + np.exp(-(20 * mean[:, 2] - 20 * mean[:, 0])))  # P(dog) by hand
    np.testing.assert_allclose(_predict_p(model, batch), truth, rtol=1e-4, atol=1e-6)
    _, p_dog = grad_cam(model, batch, "conv")
    np.testing.assert_allclose(p_dog, truth, rtol=1e-4, atol=1e-6)
