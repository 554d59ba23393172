from __future__ import annotations

import pytest

from helpers import machine, session
from helpers.profiles import Profile, ProfileError, resolve_profile


def test_explicit_name_wins_over_environment(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "full")
    assert resolve_profile("smoke").name == "smoke"


def test_environment_sets_profile(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", " Quick ")
    assert resolve_profile().name == "quick"


@pytest.mark.parametrize("gpus, expected", [([], "quick"), (["/physical_device:GPU:0"], "full")])
def test_default_depends_on_gpu(monkeypatch, gpus, expected):
    monkeypatch.setattr(machine, "gpu_names", lambda: gpus)
    assert resolve_profile().name == expected


def test_unknown_profile_names_the_choices():
    with pytest.raises(ProfileError, match=r"Unknown profile 'fulll'.*full, quick, smoke.*COURSE_PROFILE"):
        resolve_profile("fulll")


def test_random_weights_opt_in(monkeypatch):
    monkeypatch.setenv("COURSE_RANDOM_WEIGHTS", "1")
    p = resolve_profile("quick")
    assert p.random_weights and p.weights is None and not p.accuracy_meaningful


def test_bad_random_weights_value_is_explained(monkeypatch):
    monkeypatch.setenv("COURSE_RANDOM_WEIGHTS", "maybe")
    with pytest.raises(ProfileError, match="COURSE_RANDOM_WEIGHTS"):
        resolve_profile("quick")


def test_values_per_profile():
    full, quick, smoke = (Profile(n) for n in ("full", "quick", "smoke"))
    assert [p.pick(full=30, quick=5, smoke=1) for p in (full, quick, smoke)] == [30, 5, 1]
    assert (full.weights, quick.weights, smoke.weights) == ("imagenet", "imagenet", "stand-in")
    assert (full.image_size(150), smoke.image_size(150), smoke.image_size(75)) == (150, 80, 75)
    assert full.accuracy_meaningful and not smoke.accuracy_meaningful and not smoke.real_data


def test_setup_prints_one_line_banner(capsys):
    p = session.setup("smoke", seed=7)
    line = capsys.readouterr().out.strip()
    assert p == Profile("smoke", seed=7)
    assert "\n" not in line
    for part in ("Profile: smoke", "TensorFlow", "Keras", "CPU", "data:", "COURSE_PROFILE", "stand-in weights"):
        assert part in line


def test_setup_fixes_seeds():
    import numpy as np

    session.setup("smoke", seed=3)
    first = np.random.rand(3)
    session.setup("smoke", seed=3)
    assert np.array_equal(first, np.random.rand(3))


def test_random_weights_banner_warns(capsys):
    session.setup("quick", random_weights=True)
    assert "accuracies are meaningless" in capsys.readouterr().out


def test_smoke_with_random_weights_says_random_not_stand_in(monkeypatch):
    monkeypatch.setattr(machine, "gpu_names", lambda: [])
    line = session.banner(Profile("smoke", random_weights=True))
    assert "RANDOM WEIGHTS" in line and "stand-in" not in line


def _run(code: str, **env: str):
    import os
    import subprocess
    import sys

    environment = {k: v for k, v in os.environ.items()
                   if k not in ("TF_CPP_MIN_LOG_LEVEL", "COURSE_TF_LOG", "CPU_LIMIT", "MEM_LIMIT")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**environment, **env})
    assert done.returncode == 0, done.stderr
    return done


def _stderr_of(code: str, **env: str) -> str:
    return _run(code, **env).stderr


def _stdout_of(code: str, **env: str) -> str:
    return _run(code, **env).stdout


def test_importing_helpers_first_keeps_tensorflows_start_up_lines_off_the_page():
    """What a notebook's import cell shows on stderr: nothing, when helpers comes before TensorFlow."""
    quiet = _stderr_of("import helpers, keras, tensorflow as tf; tf.config.list_physical_devices('GPU')")
    assert quiet == "", quiet
    loud = _stderr_of("import helpers, tensorflow as tf; tf.config.list_physical_devices('GPU')", COURSE_TF_LOG="1")
    assert "I0000" in loud or "oneDNN" in loud or "cuda" in loud.lower(), "TensorFlow printed nothing to hide"


