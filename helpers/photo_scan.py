"""Scan a learner's image folder before training: counts per split and class, every unusable file and why.

Introduced in ``00_start_here.ipynb``; :func:`helpers.data.image_datasets` runs :func:`scan` first and trains on the
usable files only. The scan opens and decodes every file with Pillow but never writes, moves or deletes anything in
the folder it is given.
"""

from __future__ import annotations

import functools
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

SPLITS = ("train", "validation")  # the folders a dataset root holds, each with one folder per class


class DataError(RuntimeError):
    """A dataset problem a learner can fix; the message says what happened and what to do."""


# Formats and modes TensorFlow's tf.io.decode_image turns into the right RGB pixels; everything else Pillow can read
# (palette or grayscale BMP, TIFF, ...) is converted with Pillow while the pipeline runs.
TF_FORMATS = {"JPEG": None, "MPO": None, "PNG": None, "GIF": None, "WEBP": None, "BMP": {"RGB", "RGBA"}}
EXPECTED_FORMAT = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".gif": "GIF", ".bmp": "BMP", ".webp": "WEBP"}
TINY_SIDE = 32  # shorter side below this: usable, but upscaled from almost nothing
HUGE_PIXELS = 20_000_000  # above this: usable, but slow to decode and memory-hungry until resized
_SYSTEM_FILES = {".ds_store": "macOS folder metadata", "thumbs.db": "Windows thumbnail cache", "desktop.ini": "Windows folder settings"}


@functools.cache
def tensorflow_reads_webp() -> bool:
    """Whether this TensorFlow's tf.io.decode_image reads WebP (2.18 does not; 2.21 does): tried once on a 2x2 image."""
    import io

    import tensorflow as tf
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), (200, 30, 30)).save(buffer, format="WEBP", lossless=True)
    try:
        image = tf.io.decode_image(buffer.getvalue(), channels=3, expand_animations=False)  # as the loader calls it
        return tuple(image.shape) == (2, 2, 3)
    except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError):
        return False


@dataclass(frozen=True)
class ImageFile:
    """One usable image: where it is, its class, what Pillow found inside, and what is odd about it (``notes``)."""

    path: Path
    split: str
    label: str
    format: str
    mode: str
    size: tuple[int, int]
    notes: tuple[str, ...] = ()

    @property
    def decoder(self) -> str:
        """'tf' when tf.io.decode_image reads it right, else 'pillow' (converted on the fly, slower)."""
        modes = TF_FORMATS.get(self.format, ())
        if self.format == "WEBP" and not tensorflow_reads_webp():
            return "pillow"
        return "tf" if modes is None or (modes and self.mode in modes) else "pillow"

    @property
    def converted(self) -> bool:
        """True when the file is not a plain RGB JPEG of ordinary size: usable, but converted or resized a lot."""
        return bool(self.notes)


@dataclass(frozen=True)
class Unusable:
    """A file the course skips, with the reason in words; the file itself is left exactly as it was."""

    path: Path
    split: str
    label: str
    reason: str


@dataclass
class ScanReport:
    """What :func:`scan` found. ``summary()`` for people, ``table()`` for counts, ``files(split)`` for the loader."""

    root: Path
    classes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # split -> class folder names, sorted
    usable: list[ImageFile] = field(default_factory=list)
    unusable: list[Unusable] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # folder-level: training cannot run sensibly
    warnings: list[str] = field(default_factory=list)  # folder-level: training runs, but look at this

    @property
    def class_names(self) -> tuple[str, ...]:
        """The first split's class folders in sorted order: the first is label 0 (cats), the second label 1 (dogs)."""
        return next(iter(self.classes.values()), ())

    @property
    def split(self) -> str:
        """The first split scanned (``train``; the folder's own name for :func:`scan_classes`)."""
        return next(iter(self.classes), "")

    def files(self, split: str) -> list[ImageFile]:
        """The usable images of one split, in the order Keras's image_dataset_from_directory lists them."""
        return [f for f in self.usable if f.split == split]

    def count(self, split: str, label: str | None = None) -> int:
        """How many usable images a split (or one class of it) has."""
        return sum(1 for f in self.usable if f.split == split and (label is None or f.label == label))

    def table(self) -> pd.DataFrame:
        """One row per split and class: usable images, how many of them are converted on the fly, and skipped files."""
        import pandas as pd

        rows = []
        for split, names in self.classes.items():
            for name in names:
                usable = [f for f in self.usable if f.split == split and f.label == name]
                skipped = sum(1 for u in self.unusable if u.split == split and u.label == name)
                rows.append((split, name, len(usable), sum(f.converted for f in usable), skipped))
        return pd.DataFrame(rows, columns=["split", "class", "usable", "converted", "skipped"]).set_index(
            ["split", "class"]
        )

    def summary(self, max_lines: int = 50) -> str:
        """Counts on the first line, then one line per problem, warning, skipped file and converted file."""
        counts = "; ".join(
            f"{split}: " + ", ".join(f"{self.count(split, n)} {n}" for n in names) for split, names in self.classes.items()
        )
        skipped = f"{len(self.unusable)} unusable file(s) skipped (left untouched)" if self.unusable else "no unusable files"
        converted = [f for f in self.usable if f.converted]
        lines = [f"{self.root}: {counts or 'no images'}; {skipped}; {len(converted)} converted on the fly."]
        lines += [f"PROBLEM: {p}" for p in self.problems]
        lines += [f"warning: {w}" for w in self.warnings]
        lines += [f"skipped {self._rel(u.path)}: {u.reason}" for u in self.unusable]
        lines += [f"converted {self._rel(f.path)}: {', '.join(f.notes)}" for f in converted]
        if len(lines) > max_lines:
            hidden = len(lines) - max_lines
            lines = lines[:max_lines] + [f"... and {hidden} more lines: see report.unusable and report.usable."]
        return "\n".join(lines)

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def __str__(self) -> str:
        return self.summary()


