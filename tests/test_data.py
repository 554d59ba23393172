from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from helpers import data
from helpers.data import DataError
from helpers.profiles import Profile


def test_manifest_lists_the_3000_photos_relative_to_the_dataset_folder():
    manifest = data.read_manifest()
    assert len(manifest) == 3000
    assert "train/cats/cat.0.jpg" in manifest and "validation/dogs/dog.2499.jpg" in manifest
    splits = {name.split("/")[0] + "/" + name.split("/")[1] for name in manifest}
    assert splits == {"train/cats", "train/dogs", "validation/cats", "validation/dogs"}


def test_verify_reports_missing_and_changed_files(tmp_path):
    root = tmp_path / "ds"
    (root / "train" / "cats").mkdir(parents=True)
    (root / "train" / "cats" / "a.jpg").write_bytes(b"hello")
    manifest = {"train/cats/a.jpg": "5d41402abc4b2a76b9719d911017c592", "train/cats/b.jpg": "0" * 32}
    assert data.verify(root, manifest) == ["missing train/cats/b.jpg"]
    (root / "train" / "cats" / "a.jpg").write_bytes(b"hellO")
    assert data.verify(root, manifest)[0] == "checksum differs for train/cats/a.jpg"


def test_smoke_dataset_is_deterministic_and_laid_out_like_the_real_one(tmp_path):
    a = data.make_smoke_dataset(tmp_path / "a")
    b = data.make_smoke_dataset(tmp_path / "b")
    files_a = sorted(p.relative_to(a) for p in a.rglob("*.jpg"))
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*.jpg"))
    assert len(files_a) == 2 * sum(data.SMOKE_COUNTS.values())
    assert Path("train/cats/cat.0.jpg") in files_a and Path("validation/dogs/dog.2000.jpg") in files_a
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files_a)


def test_smoke_classes_differ_visibly(tmp_path):
    from PIL import Image

    root = data.make_smoke_dataset(tmp_path / "s")
    red_minus_blue = {}
    for name in data.CLASS_NAMES:
        pix = [np.asarray(Image.open(p), dtype=float).mean(axis=(0, 1)) for p in (root / "train" / name).glob("*.jpg")]
        red_minus_blue[name] = float(np.mean([p[0] - p[2] for p in pix]))
    assert red_minus_blue["cats"] > 50 > -50 > red_minus_blue["dogs"]


def test_get_dataset_in_smoke_generates_into_the_cache():
    root = data.get_dataset(Profile("smoke"))
    assert (root / "train" / "dogs").is_dir() and "smoke" in str(root)


def test_local_copy_with_wrong_layout_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="no train/ and validation/ folders.*COURSE_DATA_DIR|COURSE_DATA_DIR.*no train/"):
        data.get_dataset(Profile("quick"))


def test_local_copy_that_is_not_intact_is_refused_and_left_alone(monkeypatch, tmp_path):
    for split in data.SPLITS:
        (tmp_path / "copy" / split / "cats").mkdir(parents=True)
    (tmp_path / "copy" / "train" / "cats" / "cat.0.jpg").write_bytes(b"x")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "copy"))
    with pytest.raises(DataError, match="not an intact copy"):
        data.get_dataset(Profile("quick"))
    assert (tmp_path / "copy" / "train" / "cats" / "cat.0.jpg").read_bytes() == b"x"


def test_no_network_names_the_local_copy_setting(tmp_path):
    with pytest.raises(DataError, match="COURSE_DATA_DIR"):
        data.download_dataset(tmp_path, urls=["http://127.0.0.1:9/cats_and_dogs_filtered.zip"])
    assert not (tmp_path / data.DATASET).exists()
    assert not any(p.name.endswith(".part") for p in tmp_path.rglob("*"))


