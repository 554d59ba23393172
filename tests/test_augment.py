"""helpers.augment: ImageDataGenerator-style arguments -> Keras 3 preprocessing layers (notebook 02)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from helpers import augment


def _by_class(stack):
    return {type(layer).__name__: layer for layer in stack.layers}


def test_source_recipe_maps_to_five_layers_with_converted_units():
    stack = augment.augmentation_layers(**augment.SOURCE_RECIPE, seed=0)
    layers = _by_class(stack)
    assert list(layers) == ["RandomFlip", "RandomRotation", "RandomTranslation", "RandomShear", "RandomZoom"]
    assert layers["RandomFlip"].mode == "horizontal"
    assert layers["RandomRotation"].get_config()["factor"] == pytest.approx((-40 / 360, 40 / 360))
    translation = layers["RandomTranslation"].get_config()
    assert translation["height_factor"] == pytest.approx(0.2) and translation["width_factor"] == pytest.approx(0.2)
    shear = layers["RandomShear"].get_config()
    assert shear["x_factor"] == pytest.approx((-math.tan(math.radians(0.2)), math.tan(math.radians(0.2))))
    assert tuple(shear["y_factor"]) == pytest.approx((0.0, 0.0))
    zoom = layers["RandomZoom"].get_config()
    assert zoom["height_factor"] == pytest.approx(0.2) and zoom["width_factor"] == pytest.approx(0.2)
    assert augment.describe(augment.augmentation_layers(zoom_range=[0.9, 1.5]))[0] == \
        "RandomZoom(height_factor=(-0.1, 0.5), width_factor=(-0.1, 0.5))"
    assert all(layer.get_config().get("fill_mode", "nearest") == "nearest" for layer in stack.layers)


def test_unit_conversions():
    assert augment.rotation_factor(90) == pytest.approx(0.25)
    assert augment.shear_factor(45) == pytest.approx(1.0)
    assert augment.zoom_factor(0.3) == pytest.approx((-0.3, 0.3))
    assert augment.zoom_factor([0.9, 1.5]) == pytest.approx((-0.1, 0.5))


def test_no_arguments_gives_identity_and_bad_arguments_raise():
    assert [type(layer).__name__ for layer in augment.augmentation_layers().layers] == ["Identity"]
    with pytest.raises(ValueError, match="pixels"):
        augment.augmentation_layers(width_shift_range=10)
    with pytest.raises(ValueError, match="fill_mode"):
        augment.augmentation_layers(rotation_range=10, fill_mode="mirror")
    with pytest.raises(ValueError, match="45"):
        augment.augmentation_layers(shear_range=60)


def test_layers_act_only_in_training():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, size=(4, 32, 32, 3)).astype("float32")
    stack = augment.augmentation_layers(rotation_range=30, zoom_range=0.2, horizontal_flip=True, seed=1)
    assert np.allclose(np.asarray(stack(images, training=False)), images)
    assert not np.allclose(np.asarray(stack(images, training=True)), images)


def test_augment_many_and_describe_and_table():
    stack = augment.augmentation_layers(rotation_range=20, seed=3)
    copies = augment.augment_many(stack, np.full((16, 16, 3), 100.0), 5)
    assert copies.shape == (5, 16, 16, 3)
    assert augment.describe(stack) == ["RandomRotation(factor=(-0.0556, 0.0556))"]
    table = augment.mapping_table()
    assert len(table) == 7 and set(table["ImageDataGenerator"].str.split("=").str[0]) >= {"rotation_range", "shear_range"}
