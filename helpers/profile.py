"""Run profiles (full / quick / smoke), seeds and the one-line banner every notebook prints first.

Introduced in ``00_start_here.ipynb``; every notebook's first code cell calls :func:`setup`.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

PROFILES = ("full", "quick", "smoke")
ENV_PROFILE = "COURSE_PROFILE"
ENV_RANDOM_WEIGHTS = "COURSE_RANDOM_WEIGHTS"
ENV_DATA_DIR = "COURSE_DATA_DIR"
ENV_CACHE_DIR = "COURSE_CACHE_DIR"
ENV_WORK_DIR = "COURSE_WORK_DIR"


class ProfileError(ValueError):
    """An unknown profile name or an invalid profile setting."""


@dataclass(frozen=True)
class Profile:
    """How heavy a run is; notebooks read values from it and never branch on its name."""

    name: str
    random_weights: bool = False
    seed: int = 42

    @property
    def real_data(self) -> bool:
        """True when the notebooks train on the real Dogs-vs-Cats photos (full, quick)."""
        return self.name != "smoke"

    @property
    def weights(self) -> str | None:
        """The backbones' weights: 'imagenet'; 'stand-in' in smoke (see helpers.smoke_weights); None with random weights."""
        if self.random_weights:
            return None
        return "stand-in" if self.name == "smoke" else "imagenet"

    @property
    def accuracy_meaningful(self) -> bool:
        """False when the figures a run measures say nothing about the task (smoke data or random weights)."""
        return self.real_data and not self.random_weights

    @property
    def accuracy_note(self) -> str:
        """What a run's accuracies mean, for notebooks to print under them; empty on real photos with ImageNet weights."""
        if self.random_weights:
            return f"Random weights ({ENV_RANDOM_WEIGHTS}=1): these accuracies measure nothing; the times and memory are real."
        if not self.real_data:
            return ("Smoke: generated images and stand-in weights trained on them. These accuracies show that the code "
                    "learns (a broken threshold or label would show at 50%), not how well transfer learning works.")
        return ""

    def pick(self, *, full: T, quick: T, smoke: T) -> T:
        """Return the value given for this profile, e.g. ``EPOCHS = P.pick(full=30, quick=5, smoke=1)``."""
        return {"full": full, "quick": quick, "smoke": smoke}[self.name]

    def image_size(self, source: int) -> int:
        """The source's image side in full and quick; a small side (at least 75, InceptionV3's minimum) in smoke."""
        return self.pick(full=source, quick=source, smoke=min(source, 80))


def cache_dir() -> Path:
    """Folder for downloads and generated data (``COURSE_CACHE_DIR``, default ``~/.cache/transfer-learning-course``)."""
    default = Path.home() / ".cache" / "transfer-learning-course"
    path = Path(os.environ.get(ENV_CACHE_DIR) or default).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def work_dir() -> Path:
    """Folder for what a run writes: saved models, features, results (``COURSE_WORK_DIR``, default ``<cache>/work``)."""
    path = Path(os.environ.get(ENV_WORK_DIR) or cache_dir() / "work").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _gpu_names() -> list[str]:
    import tensorflow as tf

    return [d.name for d in tf.config.list_physical_devices("GPU")]


def resolve_profile(name: str | None = None, random_weights: bool | None = None, seed: int = 42) -> Profile:
    """Build the Profile from an explicit name, else ``COURSE_PROFILE``, else full with a GPU and quick without."""
    chosen = (name or os.environ.get(ENV_PROFILE) or "").strip().lower()
    if not chosen:
        chosen = "full" if _gpu_names() else "quick"
    if chosen not in PROFILES:
        raise ProfileError(
            f"Unknown profile {chosen!r}. Choose one of {', '.join(PROFILES)} "
            f"(set {ENV_PROFILE}=quick before starting Jupyter, or call setup('quick'))."
        )
    if random_weights is None:
        flag = os.environ.get(ENV_RANDOM_WEIGHTS, "").strip().lower()
        if flag not in ("", "0", "1", "true", "false", "yes", "no"):
            raise ProfileError(f"{ENV_RANDOM_WEIGHTS}={flag!r} is not understood: use 1 to opt in, 0 or nothing to opt out.")
        random_weights = flag in ("1", "true", "yes")
    return Profile(name=chosen, random_weights=random_weights, seed=seed)


def banner(profile: Profile) -> str:
    """One line: profile, versions, CPU or GPU, where the data is, and how to change profile."""
    import keras
    import tensorflow as tf

    from helpers import data

    gpus = _gpu_names()
    device = f"GPU x{len(gpus)}" if gpus else f"CPU ({os.cpu_count()} cores)"
    where = data.describe_data_location(profile)
    parts = [
        f"Profile: {profile.name}",
        f"TensorFlow {tf.__version__} / Keras {keras.__version__} / Python {platform.python_version()}",
        device,
        f"data: {where}",
        f"change with {ENV_PROFILE}=full|quick|smoke or setup('quick')",
    ]
    if profile.random_weights:
        parts.insert(1, f"RANDOM WEIGHTS ({ENV_RANDOM_WEIGHTS}=1): timings are real, accuracies are meaningless")
    elif profile.name == "smoke":
        parts.insert(1, "generated images, backbones with stand-in weights trained on them: numbers show the code learns, "
                        "not how well transfer learning works")
    return " | ".join(parts)


def setup(profile: str | None = None, seed: int = 42, random_weights: bool | None = None) -> Profile:
    """Choose the profile, fix the seeds (Python, NumPy, TensorFlow) and print the banner; returns the Profile."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hide TensorFlow's C++ start-up chatter; Python errors still show
    import warnings

    import keras

    # Keras 3.15 warns on every fit() over a tf.data dataset although nobody passed shuffle=True; our pipelines shuffle.
    warnings.filterwarnings("ignore", message="`shuffle=True` was passed, but will be ignored")

    chosen = resolve_profile(profile, random_weights=random_weights, seed=seed)
    keras.utils.set_random_seed(seed)
    print(banner(chosen))
    return chosen


def as_dict(profile: Profile) -> dict[str, Any]:
    """The profile as plain values, for the results a run records."""
    return {"profile": profile.name, "random_weights": profile.random_weights, "seed": profile.seed}
