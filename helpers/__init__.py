"""Plumbing for the transfer-learning course notebooks: profiles, data, plots, widgets, results.

Importing this package downloads, seeds and prints nothing. It starts TensorFlow, with the C++ start-up lines that
TensorFlow writes straight to the process's stderr (oneDNN, CUDA probes) kept off the page: notebooks import it first.
It also has Keras save and load a model's weights through a temporary file (:func:`helpers.machine.save_weights_through_disk`).
"""

from __future__ import annotations

import os
import sys

__version__ = "0.1.0"


def _start_tensorflow_quietly() -> None:
    """Import TensorFlow and probe its devices with file descriptor 2 sent to /dev/null; Python errors still raise."""
    if "tensorflow" in sys.modules:
        return
    # TF 2.21 logs some lines before it reads TF_CPP_MIN_LOG_LEVEL (tensorflow/tensorflow#100442), hence the redirect.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (some embedded interpreters): nothing to hide
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # the CUDA probe ("failed call to cuInit") happens here
        from helpers.machine import limit_tensorflow_threads

        limit_tensorflow_threads()  # Binder grants one CPU of a many-core node: size the pools to the quota
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


if os.environ.get("COURSE_TF_LOG") != "1":  # COURSE_TF_LOG=1 shows TensorFlow's start-up lines again
    _start_tensorflow_quietly()

from helpers.machine import save_weights_through_disk

save_weights_through_disk()  # model.save on Binder's 2 GB: the weights are not held a second time while they are written
