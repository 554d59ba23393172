"""Checks for the notebooks' "Your turn" exercises: each prints feedback and returns True when the answer is right.

A check given ``None`` prints a reminder and returns a false Verdict without failing, so "Run all" never stops on an
exercise. Solution cells start with ``%%solution`` (:func:`solution`): a learner's "Run all" skips them, while
``make test`` (``COURSE_SOLUTIONS=1``) runs them, and they ``assert`` their checks, so nbval tests them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

ENV_SOLUTIONS = "COURSE_SOLUTIONS"

if TYPE_CHECKING:
    import pandas as pd


class Verdict:
    """A check's outcome: truthy when the answer is right; shows nothing as a cell's last value (the check printed)."""

    def __init__(self, ok: bool) -> None:
        self.ok = bool(ok)

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"Verdict({self.ok})"

    def _ipython_display_(self) -> None:
        pass


def _feedback(answer: Any, ok: bool, right: str, hint: str) -> Verdict:
    if answer is None:
        return _not_yet("Not answered yet: replace None with your answer and run the cell again.")
    print(f"✓ Correct. {right}" if ok else f"✗ Not quite. {hint}")
    return Verdict(ok)


def _not_yet(what_to_do: str) -> Verdict:
    """Nothing to grade yet (no answer, or the experiment has not run): say what to do; not right."""
    print(what_to_do)
    return Verdict(False)


def _outcome(answer: bool | None, truth: bool, right: str, hint: str) -> Verdict:
    """A True/False answer about a measured outcome: right when it matches what the run measured."""
    return _feedback(answer, answer is not None and bool(answer) == truth, right, hint)


def solution(line: str, cell: str) -> None:
    """The ``%%solution`` cell magic: runs the cell only with ``%%solution run`` or ``COURSE_SOLUTIONS=1`` (tests)."""
    from IPython import get_ipython

    if line.strip() == "run" or os.environ.get(ENV_SOLUTIONS) == "1":
        exec(compile(cell, "<solution>", "exec"), get_ipython().user_ns)  # noqa: S102 - the notebook's own cell
    else:
        print("Solution not run, so that you can try first. To read it, click the collapsed cell; to run it, change "
              "its first line to %%solution run.")


def register_solution_magic() -> None:
    """Make ``%%solution`` available in the running IPython kernel (a no-op outside IPython)."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.register_magic_function(solution, magic_kind="cell", magic_name="solution")


# ---------------------------------------------------------------- 00 · Start here


def check_landscape_count(answer: int | None, inventory: pd.DataFrame) -> Verdict:
    """00: number of training photos wider than tall."""
    train = inventory[inventory.split == "train"]
    truth = int((train.width > train.height).sum())
    return _feedback(answer, answer == truth, f"{truth} of {len(train)} training photos are landscape.",
                     "Filter the rows with split == 'train', then count width > height.")


def check_larger_median_area(answer: str | None, inventory: pd.DataFrame) -> Verdict:
    """00: class with the larger median width × height in the training split."""
    train = inventory[inventory.split == "train"]
    truth = (train.width * train.height).groupby(train["class"]).median().idxmax()
    return _feedback(answer, answer == truth, f"the {truth} photos are larger at the median.",
                     "Group width * height by the 'class' column and compare the medians.")


# ---------------------------------------------------------------- 01 · bias, variance and learning curves


def check_bias_variance(answer: tuple[float, float] | None, train_error: float, dev_error: float,
                        desired_error: float) -> Verdict:
    """01: (avoidable bias, variance) in percentage points from one point of a learning curve."""
    truth = (train_error - desired_error, dev_error - train_error)
    ok = answer is not None and len(answer) == 2 and all(abs(float(a) - t) < 0.05 for a, t in zip(answer, truth))
    return _feedback(answer, ok,
                     f"avoidable bias = {truth[0]:.1f} points (training − desired), "
                     f"variance = {truth[1]:.1f} points (dev − training).",
                     "Avoidable bias is training error minus the desired error; variance is dev error minus "
                     "training error. Pass a pair (bias, variance) in percentage points.")


