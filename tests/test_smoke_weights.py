"""helpers.smoke_weights: the stand-in backbones smoke runs load where full and quick load ImageNet's file."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import smoke_weights


def test_batchnorm_statistics_are_recomputed_on_the_images_given():
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization(momentum=0.999)])
    x = np.random.default_rng(0).normal(3.0, 2.0, (64, 4)).astype("float32")
    smoke_weights._recalibrate_batchnorm(model, x)
    norm = model.layers[0]
    np.testing.assert_allclose(norm.moving_mean.numpy(), x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(norm.moving_variance.numpy(), x.var(axis=0), rtol=1e-3)
    assert norm.momentum == 0.999  # put back for training later


def test_a_stand_in_is_built_once_and_reused(monkeypatch):
    built = []

    def fake_build(architecture):
        path = smoke_weights.weights_path(architecture)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"w")
        built.append(architecture)
        return path

    monkeypatch.setattr(smoke_weights, "build", fake_build)
    first = smoke_weights.ensure("vgg16")
    assert smoke_weights.ensure("vgg16") == first and built == ["vgg16"]
    assert first.name == "vgg16_smoke_aug_4ep_0.0001_notop.weights.h5" and "smoke-weights" in str(first)
    with pytest.raises(ValueError, match="choose one of vgg16, inception_v3, mobilenet_v2"):
        smoke_weights.weights_path("resnet50")


def test_a_changed_recipe_does_not_reuse_the_old_file(monkeypatch):
    before = smoke_weights.weights_path("mobilenet_v2")
    name, module, epochs, lr = smoke_weights.RECIPES["mobilenet_v2"]
    monkeypatch.setitem(smoke_weights.RECIPES, "mobilenet_v2", (name, module, epochs + 1, lr))
    assert smoke_weights.weights_path("mobilenet_v2") != before

