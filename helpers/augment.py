"""Data augmentation the Keras 3 way, built from the arguments the sources pass to ``ImageDataGenerator``.

Introduced in ``02_data_augmentation.ipynb``. Nothing here runs on import (the RandomShear repair runs on first use).

``ImageDataGenerator`` (legacy, still at ``tf.keras.preprocessing.image``) measures rotation and shear in degrees,
shifts and zoom in fractions of the image. The Keras 3 preprocessing layers measure rotation in fractions of a full
turn and shear as a fraction of the image, so the numbers must be converted, not copied.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras
    import numpy as np
    import pandas as pd

# The source's recipe (Chollet, Deep Learning with Python, 1st ed., 5.2; also the seed article).
SOURCE_RECIPE: dict[str, Any] = {
    "rotation_range": 40,
    "width_shift_range": 0.2,
    "height_shift_range": 0.2,
    "shear_range": 0.2,
    "zoom_range": 0.2,
    "horizontal_flip": True,
    "fill_mode": "nearest",
}

FILL_MODES = ("reflect", "wrap", "constant", "nearest")

_KERAS_SHEAR_GET_CONFIG: Any = None  # Keras's own RandomShear.get_config, kept by repair_random_shear


def repair_random_shear() -> None:
    """Make ``RandomShear`` configs round-trip (keras-team/keras#21110), so a model with it clones, saves and loads.

    Keras 3.15 writes a factor f as the range (-f, f), which its constructor rejects; writing the scalar f, which
    means the same range, fixes save, ``clone_model`` and ``from_config`` alike. Idempotent; other factors unchanged.
    """
    global _KERAS_SHEAR_GET_CONFIG
    from keras import layers

    if _KERAS_SHEAR_GET_CONFIG is not None:
        return
    _KERAS_SHEAR_GET_CONFIG = original = layers.RandomShear.get_config

    def get_config(self: Any) -> dict[str, Any]:
        config = original(self)
        for key in ("x_factor", "y_factor"):
            low, high = config[key]
            if low == -high:
                config[key] = float(high)
        return config

    layers.RandomShear.get_config = get_config


def _fraction(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value < 1.0:
        raise ValueError(
            f"{name}={value}: only fractions of the image (0 <= value < 1) are supported; ImageDataGenerator reads "
            "values of 1 or more as pixels, which the Keras layers do not accept. Divide by the image side."
        )
    return value


def rotation_factor(degrees: float) -> float:
    """``RandomRotation`` factor for ``rotation_range`` in degrees: a fraction of a full turn (40° -> 0.111)."""
    return float(degrees) / 360.0


def shear_factor(degrees: float) -> float:
    """``RandomShear`` factor for ``shear_range`` in degrees: the horizontal displacement per unit height, tan(angle)."""
    if not 0.0 <= float(degrees) <= 45.0:
        raise ValueError(f"shear_range={degrees}: use an angle between 0 and 45 degrees (RandomShear accepts up to 1.0).")
    return math.tan(math.radians(float(degrees)))


def zoom_factor(zoom_range: float | Sequence[float]) -> tuple[float, float]:
    """``RandomZoom`` range for ``zoom_range``: ImageDataGenerator's scale [1 - z, 1 + z] becomes [-z, +z]."""
    if isinstance(zoom_range, (int, float)):
        z = _fraction("zoom_range", zoom_range)
        return (-z, z)
    low, high = (float(v) for v in zoom_range)
    return (low - 1.0, high - 1.0)


def augmentation_layers(
    rotation_range: float = 0.0,
    width_shift_range: float = 0.0,
    height_shift_range: float = 0.0,
    shear_range: float = 0.0,
    zoom_range: float | Sequence[float] = 0.0,
    horizontal_flip: bool = False,
    vertical_flip: bool = False,
    fill_mode: str = "nearest",
    cval: float = 0.0,
    seed: int | None = None,
    name: str = "augmentation",
) -> keras.Sequential:
    """A ``keras.Sequential`` of preprocessing layers equivalent to ``ImageDataGenerator(**same arguments)``.

    Only the arguments that are set produce a layer; with none set the stack is a single ``Identity`` layer.
    The layers act only when called with ``training=True`` (as ``fit`` does); at inference they pass images through.
    """
    import keras
    from keras import layers

    if fill_mode not in FILL_MODES:
        raise ValueError(f"fill_mode={fill_mode!r}: choose one of {', '.join(FILL_MODES)}.")
    fill = {"fill_mode": fill_mode, "fill_value": float(cval)}

    def next_seed(offset: int) -> int | None:
        return None if seed is None else seed + offset

    stack: list[keras.layers.Layer] = []
    flip = {(True, False): "horizontal", (False, True): "vertical", (True, True): "horizontal_and_vertical"}
    if horizontal_flip or vertical_flip:
        stack.append(layers.RandomFlip(flip[(bool(horizontal_flip), bool(vertical_flip))], seed=next_seed(0)))
    if rotation_range:
        stack.append(layers.RandomRotation(rotation_factor(rotation_range), seed=next_seed(1), **fill))
    if width_shift_range or height_shift_range:
        stack.append(
            layers.RandomTranslation(
                height_factor=_fraction("height_shift_range", height_shift_range),
                width_factor=_fraction("width_shift_range", width_shift_range),
                seed=next_seed(2),
                **fill,
            )
        )
    if shear_range:
        repair_random_shear()
        stack.append(layers.RandomShear(x_factor=shear_factor(shear_range), y_factor=0.0, seed=next_seed(3), **fill))
    zoom = zoom_factor(zoom_range)
    if zoom != (0.0, 0.0):
        # ImageDataGenerator draws the horizontal and vertical zoom independently; so does RandomZoom given both.
        factor = zoom[1] if zoom[0] == -zoom[1] else zoom  # a single number z means [-z, +z] to RandomZoom too
        stack.append(layers.RandomZoom(height_factor=factor, width_factor=factor, seed=next_seed(4), **fill))
    if not stack:
        stack.append(layers.Identity())
    return keras.Sequential(stack, name=name)


def describe(stack: keras.Sequential) -> list[str]:
    """One line per layer of a stack built by :func:`augmentation_layers`: its class and its factors."""
    lines = []
    for layer in stack.layers:
        config = layer.get_config()
        keys = [k for k in ("mode", "factor", "height_factor", "width_factor", "x_factor", "y_factor") if k in config]
        parts = []
        for k in keys:
            v = getattr(layer, k) if k in ("x_factor", "y_factor") else config[k]  # the range the layer draws from
            v = tuple(round(float(x), 4) + 0.0 for x in v) if isinstance(v, (list, tuple)) else (round(float(v), 4) if isinstance(v, float) else v)
            parts.append(f"{k}={v}")
        lines.append(f"{type(layer).__name__}({', '.join(parts)})")
    return lines


def mapping_table() -> pd.DataFrame:
    """ImageDataGenerator argument -> Keras 3 layer, with the units of each and the conversion."""
    import pandas as pd

    rows = [
        ("rotation_range=40", "RandomRotation(40 / 360)", "degrees", "fraction of a full turn (0.111 = 40°)",
         "divide by 360"),
        ("width_shift_range=0.2", "RandomTranslation(width_factor=0.2)", "fraction of the width",
         "fraction of the width", "same number"),
        ("height_shift_range=0.2", "RandomTranslation(height_factor=0.2)", "fraction of the height",
         "fraction of the height", "same number"),
        ("shear_range=0.2", "RandomShear(x_factor=tan(0.2°))", "degrees (0.2° is almost nothing)",
         "fraction of the image (shift per unit height)", "tan(radians(angle))"),
        ("zoom_range=0.2", "RandomZoom(0.2, 0.2)", "scale in [0.8, 1.2]", "change in [-0.2, +0.2]",
         "same number; each axis drawn independently in both"),
        ("horizontal_flip=True", "RandomFlip('horizontal')", "on/off", "mode name", "—"),
        ("fill_mode='nearest'", "fill_mode='nearest' on each layer", "how to fill the uncovered border",
         "same names", "same value"),
    ]
    return pd.DataFrame(rows, columns=["ImageDataGenerator", "Keras 3 layer", "unit there", "unit here", "conversion"])


def augment_many(stack: keras.Layer, image: np.ndarray, n: int) -> np.ndarray:
    """``n`` augmented copies of one image (H, W, 3), drawn by calling the stack with ``training=True``."""
    import numpy as np

    batch = np.repeat(np.asarray(image, dtype="float32")[None], n, axis=0)
    return np.asarray(stack(batch, training=True))
