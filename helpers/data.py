"""The Dogs-vs-Cats data: download, verify, extract safely, generate smoke images, build tf.data pipelines.

Introduced in ``00_start_here.ipynb``. Nothing here runs on import.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from helpers import photo_scan
from helpers.photo_scan import SPLITS, DataError
from helpers.profiles import ENV_DATA_DIR, Profile, cache_dir

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import tensorflow as tf

DATASET = "cats_and_dogs_filtered"
CLASS_NAMES = ("cats", "dogs")
# The public URL moved in Nov 2025; the old one is kept as a fallback.
URLS = (
    "https://download.mlcc.google.com/mledu-datasets/cats_and_dogs_filtered.zip",
    "https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip",
)
ZIP_BYTES = 68_606_236
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
SMOKE_COUNTS = {"train": 24, "validation": 12}  # images per class


# ---------------------------------------------------------------- manifest and verification


def manifest_path() -> Path:
    """The committed md5 manifest of the 3,000 photos (``data/`` in a checkout, package data when pip-installed)."""
    in_checkout = Path(__file__).resolve().parents[1] / "data" / f"{DATASET}.md5"
    if in_checkout.is_file():
        return in_checkout
    from importlib.resources import files

    return Path(str(files("helpers.manifests") / f"{DATASET}.md5"))


def read_manifest(path: Path | None = None) -> dict[str, str]:
    """Map each photo's path inside the dataset folder (``train/cats/cat.0.jpg``) to its md5."""
    entries: dict[str, str] = {}
    for line in (path or manifest_path()).read_text().splitlines():
        if not line.strip():
            continue
        digest, name = line.split(maxsplit=1)
        parts = PurePosixPath(name.lstrip("*")).parts
        entries["/".join(parts[1:] if parts[0] == DATASET else parts)] = digest
    return entries


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(root: Path, manifest: dict[str, str] | None = None) -> list[str]:
    """Check every manifest photo exists under ``root`` with the right md5; return the problems (empty when all good)."""
    manifest = manifest if manifest is not None else read_manifest()
    problems = []
    for name, digest in manifest.items():
        path = root / name
        if not path.is_file():
            problems.append(f"missing {name}")
        elif _md5(path) != digest:
            problems.append(f"checksum differs for {name}")
    return problems


# ---------------------------------------------------------------- download and safe extraction


def _unsafe_member(name: str, is_link: bool) -> str | None:
    pure = PurePosixPath(name.replace("\\", "/"))
    if is_link:
        return "is a link"
    if pure.is_absolute() or (pure.parts and pure.parts[0].endswith(":")):
        return "has an absolute path"
    if ".." in pure.parts:
        return "climbs out of the folder with '..'"
    return None


def safe_extract(archive: Path, target: Path) -> None:
    """Extract a zip or tar archive into ``target``, refusing any member that would land outside it (paths, links)."""
    target.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
                reason = _unsafe_member(info.filename, is_link)
                if reason:
                    raise DataError(f"Refused to extract {archive.name}: member {info.filename!r} {reason}.")
            zf.extractall(target)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf_:
            members = tf_.getmembers()
            for member in members:
                reason = _unsafe_member(member.name, member.issym() or member.islnk())
                if reason is None and not (member.isfile() or member.isdir()):
                    reason = "is not a plain file or folder"
                if reason:
                    raise DataError(f"Refused to extract {archive.name}: member {member.name!r} {reason}.")
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: the standard library's own guard as well
                tf_.extractall(target, members=members, filter="data")
            else:
                tf_.extractall(target, members=members)
    else:
        raise DataError(f"{archive} is neither a zip nor a tar archive: delete it and download again.")


def _download(url: str, dest: Path, expected_bytes: int) -> None:
    from tqdm.auto import tqdm

    with urllib.request.urlopen(url, timeout=30) as response, dest.open("wb") as out:
        total = int(response.headers.get("Content-Length") or expected_bytes)
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"Downloading {DATASET}.zip") as bar:
            for block in iter(lambda: response.read(1 << 16), b""):
                out.write(block)
                bar.update(len(block))


