"""Notebook 08, seeing inside: Grad-CAM and occlusion on a classifier whose head is a nested Sequential (as the
course's VGG16 classifiers are), and the exercise checks for the feature-map and occlusion exercises."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from helpers import exercises, interpret


def _nested_head_model(nested: bool) -> keras.Model:
    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Rescaling(1 / 255)(inp)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(x)
    head_layers = [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1, activation="sigmoid", name="out")]
    if nested:
        head = keras.Sequential([keras.Input(x.shape[1:]), *head_layers], name="head")
        return keras.Model(inp, head(x))
    for layer in head_layers:
        x = layer(x)
    return keras.Model(inp, x)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(0, 255, size=(6, 16, 16, 3)).astype("float32")


@pytest.mark.parametrize("nested", [False, True])
def test_grad_cam_probabilities_are_the_models_with_a_nested_head(images, nested):
    model = _nested_head_model(nested)
    out = model.get_layer("head").layers[-1] if nested else model.get_layer("out")
    out.kernel.assign(np.linspace(-40, 40, out.kernel.shape[0]).reshape(out.kernel.shape).astype("float32"))
    _, p = interpret.grad_cam(model, images, "conv")
    assert np.allclose(p, model.predict_on_batch(images).ravel(), atol=1e-5)
    assert out.activation is keras.activations.sigmoid  # restored after the logit was read
    table = interpret.occlusion_check(model, images, "conv")
    assert np.allclose(table.p_dog, p, atol=1e-5)


def test_check_edge_layer_wants_the_shallowest_layer(capsys):
    maps = {"block1_conv2": np.zeros((80, 80, 64)), "block3_conv3": np.zeros((20, 20, 256)),
            "block5_conv3": np.zeros((5, 5, 512))}
    assert exercises.check_edge_layer("block1_conv2", maps)
    assert not exercises.check_edge_layer("block5_conv3", maps)
    assert not exercises.check_edge_layer(None, maps)
    assert "Not answered" in capsys.readouterr().out


def test_check_occluded_probability(images, capsys):
    model = _nested_head_model(True)
    occluded = images[0].copy()
    occluded[4:12, 4:12] = interpret.GREY
    truth = float(model.predict_on_batch(occluded[None])[0, 0])
    assert exercises.check_occluded_probability(truth, model, images[0], 4, 4, 8)
    assert exercises.check_occluded_probability(np.array([[truth]]), model, images[0], 4, 4, 8)
    assert not exercises.check_occluded_probability(truth + 0.01, model, images[0], 4, 4, 8)
    assert not exercises.check_occluded_probability("a", model, images[0], 4, 4, 8)
    assert "P(dog)" in capsys.readouterr().out