def check_mismatch_diagnosis(answer: str | None, errors: dict[str, float]) -> Verdict:
    """01: which gap in the four-split error table is largest: 'variance', 'data mismatch' or 'overfitting the dev set'."""
    gaps = {
        "variance": errors["training-dev"] - errors["training"],
        "data mismatch": errors["dev"] - errors["training-dev"],
        "overfitting the dev set": errors["test"] - errors["dev"],
    }
    truth = max(gaps, key=gaps.get)
    listed = ", ".join(f"{k} {v:+.1f}" for k, v in gaps.items())
    return _feedback(answer, answer == truth, f"the largest gap is {truth} ({listed} points).",
                     "Subtract neighbouring rows: training-dev − training is variance, dev − training-dev is data "
                     "mismatch, test − dev is overfitting the dev set. Answer with the name of the largest.")


# ---------------------------------------------------------------- 02 · data augmentation


def check_rotation_factor(answer: float | None, degrees: float) -> Verdict:
    """02: the RandomRotation factor for ImageDataGenerator's rotation_range in degrees."""
    truth = degrees / 360
    ok = answer is not None and abs(float(answer) - truth) < 1e-3
    return _feedback(answer, ok, f"rotation_range={degrees} is RandomRotation({truth:.4f}): a fraction of a full turn.",
                     "RandomRotation measures in fractions of a full turn (360°), ImageDataGenerator in degrees.")


def check_shear_factor(answer: float | None, degrees: float) -> Verdict:
    """02: the RandomShear x_factor for ImageDataGenerator's shear_range in degrees."""
    import math

    truth = math.tan(math.radians(degrees))
    ok = answer is not None and abs(float(answer) - truth) < 1e-4
    return _feedback(answer, ok, f"shear_range={degrees} (degrees) is x_factor={truth:.5f}.",
                     "ImageDataGenerator's shear_range is an angle in degrees; RandomShear wants the horizontal "
                     "shift per unit height, the tangent of that angle (math.tan(math.radians(...))).")


def check_identity_at_inference(output: Any, images: Any) -> Verdict:
    """02: the augmentation stack's output when called with training=False equals its input."""
    import numpy as np

    ok = output is not None and np.shape(output) == np.shape(images) and np.allclose(np.asarray(output), images)
    return _feedback(None if output is None else output, ok,
                     "at inference (training=False) every augmentation layer passes the images through unchanged.",
                     "Call the stack on the batch with training=False and pass what it returns.")


def check_higher(answer: bool | None, yours: float | None, reference: float, your_run: str, reference_run: str) -> Verdict:
    """02, 03, 06: whether your run's accuracy (``yours``) beat the notebook's (``reference``); both as measured."""
    if yours is None:
        return _not_yet(f"Run the experiment first ({your_run}), then pass its history.")
    truth = yours > reference
    return _outcome(answer, truth,
                     f"{your_run}: {yours:.1%}, {reference_run}: {reference:.1%} "
                     f"({'better' if truth else 'not better'}); one short run each, so a point or two is noise.",
                     "Compare your run's validation accuracy with the notebook's figure.")


# ---------------------------------------------------------------- 03 · VGG16 feature extraction


def _vgg16_side_after_pools(side: int, pools: int = 5) -> int:
    for _ in range(pools):  # each VGG16 block ends with a 2×2 max pool, stride 2, 'valid' padding
        side //= 2
    return side


def check_block5_pool_shape(answer: Any, side: int) -> Verdict:
    """03: shape of block5_pool for a side × side input; (s, s, 512) or (None, s, s, 512) both count."""
    s = _vgg16_side_after_pools(side)
    truth = (s, s, 512)
    try:
        ok = tuple(int(v) for v in tuple(answer)[-3:]) == truth
    except (TypeError, ValueError):  # None, or something that is not a shape
        ok = False
    return _feedback(answer, ok, f"at {side}×{side} the bottleneck is {truth}: {s * s * 512:,} numbers per photo.",
                     "Five 2×2 max pools each halve the side (rounding down); the last block has 512 channels. "
                     "Or build VGG16(weights=None, include_top=False, ...) at that size and read "
                     "get_layer('block5_pool').output.shape.")


