"""Side-by-side benchmark: the source's VGG16 feature-extraction recipe against this course's two recipes.

    python benchmarks/vgg16_feature_extraction.py [--per-class N] [--epochs 1] [--repeats 3] [--random-weights]
                                                  [--recipes source fast stream]

Recipes, all at 224×224 on the same photos, for the same number of epochs, with validation after each epoch:
- ``source``: seed article 001 — every photo loaded into a float32 NumPy array, ``ImageDataGenerator`` (rescale,
  zoom 0.3, rotation 50, shifts 0.2, shear 0.2, flip) at batch 80, frozen VGG16 with average pooling and its
  Dense 256 / Dropout 0.5 / Dense 128 / Dropout 0.7 head, Adam. (The article also sets the whole model untrainable,
  head included, which would train nothing; the benchmark trains the head, as the article intends.)
- ``fast``: this course's path A — features computed once by the frozen base from a streaming ``tf.data``
  pipeline, then the same head trained on the cached features.
- ``stream``: the way of this course's path B — uint8-cached ``tf.data`` pipeline, augmentation layers and
  ``vgg16.preprocess_input`` inside the model, the frozen base, the same head. The layers are the ``source`` recipe's
  generator settings without its shear (0.2°, invisible), not notebook 03's stack.

Each recipe runs in a fresh subprocess so that its peak resident memory is its own. Each figure is the median of
``--repeats`` runs. Timing does not depend on weight values, so ``--random-weights`` measures it where the ImageNet
weights cannot be downloaded (then no accuracy is reported).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZE = 224
RECIPES = ("source", "fast", "stream")


def _files(root: Path, split: str, per_class: int | None) -> tuple[list[Path], list[int]]:
    paths, labels = [], []
    for label, name in enumerate(("cats", "dogs")):
        files = sorted((root / split / name).glob("*.jpg"), key=lambda p: int(p.stem.split(".")[1]))
        files = files[:per_class] if per_class else files
        paths += files
        labels += [label] * len(files)
    return paths, labels


def _head(features, keras):
    x = keras.layers.Dense(256, activation="relu")(features)
    x = keras.layers.Dropout(0.5)(x)
    x = keras.layers.Dense(128, activation="relu")(x)
    x = keras.layers.Dropout(0.7)(x)
    return keras.layers.Dense(1, activation="sigmoid")(x)


def run_recipe(recipe: str, root: Path, per_class: int | None, epochs: int, weights: str | None) -> dict:
    """Train one recipe once; return its timings, peak memory and (with real weights) validation accuracy."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np
    import tensorflow as tf

    from helpers.timing import peak_memory_mb

    keras.utils.set_random_seed(0)
    train_files, train_labels = _files(root, "train", per_class)
    val_files, val_labels = _files(root, "validation", per_class and max(1, per_class // 2))
    n_train = len(train_files)
    start = time.perf_counter()
    base = keras.applications.VGG16(weights=weights, include_top=False, pooling="avg", input_shape=(SIZE, SIZE, 3))
    base.trainable = False

    if recipe == "source":
        from tensorflow.keras.preprocessing.image import ImageDataGenerator, img_to_array, load_img

        train_x = np.array([img_to_array(load_img(p, target_size=(SIZE, SIZE))) for p in train_files])
        val_x = np.array([img_to_array(load_img(p, target_size=(SIZE, SIZE))) for p in val_files])
        gen = ImageDataGenerator(rescale=1.0 / 255, zoom_range=0.3, rotation_range=50, width_shift_range=0.2,
                                 height_shift_range=0.2, shear_range=0.2, horizontal_flip=True, fill_mode="nearest")
        train_gen = gen.flow(train_x, np.array(train_labels), batch_size=80)
        val_gen = ImageDataGenerator(rescale=1.0 / 255).flow(val_x, np.array(val_labels), batch_size=16)
        model = keras.Model(base.input, _head(base.output, keras))
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        fit_start = time.perf_counter()
        hist = model.fit(train_gen, validation_data=val_gen, epochs=epochs, verbose=0)
    else:
        def stream(files, labels, batch):
            ds = tf.data.Dataset.from_tensor_slices(([str(p) for p in files], np.array(labels, "float32")))
            ds = ds.map(lambda p, y: (tf.cast(tf.image.resize(tf.io.decode_jpeg(tf.io.read_file(p), channels=3),
                                                              (SIZE, SIZE)), tf.uint8), y),
                        num_parallel_calls=tf.data.AUTOTUNE).cache()
            return ds, batch

        train_ds, _ = stream(train_files, train_labels, 32)
        val_ds, _ = stream(val_files, val_labels, 32)
        to_float = lambda x, y: (tf.cast(x, tf.float32), y)  # noqa: E731
        if recipe == "fast":
            extractor = keras.Sequential([keras.Input((SIZE, SIZE, 3)),
                                          keras.layers.Lambda(keras.applications.vgg16.preprocess_input), base])
            feats = {name: extractor.predict(ds.batch(16).map(to_float), verbose=0)
                     for name, ds in (("train", train_ds), ("val", val_ds))}
            inputs = keras.Input((512,))
            model = keras.Model(inputs, _head(inputs, keras))
            model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
            fit_start = time.perf_counter()
            hist = model.fit(feats["train"], np.array(train_labels, "float32"), batch_size=80, epochs=epochs,
                             validation_data=(feats["val"], np.array(val_labels, "float32")), verbose=0)
        else:
            augment = keras.Sequential([keras.layers.RandomFlip("horizontal"), keras.layers.RandomRotation(50 / 360),
                                        keras.layers.RandomZoom(0.3), keras.layers.RandomTranslation(0.2, 0.2)])
            inputs = keras.Input((SIZE, SIZE, 3))
            x = keras.applications.vgg16.preprocess_input(augment(inputs))
            model = keras.Model(inputs, _head(base(x, training=False), keras))
            model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
            fit_start = time.perf_counter()
            train = train_ds.shuffle(n_train, seed=0).batch(32).map(to_float).prefetch(tf.data.AUTOTUNE)
            val = val_ds.batch(32).map(to_float).prefetch(tf.data.AUTOTUNE)
            hist = model.fit(train, validation_data=val, epochs=epochs, verbose=0)
    end = time.perf_counter()
    fit_seconds = end - fit_start
    return {
        "recipe": recipe,
        "seconds_to_trained_head": end - start,
        "seconds_per_epoch": fit_seconds / epochs,
        # images through the whole pipeline per second, from building the base to a trained head
        "images_per_second": n_train * epochs / (end - start),
        "peak_mb": peak_memory_mb(),
        "val_accuracy": float(hist.history["val_accuracy"][-1]) if weights else None,
        "train_images": n_train,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None, help="folder with train/ and validation/ "
                        "(default: COURSE_DATA_DIR, else the course's cached download)")
    parser.add_argument("--per-class", type=int, default=None, help="training photos per class (default: all)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--random-weights", action="store_true")
    parser.add_argument("--recipes", nargs="+", choices=RECIPES, default=list(RECIPES),
                        help="which recipes to run (the source's is always the reference, so it is always included)")
    parser.add_argument("--one", choices=RECIPES, help=argparse.SUPPRESS)  # internal: run one recipe, print JSON
    args = parser.parse_args(argv)
    weights = None if args.random_weights else "imagenet"

    if args.data_dir is None:
        from helpers import data
        from helpers.profiles import Profile

        args.data_dir = data.get_dataset(Profile("quick"))
    if args.one:
        print(json.dumps(run_recipe(args.one, args.data_dir, args.per_class, args.epochs, weights)))
        return 0

    recipes = [r for r in RECIPES if r == "source" or r in args.recipes]
    runs: dict[str, list[dict]] = {r: [] for r in recipes}
    for rep in range(args.repeats):
        for recipe in recipes:
            cmd = [sys.executable, __file__, "--one", recipe, "--data-dir", str(args.data_dir),
                   "--epochs", str(args.epochs)] + (["--per-class", str(args.per_class)] if args.per_class else []) \
                + (["--random-weights"] if args.random_weights else [])
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if out.returncode:
                print(out.stderr[-2000:], file=sys.stderr)
                return out.returncode
            runs[recipe].append(json.loads(out.stdout.strip().splitlines()[-1]))
            r = runs[recipe][-1]
            print(f"repeat {rep + 1}/{args.repeats} {recipe:>6}: {r['seconds_to_trained_head']:.1f} s, "
                  f"{r['peak_mb']:.0f} MB", flush=True)

    med = {r: {k: statistics.median(x[k] for x in runs[r]) for k in
               ("seconds_to_trained_head", "seconds_per_epoch", "images_per_second", "peak_mb")} for r in recipes}
    ref = med["source"]
    lines = [
        f"VGG16 feature extraction at {SIZE}×{SIZE}, {runs['source'][0]['train_images']} training photos, "
        f"{args.epochs} epoch(s), median of {args.repeats} runs; {platform.machine()}, {os.cpu_count()} CPU cores; "
        f"TensorFlow {version('tensorflow')}, Keras {version('keras')}; "
        + ("random weights (timings only)" if args.random_weights else "ImageNet weights"),
        "",
        "| recipe | s to trained head | s per epoch | images/s | peak memory (MB) | speed-up vs source | memory vs source |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in recipes:
        m = med[r]
        lines.append(f"| {r} | {m['seconds_to_trained_head']:.1f} | {m['seconds_per_epoch']:.1f} | "
                     f"{m['images_per_second']:.1f} | {m['peak_mb']:.0f} | "
                     f"{ref['seconds_to_trained_head'] / m['seconds_to_trained_head']:.2f}× | "
                     f"{m['peak_mb'] / ref['peak_mb']:.2f}× |")
    if not args.random_weights:
        lines.append("")
        lines += [f"- {r}: validation accuracy {statistics.median(x['val_accuracy'] for x in runs[r]):.3f}" for r in recipes]
    table = "\n".join(lines) + "\n"
    out_dir = ROOT / "build" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"vgg16_feature_extraction_{runs['source'][0]['train_images']}photos_{args.epochs}epochs"
    (out_dir / f"{stem}.md").write_text(table)
    (out_dir / f"{stem}.json").write_text(json.dumps({"median": med, "runs": runs}, indent=2))
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
