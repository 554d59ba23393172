"""Does TensorFlow give back the memory of a model that was trained and then deleted? Notebook 05's question, measured.

    python benchmarks/memory_after_fit.py [--units 8 1024 4096] [--runs 3] [--steps 5]

For each head size, in a fresh subprocess: InceptionV3 without weights at 100×100, frozen and cut at ``mixed7``, with
05's head (Flatten → Dense(units, ReLU) → Dense(1, sigmoid), RMSprop 1e-4), trained ``--steps`` batches of 20
generated images with validation; then the model is deleted, ``keras.backend.clear_session()`` and ``gc.collect()``
run, and weak references check that none of its Python objects is left. That is repeated ``--runs`` times. The
process's resident memory (VmRSS, MB of 2^20 bytes) is printed after each phase, and, per head size, what each run
after the first added at its end.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys


def rss_mb() -> int:
    """This process's resident memory in MB (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def measure(units: int, runs: int, steps: int) -> dict:
    """Build, train and delete 05's model ``runs`` times; resident memory after each phase."""
    import gc
    import weakref

    import keras
    import numpy as np
    from keras import layers
    from keras.applications import InceptionV3

    import helpers  # noqa: F401  (the course's Keras settings, as in the notebooks; TensorFlow is already started above)

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (20 * steps, 100, 100, 3)).astype("float32")
    y = rng.integers(0, 2, (20 * steps, 1)).astype("float32")
    phases, alive = [("start", rss_mb())], []
    for run in range(runs):
        base = InceptionV3(input_shape=(100, 100, 3), include_top=False, weights=None)
        for layer in base.layers:
            layer.trainable = False
        head = layers.Dense(units, activation="relu")(layers.Flatten()(base.get_layer("mixed7").output))
        model = keras.Model(base.input, layers.Dense(1, activation="sigmoid")(head))
        model.compile(optimizer=keras.optimizers.RMSprop(1e-4), loss="binary_crossentropy", metrics=["accuracy"])
        phases.append((f"run {run + 1} built", rss_mb()))
        model.fit(x, y, batch_size=20, epochs=1, validation_data=(x[:40], y[:40]), verbose=0)
        phases.append((f"run {run + 1} trained", rss_mb()))
        refs = [weakref.ref(model), weakref.ref(model.optimizer), weakref.ref(model.layers[-1].kernel)]
        del base, layer, head, model
        keras.backend.clear_session()
        gc.collect()
        alive.append(sum(r() is not None for r in refs))
        phases.append((f"run {run + 1} deleted", rss_mb()))
    return {"units": units, "phases": phases, "python_objects_alive_after_delete": alive}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[8, 1024, 4096])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a subprocess measuring one head size
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(measure(args.one, args.runs, args.steps)))
        return
    for units in args.units:
        out = subprocess.run([sys.executable, __file__, "--one", str(units), "--runs", str(args.runs),
                              "--steps", str(args.steps)], capture_output=True, text=True, check=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        print(f"\nhead Dense({units}): Python objects alive after each delete: {result['python_objects_alive_after_delete']}")
        for name, mb in result["phases"]:
            print(f"  {name:16} {mb:6,} MB")
        ends = [mb for name, mb in result["phases"] if name.endswith("trained")]
        added = ", ".join(f"{b - a:+,} MB" for a, b in itertools.pairwise(ends))
        print(f"  each run after the first added, at its end: {added}")


if __name__ == "__main__":
    main()