def test_every_notebook_imports_helpers_before_tensorflow():
    import json
    import re
    from pathlib import Path

    for path in sorted((Path(__file__).parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        imports = re.findall(r"^(?:import|from) (\w+)", code, flags=re.M)
        first = next((i for i, name in enumerate(imports) if name in ("helpers", "keras", "tensorflow")), None)
        assert first is not None and imports[first] == "helpers", f"{path.name}: import helpers before keras/tensorflow"


def test_cpu_and_memory_quota_read_from_binder_settings_and_both_cgroup_versions(tmp_path, monkeypatch):
    monkeypatch.delenv("CPU_LIMIT", raising=False)
    monkeypatch.delenv("MEM_LIMIT", raising=False)
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cpu.max").write_text("150000 100000\n")
    (v2 / "memory.max").write_text(str(2 * 2**30))
    assert machine.cpu_quota(v2) == 1.5 and machine.memory_limit_mb(v2) == 2048
    (v2 / "cpu.max").write_text("max 100000\n")
    (v2 / "memory.max").write_text("max\n")
    assert machine.cpu_quota(v2) is None and machine.memory_limit_mb(v2) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "memory").mkdir()
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("100000")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000")
    (v1 / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712")  # v1's "no limit"
    assert machine.cpu_quota(v1) == 1.0 and machine.memory_limit_mb(v1) is None
    assert machine.cpu_threads(v1) == 1
    monkeypatch.setenv("CPU_LIMIT", "2.0")
    monkeypatch.setenv("MEM_LIMIT", str(2_147_483_648))  # mybinder.org's 2 GB, in bytes
    assert machine.cpu_quota(v1) == 2.0 and machine.memory_limit_mb(v1) == 2048


def test_tensorflow_threads_and_banner_follow_a_one_cpu_quota():
    import os

    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs a machine with more cores than the quota")
    code = ("import helpers, tensorflow as tf; from helpers import profiles, session; "
            "print(tf.config.threading.get_intra_op_parallelism_threads()); "
            "print(session.banner(profiles.resolve_profile('smoke')))")
    out = _stdout_of(code, CPU_LIMIT="1", MEM_LIMIT=str(2 * 2**30))
    threads, banner = out.splitlines()[-2:]
    assert threads == "1" and f"CPU (1 of the machine's {os.cpu_count()} cores), memory limit 2,048 MB" in banner


def test_other_kernels_are_found_and_warned_about_only_on_a_small_machine(tmp_path):
    for pid, cmd, rss_kb in ((101, "python -m ipykernel_launcher -f k.json", 900_000),
                             (102, "python -m jupyterlab", 120_000), (103, "python -m ipykernel_launcher -f j.json", 50_000)):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "cmdline").write_text(cmd.replace(" ", "\0"))
        (tmp_path / str(pid) / "status").write_text(f"Name:\tpython\nVmRSS:\t{rss_kb} kB\n")
    kernels = machine.other_kernels(tmp_path)
    assert [pid for pid, _ in kernels] == [101, 103] and round(kernels[0][1]) == 879
    warning = machine.kernel_warning(2048, kernels)
    assert "1 other Jupyter kernel(s) hold 879 MB of this machine's 2,048 MB" in warning and "Shut Down" in warning
    assert machine.kernel_warning(16_384, kernels) == "" and machine.kernel_warning(None, kernels) == ""
    assert machine.kernel_warning(2048, [(103, 48.8)]) == ""  # an idle, nearly empty kernel is not worth a warning


def test_memory_warning_reads_the_measured_peak_of_this_notebook(tmp_path, monkeypatch):
    import json


    peaks = tmp_path / "binder_memory.json"
    peaks.write_text(json.dumps({"profile": "quick", "date": "2026-12-04", "peaks_mb": {
        "05_x": {"kernel": 2010, "server_and_kernel": 2087}, "00_y": {"kernel": 840, "server_and_kernel": 916}}}))
    warning = machine.memory_warning(2048, "05_x", "quick", peaks)
    assert "peaked at 2,087 MB" in warning and "allows 2,048 MB" in warning and "smoke" in warning
    assert machine.memory_warning(2048, "00_y", "quick", peaks) == ""  # far below the limit
    assert machine.memory_warning(16_384, "05_x", "quick", peaks) == ""  # a large machine
    assert machine.memory_warning(2048, "05_x", "smoke", peaks) == ""  # measured for another profile
    assert machine.memory_warning(2048, "unknown", "quick", peaks) == ""
    assert machine.memory_warning(2048, "05_x", "quick", tmp_path / "absent.json") == ""  # e.g. pip-installed on Colab
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/jovyan/notebooks/05_x.ipynb")
    assert machine.current_notebook() == "05_x"


def test_the_committed_peaks_cover_every_notebook():
    import json
    from pathlib import Path


    measured = json.loads(machine.MEASURED_PEAKS.read_text())
    names = {p.stem for p in (Path(__file__).parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert names <= set(measured["peaks_mb"]) and measured["source"].startswith("tools/binder_memory.py")


def test_a_library_replaced_under_the_running_kernel_asks_for_a_restart(monkeypatch, capsys):
    """On Colab `%pip install -q` hides the line that offers a restart: the setup cell must say so itself."""
    import types

    import keras
    import numpy

    assert session.restart_warning() == ""  # here every loaded library is the one installed
    line = session.restart_warning({"numpy": types.SimpleNamespace(__version__="1.0.0"), "keras": keras})
    assert f"(numpy 1.0.0 is loaded, {numpy.__version__} installed)" in line and "Restart Kernel" in line
    monkeypatch.setattr(session, "restart_warning", lambda: "Warning: an install replaced libraries")
    session.setup("smoke")
    assert "Warning: an install replaced libraries" in capsys.readouterr().out


def test_saving_a_model_does_not_hold_its_weights_twice_in_memory(tmp_path):
    import tracemalloc

    import keras
    import numpy as np

    import helpers  # noqa: F401  (importing it is what sets Keras up)

    model = keras.Sequential([keras.Input((1000,))] + [keras.layers.Dense(1000) for _ in range(8)])  # 32 MB, float32
    weights_mb = sum(int(np.prod(v.shape)) * 4 for v in model.weights) / 1e6
    tracemalloc.start()
    try:
        model.save(tmp_path / "big.keras")
        peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()
    # In memory, Keras builds the whole weight file in a buffer and copies it into the zip (measured: 40 MB here);
    # through a temporary file, only about one layer's weights at a time are in Python's memory (8 MB).
    assert peak_mb < 0.5 * weights_mb, f"saving {weights_mb:.0f} MB of weights took {peak_mb:.0f} MB of Python memory"
    reloaded = keras.models.load_model(tmp_path / "big.keras")
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), reloaded.get_weights()))
    assert [p.name for p in tmp_path.iterdir()] == ["big.keras"], "no temporary file is left behind"