def check_flatten_head_params(answer: int | None, feature_shape: tuple[int, ...]) -> Verdict:
    """03: trainable parameters of the Flatten → Dense 256 → Dense 128 → Dense 1 head on features of this shape."""
    flat = 1
    for v in feature_shape:
        flat *= int(v)
    truth = (flat + 1) * 256 + (256 + 1) * 128 + (128 + 1) * 1
    return _feedback(answer, answer == truth,
                     f"{truth:,} trainable parameters, almost all in the first Dense layer ({(flat + 1) * 256:,}).",
                     "A Dense layer with n inputs and m units has (n + 1) × m parameters; Flatten turns "
                     f"{tuple(feature_shape)} into {flat:,} inputs. Dropout has none. Or build it and call "
                     "param_counts(head).")


def check_truncated_accuracy(answer: float | None, y_true: Any, p: Any) -> Verdict:
    """03: accuracy implied by the source's predictions.astype('int') (a fraction between 0 and 1)."""
    import numpy as np

    y = np.asarray(y_true).astype(int).ravel()
    truth = float((np.asarray(p).ravel().astype("int") == y).mean())
    ok = answer is not None and abs(float(answer) - truth) < 1e-6
    hint = ("Give a fraction between 0 and 1, not a percentage. " if answer is not None and float(answer) > 1 else "")
    return _feedback(answer, ok,
                     f"{truth:.1%}: astype('int') calls almost every photo a cat, so the score is roughly the share "
                     "of cats, whatever the model learned.",
                     hint + "Compare p.astype('int') with y_true element by element and take the mean.")


# ---------------------------------------------------------------- 04 · VGG16 fine-tuning


def check_freeze_slice(answer: int | None, base: Any, layer_name: str) -> Verdict:
    """04: the k for which freezing base.layers[:k] equals the loop that unfreezes from ``layer_name`` onwards."""
    names = [layer.name for layer in base.layers]
    truth = names.index(layer_name)
    return _feedback(answer, answer == truth, f"{layer_name} is layer {truth}: layers[:{truth}] stay frozen.",
                     f"Find the position of {layer_name!r} in [layer.name for layer in base.layers]; "
                     "every layer before it stays frozen.")


def check_trainable_from(answer: int | None, base: Any, head: Any, layer_name: str) -> Verdict:
    """04: trainable parameters when the base is unfrozen from ``layer_name`` on and the head is trainable."""
    names = [layer.name for layer in base.layers]
    start = names.index(layer_name)
    truth = sum(layer.count_params() for layer in base.layers[start:]) + head.count_params()
    return _feedback(answer, answer == truth,
                     f"{truth:,} trainable parameters when training from {layer_name} upwards.",
                     "Set base.trainable = True, freeze every layer before the cut with the loop by name, "
                     "then read param_counts(model)['trainable'] (count after the change, not before).")


def check_moved_less(answer: bool | None, yours: float | None, reference: float) -> Verdict:
    """04: whether your run moved block5_conv1 less (relative change ``yours``) than the SGD 1e-4 run (``reference``)."""
    if yours is None:
        return _not_yet("Fine-tune your RMSprop copy first, then pass it as your_rmsprop_model.")
    truth = yours < reference
    return _outcome(answer, truth,
                     f"block5_conv1 moved {yours:.2%} in your run and {reference:.2%} with SGD 1e-4: "
                     f"{'less' if truth else 'not less'}. RMSprop scales each step by the gradient's recent size, so "
                     "its 1e-5 is not simply ten times smaller than SGD's 1e-4.",
                     "Compare relative_change(your_rmsprop_model) with the SGD figure of the forgetting table.")


# ---------------------------------------------------------------- 05 · InceptionV3 cut at mixed7


def check_cut_head_params(answer: int | None, shapes: Mapping[str, Sequence[Any]], layer_name: str,
                          dense_units: int = 1024) -> Verdict:
    """05: trainable parameters of Flatten → Dense(dense_units) → Dropout → Dense 1 on the output ``shapes[layer_name]``."""
    flat = 1
    for v in tuple(shapes[layer_name])[1:]:
        flat *= int(v)
    truth = (flat + 1) * dense_units + (dense_units + 1)
    return _feedback(answer, answer == truth,
                     f"cut at {layer_name}, Flatten gives {flat:,} numbers and the head has {truth:,} trainable "
                     "parameters (the frozen base adds none).",
                     f"Take the output shape of {layer_name!r} (the table above, or mixed_shapes[{layer_name!r}]), "
                     "multiply the three sizes after None, then a Dense layer with n inputs and m units has "
                     "(n + 1) × m parameters. Or build the model and call param_counts(model)['trainable'].")


