"""Write the README's measured-results section from the summaries that ``make run`` recorded.

    python tools/update_readme.py build/run-quick/summary.json build/run-quick-random/summary.json

Replaces what stands between ``<!-- measured:start -->`` and ``<!-- measured:end -->`` in README.md with one table
per summary (newest figures per notebook win), so no figure in that section is typed by hand.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- measured:start -->", "<!-- measured:end -->"
# The figures worth showing per notebook, in this order, when a notebook recorded them.
KEYS = ("baseline_val_accuracy", "unregularised_val_accuracy", "plain_val_accuracy", "augmented_val_accuracy",
        "gap_plain", "gap_augmented", "val_accuracy_path_a", "val_accuracy_path_b", "val_accuracy",
        "val_accuracy_large_lr", "test_accuracy", "image_size", "epochs")


def _fmt(key: str, value: object) -> str:
    if isinstance(value, float) and "accuracy" in key:
        return f"{key} {value:.1%}"
    if isinstance(value, float):
        return f"{key} {value:.1f}"
    return f"{key} {value}"


def table(summary: dict) -> str:
    """One Markdown table for one summary.json."""
    random = summary["random_weights"] or summary["profile"] == "smoke"
    weights = ("generated images and random weights (what CI runs): only times and memory are shown"
               if summary["profile"] == "smoke" else
               "`COURSE_RANDOM_WEIGHTS=1`: timings and memory are real; accuracies are left out, they mean nothing"
               if random else "real photos, no random-weights setting")
    versions = ", ".join(f"{k} {v}" for k, v in summary["versions"].items())
    lines = [f"**Profile `{summary['profile']}`**, {summary['date'][:10]}, {summary['machine']}; {versions}; {weights}.",
             "", "| notebook | wall time | peak memory | figures recorded (on this run) |", "|---|---:|---:|---|"]
    for name, entry in summary["notebooks"].items():
        figs = entry.get("figures", {})
        shown = "; ".join(_fmt(k, figs[k]) for k in KEYS if k in figs and not (random and "accuracy" in k))
        lines.append(f"| {name} | {entry['seconds'] / 60:.1f} min | {entry['peak_mb']:,.0f} MB | {shown} |")
    total = sum(e["seconds"] for e in summary["notebooks"].values())
    lines.append(f"| all of the above | {total / 60:.1f} min | | |")
    return "\n".join(lines)


def main(paths: list[str]) -> int:
    readme = ROOT / "README.md"
    text = readme.read_text()
    if START not in text or END not in text:
        print(f"README.md lacks the {START} ... {END} markers", file=sys.stderr)
        return 1
    body = "\n\n".join(table(json.loads(Path(p).read_text())) for p in paths)
    text = re.sub(re.escape(START) + r".*?" + re.escape(END), f"{START}\n{body}\n{END}", text, flags=re.S)
    readme.write_text(text)
    print(f"README.md: measured section written from {len(paths)} summaries")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
