"""helpers.smoke_weights: the stand-in backbones smoke runs load where full and quick load ImageNet's file."""

from __future__ import annotations

from pathlib import Path

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


def test_a_notebook_waits_for_the_running_builder_and_builds_only_if_it_has_gone(monkeypatch):
    """make test starts the builder beside its workers: a kernel must wait for its file, not build a second copy."""
    import subprocess
    import sys
    import threading
    import time

    built = []
    monkeypatch.setattr(smoke_weights, "build", lambda architecture: built.append(architecture) or Path("built"))
    path = smoke_weights.weights_path("vgg16")
    path.parent.mkdir(parents=True, exist_ok=True)
    builder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "helpers.smoke_weights"])  # its name
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])  # a stale file's id, now another program's
    try:
        smoke_weights.builder_pid_file().write_text(str(other.pid))
        start = time.monotonic()
        assert smoke_weights.ensure("mobilenet_v2", poll_seconds=0.05, wait_seconds=3) == Path("built")
        assert built == ["mobilenet_v2"] and time.monotonic() - start < 2  # at once: no wait for a program that builds nothing
        built.clear()
        smoke_weights.builder_pid_file().write_text(str(builder.pid))
        threading.Timer(0.5, path.write_bytes, [b"w"]).start()  # the builder finishes the file half a second later
        assert smoke_weights.ensure("vgg16", poll_seconds=0.05) == path and built == []  # waited, built nothing
        path.unlink()
    finally:
        for process in (builder, other):
            process.kill()
            process.wait()
    assert smoke_weights.ensure("inception_v3", poll_seconds=0.05) == Path("built") and built == ["inception_v3"]  # gone


def test_a_changed_recipe_does_not_reuse_the_old_file(monkeypatch):
    before = smoke_weights.weights_path("mobilenet_v2")
    name, module, epochs, lr = smoke_weights.RECIPES["mobilenet_v2"]
    monkeypatch.setitem(smoke_weights.RECIPES, "mobilenet_v2", (name, module, epochs + 1, lr))
    assert smoke_weights.weights_path("mobilenet_v2") != before

