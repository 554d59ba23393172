"""Reports on Keras models (layer tables, parameter counts), the backbones' weights, and notebook 03's classifier.

04 and 08 build 03's classifier from here, and rebuild it, head trained, where they cannot find 03's file.

Introduced in ``03_vgg16_feature_extraction.ipynb``.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from helpers.profiles import ENV_RANDOM_WEIGHTS, Profile

if TYPE_CHECKING:
    import keras
    import pandas as pd


class WeightsUnavailable(RuntimeError):
    """The ImageNet weights could not be downloaded and are not in Keras's cache."""


def _count(weights: list) -> int:
    return int(sum(math.prod(w.shape) for w in weights))


def param_counts(model: keras.Model) -> dict[str, int]:
    """Total, trainable and non-trainable parameter counts, as ``model.summary()`` reports them."""
    trainable = _count(model.trainable_weights)
    frozen = _count(model.non_trainable_weights)
    return {"total": trainable + frozen, "trainable": trainable, "non_trainable": frozen}


def format_counts(model: keras.Model) -> str:
    """One line with the three counts, thousands separated, for printing before and after a freeze."""
    c = param_counts(model)
    return f"total {c['total']:,} | trainable {c['trainable']:,} | non-trainable {c['non_trainable']:,}"


def layer_table(model: keras.Model) -> pd.DataFrame:
    """One row per layer: index, name, output shape, parameter count and trainable flag."""
    import pandas as pd

    rows = []
    for i, layer in enumerate(model.layers):
        try:
            shape = tuple(layer.output.shape)
        except (AttributeError, ValueError):
            shape = None
        rows.append((i, layer.name, shape, layer.count_params(), layer.trainable))
    return pd.DataFrame(rows, columns=["index", "name", "output_shape", "params", "trainable"]).set_index("index")


@contextlib.contextmanager
def weights_guard() -> Iterator[None]:
    """Turn a failed or corrupted ImageNet-weights download into one message that says what to do."""
    try:
        yield
    except Exception as exc:  # Keras raises plain Exception("URL fetch failure ...")
        text = str(exc)
        if "Incomplete or corrupted file" in text:
            raise WeightsUnavailable(
                "A cached ImageNet weight file in ~/.keras/models fails its checksum (an interrupted download?). "
                "Re-run this cell with network to fetch it again, or replace the file with a good copy."
            ) from None
        damaged = None if "URL fetch failure" in text else _file_being_read(exc)
        if damaged:  # Keras checks no hash for some files (MobileNetV2's): a cut-short one fails only when read
            raise WeightsUnavailable(
                f"The weight file {damaged} exists but cannot be read ({text.splitlines()[0] if text else type(exc).__name__}): "
                "it is damaged, e.g. a download cut short. Delete it and run again."
            ) from None
        if "URL fetch failure" in text or "urlopen error" in text or isinstance(exc, OSError):
            raise WeightsUnavailable(
                "The ImageNet weights could not be downloaded (no network?) and are not in Keras's cache "
                "(~/.keras/models). Connect and re-run this cell, copy the weight file into ~/.keras/models, "
                f"or set {ENV_RANDOM_WEIGHTS}=1 to run with random weights (timings only)."
            ) from None
        raise


def _file_being_read(exc: BaseException) -> str | None:
    """The existing file a failed weights load was reading (read from the traceback's frames), if any."""
    if not isinstance(exc, OSError) or isinstance(exc, ConnectionError) or "urlopen" in str(exc):
        return None
    found, tb = None, exc.__traceback__
    while tb is not None:
        for name in ("weights_path", "filepath", "weights", "name"):  # Keras, its applications, h5py.File
            value = tb.tb_frame.f_locals.get(name)
            if isinstance(value, (str, os.PathLike)) and os.path.isfile(value):
                found = os.fspath(value)
        tb = tb.tb_next
    return found


def backbone_weights(profile: Profile, architecture: str) -> str | None:
    """What to pass as ``weights=`` to ``keras.applications``: 'imagenet', the smoke stand-in file's path, or None.

    ``architecture`` is 'vgg16', 'inception_v3' or 'mobilenet_v2'. In smoke the stand-in is built on first use
    (:mod:`helpers.smoke_weights`) and Keras loads it exactly as it loads the ImageNet file it downloads.
    """
    if profile.weights == "stand-in":
        from helpers import smoke_weights

        return str(smoke_weights.ensure(architecture))
    return profile.weights


