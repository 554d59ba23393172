"""Issue 7: learners' own folders, broken downloads, crafted archives and repeatable smoke runs.

Every odd file is generated here with Pillow inside tmp_path; nothing touches the network (a local http.server on
127.0.0.1 stands in for the download site).
"""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import data, photo_scan
from helpers.data import DataError


def _jpeg(path: Path, colour=(200, 60, 40), size=(48, 40), mode="RGB", fmt="JPEG", **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).convert(mode).save(path, fmt, **kw)
    return path


def _plain_dataset(root: Path, per_class: int = 3) -> Path:
    for split in data.SPLITS:
        for label, name in enumerate(data.CLASS_NAMES):
            for i in range(per_class):
                _jpeg(root / split / name / f"{name[:-1]}.{i}.jpg", (200, 60, 40) if label == 0 else (40, 60, 200))
    return root


# Odd files, all put in validation/cats so the loader's fixed order lets each be checked. name -> usable?
def _odd_files(folder: Path) -> dict[str, bool]:
    colour = (180, 90, 30)
    _jpeg(folder / "gray.jpg", colour, mode="L")
    _jpeg(folder / "cmyk.jpg", colour, mode="CMYK")
    _jpeg(folder / "palette.png", colour, mode="P", fmt="PNG")
    _jpeg(folder / "rgba.png", colour, mode="RGBA", fmt="PNG")
    _jpeg(folder / "anim.gif", colour, fmt="GIF")
    _jpeg(folder / "plain.bmp", colour, fmt="BMP")
    _jpeg(folder / "palette.bmp", colour, mode="P", fmt="BMP")  # TensorFlow misreads these: Pillow converts
    _jpeg(folder / "photo.webp", colour, fmt="WEBP")
    _jpeg(folder / "scan.tif", colour, fmt="TIFF")  # TensorFlow cannot decode TIFF at all
    _jpeg(folder / "png_inside.jpg", colour, fmt="PNG")
    _jpeg(folder / "tiny.jpg", colour, size=(10, 10))
    _jpeg(folder / "huge.jpg", colour, size=(6000, 4000), quality=50)
    (folder / "empty.jpg").write_bytes(b"")
    whole = _jpeg(folder / "whole.jpg", colour, size=(200, 150)).read_bytes()
    (folder / "whole.jpg").unlink()
    (folder / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (folder / "notes.jpg").write_text("these are my cat photos\n")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(100))
    with zipfile.ZipFile(folder / "more_cats.zip", "w") as zf:
        zf.writestr("cat.jpg", whole)
    (folder / "phone.jpg").write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64))
    (folder / "vet_bill.jpg").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + bytes(64))
    _jpeg(folder / ".ipynb_checkpoints" / "cat-checkpoint.jpg")  # hidden folders are ignored
    usable = ["gray.jpg", "cmyk.jpg", "palette.png", "rgba.png", "anim.gif", "plain.bmp", "palette.bmp", "photo.webp"]
    usable += ["scan.tif", "png_inside.jpg", "tiny.jpg", "huge.jpg"]
    unusable = ["empty.jpg", "truncated.jpg", "notes.jpg", ".DS_Store", "more_cats.zip", "phone.jpg", "vet_bill.jpg"]
    return {**dict.fromkeys(usable, True), **dict.fromkeys(unusable, False)}


