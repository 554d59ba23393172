"""Execute every course notebook headless, in order, in one profile; record time, peak memory and results.

    python tools/run_notebooks.py --profile quick [--only 00 03] [--random-weights]

Writes ``build/run-<profile>/``: the executed notebooks, a per-cell timing log for each (``NN_name.cells.log``),
``summary.json`` and ``summary.md``. Stops at the first
failing notebook and names the cell. ``make run PROFILE=quick`` calls this.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
PEAK_TAG = "__COURSE_PEAK_MB__"


def _version(pkg: str) -> str:
    try:
        return version(pkg)
    except PackageNotFoundError:
        return "not installed"


def _failing_cell(nb: nbformat.NotebookNode) -> tuple[int, str, str]:
    """Index, first source line and error line of the cell that raised."""
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                first = next((l for l in cell.source.splitlines() if l.strip()), "")
                return i, first, f"{out.get('ename')}: {out.get('evalue')}"
    return -1, "", "unknown error"


def _kernel_memory(client: NotebookClient) -> str:
    """The kernel process's resident and peak memory (Linux /proc), or '' where that cannot be read."""
    try:
        pid = client.km.provisioner.process.pid
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        rss, peak = (int(fields[k].split()[0]) * 1024 / 1e6 for k in ("VmRSS", "VmHWM"))  # /proc's "kB" are KiB
        return f"RSS {rss:6.0f} MB, peak {peak:6.0f} MB"
    except (AttributeError, OSError, KeyError, ValueError):
        return ""


def run_one(path: Path, out_dir: Path, timeout: int) -> dict:
    """Execute one notebook; return its wall time and peak memory, or raise SystemExit naming the failing cell."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        f"from helpers.timing import peak_memory_mb\nprint('{PEAK_TAG}', round(peak_memory_mb(), 1))"))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    log = (out_dir / f"{path.stem}.cells.log").open("w")
    started: dict[int, float] = {}

    def on_start(cell: nbformat.NotebookNode, cell_index: int) -> None:
        started[cell_index] = time.perf_counter()
        first = next((l for l in cell.source.splitlines() if l.strip()), "")[:70]
        log.write(f"cell {cell_index:3d} start  {first}\n")
        log.flush()

    def on_executed(cell: nbformat.NotebookNode, cell_index: int, execute_reply: dict) -> None:
        seconds = time.perf_counter() - started.get(cell_index, 0)
        log.write(f"cell {cell_index:3d} done   {seconds:7.1f} s   {_kernel_memory(client)}\n")
        log.flush()

    client.on_cell_start, client.on_cell_executed = on_start, on_executed
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError:
        nbformat.write(nb, out_dir / path.name)
        index, first, error = _failing_cell(nb)
        raise SystemExit(f"FAILED {path.name}, cell {index} ({first!r}): {error}\n"
                         f"The executed copy is in {out_dir / path.name}.")
    seconds = time.perf_counter() - start
    probe = nb.cells.pop()
    text = "".join(o.get("text", "") for o in probe.get("outputs", []))
    peak = next((float(l.split()[1]) for l in text.splitlines() if l.startswith(PEAK_TAG)), None)
    nbformat.write(nb, out_dir / path.name)
    return {"seconds": round(seconds, 1), "peak_mb": peak}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default=os.environ.get("COURSE_PROFILE", "smoke"))
    parser.add_argument("--only", nargs="*", help="notebook number prefixes to run, e.g. 00 03")
    parser.add_argument("--random-weights", action="store_true", help="set COURSE_RANDOM_WEIGHTS=1 (timings only)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args(argv)

    out_dir = ROOT / "build" / f"run-{args.profile}{'-random' if args.random_weights else ''}"
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ["COURSE_PROFILE"] = args.profile
    os.environ.setdefault("COURSE_WORK_DIR", str(out_dir / "work"))
    os.environ.setdefault("COURSE_SOLUTIONS", "1")  # run the %%solution cells too: their asserts are checks
    if args.random_weights:
        os.environ["COURSE_RANDOM_WEIGHTS"] = "1"

    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        notebooks = [p for p in notebooks if p.name[:2] in args.only]
    summary = {
        "profile": args.profile,
        "random_weights": args.random_weights,
        "solutions": os.environ["COURSE_SOLUTIONS"] == "1",  # %%solution cells run (make run) or skipped (Run all)
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.system()}",
        "versions": {p: _version(p) for p in ("tensorflow", "keras", "numpy")} | {"python": platform.python_version()},
        "notebooks": {},
    }
    previous = out_dir / "summary.json"
    if args.only and previous.is_file():  # a partial run updates the earlier summary instead of replacing it
        summary["notebooks"] = json.loads(previous.read_text()).get("notebooks", {})
    status = 0
    for i, path in enumerate(notebooks, 1):
        print(f"[{i}/{len(notebooks)}] {path.name} ({args.profile}) ...", flush=True)
        try:
            entry = run_one(path, out_dir, args.timeout)
        except SystemExit as exc:
            print(exc, flush=True)
            status = 1
            break
        results_file = Path(os.environ["COURSE_WORK_DIR"]) / "results" / f"{path.stem}.json"
        if results_file.is_file():
            entry["figures"] = json.loads(results_file.read_text()).get("figures", {})
        summary["notebooks"][path.stem] = entry
        print(f"    done in {entry['seconds']:.1f} s, peak memory {entry['peak_mb']} MB", flush=True)
    summary["notebooks"] = dict(sorted(summary["notebooks"].items()))
    summary["total_seconds"] = round(sum(e["seconds"] for e in summary["notebooks"].values()), 1)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out_dir / "summary.md").write_text(markdown(summary))
    print(f"summary: {out_dir / 'summary.md'} (total {summary['total_seconds']:.0f} s)")
    return status


def markdown(summary: dict) -> str:
    """The summary as a Markdown table: one row per notebook."""
    lines = [
        f"Profile `{summary['profile']}`{' with random weights (accuracies meaningless)' if summary['random_weights'] else ''}, "
        f"{summary['date'][:10]}, {summary['machine']}, "
        + ", ".join(f"{k} {v}" for k, v in summary["versions"].items()),
        "",
        "| notebook | wall time (s) | peak memory (MB) | figures recorded |",
        "|---|---:|---:|---|",
    ]
    for name, entry in summary["notebooks"].items():
        figs = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in entry.get("figures", {}).items())
        lines.append(f"| {name} | {entry['seconds']:.1f} | {entry['peak_mb']} | {figs} |")
    lines.append(f"| **all notebooks** | {summary['total_seconds']:.1f} | | |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
