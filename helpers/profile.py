"""Run profiles (full / quick / smoke), seeds and the one-line banner every notebook prints first.

Introduced in ``00_start_here.ipynb``; every notebook's first code cell calls :func:`setup`.
"""

from __future__ import annotations

import json
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


CGROUP = Path("/sys/fs/cgroup")


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def cpu_quota(root: Path = CGROUP) -> float | None:
    """CPUs this container may use: Binder's ``CPU_LIMIT``, else the cgroup quota (v2 or v1); None if unlimited."""
    try:
        if float(os.environ.get("CPU_LIMIT") or 0) > 0:
            return float(os.environ["CPU_LIMIT"])
    except ValueError:
        pass
    quota, _, period = _read(root / "cpu.max").partition(" ")  # v2: "200000 100000" or "max 100000"
    if not period:
        quota, period = _read(root / "cpu" / "cpu.cfs_quota_us"), _read(root / "cpu" / "cpu.cfs_period_us")  # v1
    try:
        cpus = float(quota) / float(period)
    except (ValueError, ZeroDivisionError):
        return None
    return cpus if cpus > 0 else None


def memory_limit_mb(root: Path = CGROUP) -> float | None:
    """Memory this container may use, in MB: Binder's ``MEM_LIMIT`` (bytes), else the cgroup limit; None if unlimited."""
    for text in (os.environ.get("MEM_LIMIT", ""), _read(root / "memory.max"), _read(root / "memory" / "memory.limit_in_bytes")):
        try:
            limit = float(text)
        except ValueError:
            continue
        if 0 < limit < 2**60:  # v1 writes a huge number for "no limit"
            return limit / 2**20
    return None


def cpu_threads(root: Path = CGROUP) -> int:
    """Threads worth running: the cores Python may use, capped by the container's CPU quota (at least one)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = cpu_quota(root)
    return max(1, min(cores, int(quota)) if quota else cores)


def other_kernels(proc: Path = Path("/proc")) -> list[tuple[int, float]]:
    """Other Jupyter kernels of this machine and their resident memory in MB (Linux; empty elsewhere)."""
    found = []
    for entry in proc.glob("[0-9]*"):
        if int(entry.name) == os.getpid():
            continue
        cmdline = _read(entry / "cmdline").replace("\0", " ")
        if "ipykernel_launcher" not in cmdline and "ipykernel " not in cmdline:
            continue
        rss = next((line.split()[1] for line in _read(entry / "status").splitlines() if line.startswith("VmRSS:")), "0")
        found.append((int(entry.name), int(rss) / 1024))
    return sorted(found)


def kernel_warning(limit_mb: float | None, kernels: list[tuple[int, float]]) -> str:
    """A line for the banner when other kernels hold memory on a small machine (a memory limit under 4 GB)."""
    holding = [(pid, mb) for pid, mb in kernels if mb >= 200]
    if not limit_mb or limit_mb > 4096 or not holding:
        return ""
    total = sum(mb for _, mb in holding)
    return (f"Warning: {len(holding)} other Jupyter kernel(s) hold {total:,.0f} MB of this machine's {limit_mb:,.0f} MB. "
            "Shut down the notebooks you are done with (Kernel → Shut Down Kernel, or the Running panel), or this one "
            "may be stopped for lack of memory.")


MEASURED_PEAKS = Path(__file__).resolve().parents[1] / "data" / "binder_memory.json"  # in a clone and on Binder


def memory_warning(limit_mb: float | None, notebook: str, profile: str, peaks: Path = MEASURED_PEAKS) -> str:
    """A line for the banner when this notebook's measured peak (server + kernel) nears the machine's memory limit."""
    try:
        measured = json.loads(peaks.read_text())
        entry = measured["peaks_mb"][notebook]
        peak, when = entry["server_and_kernel"], entry.get("date", measured.get("date", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    if not limit_mb or measured.get("profile") != profile or peak < 0.9 * limit_mb:
        return ""
    return (f"Warning: in {profile}, this notebook peaked at {peak:,} MB (JupyterLab server + kernel, measured "
            f"{when}) and this machine allows {limit_mb:,.0f} MB: it may be stopped. Shut down "
            "every other kernel first; if it still stops, run it in smoke here, or in quick on Colab or your laptop.")


def current_notebook() -> str:
    """The running notebook's name without .ipynb, from JupyterLab's JPY_SESSION_NAME; empty outside a notebook."""
    return Path(os.environ.get("JPY_SESSION_NAME", "")).stem


def limit_tensorflow_threads() -> None:
    """Size TensorFlow's thread pools to :func:`cpu_threads` (it sizes them from the node's cores otherwise)."""
    import tensorflow as tf

    threads = cpu_threads()
    if threads < (os.cpu_count() or threads):
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # TensorFlow already ran an operation: its pools are fixed for this process
            pass


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
    threads, limit = cpu_threads(), memory_limit_mb()
    cores = f"{threads} cores" if threads == os.cpu_count() else f"{threads} of the machine's {os.cpu_count()} cores"
    device = f"GPU x{len(gpus)}" if gpus else f"CPU ({cores})"
    if limit:
        device += f", memory limit {limit:,.0f} MB"
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

    from helpers.exercises import register_solution_magic

    register_solution_magic()  # the notebooks' last cell, %%solution, runs only when asked
    chosen = resolve_profile(profile, random_weights=random_weights, seed=seed)
    keras.utils.set_random_seed(seed)
    print(banner(chosen))
    for warning in (kernel_warning(memory_limit_mb(), other_kernels()),
                    memory_warning(memory_limit_mb(), current_notebook(), chosen.name)):
        if warning:
            print(warning)
    return chosen


def as_dict(profile: Profile) -> dict[str, Any]:
    """The profile as plain values, for the results a run records."""
    return {"profile": profile.name, "random_weights": profile.random_weights, "seed": profile.seed}