def imagenet_weights_file(profile: Profile, fname: str, origin: str, file_hash: str,
                          cache_dir: str | None = None) -> str | None:
    """05: the path of a pretrained weight file fetched with ``keras.utils.get_file`` (cached in ~/.keras/models).

    Returns None with random weights (``profile.weights is None``), so the notebook loads nothing; in smoke, the
    stand-in file of the architecture ``fname`` starts with (``inception_v3_...``). Otherwise Keras downloads the file
    once with a progress bar, checks its hash, and later calls (offline too) reuse the cached copy; a failed download
    raises :class:`WeightsUnavailable`.
    """
    if profile.weights is None:
        return None
    if profile.weights == "stand-in":
        from helpers import smoke_weights

        architecture = next((a for a in smoke_weights.RECIPES if fname.startswith(a)), None)
        if architecture is None:
            raise ValueError(f"No smoke stand-in for {fname}: the file name must start with one of {', '.join(smoke_weights.RECIPES)}.")
        return backbone_weights(profile, architecture)
    import keras

    with weights_guard():
        return keras.utils.get_file(fname, origin, file_hash=file_hash, cache_subdir="models", cache_dir=cache_dir)


def vgg16_classifier(base: keras.Model, seed: int) -> keras.Model:
    """Notebook 03's classifier on a VGG16 base (augmentation, preprocessing, frozen base, GAP head), for 04 and 08."""
    import keras
    from keras import layers
    from keras.applications.vgg16 import preprocess_input

    from helpers import augment

    side = base.inputs[0].shape[1]
    base.trainable = False
    augmentation = augment.augmentation_layers(**augment.SOURCE_RECIPE, seed=seed)
    raw = keras.Input(shape=(side, side, 3))
    vgg_preprocess = keras.Model(raw, preprocess_input(raw), name="vgg16_preprocess")
    head = keras.Sequential([
        keras.Input(shape=base.output.shape[1:]),
        layers.GlobalAveragePooling2D(),
        layers.Dense(256, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.7),
        layers.Dense(1, activation="sigmoid"),
    ], name="head")
    inputs = keras.Input(shape=(side, side, 3), name="image")
    features = base(vgg_preprocess(augmentation(inputs)), training=False)
    return keras.Model(inputs, head(features), name="vgg16_classifier")


def rebuild_vgg16_classifier(profile: Profile, train_ds, val_ds, batch_size: int,
                             epochs: int | None = None) -> tuple[keras.Model, dict]:
    """03's model where its file is missing (04, 08): its own head trained on features stored once; (model, history)."""
    import keras
    import numpy as np
    from keras.applications import VGG16
    from tqdm.auto import tqdm

    side = train_ds.element_spec[0].shape[1]
    keras.utils.set_random_seed(profile.seed)
    with weights_guard():
        base = VGG16(weights=backbone_weights(profile, "vgg16"), include_top=False, input_shape=(side, side, 3))
    model = vgg16_classifier(base, seed=profile.seed)
    preprocess, head = model.get_layer("vgg16_preprocess"), model.get_layer("head")

    def stored_features(ds):  # the frozen base run once over every batch, no augmentation (03's path A)
        pairs = [(base.predict_on_batch(preprocess(x)), y.numpy().ravel()) for x, y in tqdm(ds, desc="features", unit="batch")]
        return np.concatenate([f for f, _ in pairs]), np.concatenate([y for _, y in pairs])

    head.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="binary_crossentropy", metrics=["accuracy"])
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=5, restore_best_weights=True)
    if epochs is None:  # at most: early stopping ends it sooner
        epochs = profile.pick(full=50, quick=30, smoke=2)
    history = head.fit(*stored_features(train_ds), validation_data=stored_features(val_ds), epochs=epochs,
                       batch_size=batch_size, verbose=1, callbacks=[stop]).history  # the model's own head: it trains in place
    return model, history


def hub_style_feature_vector(path: Path, weights: str | None, weights_size: int = 160) -> Path:
    """07: MobileNetV2 saved with TF Hub's feature-vector interface: [0, 1] pixels of any size in, 1,280 numbers out."""
    import tensorflow as tf
    from keras.applications.mobilenet_v2 import MobileNetV2, preprocess_input

    with weights_guard():  # keras.applications keys ImageNet files by input size: take the one 06 and 07 downloaded
        sized = MobileNetV2(input_shape=(weights_size, weights_size, 3), include_top=False, weights=weights, pooling="avg")
    net = MobileNetV2(input_shape=(None, None, 3), include_top=False, weights=None, pooling="avg")
    net.set_weights(sized.get_weights())
    del sized

    class FeatureVector(tf.Module):
        def __init__(self, net: keras.Model) -> None:
            super().__init__()
            self.net = net

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        def __call__(self, images: tf.Tensor) -> tf.Tensor:
            return self.net(preprocess_input(images * 255.0), training=False)

    quiet = tf.get_logger().level
    tf.get_logger().setLevel("ERROR")  # no 'Assets written to' lines in the learner's page
    try:
        tf.saved_model.save(FeatureVector(net), str(path))
    finally:
        tf.get_logger().setLevel(quiet)
    return Path(path)
