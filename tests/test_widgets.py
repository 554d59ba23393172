"""The interactive widgets draw PNG images, never through Output widgets (whose capture can hang headless runs)."""

from __future__ import annotations

import ipywidgets as w
import numpy as np

from helpers import widgets


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def _images(box):
    parts = list(_walk(box))
    assert not any(isinstance(p, w.Output) for p in parts)
    return [p for p in parts if isinstance(p, w.Image)]


def test_augmentation_explorer_redraws_on_a_slider():
    photo = np.random.default_rng(0).integers(0, 255, (48, 48, 3)).astype("float32")
    box = widgets.augmentation_explorer(photo, n=4, seed=0, rotation_range=40, width_shift_range=0.2,
                                        height_shift_range=0.2, shear_range=0.2, zoom_range=0.2, horizontal_flip=True)
    (image,) = _images(box)
    first = image.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    slider = next(p for p in _walk(box) if isinstance(p, (w.IntSlider, w.FloatSlider)) and "rotation" in p.description)
    slider.value = 0
    assert image.value != first


def test_quiz_shows_a_curve_and_feedback():
    curves = {"a": ([10, 20], [0.0, 1.0], [40.0, 30.0]), "b": ([10, 20], [30.0, 35.0], [36.0, 37.0])}
    answers = {"a": widgets.DIAGNOSES[0], "b": widgets.DIAGNOSES[-1]}
    box = widgets.diagnosis_quiz(curves, 10.0, answers, {"a": "reason a", "b": "reason b"})
    (image,) = _images(box)
    assert image.value[:4] == b"\x89PNG"
    choice = next(p for p in _walk(box) if isinstance(p, w.RadioButtons))
    button = next(p for p in _walk(box) if isinstance(p, w.Button))
    feedback = next(p for p in _walk(box) if isinstance(p, w.HTML))
    choice.value = answers["a"]
    button.click()
    assert feedback.value.startswith("✓") and "reason a" in feedback.value


def _png_size(png: bytes) -> tuple[int, int]:
    import struct

    return struct.unpack(">II", png[16:24])


def test_explorer_shows_its_grid_at_natural_size_under_sliders_that_keep_their_width():
    """The browser bug: a 1,600-px figure beside the sliders squeezed them to 0 px. Both must fit the page's width."""
    photo = np.random.default_rng(0).integers(0, 255, (150, 150, 3)).astype("float32")
    box = widgets.augmentation_explorer(photo, n=8, seed=0, rotation_range=40, width_shift_range=0.2,
                                        height_shift_range=0.2, shear_range=0.2, zoom_range=0.2, horizontal_flip=True)
    assert isinstance(box, w.VBox)
    panel, image, layers_text = box.children
    width, height = _png_size(image.value)
    assert image.layout.width == f"{width}px" and image.layout.height == f"{height}px"  # not stretched or squeezed
    assert width <= widgets.PAGE_WIDTH, f"grid {width} px is wider than the page"
    columns = panel.children
    assert all(c.layout.width == f"{widgets.SLIDER_WIDTH}px" and c.layout.flex == "0 0 auto" for c in columns)
    assert len(columns) * widgets.SLIDER_WIDTH <= widgets.PAGE_WIDTH
    assert height + 150 <= 830, "sliders and grid do not fit one screen of a 1,000-px-high window"
    assert "RandomShear" in layers_text.value  # the layers, readable


def test_feature_map_explorer_fits_the_page():
    import keras

    inputs = keras.Input((32, 32, 3))
    conv = keras.layers.Conv2D(8, 3, name="conv")(inputs)
    model = keras.Model(inputs, conv)
    photos = {"a": np.zeros((32, 32, 3), "float32"), "b": np.ones((32, 32, 3), "float32")}
    (image,) = _images(widgets.feature_map_explorer(model, photos, ["conv"]))
    width, _ = _png_size(image.value)
    assert image.layout.width == f"{width}px" and width <= widgets.PAGE_WIDTH


def test_quiz_puts_its_buttons_beside_a_curve_at_natural_size():
    curves = {"a": ([10, 20], [0.0, 1.0], [40.0, 30.0])}
    box = widgets.diagnosis_quiz(curves, 10.0, {"a": widgets.DIAGNOSES[0]}, {"a": "reason"})
    assert isinstance(box, w.HBox)
    (image,) = _images(box)
    width, height = _png_size(image.value)
    assert image.layout.width == f"{width}px" and width + 360 <= widgets.PAGE_WIDTH and height <= 600