def check_inception_input_range(answer: Any) -> Verdict:
    """05: the (lowest, highest) values inception_v3.preprocess_input gives for pixels 0 and 255."""
    try:
        low, high = (float(v) for v in list(answer)[:2]) if answer is not None else (None, None)
        ok = abs(low + 1.0) < 1e-6 and abs(high - 1.0) < 1e-6
    except (TypeError, ValueError):
        ok = False
    return _feedback(answer, ok, "preprocess_input maps 0 → -1 and 255 → 1: the range InceptionV3 was trained on, "
                     "twice as wide as the source's [0, 1] and centred on zero.",
                     "Call preprocess_input(np.array([0.0, 255.0])) and pass the two numbers as a tuple (low, high).")


def check_smaller_gap(answer: bool | None, history: dict | None, reference: dict) -> Verdict:
    """05: whether ``history``'s last-epoch gap (training minus validation accuracy) is smaller than ``reference``'s."""
    if history is None:
        return _not_yet("Train the Dropout(0.5) head first and put its .history in your_history.")
    def last_gap(h: dict) -> float:
        return float(h["accuracy"][-1] - h["val_accuracy"][-1])

    yours, theirs = last_gap(history), last_gap(reference)
    truth = yours < theirs
    return _outcome(answer, truth,
                     f"last-epoch gap {yours:+.1%} with your run against {theirs:+.1%}: "
                     f"{'smaller' if truth else 'not smaller'}. More dropout holds training accuracy back; whether it "
                     "also narrows the gap depends on how long the run is and how much the head overfits by then.",
                     "Compute history['accuracy'][-1] - history['val_accuracy'][-1] for both runs and compare.")


# ---------------------------------------------------------------- 06 · MobileNetV2 fine-tuning


def check_trainable_after_fine_tune_at(answer: int | None, base: Any, fine_tune_at: int, head_params: int) -> Verdict:
    """06: trainable parameters when ``base.layers[fine_tune_at:]`` and a head of ``head_params`` train.

    BatchNormalization layers count their gamma and beta only: their moving statistics are never trainable.
    """
    import math

    trainable = 0
    for layer in base.layers[fine_tune_at:]:
        for weight in layer.weights:
            if "moving" not in weight.name:
                trainable += math.prod(weight.shape)
    truth = int(trainable) + int(head_params)
    return _feedback(answer, answer == truth,
                     f"with fine_tune_at = {fine_tune_at}, {truth:,} parameters train (head included).",
                     "Set base.trainable = True, freeze base.layers[:fine_tune_at] in a loop, then read "
                     "param_counts(model)['trainable']. Moving means and variances of BatchNormalization never train.")


def check_frozen_batchnorm(answer: int | None, base: Any, fine_tune_at: int) -> Verdict:
    """06: how many BatchNormalization layers lie in the frozen part ``base.layers[:fine_tune_at]``."""
    truth = sum(type(layer).__name__ == "BatchNormalization" for layer in base.layers[:fine_tune_at])
    total = sum(type(layer).__name__ == "BatchNormalization" for layer in base.layers)
    return _feedback(answer, answer == truth,
                     f"{truth} of the {total} BatchNormalization layers stay frozen; the other {total - truth} "
                     "would train in the source's recipe, which is why notebook 06 freezes them too.",
                     "Loop over base.layers[:fine_tune_at] and count those with "
                     "isinstance(layer, keras.layers.BatchNormalization).")



# ---------------------------------------------------------------- 07 · Choosing a strategy


