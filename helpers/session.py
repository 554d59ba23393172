"""The first cell of every notebook: choose the profile, fix the seeds, print the banner and any memory warning.

Introduced in ``00_start_here.ipynb``; every notebook's setup cell calls :func:`setup`. It sits above
:mod:`helpers.profiles`, :mod:`helpers.machine`, :mod:`helpers.data` and :mod:`helpers.exercises`, which import nothing from here.
"""

from __future__ import annotations

import os
import platform

from helpers import data, machine, profiles
from helpers.exercises import register_solution_magic
from helpers.profiles import Profile


def banner(chosen: Profile) -> str:
    """One line: profile, versions, CPU or GPU, where the data is, and how to change profile."""
    import keras
    import tensorflow as tf

    gpus = machine.gpu_names()
    threads, limit = machine.cpu_threads(), machine.memory_limit_mb()
    cores = f"{threads} cores" if threads == os.cpu_count() else f"{threads} of the machine's {os.cpu_count()} cores"
    device = f"GPU x{len(gpus)}" if gpus else f"CPU ({cores})"
    if limit:
        device += f", memory limit {limit:,.0f} MB"
    where = data.describe_data_location(chosen)
    parts = [
        f"Profile: {chosen.name}",
        f"TensorFlow {tf.__version__} / Keras {keras.__version__} / Python {platform.python_version()}",
        device,
        f"data: {where}",
        f"change with {profiles.ENV_PROFILE}=full|quick|smoke or setup('quick')",
    ]
    if chosen.random_weights:
        parts.insert(1, f"RANDOM WEIGHTS ({profiles.ENV_RANDOM_WEIGHTS}=1): timings are real, accuracies are meaningless")
    elif chosen.name == "smoke":
        parts.insert(1, "generated images, backbones with stand-in weights trained on them: numbers show the code learns, "
                        "not how well transfer learning works")
    return " | ".join(parts)


# The course's libraries, distribution name -> module name, that an install in the first cell could upgrade under a
# kernel that has already loaded them (Colab preloads some). `%pip install -q` hides the line Colab reads to offer a restart.
LOADED_LIBRARIES = {"numpy": "numpy", "pandas": "pandas", "matplotlib": "matplotlib", "scikit-learn": "sklearn",
                    "pillow": "PIL", "ipywidgets": "ipywidgets", "keras": "keras", "tensorflow": "tensorflow"}


def restart_warning(modules: dict | None = None) -> str:
    """A line for the banner when a library this kernel has loaded is not the version now installed: restart needed."""
    import sys
    from importlib import metadata

    loaded_modules = sys.modules if modules is None else modules
    stale = []
    for distribution, module_name in LOADED_LIBRARIES.items():
        loaded = getattr(loaded_modules.get(module_name), "__version__", None)
        try:
            installed = metadata.version(distribution)
        except metadata.PackageNotFoundError:  # e.g. TensorFlow installed as tensorflow-cpu: nothing to compare
            continue
        if loaded and loaded != installed:
            stale.append(f"{distribution} {loaded} is loaded, {installed} installed")
    if not stale:
        return ""
    return (f"Warning: an install replaced libraries this kernel had already loaded ({'; '.join(stale)}). Restart it "
            "(Colab: Runtime → Restart session; Jupyter: Kernel → Restart Kernel), then run the notebook from the top.")


def setup(name: str | None = None, seed: int = 42, random_weights: bool | None = None) -> Profile:
    """Choose the profile, fix the seeds (Python, NumPy, TensorFlow) and print the banner; returns the Profile."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hide TensorFlow's C++ start-up chatter; Python errors still show
    import warnings

    import keras

    # Keras 3.15 warns on every fit() over a tf.data dataset although nobody passed shuffle=True; our pipelines shuffle.
    warnings.filterwarnings("ignore", message="`shuffle=True` was passed, but will be ignored")

    register_solution_magic()  # the notebooks' last cell, %%solution, runs only when asked
    chosen = profiles.resolve_profile(name, random_weights=random_weights, seed=seed)
    keras.utils.set_random_seed(seed)
    print(banner(chosen))
    for warning in (restart_warning(), machine.kernel_warning(machine.memory_limit_mb(), machine.other_kernels()),
                    machine.memory_warning(machine.memory_limit_mb(), machine.current_notebook(), chosen.name)):
        if warning:
            print(warning)
    return chosen
