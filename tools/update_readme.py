"""Write the README's measured-results section from the summaries that ``make run`` recorded.

    python tools/update_readme.py build/run-quick/summary.json build/run-quick-random/summary.json
    python tools/update_readme.py --bench build/bench/vgg16_feature_extraction_*.md

Replaces what stands between ``<!-- measured:start -->`` and ``<!-- measured:end -->`` in README.md with one table
per summary (newest figures per notebook win), and with ``--bench`` what stands between ``<!-- bench:start -->`` and
``<!-- bench:end -->`` with the tables that ``make bench`` wrote, so no figure in those sections is typed by hand.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKERS = {"measured": ("<!-- measured:start -->", "<!-- measured:end -->"),
           "bench": ("<!-- bench:start -->", "<!-- bench:end -->")}
# The figures worth showing per notebook, in this order, when a notebook recorded them.
KEYS = ("baseline_test_accuracy", "unregularised_test_accuracy", "baseline_val_accuracy", "unregularised_val_accuracy",
        "plain_test_accuracy", "augmented_test_accuracy",
        "plain_val_accuracy", "augmented_val_accuracy",
        "gap_plain", "gap_augmented", "test_only_augmented_right", "test_only_plain_right", "mcnemar_p",
        "val_accuracy_path_a", "val_accuracy_path_b", "val_accuracy_start", "val_accuracy",
        "val_accuracy_large_lr", "val_accuracy_no_dropout", "val_accuracy_feature_extraction", "val_accuracy_head", "kept_top_blocks",
        "test_accuracy",
        "image_size", "epochs", "epochs_plain", "epochs_augmented")


def _fmt(key: str, value: object) -> str:
    if isinstance(value, float) and "accuracy" in key:
        return f"{key} {value:.1%}"
    if isinstance(value, float) and key.endswith("_p"):  # a p-value
        return f"{key} {value:.2f}"
    if isinstance(value, float):
        return f"{key} {value:.1f}"
    return f"{key} {value}"


def table(summary: dict) -> str:
    """One Markdown table for one summary.json."""
    random = summary["random_weights"] or summary["profile"] == "smoke"
    weights = ("generated images and stand-in weights (what CI runs): only times and memory are shown"
               if summary["profile"] == "smoke" else
               "`COURSE_RANDOM_WEIGHTS=1`: timings and memory are real; accuracies are left out, they mean nothing"
               if random else "real photos, no random-weights setting")
    versions = ", ".join(f"{k} {v}" for k, v in summary["versions"].items())
    if "solutions" in summary:  # recorded since 2026-12-07
        weights += ("; solution cells run too" if summary["solutions"] else
                    "; solution cells not run, as in a learner's *Run all*")
    lines = [f"**Profile `{summary['profile']}`**, {summary['date'][:10]}, {summary['machine']}; {versions}; {weights}.",
             "", "| notebook | wall time | peak memory | figures recorded (on this run) |", "|---|---:|---:|---|"]
    for name, entry in summary["notebooks"].items():
        figs = entry.get("figures", {})
        shown = "; ".join(_fmt(k, figs[k]) for k in KEYS if k in figs and not (random and "accuracy" in k))
        lines.append(f"| {name} | {entry['seconds'] / 60:.1f} min | {entry['peak_mb']:,.0f} MB | {shown} |")
    total = sum(e["seconds"] for e in summary["notebooks"].values())
    lines.append(f"| all of the above | {total / 60:.1f} min | | |")
    return "\n".join(lines)


def replace_block(text: str, block: str, body: str) -> str:
    """``text`` with what stands between the block's two markers replaced by ``body``."""
    start, end = MARKERS[block]
    if start not in text or end not in text:
        raise ValueError(f"README.md lacks the {start} ... {end} markers")
    return re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: f"{start}\n{body}\n{end}", text, flags=re.S)


def main(argv: list[str]) -> int:
    readme = ROOT / "README.md"
    bench = bool(argv) and argv[0] == "--bench"
    paths = argv[1:] if bench else argv
    if bench:
        body = "\n\n".join(Path(p).read_text().strip() for p in paths)
    else:
        body = "\n\n".join(table(json.loads(Path(p).read_text())) for p in paths)
    try:
        text = replace_block(readme.read_text(), "bench" if bench else "measured", body)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    readme.write_text(text)
    print(f"README.md: {'bench' if bench else 'measured'} section written from {len(paths)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