def download_dataset(
    dest_root: Path, urls: Iterable[str] = URLS, expected_bytes: int = ZIP_BYTES, manifest: dict[str, str] | None = None
) -> Path:
    """Download, size-check, safely extract and md5-verify the dataset into ``dest_root/DATASET``; return that folder.

    Everything happens in a temporary folder under ``dest_root`` that is removed whatever happens, so a partial or
    corrupt download is never left in the cache; ``manifest`` (name -> md5) replaces the committed one in tests.
    """
    final = dest_root / DATASET
    if final.exists():
        raise DataError(
            f"{final} already exists and is never overwritten. Use it ({ENV_DATA_DIR}={final}), "
            "or move it away and run again to download a fresh copy."
        )
    free = shutil.disk_usage(dest_root).free
    if free < 3 * expected_bytes:
        raise DataError(
            f"Only {free / 1e6:.0f} MB free in {dest_root}; the dataset needs about {3 * expected_bytes / 1e6:.0f} MB "
            "to download and extract. Free some space or set COURSE_CACHE_DIR to a roomier folder."
        )
    errors: list[str] = []
    broken = 0  # downloads that arrived (part of them at least) but were incomplete or damaged
    with tempfile.TemporaryDirectory(dir=dest_root, prefix=".download-") as tmp:
        part = Path(tmp) / f"{DATASET}.zip.part"
        for url in urls:
            try:
                _download(url, part, expected_bytes)
            except (urllib.error.URLError, http.client.HTTPException, OSError, TimeoutError) as exc:
                # HTTPException covers IncompleteRead: the connection dropped part-way through.
                broken += isinstance(exc, http.client.IncompleteRead)
                errors.append(f"{url}: {type(exc).__name__}: {exc}")
                continue
            if part.stat().st_size != expected_bytes:
                broken += 1
                errors.append(f"{url}: got {part.stat().st_size} bytes, expected {expected_bytes}")
                continue
            extracted = Path(tmp) / "extracted"
            shutil.rmtree(extracted, ignore_errors=True)
            try:
                safe_extract(part, extracted)
            except (DataError, zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as exc:
                broken += 1
                errors.append(f"{url}: the archive is damaged or unsafe ({exc})")
                continue
            problems = verify(extracted / DATASET, manifest)
            if problems:
                broken += 1
                errors.append(f"{url}: {len(problems)} files fail verification, e.g. {problems[0]}")
                shutil.rmtree(extracted, ignore_errors=True)
                continue
            (extracted / DATASET).rename(final)
            return final
    if errors and broken == len(errors):
        raise DataError(
            f"The {DATASET} download arrived incomplete or damaged and was discarded ({errors[-1]}). "
            f"Run again to retry, or set {ENV_DATA_DIR}=/path/to/{DATASET} to use a local copy."
        )
    raise DataError(
        f"Could not download {DATASET} ({errors[-1] if errors else 'no URL tried'}). "
        f"No network? Point the course at a local copy: set {ENV_DATA_DIR}=/path/to/{DATASET}."
    )


# ---------------------------------------------------------------- smoke images


def make_smoke_dataset(root: Path, counts: dict[str, int] = SMOKE_COUNTS, seed: int = 0) -> Path:
    """Write small deterministic JPEGs in the real layout: warm round 'cats', cool square 'dogs'; return the folder."""
    done = root / ".complete"
    if done.is_file():
        return root
    # Generated beside the folder, then renamed into place in one step: two kernels that start together (make test's
    # workers) never read a photo the other is still writing, and an interrupted run leaves no half-made folder.
    root.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{root.name}.partial-", dir=root.parent))
    partial.chmod(0o755)  # mkdtemp makes it private; the cache folder is an ordinary one
    try:
        _write_smoke_images(partial, counts, seed)
        try:
            partial.rename(root)
        except OSError:  # the folder exists: another process finished first, or an older run stopped half-way
            if not done.is_file():  # half-made: our own generated images, never a learner's, so set aside and replace
                stale = root.with_name(f".{root.name}.stale-{os.getpid()}")
                with contextlib.suppress(OSError):  # another process may have set it aside first
                    root.rename(stale)
                shutil.rmtree(stale, ignore_errors=True)
                with contextlib.suppress(OSError):  # ... or put its own complete folder in place first
                    partial.rename(root)
        if not done.is_file():
            raise DataError(f"Could not create the smoke images in {root}: delete that folder and run again.")
        return root
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _write_smoke_images(root: Path, counts: dict[str, int], seed: int) -> None:
    """The smoke images themselves, written into ``root`` (see :func:`make_smoke_dataset`)."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    for split in SPLITS:
        start = 0 if split == "train" else 2000
        for label, name in enumerate(CLASS_NAMES):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(counts[split]):
                w, h = (int(v) for v in rng.integers(72, 120, size=2))
                base = np.array([200, 120, 60] if label == 0 else [60, 120, 200], dtype=float)
                pixels = np.clip(base + rng.normal(0, 40, size=(h, w, 3)), 0, 255).astype("uint8")
                img = Image.fromarray(pixels)
                draw = ImageDraw.Draw(img)
                x, y = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
                box = (x, y, x + w // 2, y + h // 2)
                (draw.ellipse if label == 0 else draw.rectangle)(box, fill=(250, 250, 250))
                img.save(folder / f"{name[:-1]}.{start + i}.jpg", quality=90)
    (root / ".complete").write_text("ok\n")


# ---------------------------------------------------------------- where the data is


def describe_data_location(profile: Profile) -> str:
    """Where this profile's photos are or will be, for the banner (downloads nothing)."""
    if not profile.real_data:
        return f"generated smoke images in {cache_dir() / 'datasets' / 'smoke'}"
    local = os.environ.get(ENV_DATA_DIR)
    if local:
        return f"local copy {local} ({ENV_DATA_DIR})"
    cached = cache_dir() / "datasets" / DATASET
    return str(cached) if cached.is_dir() else f"downloaded on first use into {cached}"


def get_dataset(profile: Profile) -> Path:
    """Return the dataset folder (with train/ and validation/): smoke images, the local copy, the cache or a download."""
    datasets = cache_dir() / "datasets"
    datasets.mkdir(parents=True, exist_ok=True)
    if not profile.real_data:
        return make_smoke_dataset(datasets / "smoke")
    local = os.environ.get(ENV_DATA_DIR)
    if local:
        root = Path(local).expanduser()
        if not (root / "train").is_dir() or not (root / "validation").is_dir():
            raise DataError(
                f"{ENV_DATA_DIR}={local} has no train/ and validation/ folders. "
                f"Point it at the {DATASET} folder itself (the one that holds train/ and validation/)."
            )
        problems = verify(root)
        if problems:
            raise DataError(
                f"{ENV_DATA_DIR}={local} is not an intact copy of {DATASET}: {len(problems)} problems, e.g. "
                f"{problems[0]}. Copy the folder again, or unset {ENV_DATA_DIR} to download it."
            )
        return root
    cached = datasets / DATASET
    if cached.is_dir():
        problems = verify(cached)
        if problems:
            raise DataError(
                f"The cached dataset {cached} is damaged ({len(problems)} problems, e.g. {problems[0]}). "
                "Move or delete that folder and run again to download a fresh copy."
            )
        return cached
    return download_dataset(datasets)


def inventory(root: Path) -> pd.DataFrame:
    """One row per image under ``root``: split, class, file name, width and height (reads headers; skips non-images)."""
    import pandas as pd
    from PIL import Image, UnidentifiedImageError

    rows = []
    for split in SPLITS:
        for name in CLASS_NAMES:
            for path in sorted((root / split / name).iterdir()):
                if path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith("."):
                    try:
                        with Image.open(path) as img:
                            rows.append((split, name, path.name, *img.size))
                    except (UnidentifiedImageError, OSError):
                        continue  # image_datasets' scan reports unusable files with their reason
    return pd.DataFrame(rows, columns=["split", "class", "file", "width", "height"])


# ---------------------------------------------------------------- tf.data pipelines


def _pillow_rgb(path: bytes) -> np.ndarray:
    """Decode what TensorFlow cannot (palette BMP, TIFF, ...) into uint8 RGB; called inside the pipeline."""
    import numpy as np
    from PIL import Image

    with Image.open(path.decode() if isinstance(path, bytes) else path) as img:
        if img.mode.startswith("I;16") or img.mode == "I":
            pixels = np.asarray(img, dtype=np.float64)
            img = Image.fromarray(np.clip(pixels / 257.0, 0, 255).astype("uint8"))  # 16-bit -> 8-bit like TensorFlow
        return np.asarray(img.convert("RGB"), dtype=np.uint8)


def _split_dataset(
    files: list,
    class_names: tuple[str, ...],
    image_size: int | tuple[int, int],
    batch_size: int,
    shuffle: bool,
    limit: int | None,
    seed: int,
) -> tf.data.Dataset:
    """Batches of the given usable files (:class:`helpers.photo_scan.ImageFile`), resized to ``image_size`` (side or (h, w))."""
    import numpy as np
    import tensorflow as tf

    if limit is not None and limit < len(files):
        # Choose the fixed subset from the file list, so only the chosen photos are ever decoded and cached.
        keep = np.sort(np.random.default_rng(seed).permutation(len(files))[:limit])
        files = [files[i] for i in keep]
    count = len(files)
    paths = [str(f.path) for f in files]
    labels = [[float(class_names.index(f.label))] for f in files]
    via_pillow = [f.decoder == "pillow" for f in files]
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)

    def with_tf(path: tf.Tensor) -> tf.Tensor:
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        image.set_shape((None, None, 3))
        return image

    def with_pillow(path: tf.Tensor) -> tf.Tensor:
        image = tf.numpy_function(_pillow_rgb, [path], tf.uint8, stateful=False)
        image.set_shape((None, None, 3))
        return image

    def load(path: tf.Tensor, label: tf.Tensor, pillow: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        # Ordinary files stay on the all-TensorFlow path; only the odd ones pay for a Python call.
        image = tf.cond(pillow, lambda: with_pillow(path), lambda: with_tf(path)) if any(via_pillow) else with_tf(path)
        image = tf.image.resize(image, size, method="bilinear")  # as image_dataset_from_directory does
        # uint8 in the cache: four times less memory than the float32 the loader yields.
        image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
        image.set_shape((*size, 3))
        return image, label

    ds = tf.data.Dataset.from_tensor_slices((paths, tf.constant(labels, tf.float32, shape=(count, 1)), via_pillow))
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    # No ignore_errors() here: it would hide the epoch length from Keras (an "Unknown" progress bar and a warning);
    # the scan has already decoded every file with Pillow and routed what TensorFlow misreads to the Pillow path.
    ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(max(count, 1), seed=seed)
    ds = ds.batch(batch_size).map(lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


_REPORTED: set[tuple] = set()


def image_datasets(
    root: Path, image_size: int, batch_size: int = 32, train_limit: int | None = None, seed: int = 42
) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """Train (reshuffled each epoch) and validation (fixed, class-mixed order) batches of float32 pixels in [0, 255], 0/1 labels.

    Scans the folder first (:func:`helpers.photo_scan.scan`): unusable files are skipped and listed once, odd formats
    (PNG, GIF, BMP, WebP, CMYK, palette, ...) are converted while loading, and the learner's files are never changed.
    Labels follow the sorted class folder names (cats=0, dogs=1). Raises :class:`DataError` when nothing can train.
    """
    report = photo_scan.require_trainable(photo_scan.scan(root), n_classes=len(CLASS_NAMES))
    notable = (report.unusable, [f for f in report.usable if f.converted], report.warnings)
    key = (str(report.root), tuple(str(u.path) for u in report.unusable), tuple(report.warnings))
    if any(notable) and key not in _REPORTED:
        _REPORTED.add(key)
        print(report.summary(max_lines=25))
    names = report.class_names
    train = _split_dataset(report.files("train"), names, image_size, batch_size, True, train_limit, seed)
    val = _split_dataset(_class_mixed(report.files("validation"), seed), names, image_size, batch_size, False, None, seed)
    return train, val


def _class_mixed(files: list, seed: int) -> list:
    """The files in a fixed, seeded order that mixes the classes in proportion: any prefix, any every-n-th, holds both.

    Two classes of equal size (the course's photos) follow the Thue-Morse sequence, so that the halves
    :func:`validation_and_test` and :func:`every_nth` take (every 2nd, 4th, ... photo) hold exactly as many of each.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    groups = {label: [f for f in files if f.label == label] for label in sorted({f.label for f in files})}
    shuffled = {label: [group[i] for i in rng.permutation(len(group))] for label, group in groups.items()}
    sizes = {len(group) for group in groups.values()}
    if len(groups) == 2 and len(sizes) == 1:
        # Position i takes the first class when i has an even number of 1-bits: every aligned pair holds one of
        # each, and so does every pair of any every-2**k-th subsequence (it is the same sequence or its mirror).
        queues = [iter(group) for group in shuffled.values()]
        return [next(queues[bin(i).count("1") % 2]) for i in range(2 * sizes.pop())]
    keyed = []
    for group in shuffled.values():
        # Stratified jitter: the r-th photo of a class lands at a random point of the r-th n-th of the run.
        for rank, (file, jitter) in enumerate(zip(group, rng.random(len(group)))):
            keyed.append(((rank + jitter) / len(group), file))
    return [f for _, f in sorted(keyed, key=lambda item: item[0])]


def validation_and_test(val: tf.data.Dataset, batch_size: int) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """Split the batched validation photos in two: even positions validate, odd ones are the held-out test split.

    The same photos every run, both classes in proportion (the validation photos come class-mixed, see
    :func:`_class_mixed`); nothing the notebook chooses (epochs, a path, a depth) may look at the test split.
    """
    import tensorflow as tf

    photos = val.unbatch()
    n = int(photos.reduce(0, lambda count, _: count + 1))  # shard() hides the length; Keras warns without it
    halves = []
    for index, size in ((0, (n + 1) // 2), (1, n // 2)):
        batches = photos.shard(2, index).batch(batch_size)
        halves.append(batches.apply(tf.data.experimental.assert_cardinality(-(-size // batch_size)))
                      .prefetch(tf.data.AUTOTUNE))
    return halves[0], halves[1]


def every_nth(ds: tf.data.Dataset, n: int, batch_size: int) -> tf.data.Dataset:
    """Keep every ``n``-th example of a batched dataset, re-batched to ``batch_size`` (``n == 1``: ``ds`` itself).

    Keeping every n-th example of the class-mixed validation set (`helpers.data._class_mixed`) keeps both classes
    in their proportion.
    """
    import tensorflow as tf

    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if n == 1:
        return ds
    # shard(n, 0) keeps examples 0, n, 2n, ... and, unlike a filter on enumerate(), needs no AutoGraph lambda.
    return ds.unbatch().shard(n, 0).batch(batch_size).prefetch(tf.data.AUTOTUNE)


def count_examples(ds: tf.data.Dataset) -> int:
    """Number of examples in a batched dataset (iterates it once when its size is not known statically)."""
    import numpy as np

    return int(sum(int(np.asarray(y).shape[0]) for _, y in ds))
