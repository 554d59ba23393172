"""Stand-in "pretrained" weights for smoke runs: each backbone trained briefly on the generated images, made once.

ImageNet weights are hundreds of megabytes and a download; smoke runs in seconds offline. With random weights a frozen
backbone's features carry nothing, so no smoke run could show that a classifier learns, or that a wrong threshold or a
flipped label breaks it. So the course trains each backbone for a few epochs on the generated warm-round "cats" and
cool-square "dogs" (:func:`helpers.data.make_smoke_dataset`), saves it under the course cache, and smoke loads that file
exactly where full and quick load the ImageNet file. Its features know the smoke images and nothing else.

The images pass through the course's augmentation (``augment.SOURCE_RECIPE``) while it trains, as notebooks 03 and 05
pass theirs: a base trained on clean images only gave rotated and zoomed ones features unlike any clean photo's, so a
head trained on augmented photos fitted them and then called a third of the clean validation photos wrong (05 at
66.7% in smoke). ImageNet's filters do not have that weakness; with the augmentation, the stand-ins do not either.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from helpers.profiles import cache_dir

SIDE = 80  # the smoke image side; the files hold convolution weights only, so they load at any input size
# architecture -> (keras.applications class, its preprocess_input module, epochs, learning rate); augmented training
RECIPES = {
    "vgg16": ("VGG16", "vgg16", 4, 1e-4),
    "inception_v3": ("InceptionV3", "inception_v3", 5, 1e-3),
    "mobilenet_v2": ("MobileNetV2", "mobilenet_v2", 5, 1e-3),
}


def weights_path(architecture: str) -> Path:
    """Where the stand-in file for ``architecture`` lives in the cache; its name carries the recipe, so a new one rebuilds."""
    if architecture not in RECIPES:
        raise ValueError(f"No stand-in recipe for {architecture!r}: choose one of {', '.join(RECIPES)}.")
    _, _, epochs, lr = RECIPES[architecture]
    return cache_dir() / "smoke-weights" / f"{architecture}_smoke_aug_{epochs}ep_{lr:g}_notop.weights.h5"


def _smoke_arrays() -> tuple:
    """The smoke training images, loaded by the course's own loader at ``SIDE`` px (pixels 0-255), and their labels."""
    import numpy as np

    from helpers import data
    from helpers.profiles import Profile

    train, _ = data.image_datasets(data.get_dataset(Profile("smoke")), image_size=SIDE, batch_size=64)
    batches = list(train)  # one pass: images and labels from the same shuffle
    x = np.concatenate([images.numpy() for images, _ in batches])
    return x, np.concatenate([labels.numpy().ravel() for _, labels in batches]).astype("float32")


def _recalibrate_batchnorm(model, x) -> None:
    """Set every BatchNorm layer's moving statistics to those of ``x`` (one pass in training mode, momentum 0)."""
    import keras

    norms = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    saved = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.0
    model(x, training=True)
    for layer, momentum in zip(norms, saved):
        layer.momentum = momentum


def build(architecture: str, seed: int = 0, verbose: int = 0) -> Path:
    """Train ``architecture`` with a temporary head on the smoke training images and save its weights; returns the path.

    Briefly: Adam, a few epochs on augmented images, then the BatchNorm moving statistics are recomputed on the clean
    images, because MobileNetV2's (momentum 0.999) would otherwise still hold their random start and its frozen
    features would be noise.
    """
    import importlib

    import keras

    from helpers import augment

    name, module, epochs, lr = RECIPES[architecture]
    path = weights_path(architecture)
    preprocess = importlib.import_module(f"keras.applications.{module}").preprocess_input
    x, y = _smoke_arrays()
    keras.utils.set_random_seed(seed)
    base = getattr(keras.applications, name)(include_top=False, weights=None, input_shape=(SIDE, SIDE, 3))
    pixels = keras.Input((SIDE, SIDE, 3))
    augmented = augment.augmentation_layers(**augment.SOURCE_RECIPE, seed=seed)(pixels)  # active in fit() only
    features = keras.layers.GlobalAveragePooling2D()(base(preprocess(augmented)))
    probe = keras.Model(pixels, keras.layers.Dense(1, activation="sigmoid")(features))
    probe.compile(keras.optimizers.Adam(lr), "binary_crossentropy", metrics=["accuracy"], jit_compile=False)
    probe.fit(x, y, batch_size=8, epochs=epochs, shuffle=True, verbose=verbose)
    _recalibrate_batchnorm(base, preprocess(x))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.{os.getpid()}.weights.h5")
    try:
        base.save_weights(partial)
        os.replace(partial, path)  # atomic: a second process building at the same time never sees half a file
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return path


def builder_pid_file() -> Path:
    """Where ``python -m helpers.smoke_weights`` records its process id while it builds (make test runs it alongside)."""
    return cache_dir() / "smoke-weights" / "building.pid"


def _builder_running() -> bool:
    try:
        pid = int(builder_pid_file().read_text())
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
        proc = Path(f"/proc/{pid}/cmdline")  # Linux; elsewhere a live process of that id is trusted
        command = proc.read_bytes() if Path("/proc/self").is_dir() else b"helpers.smoke_weights"
    except (OSError, ValueError):  # no file, no such process (or it ended just now)
        return False
    return pid != os.getpid() and b"helpers.smoke_weights" in command  # else a stale file, its id now another program's


def ensure(architecture: str, poll_seconds: float = 0.5, wait_seconds: float = 600) -> Path:
    """The stand-in file for ``architecture``: waited for while the builder runs, else built on first use, then reused."""
    import time

    path, give_up = weights_path(architecture), time.monotonic() + wait_seconds
    while not path.is_file() and _builder_running() and time.monotonic() < give_up:
        time.sleep(poll_seconds)
    return path if path.is_file() else build(architecture)


if __name__ == "__main__":  # make test starts this beside its workers; a notebook that needs a file not yet built waits
    import time

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    marker = builder_pid_file()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(os.getpid()))
    try:
        for arch in RECIPES:
            start, ready = time.time(), weights_path(arch).is_file()
            ensure(arch)
            print(f"smoke stand-in {arch}: {'cached' if ready else f'built in {time.time() - start:.0f} s'} ({weights_path(arch)})")
    finally:
        marker.unlink(missing_ok=True)
