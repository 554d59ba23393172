"""Load a saved ``.keras`` model safely and measure it on any folder of cats/ and dogs/ photos.

Introduced in ``03_vgg16_feature_extraction.ipynb`` (which saves the models this reads). From a shell::

    python -m helpers.evaluate MODEL_PATH IMAGE_DIR

prints the accuracy, a confusion matrix and per-class counts. The course's models carry their preprocessing inside
(their input takes raw pixels in [0, 255]), so this module feeds raw pixels, resized to the model's own input size.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from helpers.data import DataError

if TYPE_CHECKING:
    import keras
    import numpy as np
    import pandas as pd
    import tensorflow as tf

    from helpers.photo_scan import ScanReport, Unusable

SPLIT_NAMES = {"train", "val", "validation", "test"}  # folder names that mean a split, never a class
LEGACY_SUFFIXES = {".h5": "HDF5", ".hdf5": "HDF5", ".pb": "SavedModel", ".tflite": "TensorFlow Lite"}


class ModelError(RuntimeError):
    """A saved model that cannot (or must not) be used; the message says what happened and what to do."""


def load_model(path: str | Path, trusted: bool = False) -> keras.Model:
    """Load a ``.keras`` file with Keras's ``safe_mode`` on, turning each failure into a one- or two-line message.

    A ``.keras`` file may hold Python code (a ``Lambda`` layer's function) that runs the moment it is loaded;
    ``safe_mode`` refuses such files. Pass ``trusted=True`` only for a file you made yourself or whose maker you trust.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelError(f"No model at {path}: check the path, or run the notebook that saves it first.")
    if path.is_dir():
        raise ModelError(
            f"{path} is a folder (a TensorFlow SavedModel?), not a .keras file. Keras 3 loads .keras files: "
            "re-save the model with model.save('name.keras')."
        )
    legacy = LEGACY_SUFFIXES.get(path.suffix.lower())
    if legacy or path.suffix.lower() != ".keras":
        kind = f"a legacy {legacy} file" if legacy else f"not a .keras file (suffix {path.suffix or 'none'})"
        raise ModelError(
            f"{path.name} is {kind}; the course loads only .keras files. If you trust its source, convert it once where "
            "it was made: keras.models.load_model(old).save('model.keras')."
        )
    if not zipfile.is_zipfile(path):
        raise ModelError(
            f"{path} is damaged (not a readable .keras archive: an interrupted save or copy?). Save or copy it again."
        )
    with zipfile.ZipFile(path) as archive:
        damaged = archive.testzip() if "config.json" in archive.namelist() else "config.json"
    if damaged:
        raise ModelError(f"{path} is damaged ({damaged} is missing or corrupt inside it). Save or copy it again.")
    import keras

    from helpers.augment import repair_random_shear

    repair_random_shear()  # so a loaded model with RandomShear can be cloned and saved again in this session
    try:
        with _keras_loadable(path) as loadable, warnings.catch_warnings():
            # A model saved compiled but never trained as a whole (03's path A) has an unbuilt optimizer: Keras warns
            # that it skips the optimizer's state. The weights load all the same; only training resumes from scratch.
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            return keras.models.load_model(loadable, safe_mode=not trusted)
    except Exception as exc:
        text = str(exc)
        if not trusted and ("safe_mode" in text or "arbitrary code" in text):
            raise ModelError(
                f"Refused to load {path.name}: it contains Python code (e.g. a Lambda layer) that would run on loading, "
                "and a file from someone else could do anything your account can. Only if you trust its maker: "
                "load_model(path, trusted=True)."
            ) from None
        raise ModelError(
            f"Could not rebuild the model in {path.name} ({type(exc).__name__}: {text.splitlines()[0] if text else ''}). "
            "It may use a custom layer or a newer Keras: load it where it was made and re-save it."
        ) from None


def _symmetric_shear_to_scalar(node: object) -> bool:
    """Rewrite every RandomShear factor saved as [-f, f] to f, in place; True if any was."""
    changed = False
    if isinstance(node, dict):
        if node.get("class_name") == "RandomShear" and isinstance(node.get("config"), dict):
            for key in ("x_factor", "y_factor"):
                value = node["config"].get(key)
                if isinstance(value, list) and len(value) == 2 and value[0] == -value[1] and value[0] < 0:
                    node["config"][key], changed = value[1], True
        changed = any([_symmetric_shear_to_scalar(v) for v in node.values()]) or changed
    elif isinstance(node, list):
        changed = any([_symmetric_shear_to_scalar(v) for v in node]) or changed
    return changed


@contextlib.contextmanager
def _keras_loadable(path: Path) -> Iterator[Path]:
    """``path``, or a temporary copy whose config Keras 3.15 can read back (see :func:`_symmetric_shear_to_scalar`).

    Keras 3.15's ``RandomShear.get_config()`` writes a factor f as the range [-f, f], and its constructor then rejects
    the negative bound, so any model with the layer saves but does not load (keras-team/keras#21110). A scalar f means
    the same range [-f, f], so the copy differs from the file only there; the file itself is never changed.
    """
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
        if not _symmetric_shear_to_scalar(config):
            yield path
            return
        with tempfile.TemporaryDirectory(prefix="course-load-") as tmp:
            copy = Path(tmp) / path.name
            with zipfile.ZipFile(copy, "w") as out:
                for item in archive.infolist():
                    data = json.dumps(config).encode() if item.filename == "config.json" else archive.read(item)
                    out.writestr(item, data)
            yield copy


def input_size(model: keras.Model, image_size: int | tuple[int, int] | None = None) -> tuple[int, int]:
    """The (height, width) to resize photos to: the model's own input size; ``image_size`` must agree with it."""
    shape = tuple(model.input_shape)
    if len(shape) != 4 or shape[-1] not in (3, None):
        raise ModelError(f"The model takes inputs of shape {shape[1:]}; this module feeds colour images (height, width, 3).")
    fixed = shape[1:3]
    wanted = None if image_size is None else ((image_size, image_size) if isinstance(image_size, int) else tuple(image_size))
    if None in fixed:
        if wanted is None:
            raise ModelError("The model accepts any image size: pass image_size= (the side it was trained at).")
        return wanted
    if wanted is not None and wanted != fixed:
        raise ModelError(
            f"Input size mismatch: the model takes {fixed[0]}x{fixed[1]} images, image_size asks for "
            f"{wanted[0]}x{wanted[1]}. Leave image_size out: photos are resized to the model's size."
        )
    return fixed


@dataclass
class Evaluation:
    """What :func:`evaluate` measured: accuracy, confusion matrix (rows true, columns predicted) and counts."""

    accuracy: float
    confusion: pd.DataFrame
    counts: pd.DataFrame
    image_size: tuple[int, int]
    n_images: int
    skipped: list[Unusable] = field(default_factory=list)
    y_true: np.ndarray | None = None  # per photo, in the order of ``paths``: the true class index ...
    y_pred: np.ndarray | None = None  # ... and the predicted one
    paths: list[Path] = field(default_factory=list)

    def text(self) -> str:
        """The report the command line prints."""
        lines = [
            f"Accuracy {self.accuracy:.1%} on {self.n_images} images, resized to {self.image_size[0]}x{self.image_size[1]} "
            f"(the model's input size); {len(self.skipped)} unusable file(s) skipped.",
            "",
            "Confusion matrix (rows: true class, columns: predicted class):",
            self.confusion.to_string(),
            "",
            "Per class:",
            self.counts.to_string(),
        ]
        lines += [f"skipped {u.path}: {u.reason}" for u in self.skipped]
        return "\n".join(lines)


def photo_dataset(folder: str | Path, size: tuple[int, int], batch_size: int = 32) -> tuple[tf.data.Dataset, ScanReport]:
    """The usable photos of ``folder/<class>/`` (or a dataset root's validation/) as raw-pixel batches, and the scan."""
    from helpers import data, photo_scan

    folder = Path(folder).expanduser()
    if (folder / "validation").is_dir() and (folder / "train").is_dir():
        folder = folder / "validation"  # a dataset root: measure on the photos the model did not train on
    report = photo_scan.scan_classes(folder)
    photo_scan.require_trainable(report)
    names = report.class_names
    splits = [n for n in names if n.lower() in SPLIT_NAMES]
    if splits:
        held_out = [n for n in names if n.lower() != "train"] or names
        raise DataError(
            f"{folder} holds split folders ({', '.join(splits)}), not class folders: pass the split to measure on, "
            f"e.g. {folder / held_out[0]} (its cats/ and dogs/ are the classes)."
        )
    if len(names) != 2:
        raise DataError(f"{folder} has {len(names)} class folders ({', '.join(names)}); the model tells two apart.")
    return data._split_dataset(report.files(report.split), names, size, batch_size, False, None, 0), report


def evaluate(
    model: keras.Model | str | Path,
    folder: str | Path,
    image_size: int | tuple[int, int] | None = None,
    batch_size: int = 32,
    trusted: bool = False,
) -> Evaluation:
    """Accuracy, confusion matrix and per-class counts of a binary model on ``folder/<class>/`` photos.

    ``folder`` holds one sub-folder per class (sorted: the first is label 0, e.g. cats/ then dogs/); a dataset root
    with validation/ is read from validation/. Unusable files are skipped and listed (never changed). The photos are
    resized to the model's input size and fed as raw pixels in [0, 255]: the course's models preprocess inside.
    A one-unit output is P(second class) after a sigmoid or a logit without; a two-unit output is read by argmax.
    """
    import numpy as np
    import pandas as pd
    import tensorflow as tf

    from helpers import outputs

    if not hasattr(model, "predict"):
        model = load_model(model, trusted=trusted)
    size = input_size(model, image_size)
    ds, report = photo_dataset(folder, size, batch_size)
    names = report.class_names
    y_true, scores = [], []
    try:
        for x, y in ds:
            scores.append(np.asarray(model(x, training=False)))
            y_true.append(y.numpy().ravel())
    except tf.errors.ResourceExhaustedError:
        raise ModelError(
            f"Out of memory at batch_size={batch_size}: lower it (e.g. batch_size={max(1, batch_size // 4)}, "
            "or --batch-size on the command line)."
        ) from None
    y_true = np.concatenate(y_true).astype(int)
    scores = np.concatenate(scores)
    if scores.shape[-1] == 2:
        y_pred = scores.argmax(axis=-1)
    elif scores.shape[-1] == 1:
        try:
            threshold = outputs.decision_threshold(model)
        except outputs.UnreadableOutput as exc:
            raise ModelError(str(exc)) from None
        y_pred = (scores.ravel() >= threshold).astype(int)
    else:
        raise ModelError(f"The model has {scores.shape[-1]} outputs; a cats-vs-dogs model has 1 (sigmoid) or 2 (softmax).")
    confusion = pd.DataFrame(
        [[int(np.sum((y_true == t) & (y_pred == p))) for p in range(2)] for t in range(2)],
        index=pd.Index(names, name="true"),
        columns=pd.Index(names, name="predicted"),
    )
    counts = pd.DataFrame(
        {
            "images": [int(np.sum(y_true == i)) for i in range(2)],
            "correct": [int(confusion.iloc[i, i]) for i in range(2)],
            "skipped": [sum(1 for u in report.unusable if u.label == n) for n in names],
        },
        index=pd.Index(names, name="class"),
    )
    counts["accuracy"] = (counts.correct / counts.images.where(counts.images > 0)).round(3)
    accuracy = float(np.mean(y_true == y_pred)) if len(y_true) else float("nan")
    return Evaluation(accuracy, confusion, counts, tuple(size), len(y_true), list(report.unusable), y_true, y_pred,
                      [f.path for f in report.files(report.split)])


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.evaluate MODEL_PATH IMAGE_DIR [--image-size N] [--trusted]``."""
    parser = argparse.ArgumentParser(prog="python -m helpers.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a .keras file")
    parser.add_argument("images", help="a folder with cats/ and dogs/ (or a dataset root with validation/)")
    parser.add_argument("--image-size", type=int, default=None, help="only for models that accept any size")
    parser.add_argument("--batch-size", type=int, default=32, help="lower it if memory runs out (default 32)")
    parser.add_argument("--trusted", action="store_true", help="allow Python code inside the file: trusted files only")
    args = parser.parse_args(argv)
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        result = evaluate(args.model, args.images, args.image_size, args.batch_size, trusted=args.trusted)
    except (ModelError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result.text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
