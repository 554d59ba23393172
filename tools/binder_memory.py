"""Measure notebooks the way mybinder.org charges memory: JupyterLab server plus kernel, proportional set size (PSS).

    python tools/binder_memory.py [--profile quick] [--only 03 05] [--random-weights] [--readme]

Starts JupyterLab (as ``make lab`` does; ``--allow-root`` where it runs as root) on a free local port, and for each
notebook opens a session through the server's REST API, so the server starts the kernel as it does for a learner. It
runs every code cell in that kernel (``%%solution`` cells stay skipped, as in a learner's "Run all"), samples the PSS
of the server and the kernel every quarter second (``/proc/PID/smaps_rollup``: shared libraries counted once, which is
how a container's memory is charged), then shuts the kernel down, as the course tells learners to do before the next
notebook. Writes ``build/binder-memory/summary.json`` and ``summary.md``; ``--readme`` puts the table into README.md
between ``<!-- binder:start -->`` and ``<!-- binder:end -->`` and the peaks into ``data/binder_memory.json``, which the
setup cell reads to warn on a small machine. The cell outputs themselves are not kept. ``--memory-limit 2048`` runs
server and kernels inside a memory cgroup of that size (root only), as Binder's container does, and reports a notebook
whose kernel the out-of-memory killer stopped; ``--cpus 1`` gives them one CPU's worth of time and sets ``CPU_LIMIT``,
as Binder does, for timings on Binder's share of a machine (with ``--readme`` its table goes between
``<!-- binder-cpus:start -->`` and ``<!-- binder-cpus:end -->``). ``--readme-from build/binder-memory/summary.json``
runs nothing and writes the README table of an earlier run's summary (after a change to how the table reads). With
``--only``, ``--readme`` replaces only those notebooks' rows of the table and adds a line under it that says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KERNEL_BUDGET_MB = 1600  # issue 17: the kernel's share, so that kernel + server stays well under Binder's 2,000 MB
BINDER_LIMIT_MB = 2000
MARKERS = ("<!-- binder:start -->", "<!-- binder:end -->")
CPU_MARKERS = ("<!-- binder-cpus:start -->", "<!-- binder-cpus:end -->")  # the table of a --cpus run
WEIGHTS = {"smoke": "generated images, stand-in weights"}


def tensorflow_processes(proc: Path = Path("/proc"), exclude: frozenset[int] = frozenset()) -> list[int]:
    """Other processes that have TensorFlow's library mapped: while one runs, the kernel's PSS reads too low.

    PSS splits a shared page among the processes that map it, so a second TensorFlow process on the machine takes
    about 230 MB of libtensorflow's pages off the kernel's figure (744 -> 517 MB after ``import helpers``, measured
    2026-12-07); on Binder the kernel is the only one, and pays for all of them.
    """
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) in exclude or int(entry.name) == os.getpid():
            continue
        try:
            if "libtensorflow" in (entry / "maps").read_text():
                found.append(int(entry.name))
        except (OSError, UnicodeDecodeError):
            continue
    return sorted(found)


def pss_mb(pid: int, field: str = "Pss:") -> float:
    """Proportional set size of one process in MB (0 once it has gone); ``field="Pss_Anon:"``: its anonymous part."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