# ---------------------------------------------------------------- looking at one file

# Pillow's verdict on a file does not change while its size and modification time stay the same; remembering it makes
# the second image_datasets() call in a notebook instant.
_MEMO: dict[tuple[str, int, int], tuple[str, str, tuple[int, int]] | str] = {}


def _not_an_image(path: Path) -> str:
    special = _SYSTEM_FILES.get(path.name.lower())
    if special:
        return f"not an image ({special})"
    with path.open("rb") as handle:
        head = handle.read(512)
    if head.startswith(b"PK\x03\x04"):
        return "not an image (a zip archive: unzip it somewhere else and copy the photos in)"
    if head[:5] == b"%PDF-":
        return "not an image (a PDF document)"
    if head[4:8] == b"ftyp":
        return "not an image Pillow can read (HEIC/AVIF from a phone or a video: export it as JPEG)"
    try:
        head.decode("utf-8")
        return "not an image (text)"
    except UnicodeDecodeError:
        return "not an image (unknown format)"


def _inspect(path: Path) -> tuple[str, str, tuple[int, int]] | str:
    """(format, mode, size) when Pillow decodes the whole file, else the reason it cannot be used."""
    from PIL import Image, UnidentifiedImageError

    try:
        if path.stat().st_size == 0:
            return "empty file (0 bytes): copy or download it again"
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                fmt, mode, size = img.format or "?", img.mode, img.size
                if fmt in ("JPEG", "MPO"):
                    # Decode at 1/8 scale: every byte is still read (truncation shows), at a third less time.
                    img.draft(None, (max(1, size[0] // 8), max(1, size[1] // 8)))
                img.load()
    except UnidentifiedImageError:
        return _not_an_image(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return "too many pixels to decode safely (a possible decompression bomb): shrink it first"
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "truncated" in text.lower() or isinstance(exc, EOFError):
            return "truncated image (the file ends early): copy or download it again"
        return f"damaged image ({text})"
    return fmt, mode, size


def _notes(path: Path, fmt: str, mode: str, size: tuple[int, int]) -> tuple[str, ...]:
    notes = []
    expected = EXPECTED_FORMAT.get(path.suffix.lower())
    if fmt not in ("JPEG", "MPO") or mode != "RGB":
        described = {"L": "grayscale", "P": "palette", "RGBA": "with transparency, dropped", "CMYK": "CMYK"}.get(mode)
        notes.append(f"{fmt} {mode}" + (f" ({described})" if described else ""))
    if expected and expected != fmt and not (expected == "JPEG" and fmt == "MPO"):
        notes.append(f"named {path.suffix} but holds {fmt}")
    elif expected is None:
        notes.append(f"unusual extension {path.suffix or '(none)'}")
    if min(size) < TINY_SIDE:
        notes.append(f"tiny ({size[0]}x{size[1]}): upscaled")
    if size[0] * size[1] > HUGE_PIXELS:
        notes.append(f"huge ({size[0]}x{size[1]}): slow to decode")
    return tuple(notes)


def scan_file(path: Path, split: str = "", label: str = "") -> ImageFile | Unusable:
    """Decode one file with Pillow (reading it fully, writing nothing) and say whether the course can use it."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        return Unusable(path, split, label, f"cannot be read ({exc.strerror or exc})")
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    found = _MEMO.get(key)
    if found is None:
        found = _MEMO[key] = _inspect(path)
    if isinstance(found, str):
        return Unusable(path, split, label, found)
    fmt, mode, size = found
    return ImageFile(path, split, label, fmt, mode, size, _notes(path, fmt, mode, size))


# ---------------------------------------------------------------- looking at a folder


def _class_folders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _files_in(folder: Path) -> list[Path]:
    """Files under a class folder in Keras's order (folders sorted, then names), skipping hidden sub-folders."""
    walked = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]  # pruned while walking, before descending
        walked.append((dirpath, sorted(filenames)))
    return [Path(dirpath) / name for dirpath, names in sorted(walked) for name in names]


def _not_a_folder(path: Path, what_to_pass: str) -> str:
    return f"{path} {'is a file, not a folder' if path.exists() else 'does not exist'}: pass {what_to_pass}."


def scan(root: str | os.PathLike, splits: tuple[str, ...] = SPLITS) -> ScanReport:
    """Walk ``root/<split>/<class>/`` and sort every file into usable (maybe converted) or unusable, with reasons.

    Folder-level problems that make training pointless go to ``report.problems`` (see :func:`require_trainable`);
    nothing in the folder is written, moved or deleted.
    """
    root = Path(root).expanduser()
    report = ScanReport(root=root)
    if not root.is_dir():
        report.problems.append(_not_a_folder(root, "the folder that holds train/ and validation/"))
        return report
    for split in splits:
        folder = root / split
        if not folder.is_dir():
            inside = ", ".join(_class_folders(root)) or "no folders"
            report.problems.append(
                f"{root} has no {split}/ folder (it holds {inside}): pass the folder that holds train/ and validation/."
            )
            continue
        _scan_split(report, folder, split)
    _folder_problems(report, splits)
    return report


def _scan_split(report: ScanReport, folder: Path, split: str) -> None:
    names = tuple(_class_folders(folder))
    report.classes[split] = names
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        report.unusable.append(Unusable(path, split, "", "outside any class folder: move it into one to use it"))
    for name in names:
        files = _files_in(folder / name)
        if not files:
            report.warnings.append(f"{split}/{name}/ is empty.")
        for path in files:
            checked = scan_file(path, split, name)
            (report.usable if isinstance(checked, ImageFile) else report.unusable).append(checked)
        if files and not report.count(split, name):
            report.warnings.append(f"{split}/{name}/ has no usable image ({len(files)} unusable files).")


def scan_classes(folder: str | os.PathLike) -> ScanReport:
    """Like :func:`scan` for one folder laid out as ``<class>/`` sub-folders (e.g. cats/ and dogs/), no splits.

    The folder's own name stands for the split in the report (``report.files(report.split)``).
    """
    folder = Path(folder).expanduser()
    report = ScanReport(root=folder)
    if not folder.is_dir():
        report.problems.append(_not_a_folder(folder, "a folder with one sub-folder per class (e.g. cats/ and dogs/)"))
        return report
    _scan_split(report, folder, folder.name)
    _folder_problems(report, (folder.name,), train=folder.name)
    return report


def _folder_problems(report: ScanReport, splits: tuple[str, ...], train: str = "train") -> None:
    present = [s for s in splits if s in report.classes]
    for split in present:
        names = report.classes[split]
        if len(names) < 2:
            found = f"only {names[0]}/" if names else "no class folders"
            report.problems.append(
                f"{split}/ has {found}: a classifier needs one folder per class (e.g. cats/ and dogs/) with images in each."
            )
    if len(present) > 1 and len({report.classes[s] for s in present}) > 1:
        listed = "; ".join(f"{s}/ has {', '.join(report.classes[s]) or 'none'}" for s in present)
        report.problems.append(f"The class folders differ between splits ({listed}): give every split the same class folders.")
    if report.problems:
        return  # the layout is wrong: counting images would only add noise
    with_images = [n for n in report.classes.get(train, ()) if report.count(train, n)]
    if train in report.classes and len(with_images) < 2:
        report.problems.append(
            f"{train}/ has usable images in {len(with_images)} class folder(s) only: it needs images of at least two "
            "classes. Add images (print(helpers.photo_scan.scan(folder)) lists why the others are unusable)."
        )
    for split in present:
        if split != train and not report.count(split):
            report.problems.append(f"{split}/ has no usable images: add some to each class folder.")


def require_trainable(report: ScanReport, n_classes: int | None = None) -> ScanReport:
    """Raise :class:`DataError` with a short message when nothing sensible can train on the folder; else return it.

    ``n_classes=2`` also refuses folders with more than two classes (the course's models have one sigmoid output).
    """
    if report.problems:
        more = f" ({len(report.problems) - 1} more problem(s): print(helpers.photo_scan.scan(folder)))" if len(report.problems) > 1 else ""
        raise DataError(report.problems[0] + more)
    if n_classes is not None and len(report.class_names) != n_classes:
        raise DataError(
            f"{report.root} has {len(report.class_names)} class folders ({', '.join(report.class_names)}); the course's "
            f"models tell {n_classes} classes apart. Keep exactly {n_classes} class folders in train/ and validation/."
        )
    return report
