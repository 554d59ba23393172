"""tools/binder_memory.py: the memory it reads, the verdicts it writes, and where README gets them."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("binder_memory", ROOT / "tools" / "binder_memory.py")
binder_memory = importlib.util.module_from_spec(spec)
spec.loader.exec_module(binder_memory)


def test_pss_of_a_live_process_grows_with_what_it_holds_and_is_zero_once_gone():
    if not Path(f"/proc/{os.getpid()}/smaps_rollup").exists():
        pytest.skip("needs Linux's /proc/PID/smaps_rollup")
    before, anon_before = binder_memory.pss_mb(os.getpid()), binder_memory.pss_mb(os.getpid(), "Pss_Anon:")
    block = bytearray(200 * 2**20)  # 200 MB, touched
    block[:: 4096] = b"x" * len(block[:: 4096])
    assert binder_memory.pss_mb(os.getpid()) - before > 150
    assert binder_memory.pss_mb(os.getpid(), "Pss_Anon:") - anon_before > 150  # a bytearray is anonymous memory
    assert binder_memory.pss_mb(2**22 + 12345) == 0.0  # no such process


def _summary(**row):
    base = {"notebook": "03_x", "seconds": 60.0, "peak_total_mb": 1500, "peak_kernel_mb": 1400, "peak_server_mb": 100,
            "errors": []}
    return {"profile": "quick", "random_weights": True, "date": "2026-12-04", "machine": "m", "command": "c",
            "notebooks": [{**base, **row}]}


@pytest.mark.parametrize("row, verdict", [
    ({}, "| yes |"),
    ({"peak_kernel_mb": 1700, "peak_total_mb": 1800}, "| no (kernel budget 1,600 MB"),
    ({"peak_kernel_mb": 1500, "peak_total_mb": 2050}, "| no (kernel budget"),
    ({"errors": ["cell 3: MemoryError: "]}, "| error: cell 3: MemoryError"),
])
def test_table_says_within_budget_only_when_kernel_and_total_both_fit(row, verdict):
    assert verdict in binder_memory.table(_summary(**row))


def test_table_shows_the_anonymous_part_where_it_was_measured():
    assert "| 1,400 MB | 900 MB | 1,500 MB |" in binder_memory.table(_summary(peak_kernel_anon_mb=900))
    assert "| 1,400 MB | not measured | 1,500 MB |" in binder_memory.table(_summary())


def test_a_cpu_limited_run_is_titled_as_a_time_and_memory_table():
    assert binder_memory.table(_summary()).startswith("**Binder memory, profile `quick`**")
    limited = binder_memory.table({**_summary(), "cpus": 1.0, "memory_limit_mib": 2048})
    assert limited.startswith("**Binder time and memory on 1 CPU, profile `quick`**")
    assert "limited to 1 CPU's worth of time (CFS quota) with `CPU_LIMIT=1`" in limited


def test_readme_has_the_section_the_tool_writes(tmp_path):
    readme = (ROOT / "README.md").read_text()
    start, end = binder_memory.MARKERS
    assert readme.count(start) == 1 and readme.count(end) == 1
    copy = tmp_path / "README.md"
    copy.write_text(readme)
    binder_memory.write_readme("NEW TABLE", copy)
    text = copy.read_text()
    assert f"{start}\nNEW TABLE\n{end}" in text and text.replace(text[text.index(start):text.index(end)], "") == \
        readme.replace(readme[readme.index(start):readme.index(end)], "")


def test_an_only_run_replaces_its_rows_of_the_readme_table_and_says_so(tmp_path):
    start, end = binder_memory.MARKERS
    readme = tmp_path / "README.md"
    full = {**_summary(), "notebooks": [{**_summary()["notebooks"][0], "notebook": name} for name in ("03_x", "05_y")]}
    readme.write_text(f"intro\n{start}\n{binder_memory.table(full)}\n{end}\nrest\n")
    rerun = {**_summary(notebook="05_y", seconds=600.0, peak_kernel_mb=1700), "date": "2026-12-09", "command": "c --only 05"}
    binder_memory.merge_rows(rerun, readme)
    text = readme.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| 0")]
    assert rows == [binder_memory.table(full).splitlines()[-2], binder_memory.table(rerun).splitlines()[-1]]
    assert "10.0 min | 1,700 MB" in rows[1] and "1.0 min | 1,400 MB" in rows[0]
    assert "Rerun on 2026-12-09 with `c --only 05`" in text and text.startswith("intro\n") and text.endswith(f"{end}\nrest\n")
    binder_memory.merge_rows({**rerun, "date": "2026-12-10"}, readme)  # the same notebook again: one line, the newest
    text = readme.read_text()
    assert "Rerun on 2026-12-10" in text and "2026-12-09" not in text and text.count("Rerun on") == 1
    with pytest.raises(SystemExit, match="no row for 07_z"):
        binder_memory.merge_rows(_summary(notebook="07_z"), readme)


def test_an_only_run_updates_its_notebooks_peaks_and_keeps_the_others(tmp_path):
    import json

    path = tmp_path / "peaks.json"
    binder_memory.write_peaks(_summary(notebook="03_x", peak_total_mb=1900), path)
    binder_memory.write_peaks(_summary(notebook="05_y", peak_total_mb=1850), path)
    binder_memory.write_peaks(_summary(notebook="03_x", peak_total_mb=1700), path)
    peaks = json.loads(path.read_text())["peaks_mb"]
    assert {name: p["server_and_kernel"] for name, p in peaks.items()} == {"03_x": 1700, "05_y": 1850}
    assert peaks["03_x"]["command"] == "c" and peaks["03_x"]["date"] == "2026-12-04"


def test_other_tensorflow_processes_are_found_so_that_the_measurement_refuses_to_run(tmp_path):
    for pid, maps in ((11, "7f00 r-xp /x/site-packages/tensorflow/libtensorflow_cc.so.2\n"),
                      (12, "7f00 r-xp /usr/lib/libc.so.6\n"), (13, "7f00 r-xp /x/libtensorflow_framework.so.2\n")):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "maps").write_text(maps)
    (tmp_path / "self").mkdir()
    assert binder_memory.tensorflow_processes(tmp_path) == [11, 13]
    assert binder_memory.tensorflow_processes(tmp_path, exclude=frozenset({13})) == [11]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_memory_cgroup_sets_the_limit_without_swap_and_counts_oom_kills(tmp_path, version):
    if version == "v2":
        (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
        group = tmp_path / "course-binder"
        group.mkdir()
        (group / "memory.swap.max").write_text("max")
        (group / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    else:
        group = tmp_path / "memory" / "course-binder"
        group.mkdir(parents=True)
        (group / "memory.memsw.limit_in_bytes").write_text("9223372036854771712")
        (group / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
    cgroup = binder_memory.BinderCgroup(2048, root=tmp_path)
    limit = group / ("memory.max" if version == "v2" else "memory.limit_in_bytes")
    assert cgroup.path == group and limit.read_text() == str(2048 * 1024 * 1024)
    no_swap = group / ("memory.swap.max" if version == "v2" else "memory.memsw.limit_in_bytes")
    assert no_swap.read_text() == ("0" if version == "v2" else str(2048 * 1024 * 1024))
    assert cgroup.kills_before == cgroup.oom_kills() == 1


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_binder_cgroup_sets_a_cpu_quota_in_the_cpu_hierarchy(tmp_path, version):
    if version == "v2":
        (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
        (tmp_path / "course-binder").mkdir()
        (tmp_path / "course-binder" / "memory.events").write_text("oom_kill 0\n")
    else:
        (tmp_path / "memory" / "course-binder").mkdir(parents=True)
        (tmp_path / "memory" / "course-binder" / "memory.oom_control").write_text("oom_kill 0\n")
    cgroup = binder_memory.BinderCgroup(2048, cpus=1, root=tmp_path)
    if version == "v2":
        assert cgroup.paths == [tmp_path / "course-binder"]  # v2: one group holds both limits
        assert (tmp_path / "course-binder" / "cpu.max").read_text() == "100000 100000"
    else:
        assert cgroup.paths == [tmp_path / "memory" / "course-binder", tmp_path / "cpu" / "course-binder"]
        quota, period = (tmp_path / "cpu" / "course-binder" / f"cpu.cfs_{n}_us" for n in ("quota", "period"))
        assert quota.read_text() == period.read_text() == "100000"  # one CPU: the whole period
    half = binder_memory.BinderCgroup(None, cpus=0.5, root=tmp_path / "half")
    assert (half.paths[0] / "cpu.cfs_quota_us").read_text() == "50000"


def test_binder_cgroup_v2_delegates_its_controllers_or_says_it_cannot(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("memory\n")  # what the parent hands its children so far
    (tmp_path / "course-binder").mkdir()
    (tmp_path / "course-binder" / "memory.events").write_text("oom_kill 0\n")
    binder_memory.BinderCgroup(2048, cpus=1, root=tmp_path)
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+cpu"  # memory was there; cpu added (the kernel appends)
    (tmp_path / "cgroup.controllers").write_text("memory pids\n")  # a container that was not given the cpu controller
    with pytest.raises(SystemExit, match="offers no cpu controller"):
        binder_memory.BinderCgroup(2048, cpus=1, root=tmp_path)