def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(root)): (hashlib.md5(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def odd_root(tmp_path):
    root = _plain_dataset(tmp_path / "mine")
    expected = _odd_files(root / "validation" / "cats")
    (root / "validation" / "README.txt").write_text("my photos")  # outside any class folder
    _jpeg(root / "validation" / ".ipynb_checkpoints" / "stray.jpg")
    return root, expected


def test_scan_counts_every_split_and_class_and_gives_each_unusable_file_a_reason(odd_root):
    root, expected = odd_root
    report = photo_scan.scan(root)
    assert not report.problems
    table = report.table()
    assert table.loc[("train", "cats"), "usable"] == 3 and table.loc[("validation", "dogs"), "usable"] == 3
    assert table.loc[("validation", "cats"), "usable"] == 3 + sum(expected.values())
    assert table.loc[("validation", "cats"), "skipped"] == sum(not ok for ok in expected.values())
    reasons = {u.path.name: u.reason for u in report.unusable}
    assert "outside any class folder" in reasons.pop("README.txt")
    assert set(reasons) == {name for name, ok in expected.items() if not ok}
    assert "HEIC" in reasons["phone.jpg"] and "PDF" in reasons["vet_bill.jpg"]
    assert "0 bytes" in reasons["empty.jpg"] and "truncated" in reasons["truncated.jpg"]
    assert "text" in reasons["notes.jpg"] and "macOS" in reasons[".DS_Store"] and "zip" in reasons["more_cats.zip"]
    notes = {f.path.name: f.notes for f in report.usable if f.converted}
    assert set(notes) == {name for name, ok in expected.items() if ok}
    assert any("holds PNG" in n for n in notes["png_inside.jpg"]) and any("CMYK" in n for n in notes["cmyk.jpg"])
    assert any("tiny" in n for n in notes["tiny.jpg"]) and any("huge" in n for n in notes["huge.jpg"])
    via_pillow = {"palette.bmp", "scan.tif"} | (set() if photo_scan.tensorflow_reads_webp() else {"photo.webp"})
    assert {f.path.name for f in report.usable if f.decoder == "pillow"} == via_pillow
    summary = report.summary()
    assert summary.splitlines()[0].startswith(f"{root}: train: 3 cats, 3 dogs; validation: 15 cats, 3 dogs")
    assert all(name in summary for name in expected)


def test_loader_trains_on_usable_files_converts_odd_ones_and_changes_nothing(odd_root, capsys):
    root, expected = odd_root
    before = _snapshot(root)
    train, val = data.image_datasets(root, image_size=32, batch_size=8)
    printed = capsys.readouterr().out
    assert "truncated.jpg" in printed and "skipped" in printed
    x = np.concatenate([b.numpy() for b, _ in val])
    y = np.concatenate([b.numpy().ravel() for _, b in val])
    n_cats = 3 + sum(expected.values())
    files = data._class_mixed(photo_scan.scan(root).files("validation"), seed=42)  # the loader's validation order
    assert x.shape == (n_cats + 3, 32, 32, 3) and y.tolist() == [float(f.label == "dogs") for f in files]
    assert sorted(y.tolist()) == [0.0] * n_cats + [1.0] * 3
    assert sum(len(b) for _, b in train) == 6
    for image, file in zip(x, files):
        with Image.open(file.path) as img:
            want = np.asarray(img.convert("RGB"), dtype=float).mean(axis=(0, 1))
        assert np.abs(image.mean(axis=(0, 1)) - want).max() < 6, file.path.name
    data.image_datasets(root, image_size=32, batch_size=8)
    assert capsys.readouterr().out == ""  # the same skipped files are reported once
    assert _snapshot(root) == before  # nothing written, moved, deleted or rewritten


def test_loader_gives_the_same_pixels_as_keras_on_ordinary_jpegs(tmp_path):
    import keras

    root = data.make_smoke_dataset(tmp_path / "s", counts={"train": 2, "validation": 4})
    _, val = data.image_datasets(root, image_size=48, batch_size=4)
    ours = np.concatenate([b.numpy() for b, _ in val])
    ref = keras.utils.image_dataset_from_directory(
        root / "validation", label_mode="binary", image_size=(48, 48), shuffle=False, batch_size=4, verbose=False
    )
    theirs = dict(zip(ref.file_paths, np.concatenate([np.round(b.numpy()) for b, _ in ref])))
    order = [str(f.path) for f in data._class_mixed(photo_scan.scan(root).files("validation"), seed=42)]
    assert sorted(order) == sorted(theirs) and np.array_equal(ours, np.stack([theirs[p] for p in order]))


def test_images_too_large_to_decode_safely_are_skipped(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # stands in for a 90-megapixel decompression bomb
    found = photo_scan.scan_file(_jpeg(tmp_path / "bomb.jpg", size=(48, 40)))
    assert isinstance(found, photo_scan.Unusable) and "decompression bomb" in found.reason


def _make(root: Path, layout: dict[str, int]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for folder, n in layout.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            _jpeg(root / folder / f"img{i}.jpg")
    return root


FULL = {"train/cats": 2, "train/dogs": 2, "validation/cats": 1, "validation/dogs": 1}


@pytest.mark.parametrize(
    "layout, message",
    [
        (None, "does not exist"),
        ({"train/cats": 2, "train/dogs": 2}, "no validation/ folder"),
        ({"train/cats": 2, "validation/cats": 1}, "only cats/"),
        ({**FULL, "train/dogs": 0}, "usable images in 1 class folder"),
        ({**FULL, "validation/birds": 1}, "class folders differ"),
        ({"train/cats": 0, "train/dogs": 0, "validation/cats": 0, "validation/dogs": 0}, "usable images in 0 class"),
        ({**FULL, "train/birds": 1, "validation/birds": 1}, "3 class folders"),
    ],
    ids=["missing-folder", "missing-split", "one-class", "empty-class", "classes-differ", "no-images", "three-classes"],
)
def test_training_stops_with_a_short_message_only_when_nothing_sensible_can_run(tmp_path, layout, message):
    root = tmp_path / "mine" if layout is None else _make(tmp_path / "mine", layout)
    with pytest.raises(DataError, match=message) as caught:
        data.image_datasets(root, image_size=32)
    text = str(caught.value)
    assert len(text.splitlines()) <= 2 and len(text) < 400
    assert any(word in text for word in ("pass ", "add ", "Add ", "give ", "Keep ", "needs"))


def test_an_empty_validation_class_is_a_warning_not_a_stop(tmp_path, capsys):
    root = _make(tmp_path / "mine", {**FULL, "validation/dogs": 0})
    train, val = data.image_datasets(root, image_size=32)
    assert "validation/dogs/ is empty" in capsys.readouterr().out
    assert sum(len(b) for _, b in val) == 1


# ---------------------------------------------------------------- archives


def _zip_with(tmp_path: Path, name: str, link: bool = False) -> Path:
    archive = tmp_path / "crafted.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("cats_and_dogs_filtered/train/cats/ok.txt", "fine")
        info = zipfile.ZipInfo(name)
        if link:
            info.external_attr = (0o120777 << 16)  # a symbolic link whose "content" is its target
        zf.writestr(info, "/etc/passwd" if link else "escaped")
    return archive


def _tar_with(tmp_path: Path, kind: str) -> Path:
    archive = tmp_path / "crafted.tar.gz"
    with tarfile.open(archive, "w:gz") as tf_:
        ok = tarfile.TarInfo("cats_and_dogs_filtered/ok.txt")
        ok.size = 4
        tf_.addfile(ok, io.BytesIO(b"fine"))
        bad = tarfile.TarInfo({"absolute": "/course-test-escaped.txt", "parent": "../escaped.txt"}.get(kind, "link"))
        if kind == "symlink":
            bad.type, bad.linkname = tarfile.SYMTYPE, "../../escaped.txt"
        elif kind == "hardlink":
            bad.type, bad.linkname = tarfile.LNKTYPE, "/etc/passwd"
        elif kind == "device":
            bad.type = tarfile.CHRTYPE
        if kind in ("absolute", "parent"):
            bad.size = 7
            tf_.addfile(bad, io.BytesIO(b"escaped"))
        else:
            tf_.addfile(bad)
    return archive


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda t: _zip_with(t, "/abs/escaped.txt"), "absolute path"),
        (lambda t: _zip_with(t, "C:/escaped.txt"), "absolute path"),
        (lambda t: _zip_with(t, "a/../../escaped.txt"), "climbs out"),
        (lambda t: _zip_with(t, "cats_and_dogs_filtered/link", link=True), "is a link"),
        (lambda t: _tar_with(t, "absolute"), "absolute path"),
        (lambda t: _tar_with(t, "parent"), "climbs out"),
        (lambda t: _tar_with(t, "symlink"), "is a link"),
        (lambda t: _tar_with(t, "hardlink"), "is a link"),
        (lambda t: _tar_with(t, "device"), "not a plain file"),
    ],
    ids=["zip-absolute", "zip-drive", "zip-dotdot", "zip-symlink", "tar-absolute", "tar-dotdot", "tar-symlink",
         "tar-hardlink", "tar-device"],
)
def test_extraction_refuses_members_that_would_land_outside_and_writes_nothing(tmp_path, make, reason):
    archive = make(tmp_path)
    before = sorted(p for p in tmp_path.rglob("*"))
    with pytest.raises(DataError, match=reason):
        data.safe_extract(archive, tmp_path / "target")
    after = [p for p in sorted(tmp_path.rglob("*")) if p != tmp_path / "target"]
    assert after == before and not any((tmp_path / "target").iterdir())
    assert not Path("/course-test-escaped.txt").exists() and not (tmp_path.parent / "escaped.txt").exists()


# ---------------------------------------------------------------- downloads


def _fake_dataset_zip(tmp_path: Path) -> tuple[bytes, dict[str, str]]:
    """A tiny archive laid out like the real one, and its md5 manifest."""
    buffer, manifest = io.BytesIO(), {}
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in ("train/cats/cat.0.jpg", "train/dogs/dog.0.jpg", "validation/cats/cat.1.jpg", "validation/dogs/dog.1.jpg"):
            out = io.BytesIO()
            Image.new("RGB", (16, 16), (len(name) * 5, 80, 120)).save(out, "JPEG")
            zf.writestr(f"{data.DATASET}/{name}", out.getvalue())
            manifest[name] = hashlib.md5(out.getvalue()).hexdigest()
    return buffer.getvalue(), manifest


@pytest.fixture
def server():
    """A local download site: path -> (bytes sent, Content-Length announced)."""
    routes: dict[str, tuple[bytes, int]] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            if self.path not in routes:
                self.send_error(404)
                return
            body, length = routes[self.path]
            self.send_response(200)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(body)  # fewer bytes than announced: the connection drops mid-download

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield base, routes
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_partial_and_corrupt_downloads_are_discarded_and_a_retry_works(tmp_path, server):
    base, routes = server
    good, manifest = _fake_dataset_zip(tmp_path)
    corrupt = bytearray(good)
    corrupt[len(good) // 3] ^= 0xFF  # one flipped byte inside a photo: same size, wrong checksum
    routes["/dropped.zip"] = (good[: len(good) // 2], len(good))
    routes["/short.zip"] = (good[: len(good) // 2], len(good) // 2)
    routes["/corrupt.zip"] = (bytes(corrupt), len(good))
    routes["/good.zip"] = (good, len(good))
    cache = tmp_path / "cache"
    cache.mkdir()
    for bad in ("/dropped.zip", "/short.zip", "/corrupt.zip"):
        with pytest.raises(DataError, match="arrived incomplete or damaged and was discarded.*Run again") as caught:
            data.download_dataset(cache, urls=[base + bad], expected_bytes=len(good), manifest=manifest)
        assert "COURSE_DATA_DIR" in str(caught.value)
        assert list(cache.iterdir()) == [], f"{bad} left something in the cache"
    # the first URL fails, the fallback works: as with the moved public URL
    final = data.download_dataset(cache, urls=[base + "/corrupt.zip", base + "/good.zip"], expected_bytes=len(good), manifest=manifest)
    assert final == cache / data.DATASET and data.verify(final, manifest) == []
    assert [p.name for p in cache.iterdir()] == [data.DATASET]


def test_no_network_names_the_setting_for_a_local_copy(tmp_path):
    with pytest.raises(DataError, match="No network.*COURSE_DATA_DIR") as caught:
        data.download_dataset(tmp_path, urls=["http://127.0.0.1:9/cats_and_dogs_filtered.zip"])
    assert len(str(caught.value).splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_too_little_disk_space_is_reported_before_downloading(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(data.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 5 * 10**6, 5 * 10**6))

    def no_download(*args, **kwargs):
        raise AssertionError("the download started")

    monkeypatch.setattr(data.urllib.request, "urlopen", no_download)
    with pytest.raises(DataError, match=r"Only 5 MB free.*COURSE_CACHE_DIR"):
        data.download_dataset(tmp_path)


def test_an_existing_dataset_folder_is_never_overwritten(tmp_path, server):
    base, routes = server
    good, manifest = _fake_dataset_zip(tmp_path)
    routes["/good.zip"] = (good, len(good))
    mine = tmp_path / data.DATASET / "train" / "cats" / "my_cat.jpg"
    _jpeg(mine)
    before = _snapshot(tmp_path / data.DATASET)
    with pytest.raises(DataError, match="never overwritten"):
        data.download_dataset(tmp_path, urls=[base + "/good.zip"], expected_bytes=len(good), manifest=manifest)
    assert _snapshot(tmp_path / data.DATASET) == before


# ---------------------------------------------------------------- determinism


def _smoke_run(root: Path) -> list[float]:
    import keras

    keras.utils.set_random_seed(7)
    train, val = data.image_datasets(root, image_size=32, batch_size=8, seed=7)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(train, validation_data=val, epochs=2, verbose=0)
    return [v for key in sorted(history.history) for v in history.history[key]]


def test_same_profile_and_seed_give_the_same_smoke_results_twice(tmp_path):
    root = data.make_smoke_dataset(tmp_path / "smoke")
    first, second = _smoke_run(root), _smoke_run(root)
    assert first == second  # exact: no enable_op_determinism() needed on CPU for these ops


@pytest.mark.parametrize("reads_webp", [True, False])
def test_webp_goes_to_pillow_where_this_tensorflow_cannot_read_it(odd_root, monkeypatch, reads_webp):
    """TensorFlow 2.18 (the floor) cannot decode WebP, 2.21 can: the loader must read it either way."""
    root, _ = odd_root
    if reads_webp and not photo_scan.tensorflow_reads_webp():
        pytest.skip(f"TensorFlow {__import__('tensorflow').__version__} cannot decode WebP: only the Pillow path applies")
    monkeypatch.setattr(photo_scan, "tensorflow_reads_webp", lambda: reads_webp)
    webp = [f for f in photo_scan.scan(root).usable if f.format == "WEBP"]
    assert webp and all(f.decoder == ("tf" if reads_webp else "pillow") for f in webp)
    _, val = data.image_datasets(root, image_size=32, batch_size=8)
    files = data._class_mixed(photo_scan.scan(root).files("validation"), seed=42)
    x = np.concatenate([b.numpy() for b, _ in val])
    for image, file in zip(x, files):
        if file.format == "WEBP":
            with Image.open(file.path) as img:
                want = np.asarray(img.convert("RGB"), dtype=float).mean(axis=(0, 1))
            assert np.abs(image.mean(axis=(0, 1)) - want).max() < 6, file.path.name