def check_strategy(answer: str | None, rule: Any, **case: str) -> Verdict:
    """07: the strategy that notebook 07's decision ``rule`` gives for this case (size, images, task, budget)."""
    truth = rule(**case)
    ok = answer is not None and str(answer).strip().lower() == truth
    described = ", ".join(f"{key} {value}" for key, value in case.items())
    return _feedback(answer, ok, f"{described} → {truth}.",
                     f"Go through the rule's questions in order for: {described}; answer with one of its strategies.")


def check_deeper_wins(answer: bool | None, row: dict | None, table: pd.DataFrame) -> Verdict:
    """07: whether the extra depth's run (``row``, from fine_tune_top) beat the table's best validation accuracy."""
    if row is None:
        return _not_yet("Run the extra depth first: your_row = fine_tune_top(EXTRA_DEPTH).")
    if row["top blocks"] in table.index:
        return _not_yet(f"The table already has {row['top blocks']} top blocks: run a depth it does not have.")
    best = float(table["val accuracy"].max())
    truth = float(row["val accuracy"]) > best
    return _outcome(answer, truth,
                     f"top {row['top blocks']} blocks: {row['val accuracy']:.1%} on validation against the table's best "
                     f"{best:.1%} ({'better' if truth else 'not better'}); with a few hundred validation photos, a "
                     "point or two either way is within the noise of one run.",
                     "Compare your_row['val accuracy'] with progressive['val accuracy'].max().")


def check_clone_keeps_weights(answer: bool | None, model: Any) -> Verdict:
    """07: whether keras.models.clone_model(model), without set_weights, starts with the same weight values."""
    import keras
    import numpy as np

    clone = keras.models.clone_model(model)
    same = all(np.array_equal(a, b) for a, b in zip(model.get_weights(), clone.get_weights()))
    ok = answer is not None and bool(answer) == same
    return _feedback(answer, ok,
                     "clone_model copies the architecture only: its layers start from fresh random values, which is "
                     "why set_weights must follow." if not same else "here the weights happen to match.",
                     "Clone the model, then compare model.get_weights() and clone.get_weights() array by array "
                     "with np.array_equal.")


# ---------------------------------------------------------------- 08 · Seeing inside


def check_edge_layer(answer: str | None, maps: dict[str, Any]) -> Verdict:
    """08: of the layers in ``maps`` (name -> (height, width, channels) activations), the one most like edge detectors.

    The shallowest layer, the one with the largest maps: its filters cover a few pixels, too small for more than an
    edge or a colour.
    """
    shallow = max(maps, key=lambda name: maps[name].shape[0] * maps[name].shape[1])
    ok = answer is not None and str(answer) == shallow
    return _feedback(answer, ok,
                     f"{shallow}: its maps keep the photo's full detail ({maps[shallow].shape[0]}×{maps[shallow].shape[1]}) "
                     "and each of its filters sees only a few pixels, enough for an edge or a colour, not for an ear.",
                     f"Pick one of {list(maps)}. Edges are small: which layer still draws the photo's outlines, at the "
                     "highest resolution, with filters that cover only a few pixels?")


def check_occluded_probability(answer: float | None, model: Any, image: Any, top: int, left: int, side: int,
                               grey: float = 127.5) -> Verdict:
    """08: the model's probability of class 1 (dog) for ``image`` with the side×side square at (top, left) greyed."""
    import numpy as np

    original = np.array(image, dtype="float32")
    occluded = original.copy()
    occluded[top : top + side, left : left + side] = grey
    p_before, p_after = (float(np.asarray(model.predict_on_batch(x[None])).ravel()[0]) for x in (original, occluded))
    try:
        ok = answer is not None and abs(float(np.asarray(answer).ravel()[0]) - p_after) < 1e-3
    except (TypeError, ValueError, IndexError):
        ok = False
    return _feedback(answer, ok,
                     f"P(dog) is {p_after:.3f} with the square greyed, {p_before:.3f} without "
                     f"({100 * (p_after - p_before):+.1f} percentage points).",
                     f"Copy the photo as float32 (np.array(image, dtype='float32')), set rows {top}:{top + side} and "
                     f"columns {left}:{left + side} of all three channels to {grey}, add a batch axis (x[None]) and "
                     "pass model.predict_on_batch(...)[0, 0]: the probability of dog, not of the predicted class.")
