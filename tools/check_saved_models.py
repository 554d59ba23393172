"""After the notebooks have run: every model they saved loads safely and evaluates with ``helpers.evaluate``.

    python tools/check_saved_models.py WORK_DIR [IMAGE_DIR]

``make test`` runs it on ``build/test-work`` once nbval has executed every notebook in ``smoke``: notebooks 03, 04
and 06 save a model each, and each must load with ``safe_mode`` on and score every photo of IMAGE_DIR (default: the
smoke dataset), exactly as ``python -m helpers.evaluate MODEL IMAGE_DIR`` would. Prints one line per model; exits
1 if a notebook's model is missing or fails.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAVED_BY = ("03", "04", "06")  # the notebooks that save a model into <work dir>/models


def check(work_dir: Path, image_dir: Path) -> list[str]:
    """Evaluate every notebook-saved model under ``work_dir/models``; return the problems found (empty if none)."""
    from helpers import checks, evaluate

    dataset_root = (image_dir / "validation").is_dir() and (image_dir / "train").is_dir()
    folder = image_dir / "validation" if dataset_root else image_dir  # the photos evaluate() will read
    report = checks.scan_classes(folder)
    expected = report.count(report.split)
    problems = []
    for number in SAVED_BY:
        paths = sorted((work_dir / "models").glob(f"{number}_*.keras"))
        if not paths:
            problems.append(f"notebook {number} saved no model in {work_dir / 'models'}")
        for path in paths:
            try:
                result = evaluate.evaluate(path, image_dir)
            except (evaluate.ModelError, evaluate.DataError) as exc:
                problems.append(f"{path.name}: {exc}")
                continue
            scored = int(result.confusion.to_numpy().sum())
            print(f"{path.name}: {result.n_images} photos at {result.image_size[0]} px, accuracy {result.accuracy:.1%}")
            if not scored == result.n_images == expected:
                problems.append(f"{path.name}: scored {scored} of {result.n_images} photos, expected {expected}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work_dir", type=Path)
    parser.add_argument("image_dir", type=Path, nargs="?", help="cats/ and dogs/ (or train/ + validation/)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, str(ROOT))
    from helpers import data, profile

    image_dir = args.image_dir or data.get_dataset(profile.resolve_profile("smoke"))
    problems = check(args.work_dir, image_dir)
    for problem in problems:
        print("error:", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