class Sampler(threading.Thread):
    """Samples the PSS of the server and of the kernel until stopped; keeps the peaks."""

    def __init__(self, server: int, kernel: int, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.server, self.kernel, self.every = server, kernel, every
        self.peak_total = self.peak_kernel = self.peak_server = self.cell_peak = self.peak_before_cell = 0.0
        self.peak_kernel_anon = 0.0  # what cannot be dropped and read back from disk: libraries' code can
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            s, k = pss_mb(self.server), pss_mb(self.kernel)
            self.peak_server, self.peak_kernel = max(self.peak_server, s), max(self.peak_kernel, k)
            self.peak_total = max(self.peak_total, s + k)
            self.cell_peak = max(self.cell_peak, k)
            self.peak_kernel_anon = max(self.peak_kernel_anon, pss_mb(self.kernel, "Pss_Anon:"))
            self._stop_event.wait(self.every)

    def cell_done(self) -> float:
        """How far the kernel's peak rose during the cell that just ended (PSS rarely falls: rises locate the cost)."""
        cell = max(self.cell_peak, pss_mb(self.kernel))
        rise, self.peak_before_cell = max(0.0, cell - self.peak_before_cell), max(self.peak_before_cell, cell)
        self.cell_peak = 0.0
        return rise

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


class BinderCgroup:
    """Fresh cgroups with Binder's limits: memory (v2 ``memory.max``, else v1), no swap, and optionally a CPU quota.

    The server is started inside them, so the kernels it starts are too: together they get what a Binder container
    gets, the kernel's out-of-memory killer acts as it would there, and ``cpus`` CPUs' worth of time is all they may
    use (CFS quota: v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``). Needs root and a writable cgroup file system.
    """

    def __init__(self, limit_mib: int | None, cpus: float | None = None, root: Path = Path("/sys/fs/cgroup"),
                 name: str = "course-binder") -> None:
        v2 = next((d for d in (root, root / "unified") if (d / "cgroup.controllers").is_file()
                   and "memory" in (d / "cgroup.controllers").read_text().split()), None)
        self.v2, self.paths = v2 is not None, []
        if v2:
            self._enable_controllers(v2, ["memory"] * bool(limit_mib) + ["cpu"] * bool(cpus))
        if limit_mib:
            self.path = self._group(v2 / name if v2 else root / "memory" / name)
            self._limit_memory(str(limit_mib * 1024 * 1024))
            self.kills_before = self.oom_kills()
        if cpus:
            group = self._group(v2 / name if v2 else root / "cpu" / name)
            period = 100_000
            if v2:
                (group / "cpu.max").write_text(f"{round(cpus * period)} {period}")
            else:
                (group / "cpu.cfs_period_us").write_text(str(period))
                (group / "cpu.cfs_quota_us").write_text(str(round(cpus * period)))

    @staticmethod
    def _enable_controllers(parent: Path, controllers: list[str]) -> None:
        """cgroup v2: a child group gets only the controllers its parent lists in ``cgroup.subtree_control``; add them."""
        missing = [c for c in controllers if c not in (parent / "cgroup.controllers").read_text().split()]
        if missing:
            raise SystemExit(f"cgroup v2 at {parent} offers no {' or '.join(missing)} controller, so it cannot set "
                             "Binder's limits here: run on a machine (or container) that delegates it.")
        control = parent / "cgroup.subtree_control"
        enabled = control.read_text().split() if control.exists() else []
        for controller in controllers:
            if controller not in enabled:
                try:
                    control.write_text(f"+{controller}")  # the kernel adds it to the list
                except OSError as error:  # e.g. busy: a non-root v2 group that holds processes cannot delegate
                    raise SystemExit(f"Could not enable the {controller} controller in {control} ({error.strerror}): "
                                     "run as root on the host, or in a container whose cgroup is delegated.") from error

    def _group(self, path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        if path not in self.paths:
            self.paths.append(path)
        return path

    def _limit_memory(self, limit: str) -> None:
        if self.v2:
            (self.path / "memory.max").write_text(limit)
            if (self.path / "memory.swap.max").exists():
                (self.path / "memory.swap.max").write_text("0")
            return
        files = [self.path / "memory.limit_in_bytes", self.path / "memory.memsw.limit_in_bytes"]  # memsw: no swap
        files = [f for f in files if f.exists() or f.name == "memory.limit_in_bytes"]
        try:  # v1 wants limit <= memsw at every step: lowering sets the limit first, raising memsw first
            for f in files:
                f.write_text(limit)
        except OSError:
            for f in reversed(files):
                f.write_text(limit)

    def oom_kills(self) -> int:
        """Processes the out-of-memory killer has stopped in this cgroup so far."""
        text = (self.path / ("memory.events" if self.v2 else "memory.oom_control")).read_text()
        return next((int(line.split()[1]) for line in text.splitlines() if line.startswith("oom_kill ")), 0)

    def enter(self) -> None:
        """Move the calling process into the cgroups (used between fork and exec of the server)."""
        for path in self.paths:
            (path / ("cgroup.procs" if self.v2 else "tasks")).write_text(str(os.getpid()))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Lab:
    """A JupyterLab server on localhost with a random token, started and stopped by this tool."""

    def __init__(self, env: dict[str, str], runtime_dir: Path, root: Path = ROOT, log: Path | None = None,
                 cgroup: BinderCgroup | None = None) -> None:
        self.port, self.token, self.runtime_dir = _free_port(), secrets.token_hex(16), runtime_dir
        command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={self.port}", "--ip=127.0.0.1",
                   f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        output = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 (closed with the server)
        self.process = subprocess.Popen(command, env={**env, "JUPYTER_RUNTIME_DIR": str(runtime_dir)},
                                        stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                        preexec_fn=cgroup.enter if cgroup else None)
        for _ in range(240):
            try:
                self.request("GET", "/api/status")
                return
            except OSError:
                time.sleep(0.25)
        raise RuntimeError("JupyterLab did not start within 60 s")

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                     headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as reply:
            text = reply.read()
        return json.loads(text) if text else {}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _kernel_pid(server_pid: int, known: set[int]) -> int:
    import psutil

    for _ in range(120):
        fresh = [p for p in psutil.Process(server_pid).children(recursive=True) if p.pid not in known]
        if fresh:
            return fresh[-1].pid
        time.sleep(0.25)
    raise RuntimeError("the server started no kernel process")


def _run_cell(client: object, source: str, timeout: int, kernel_pid: int, errors: list[str], index: int) -> str:
    """Run one cell and wait for it; 'ok', or 'error' with a line in ``errors`` (an exception, a timeout, a dead kernel)."""
    import queue

    import psutil

    msg_id = client.execute(source, allow_stdin=False)
    deadline = time.time() + timeout
    while True:
        try:
            message = client.get_iopub_msg(timeout=1)
        except queue.Empty:
            try:
                alive = psutil.Process(kernel_pid).status() != psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                alive = False
            if not alive:
                errors.append(f"cell {index}: the kernel died (out of memory?)")
                return "error"
            if time.time() > deadline:
                errors.append(f"cell {index}: no answer within {timeout} s")
                return "error"
            continue
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "error":
            errors.append(f"cell {index}: {message['content']['ename']}: {message['content']['evalue']}")
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            return "error" if errors and errors[-1].startswith(f"cell {index}:") else "ok"


def run_notebook(lab: Lab, notebook: Path, timeout: int) -> dict:
    """Open a session for ``notebook``, run its code cells in the server's kernel, sample memory; returns the figures."""
    import nbformat
    import psutil
    from jupyter_client import BlockingKernelClient

    known = {p.pid for p in psutil.Process(lab.process.pid).children(recursive=True)}
    session = lab.request("POST", "/api/sessions", {"path": str(notebook.relative_to(ROOT)), "type": "notebook",
                                                     "name": notebook.name, "kernel": {"name": "python3"}})
    kernel_id = session["kernel"]["id"]
    kernel_pid = _kernel_pid(lab.process.pid, known)
    client = BlockingKernelClient(connection_file=str(lab.runtime_dir / f"kernel-{kernel_id}.json"))
    client.load_connection_file()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    sampler = Sampler(lab.process.pid, kernel_pid)
    sampler.start()
    errors: list[str] = []
    cells: list[tuple[float, int, str]] = []
    started = time.time()
    try:
        for index, cell in enumerate(nbformat.read(notebook, as_version=4).cells):
            if cell.cell_type != "code":
                continue

            status = _run_cell(client, cell.source, timeout, kernel_pid, errors, index)
            first = next((line for line in cell.source.splitlines() if line.strip() and not line.startswith("#")), "")
            cells.append((round(sampler.cell_done()), index, first[:60]))
            if status != "ok":
                break
    finally:
        seconds = time.time() - started
        sampler.stop()
        client.stop_channels()
        lab.request("DELETE", f"/api/sessions/{session['id']}")  # shut the kernel down, as learners are told to
    return {"notebook": notebook.stem, "seconds": round(seconds, 1), "peak_total_mb": round(sampler.peak_total),
            "peak_kernel_mb": round(sampler.peak_kernel), "peak_server_mb": round(sampler.peak_server),
            "peak_kernel_anon_mb": round(sampler.peak_kernel_anon),
            "errors": errors, "hungriest_cells": [{"cell": i, "kernel_peak_rise_mb": mb, "starts": text}
                                                  for mb, i, text in sorted(cells, reverse=True)[:5]]}


def table(summary: dict) -> str:
    """The Markdown table for README: one row per notebook, with its verdict against the budgets."""
    title = f"Binder time and memory on {summary['cpus']:g} CPU" if summary.get("cpus") else "Binder memory"
    lines = [f"**{title}, profile `{summary['profile']}`**, {summary['date']}, {summary['machine']}; "
             f"{'random weights' if summary['random_weights'] else WEIGHTS.get(summary['profile'], 'ImageNet weights')}"
             "; measured with "
             f"`{summary['command']}` (JupyterLab server + kernel, proportional set size, peak of samples every 0.25 s"
             + (f"; server and kernels ran in a {summary['memory_limit_mib']:,} MiB memory cgroup" if summary.get("memory_limit_mib") else "")
             + (f", limited to {summary['cpus']:g} CPU's worth of time (CFS quota) with `CPU_LIMIT={summary['cpus']:g}`"
                if summary.get("cpus") else "")
             + ").",
             "*Anonymous* is the kernel's own data (arrays, weights, TensorFlow's buffers); the rest of its figure is"
             " library code mapped from disk, which the system can drop under pressure and read back, and which varies"
             " by about 100 MB from run to run with what the disk cache holds.",
             "", "| notebook | time | kernel peak | of which anonymous | server + kernel peak | within budget? |",
             "|---|---:|---:|---:|---:|---|"]
    for row in summary["notebooks"]:
        ok = row["peak_kernel_mb"] <= KERNEL_BUDGET_MB and row["peak_total_mb"] < BINDER_LIMIT_MB and not row["errors"]
        verdict = "yes" if ok else ("error: " + row["errors"][0] if row["errors"] else
                                    f"no (kernel budget {KERNEL_BUDGET_MB:,} MB, Binder limit {BINDER_LIMIT_MB:,} MB)")
        anon = f"{row['peak_kernel_anon_mb']:,} MB" if "peak_kernel_anon_mb" in row else "not measured"
        lines.append(f"| {row['notebook']} | {row['seconds'] / 60:.1f} min | {row['peak_kernel_mb']:,} MB | {anon} | "
                     f"{row['peak_total_mb']:,} MB | {verdict} |")
    return "\n".join(lines)


def write_readme(text: str, readme: Path = ROOT / "README.md", markers: tuple[str, str] = MARKERS) -> None:
    content = readme.read_text()
    start, end = markers
    if start not in content or end not in content:
        raise SystemExit(f"README.md has no {start} ... {end} section to write into")
    head, rest = content.split(start, 1)
    readme.write_text(head + start + "\n" + text + "\n" + end + rest.split(end, 1)[1])


def merge_rows(summary: dict, readme: Path = ROOT / "README.md", markers: tuple[str, str] = MARKERS) -> None:
    """An --only run's rows in place of the same notebooks' rows of README's table, and a line under it saying so."""
    start, end = markers
    content = readme.read_text()
    if start not in content or end not in content:
        raise SystemExit(f"README.md has no {start} ... {end} section to write into")
    lines = content.split(start, 1)[1].split(end, 1)[0].strip("\n").splitlines()

    def name(line: str) -> str:
        return line.split(" | ", 1)[0].removeprefix("| ")

    new = {name(line): line for line in table(summary).splitlines() if line.startswith("| 0")}
    missing = sorted(set(new) - {name(line) for line in lines if line.startswith("| 0")})
    if missing:
        raise SystemExit(f"README's table has no row for {', '.join(missing)}: run every notebook (no --only)")
    lines = [new.get(name(line), line) if line.startswith("| 0") else line for line in lines]
    # An earlier rerun line (and the blank line before it) naming only notebooks rerun now: its rows are gone.
    while lines[-1].startswith("Rerun on ") and set(lines[-1].rsplit("): ", 1)[1].rstrip(".").split(", ")) <= set(new):
        del lines[-2:]
    lines += ["", (f"Rerun on {summary['date']} with `{summary['command']}` (the table's other rows are from the run "
                   f"above): {', '.join(new)}.")]
    write_readme("\n".join(lines), readme, markers)


def write_peaks(summary: dict, path: Path = ROOT / "data" / "binder_memory.json") -> None:
    """The peaks per notebook, for the setup cell's warning on a small machine (helpers.machine.memory_warning)."""
    old = json.loads(path.read_text()) if path.is_file() else {}
    peaks = old.get("peaks_mb", {}) if old.get("profile") == summary["profile"] else {}
    for r in summary["notebooks"]:
        peaks[r["notebook"]] = {"kernel": r["peak_kernel_mb"], "server_and_kernel": r["peak_total_mb"],
                                "date": summary["date"], "command": summary["command"]}
    path.write_text(json.dumps({"source": "tools/binder_memory.py", "machine": summary["machine"],
                                "profile": summary["profile"], "peaks_mb": dict(sorted(peaks.items()))}, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--only", nargs="*", help="notebook number prefixes, e.g. 03 05")
    parser.add_argument("--random-weights", action="store_true")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    parser.add_argument("--readme", action="store_true", help="write the table into README.md")
    parser.add_argument("--memory-limit", type=int, metavar="MIB",
                        help="run server and kernels in a memory cgroup of this many MiB, as Binder's container (2048; root only)")
    parser.add_argument("--cpus", type=float, help="CPUs' worth of time for server and kernels, as Binder's quota (1; "
                        "root only); also sets CPU_LIMIT as Binder does. With --readme, writes the CPU-limited table")
    parser.add_argument("--readme-from", type=Path, metavar="SUMMARY",
                        help="run nothing: write the README table of a summary.json this tool wrote earlier")
    args = parser.parse_args(argv)
    if args.readme_from:
        summary = json.loads(args.readme_from.read_text())
        write_readme(table(summary), markers=CPU_MARKERS if summary.get("cpus") else MARKERS)
        return 0

    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        notebooks = [n for n in notebooks if n.name[:2] in args.only]
    out = ROOT / "build" / "binder-memory"
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "COURSE_PROFILE": args.profile, "COURSE_WORK_DIR": str(out / "work")}
    env.pop("COURSE_SOLUTIONS", None)  # a learner's Run all
    if args.random_weights:
        env["COURSE_RANDOM_WEIGHTS"] = "1"
    others = tensorflow_processes()
    if others:
        raise SystemExit(f"Other processes hold TensorFlow (pids {others}): they share its pages with the kernel, which "
                         "would make every figure read 100-230 MB too low. Stop them (tests, notebooks) and run again.")
    if args.cpus:
        env["CPU_LIMIT"] = f"{args.cpus:g}"  # what Binder sets; the course sizes TensorFlow's threads from it
    cgroup = BinderCgroup(args.memory_limit, args.cpus) if args.memory_limit or args.cpus else None
    rows = []
    with tempfile.TemporaryDirectory(prefix="binder-memory-") as runtime:
        lab = Lab(env, Path(runtime), cgroup=cgroup)
        try:
            for notebook in notebooks:
                print(f"{notebook.name} ...", flush=True)
                kills = cgroup.oom_kills() if args.memory_limit else 0
                row = run_notebook(lab, notebook, args.timeout)
                if args.memory_limit and cgroup.oom_kills() > kills:
                    row["errors"].insert(0, f"killed by the out-of-memory killer under the {args.memory_limit:,} MiB limit")
                print(f"    {row['seconds']:.0f} s, kernel {row['peak_kernel_mb']} MB, server + kernel "
                      f"{row['peak_total_mb']} MB{'; ' + row['errors'][0] if row['errors'] else ''}", flush=True)
                for hot in row["hungriest_cells"][:3]:
                    print(f"      cell {hot['cell']}: peak +{hot['kernel_peak_rise_mb']} MB  {hot['starts']}", flush=True)
                rows.append(row)
        finally:
            lab.stop()
    command = "python tools/binder_memory.py " + " ".join(argv if argv is not None else sys.argv[1:])
    summary = {"profile": args.profile, "random_weights": args.random_weights, "date": date.today().isoformat(),
               "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.system()}",
               "command": command.strip(), "memory_limit_mib": args.memory_limit, "cpus": args.cpus, "notebooks": rows}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "summary.md").write_text(table(summary) + "\n")
    print(table(summary))
    if args.readme:
        markers = CPU_MARKERS if args.cpus else MARKERS
        if args.only:  # its rows replace the same notebooks' rows of the last complete run, with a line saying so
            merge_rows(summary, markers=markers)
        else:
            write_readme(table(summary), markers=markers)
        if not args.cpus:
            write_peaks(summary)  # merged: an --only run updates its notebooks' peaks
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