def test_safe_extract_refuses_parent_paths(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../escaped.txt", "x")
    with pytest.raises(DataError, match="climbs out"):
        data.safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists()


def test_image_datasets_shapes_labels_and_limit(tmp_path):
    root = data.make_smoke_dataset(tmp_path / "s")
    train, val = data.image_datasets(root, image_size=64, batch_size=8)
    x, y = next(iter(train))
    assert x.shape == (8, 64, 64, 3) and x.dtype.name == "float32" and y.shape == (8, 1)
    assert 0 <= float(x.numpy().min()) and float(x.numpy().max()) <= 255
    val_labels = np.concatenate([b.numpy().ravel() for _, b in val])
    assert len(val_labels) == 2 * data.SMOKE_COUNTS["validation"]
    again_val = np.concatenate([b.numpy().ravel() for _, b in val])
    assert (val_labels == again_val).all() and 0 < val_labels[:8].sum() < 8  # fixed order, classes mixed
    small, _ = data.image_datasets(root, image_size=64, batch_size=8, train_limit=10)
    first = np.concatenate([b.numpy().ravel() for _, b in small])
    assert len(first) == 10
    again = np.concatenate([b.numpy().ravel() for _, b in small])
    assert sorted(first) == sorted(again)  # the subset is fixed, only its order changes


def test_image_datasets_missing_split_is_explained(tmp_path):
    (tmp_path / "only" / "train").mkdir(parents=True)
    with pytest.raises(DataError, match="validation/"):
        data.image_datasets(tmp_path / "only", image_size=32)


def test_inventory_reads_sizes(tmp_path):
    root = data.make_smoke_dataset(tmp_path / "s")
    inv = data.inventory(root)
    assert len(inv) == 2 * sum(data.SMOKE_COUNTS.values())
    assert set(inv.columns) == {"split", "class", "file", "width", "height"}
    assert inv.width.between(72, 120).all()


def test_inventory_skips_files_that_are_not_images(tmp_path):
    root = data.make_smoke_dataset(tmp_path / "s")
    (root / "train" / "cats" / "notes.jpg").write_text("not a photo")
    assert "notes.jpg" not in set(data.inventory(root).file)


def _make_smoke_in(root: str) -> int:
    from pathlib import Path

    from helpers import data as d

    return len(list(Path(d.make_smoke_dataset(Path(root))).rglob("*.jpg")))


def test_smoke_images_made_by_processes_at_once_are_all_whole(tmp_path):
    """Several processes generating the smoke images at once (make test's two kernels): each gets the whole set."""
    import multiprocessing

    from PIL import Image

    root = tmp_path / "cache" / "smoke"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        counts = pool.map(_make_smoke_in, [str(root)] * 8)
    expected = 2 * sum(data.SMOKE_COUNTS.values())
    assert counts == [expected] * 8
    for path in root.rglob("*.jpg"):
        with Image.open(path) as img:
            img.load()  # raises on a truncated file
    assert sorted(p.name for p in root.parent.iterdir()) == ["smoke"], "no partial folders left behind"


def test_a_half_made_smoke_folder_from_an_interrupted_run_is_replaced(tmp_path):
    root = tmp_path / "smoke"
    (root / "train" / "cats").mkdir(parents=True)
    (root / "train" / "cats" / "cat.0.jpg").write_bytes(b"")  # interrupted mid-write, no .complete marker
    data.make_smoke_dataset(root)
    assert (root / ".complete").is_file()
    assert (root / "train" / "cats" / "cat.0.jpg").stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["smoke"]


def test_no_one_sees_the_smoke_folder_half_made(tmp_path, monkeypatch):
    """While the images are being written, the folder a notebook reads either does not exist yet or is complete."""
    from PIL import Image

    root = tmp_path / "smoke"
    seen = []
    save = Image.Image.save

    def watching_save(self, fp, *args, **kwargs):
        seen.append(not root.exists() or (root / ".complete").is_file())
        return save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", watching_save)
    data.make_smoke_dataset(root)
    assert len(seen) == 2 * sum(data.SMOKE_COUNTS.values()) and all(seen)


def test_validation_and_test_are_disjoint_halves_with_both_classes(tmp_path):
    import numpy as np

    from helpers import data

    root = data.make_smoke_dataset(tmp_path / "smoke", counts={"train": 2, "validation": 6})
    _, val = data.image_datasets(root, image_size=16, batch_size=4)
    validation, test = data.validation_and_test(val, batch_size=4)
    v = np.concatenate([x.numpy().reshape(len(x), -1) for x, _ in validation])
    t = np.concatenate([x.numpy().reshape(len(x), -1) for x, _ in test])
    vy = np.concatenate([y.numpy().ravel() for _, y in validation])
    ty = np.concatenate([y.numpy().ravel() for _, y in test])
    assert len(v) == len(t) == 6 and 0 < vy.sum() < 6 and 0 < ty.sum() < 6  # both classes in each half
    assert not any((row == t).all(axis=1).any() for row in v)  # no photo in both
    again = np.concatenate([x.numpy().reshape(len(x), -1) for x, _ in data.validation_and_test(val, 4)[1]])
    assert (again == t).all()  # the same test photos every time


def test_validation_photos_come_class_mixed_in_a_fixed_seeded_order(tmp_path):
    from helpers import data, photo_scan

    root = data.make_smoke_dataset(tmp_path / "smoke", counts={"train": 2, "validation": 6})
    files = photo_scan.scan(root).files("validation")
    order = data._class_mixed(files, seed=42)
    labels = [f.label for f in order]
    assert sorted(map(str, (f.path for f in order))) == sorted(map(str, (f.path for f in files)))  # same photos
    assert all(abs(labels[:k].count("dogs") - k / 2) <= 2 for k in range(1, len(labels) + 1))  # every prefix mixed
    assert [f.path for f in data._class_mixed(files, seed=42)] == [f.path for f in order]  # fixed for a seed
    assert [f.path for f in data._class_mixed(files, seed=7)] != [f.path for f in order]  # and seeded

    _, val = data.image_datasets(root, image_size=16, batch_size=4)
    first_batch = next(iter(val))[1].numpy().ravel().tolist()
    assert 0 < sum(first_batch) < len(first_batch)  # the loader's first batch holds both classes


def test_validation_and_test_halves_hold_exactly_half_of_each_class():
    """The course's 500 + 500 validation photos: each half, and each half of every 2nd photo (quick), is 50/50 (odd: off by one)."""
    from types import SimpleNamespace

    from helpers import data

    files = [SimpleNamespace(label="cats", path=f"c{i}") for i in range(500)] + \
            [SimpleNamespace(label="dogs", path=f"d{i}") for i in range(500)]
    order = [f.label for f in data._class_mixed(files, seed=42)]
    for every in (1, 2, 4):  # every_nth(ds, every), then validation_and_test's even and odd positions
        kept = order[::every]
        for half in (kept[0::2], kept[1::2]):
            assert abs(half.count("cats") - half.count("dogs")) == len(half) % 2, (every, half.count("cats"))
    assert all(abs(order[:k].count("dogs") - k / 2) <= 1 for k in range(1, 1001))  # every prefix mixed
    assert sorted(f.path for f in data._class_mixed(files, seed=7)) == sorted(f.path for f in files)


def test_class_mixed_keeps_the_proportion_of_unequal_classes(tmp_path):
    from types import SimpleNamespace

    from helpers import data

    files = [SimpleNamespace(label="cats", path=f"c{i}") for i in range(6)] + \
            [SimpleNamespace(label="dogs", path=f"d{i}") for i in range(3)]
    labels = [f.label for f in data._class_mixed(files, seed=0)]
    assert all(abs(labels[:k].count("dogs") - k / 3) <= 2 for k in range(1, 10))
    assert labels[:4].count("dogs") >= 1  # a batch of four already holds both


def test_every_nth_keeps_both_classes_of_a_sorted_dataset():
    tf = pytest.importorskip("tensorflow")
    labels = np.array([0.0] * 6 + [1.0] * 6, dtype="float32")  # sorted by class, as a folder is
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((12, 2, 2, 3), "float32"), labels[:, None])).batch(4)
    sub = data.every_nth(ds, 3, batch_size=2)
    kept = np.concatenate([y.numpy().ravel() for _, y in sub])
    assert kept.tolist() == labels[::3].tolist() and set(kept.tolist()) == {0.0, 1.0}
    assert data.count_examples(sub) == 4
    assert data.every_nth(ds, 1, batch_size=2) is ds
    with pytest.raises(ValueError):
        data.every_nth(ds, 0, batch_size=2)
