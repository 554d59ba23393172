"""Run profiles (full / quick / smoke) and the course's folders (downloads, work).

Introduced in ``00_start_here.ipynb``; :func:`helpers.session.setup` resolves the profile every notebook runs in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from helpers import machine

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


def resolve_profile(name: str | None = None, random_weights: bool | None = None, seed: int = 42) -> Profile:
    """Build the Profile from an explicit name, else ``COURSE_PROFILE``, else full with a GPU and quick without."""
    chosen = (name or os.environ.get(ENV_PROFILE) or "").strip().lower()
    if not chosen:
        chosen = "full" if machine.gpu_names() else "quick"
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


def as_dict(profile: Profile) -> dict[str, Any]:
    """The profile as plain values, for the results a run records."""
    return {"profile": profile.name, "random_weights": profile.random_weights, "seed": profile.seed}
