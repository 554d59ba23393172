"""After the notebooks have run: every model they saved loads safely, scores as Keras scores it, and has learned.

    python tools/check_saved_models.py WORK_DIR [IMAGE_DIR]

``make test`` runs :func:`check` for each notebook right after nbval has executed it in ``smoke``
(``tests/test_saved_models.py``); run this file by hand on any work folder. Every notebook saves the models it trains
into ``<work dir>/models``; each must

- load with the course's loader (``safe_mode`` on) and score every photo of IMAGE_DIR (default: the smoke validation
  photos), exactly as ``python -m helpers.evaluate MODEL IMAGE_DIR`` would;
- be right on exactly the same photos through ``helpers.evaluate`` as by the accuracy metric Keras compiled into the
  file (a wrong threshold, a flipped label or a logit read as a probability makes the two disagree);
- clearly beat chance: at least ``MIN_ACCURACY`` of the photos right, where always answering one class gets 50%. In
  smoke every notebook trains long enough for that (01 and 02's CNNs from scratch too; 03-07's backbones carry stand-in
  weights), so a label flipped in training shows here as a model that is reliably wrong.

Prints one line per model; exits 1 if a notebook saved no model or any check fails.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAVED_BY = ("01", "02", "03", "04", "05", "06", "07")  # every notebook that trains a model saves it in <work dir>/models
MIN_ACCURACY = 0.75  # 18 of 24 smoke photos; a coin would reach it about once in a hundred tries


def keras_per_photo(model, image_dir: Path, size: tuple[int, int]):
    """1 or 0 per photo (evaluate()'s order) by the accuracy metric compiled into the file; None if it has none.

    Keras reports only a running mean, so the photos go one per batch: photo k is right when the mean after it,
    times k + 1, grew by one over the mean before it, times k.
    """
    import keras
    import numpy as np

    from helpers import evaluate

    class Running(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.means: list[float] = []

        def on_test_batch_end(self, batch, logs=None):
            self.means.append(float((logs or {}).get("accuracy", np.nan)))

    if not model.compiled:
        return None
    ds, _ = evaluate.photo_dataset(image_dir, size, batch_size=1)
    running = Running()
    if "accuracy" not in model.evaluate(ds, verbose=0, return_dict=True, callbacks=[running]):
        return None
    totals = np.array(running.means) * np.arange(1, len(running.means) + 1)
    return np.rint(np.diff(totals, prepend=0.0)).astype(int)


def check(work_dir: Path, image_dir: Path, numbers: tuple[str, ...] = SAVED_BY) -> list[str]:
    """Evaluate the models notebooks ``numbers`` saved under ``work_dir/models``; return the problems (empty if none)."""
    from helpers import evaluate

    _, report = evaluate.photo_dataset(image_dir, (8, 8))  # the photos evaluate() will read
    expected = report.count(report.split)
    problems = []
    for number in numbers:
        paths = sorted((work_dir / "models").glob(f"{number}_*.keras"))
        if not paths:
            problems.append(f"notebook {number} saved no model in {work_dir / 'models'}")
        for path in paths:
            try:
                model = evaluate.load_model(path)
                result = evaluate.evaluate(model, image_dir)
            except (evaluate.ModelError, evaluate.DataError) as exc:
                problems.append(f"{path.name}: {exc}")
                continue
            correct = int(result.counts.correct.sum())
            keras_right = keras_per_photo(model, image_dir, result.image_size)
            by_keras = None if keras_right is None else int(keras_right.sum())
            print(f"{path.name}: {result.n_images} photos at {result.image_size[0]} px, accuracy {result.accuracy:.1%} "
                  f"({correct} right; Keras's compiled accuracy: {by_keras if by_keras is not None else 'none'} right)")
            scored = int(result.confusion.to_numpy().sum())
            if not scored == result.n_images == expected:
                problems.append(f"{path.name}: scored {scored} of {result.n_images} photos, expected {expected}")
            if by_keras is None:
                problems.append(f"{path.name}: saved without a compiled 'accuracy' metric, so Keras's own score "
                                "cannot be compared: compile before saving")
            elif not (keras_right == (result.y_true == result.y_pred)).all():
                differ = [p.name for p, k, e in zip(result.paths, keras_right, result.y_true == result.y_pred) if k != e]
                problems.append(f"{path.name}: helpers.evaluate gets {correct} photos right, Keras's compiled accuracy "
                                f"{by_keras}; they disagree on {len(differ)} photo(s) ({', '.join(differ[:3])}): one of "
                                "them reads the output wrongly (threshold, logit or label order)")
            if not result.accuracy >= MIN_ACCURACY:
                problems.append(f"{path.name}: accuracy {result.accuracy:.1%} is not clearly above chance (needs "
                                f"{MIN_ACCURACY:.0%} on the smoke photos, which every notebook's smoke training learns)")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work_dir", type=Path)
    parser.add_argument("image_dir", type=Path, nargs="?", help="cats/ and dogs/ (or train/ + validation/)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, str(ROOT))
    from helpers import data, profiles

    image_dir = args.image_dir or data.get_dataset(profiles.resolve_profile("smoke"))
    problems = check(args.work_dir, image_dir)
    for problem in problems:
        print("error:", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
