"""The machine a notebook runs on: its CPU and memory quota (cgroup, Binder's limits), other kernels, GPUs.

Read by :func:`helpers.session.setup` for the banner and its warnings, and when ``import helpers`` sizes TensorFlow's
thread pools to the quota.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

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


def save_weights_through_disk() -> None:
    """Make Keras write and read a .keras file's weights through a temporary file, not a whole copy in memory."""
    # Keras keeps the weights in memory when they fit in half of psutil's "available" memory: the node's, which a
    # container's quota hides (Binder: 2 GB of a many-GB node). Measured in 05 (quick): saving its model raised the
    # kernel's resident memory by 230 MB with the weights in memory, by 100 MB through a file.
    from keras.src.saving import saving_lib

    if hasattr(saving_lib, "_MEMORY_UPPER_BOUND"):  # Keras 3.8 to 3.15 at least; a later Keras may decide otherwise
        saving_lib._MEMORY_UPPER_BOUND = 0.0


def gpu_names() -> list[str]:
    """Names of the GPUs TensorFlow sees (empty on a CPU)."""
    import tensorflow as tf

    return [d.name for d in tf.config.list_physical_devices("GPU")]
