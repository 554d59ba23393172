"""Seeing inside the network: feature maps by depth, feature space, Grad-CAM and an occlusion check.

Introduced in ``08_seeing_inside.ipynb`` on the VGG16 models 03 and 04 saved; 06 draws Grad-CAM on MobileNetV2.
Every function takes any Keras functional model and a layer name; the layer may sit in the model itself or in a base
nested inside it (inputs → augmentation → preprocess → base(x, training=False) → pooling → Dense). Images are pixels in
[0, 255] of the size the model expects, as ``helpers.data.image_datasets`` yields them.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from helpers import outputs
from helpers.data import CLASS_NAMES
from helpers.plots import RIGHT, WRONG

if TYPE_CHECKING:
    import keras
    import pandas as pd
    from matplotlib.figure import Figure

HEAT_CMAP = "magma"  # perceptually uniform and readable without colour vision
CLASS_STYLE = (("#0072B2", "o"), ("#E69F00", "^"))  # Okabe–Ito blue circles / orange triangles
GREY = 127.5  # the value an occluded region is filled with, in [0, 255] pixels


# ---------------------------------------------------------------- finding layers


def _walk(model: keras.Model) -> Iterator[keras.layers.Layer]:
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):  # a nested base or Sequential block
            yield from _walk(layer)


def _is_spatial(layer: keras.layers.Layer) -> bool:
    if hasattr(layer, "layers") or type(layer).__name__ in ("InputLayer", "Lambda"):
        return False
    if "preprocessing" in type(layer).__module__:  # augmentation and rescaling: image-shaped, not features
        return False
    try:
        return len(layer.output.shape) == 4
    except (AttributeError, ValueError):
        return False


def conv_layer_names(model: keras.Model) -> list[str]:
    """Names of the layers with a (height, width, channels) output, nested bases included: the valid Grad-CAM layers."""
    return [layer.name for layer in _walk(model) if _is_spatial(layer)]


def _choices(model: keras.Model, wrong: str) -> str:
    names = conv_layer_names(model)
    close = difflib.get_close_matches(wrong, names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    shown = ", ".join(names) if len(names) <= 24 else ", ".join(names[:4] + ["…"] + names[-12:])
    return f"{hint}Choose one of the {len(names)} layers with a (height, width, channels) output: {shown}"


def _find_layer(model: keras.Model, layer_name: str) -> keras.layers.Layer:
    """The layer called ``layer_name`` in the model or in a nested base; a one-line ValueError otherwise."""
    for layer in _walk(model):
        if layer.name == layer_name:
            if not _is_spatial(layer):
                try:
                    shape = tuple(layer.output.shape)
                except (AttributeError, ValueError):
                    shape = "unknown"
                raise ValueError(
                    f"{layer_name!r} is a {type(layer).__name__} layer with output {shape}, not a feature map; "
                    + _choices(model, layer_name)
                )
            return layer
    raise ValueError(f"No layer named {layer_name!r} in model {model.name!r}; " + _choices(model, layer_name))


def _as_batch(model: keras.Model, images: Any) -> np.ndarray:
    """Images as a float32 batch, checked against the model's input size (one image or a batch)."""
    batch = np.asarray(images, dtype="float32")
    if batch.ndim == 3:
        batch = batch[None]
    want = tuple(model.input_shape[1:])
    if batch.ndim != 4 or any(w is not None and w != g for w, g in zip(want, batch.shape[1:])):
        got = "×".join(map(str, batch.shape[1:])) if batch.ndim == 4 else f"an array of shape {batch.shape}"
        raise ValueError(
            f"The image is {got} but model {model.name!r} expects {'×'.join(str(w) for w in want)} "
            f"(height×width×channels): resize it, e.g. load the photos with image_size={want[0]}."
        )
    return batch


@contextlib.contextmanager
def _recording(layers: Sequence[keras.layers.Layer], tape: Any = None) -> Iterator[dict[str, Any]]:
    """While active, every call of these layers stores its output (watched by ``tape``) under the layer's name.

    Wrapping ``call`` reaches a layer however deep the base is nested, which a new keras.Model cannot.
    """
    seen: dict[str, Any] = {}

    def wrap(layer: keras.layers.Layer, original: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            out = original(*args, **kwargs)
            if tape is not None:
                tape.watch(out)
            seen[layer.name] = out
            return out

        return call

    for layer in layers:
        layer.call = wrap(layer, layer.call)
    try:
        yield seen
    finally:
        for layer in layers:
            del layer.call  # back to the class's own method


# ---------------------------------------------------------------- feature maps


def feature_maps(model: keras.Model, image: Any, layer_names: Sequence[str]) -> dict[str, np.ndarray]:
    """Run one image (H, W, 3 pixels) through the model; return each named layer's activations, shape (h, w, channels)."""
    layers = list({name: _find_layer(model, name) for name in layer_names}.values())  # each layer wrapped once
    batch = _as_batch(model, image)[:1]
    with _recording(layers) as seen:
        model(batch, training=False)
    return {name: np.asarray(seen[name])[0] for name in layer_names}


def plot_feature_maps(maps: Mapping[str, np.ndarray], channels: int = 6, title: str = "Feature maps by depth") -> Figure:
    """One row per layer: its most active channels, titled with the layer name and output shape, one colour bar per row."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(1.9 * channels + 1.2, 2.3 * len(maps)), layout="constrained")
    rows = fig.subfigures(len(maps), 1, squeeze=False)[:, 0]
    for sub, (name, act) in zip(rows, maps.items()):
        order = np.argsort(act.mean(axis=(0, 1)))[::-1][:channels]
        lo, hi = float(act[..., order].min()), float(act[..., order].max())
        axes = sub.subplots(1, len(order), squeeze=False)[0]
        for ax, ch in zip(axes, order):
            shown = ax.imshow(act[..., ch], cmap="viridis", vmin=lo, vmax=hi if hi > lo else lo + 1)
            ax.set_title(f"channel {ch}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        h, w, c = act.shape
        sub.suptitle(f"{name}: output {h}×{w}×{c} (the {len(order)} most active of {c} channels)", fontsize=10)
        sub.colorbar(shown, ax=list(axes), label="activation", shrink=0.9)
    fig.suptitle(title, fontsize=12)
    return fig


# ---------------------------------------------------------------- feature space


def separability(features: np.ndarray, labels: Sequence[int], folds: int = 5, seed: int = 0) -> float:
    """How separable the classes are: cross-validated accuracy (0–1) of a logistic regression on the features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(features, dtype="float32").reshape(len(features), -1)
    y = np.asarray(labels).astype(int).ravel()
    k = max(2, min(folds, int(np.bincount(y).min())))
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return float(cross_val_score(clf, x, y, cv=cv).mean())


def _project(features: np.ndarray, method: str, seed: int) -> tuple[np.ndarray, tuple[str, str]]:
    x = np.asarray(features, dtype="float32").reshape(len(features), -1)
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, random_state=seed).fit(x)
        share = pca.explained_variance_ratio_ * 100
        return pca.transform(x), (f"PC 1 ({share[0]:.0f}% of variance)", f"PC 2 ({share[1]:.0f}% of variance)")
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30, max(2, (len(x) - 1) // 3)))
        return TSNE(2, perplexity=perplexity, random_state=seed, init="pca").fit_transform(x), ("t-SNE 1", "t-SNE 2")
    raise ValueError(f"Unknown projection {method!r}: choose 'pca' or 'tsne'.")


def plot_feature_space(
    feature_sets: Mapping[str, np.ndarray],
    labels: Sequence[int],
    class_names: Sequence[str] = CLASS_NAMES,
    method: str = "pca",
    scores: Mapping[str, float] | None = None,
    seed: int = 0,
    title: str = "Bottleneck features projected to 2-D",
) -> Figure:
    """Side-by-side 2-D projections (PCA or t-SNE), coloured and shaped by class, with the separability under each."""
    import matplotlib.pyplot as plt

    y = np.asarray(labels).astype(int).ravel()
    fig, axes = plt.subplots(1, len(feature_sets), figsize=(5.2 * len(feature_sets), 4.8), squeeze=False)
    for ax, (name, feats) in zip(axes[0], feature_sets.items()):
        points, (xlabel, ylabel) = _project(feats, method, seed)
        for k, cls in enumerate(class_names):
            colour, marker = CLASS_STYLE[k % len(CLASS_STYLE)]
            ax.scatter(*points[y == k].T, s=14, c=colour, marker=marker, alpha=0.7, label=cls)
        acc = scores[name] if scores and name in scores else separability(feats, y, seed=seed)
        ax.set_title(name)
        ax.set_xlabel(f"{xlabel}\n\nlogistic regression, cross-validated accuracy: {acc:.0%}")
        ax.set_ylabel(ylabel)
        ax.legend(title="class", fontsize="small")
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- Grad-CAM


def grad_cam(
    model: keras.Model, images: Any, layer_name: str, class_index: int | None = None, batch_size: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM maps (N, H, W) in [0, 1] at image size and P(class 1) for a one-output binary classifier.

    The map explains the predicted class (``class_index=None``) or the one given (1 = dogs, 0 = cats); it is computed
    from the logit, so a sigmoid output is read before its sigmoid (no vanishing gradient when the model is sure).
    ``batch_size`` is small because the tape keeps every activation of its batch: eight 150-px photos through VGG16 in
    one tape raised peak memory by about 200 MB on a 2-core CPU, two at a time by about 40 MB.
    """
    import keras
    import tensorflow as tf

    layer = _find_layer(model, layer_name)
    batch = _as_batch(model, images)
    head = outputs.output_layer(model)
    squash = outputs.output_activation(model) == "sigmoid"
    maps, probs = [], []
    for start in range(0, len(batch), batch_size):
        x = tf.constant(batch[start : start + batch_size])
        try:
            if squash:
                head.activation = keras.activations.linear
            with tf.GradientTape() as tape, _recording([layer], tape) as seen:
                logit = tf.reshape(model(x, training=False), [-1])
                cls = (logit >= 0) if class_index is None else tf.fill(tf.shape(logit), bool(class_index))
                score = tf.reduce_sum(tf.where(cls, logit, -logit))
        finally:
            if squash:
                head.activation = keras.activations.sigmoid
        acts = seen[layer.name]
        grads = tape.gradient(score, acts)
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(weights * acts, axis=-1))[..., None]
        cam = tf.image.resize(cam, batch.shape[1:3], method="bilinear")[..., 0].numpy()
        peak = cam.max(axis=(1, 2), keepdims=True)
        maps.append(np.divide(cam, peak, out=np.zeros_like(cam), where=peak > 0))
        probs.append(tf.sigmoid(logit).numpy())
    return np.concatenate(maps), np.concatenate(probs)


def right_and_wrong(y_true: Sequence[int], p_dog: Sequence[float], n: int = 8) -> np.ndarray:
    """Indices of up to ``n`` photos, about half misclassified when there are enough, for a Grad-CAM grid."""
    y = np.asarray(y_true).astype(int).ravel()
    wrong = np.flatnonzero((np.asarray(p_dog).ravel() >= 0.5).astype(int) != y)
    right = np.setdiff1d(np.arange(len(y)), wrong)
    take_wrong = wrong[: max(n // 2, n - len(right))]
    return np.sort(np.concatenate([right[: n - len(take_wrong)], take_wrong]))


def _verdict(truth: int, p: float, class_names: Sequence[str]) -> tuple[str, str]:
    pred = int(p >= 0.5)
    ok = pred == int(truth)
    mark = "✓" if ok else "✗"
    return f"{mark} pred {class_names[pred]} ({max(p, 1 - p):.0%})\ntrue {class_names[int(truth)]}", RIGHT if ok else WRONG


def _overlay(ax: Any, image: np.ndarray, heat: np.ndarray, alpha: float) -> Any:
    ax.imshow(np.clip(image, 0, 255).astype("uint8"))
    shown = ax.imshow(heat, cmap=HEAT_CMAP, vmin=0, vmax=1, alpha=alpha)
    ax.set_xticks([])
    ax.set_yticks([])
    return shown


def _heat_colorbar(fig: Any, shown: Any, axes: Any) -> None:
    fig.colorbar(shown, ax=axes, shrink=0.8, label="Grad-CAM importance (0 = none, 1 = most)")


def plot_grad_cam(
    model: keras.Model,
    images: Any,
    y_true: Sequence[int],
    layer_name: str,
    class_names: Sequence[str] = CLASS_NAMES,
    ncols: int = 4,
    alpha: float = 0.5,
    title: str | None = None,
    cams: tuple[np.ndarray, np.ndarray] | None = None,
) -> Figure:
    """Photos with their Grad-CAM heat map overlaid, titled ✓/✗ with prediction and truth; ``cams``: grad_cam's result."""
    import matplotlib.pyplot as plt

    batch = _as_batch(model, images)
    heat, p_dog = cams if cams is not None else grad_cam(model, batch, layer_name)
    nrows = int(np.ceil(len(batch) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.7 * ncols + 1, 2.9 * nrows), squeeze=False, layout="constrained")
    shown = None
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < len(batch):
            ax.axis("on")
            shown = _overlay(ax, batch[k], heat[k], alpha)
            text, colour = _verdict(int(np.ravel(y_true)[k]), float(p_dog[k]), class_names)
            ax.set_title(text, fontsize=9, color=colour)
    _heat_colorbar(fig, shown, axes)
    fig.suptitle(title or f"Grad-CAM on {layer_name}: where the evidence for the predicted class is")
    return fig


def plot_grad_cam_pair(
    models: Mapping[str, keras.Model],
    images: Any,
    y_true: Sequence[int],
    layer_name: str,
    class_names: Sequence[str] = CLASS_NAMES,
    alpha: float = 0.5,
    title: str | None = None,
) -> Figure:
    """One row per photo: the photo, then each model's Grad-CAM (e.g. before / after fine-tuning), one colour bar."""
    import matplotlib.pyplot as plt

    first = next(iter(models.values()))
    batch = _as_batch(first, images)
    results = {label: grad_cam(m, batch, layer_name) for label, m in models.items()}
    ncols = 1 + len(models)
    fig, axes = plt.subplots(len(batch), ncols, figsize=(2.7 * ncols + 1, 2.9 * len(batch)), squeeze=False,
                             layout="constrained")
    shown = None
    for r, image in enumerate(batch):
        axes[r, 0].imshow(np.clip(image, 0, 255).astype("uint8"))
        axes[r, 0].set_title(f"photo: {class_names[int(np.ravel(y_true)[r])]}", fontsize=9)
        axes[r, 0].axis("off")
        for c, (label, (heat, p_dog)) in enumerate(results.items(), start=1):
            shown = _overlay(axes[r, c], image, heat[r], alpha)
            text, colour = _verdict(int(np.ravel(y_true)[r]), float(p_dog[r]), class_names)
            axes[r, c].set_title(f"{label}\n{text}", fontsize=9, color=colour)
    _heat_colorbar(fig, shown, axes)
    fig.suptitle(title or f"Grad-CAM on {layer_name}: {' vs '.join(models)}")
    return fig


# ---------------------------------------------------------------- occlusion check


def _grey_box(batch: np.ndarray, tops: np.ndarray, lefts: np.ndarray, side: int) -> np.ndarray:
    out = batch.copy()
    for k, (t, left) in enumerate(zip(tops, lefts)):
        out[k, t : t + side, left : left + side] = GREY
    return out


def _predict_p(model: keras.Model, batch: np.ndarray, batch_size: int = 16) -> np.ndarray:
    out = np.concatenate([np.asarray(model(batch[i : i + batch_size], training=False)).ravel()
                          for i in range(0, len(batch), batch_size)])
    squash = outputs.output_activation(model) == "sigmoid"
    return out if squash else 1 / (1 + np.exp(-out))


def occlusion_check(
    model: keras.Model, images: Any, layer_name: str, box_fraction: float = 0.25, seed: int = 0
) -> pd.DataFrame:
    """Grey out a square on each photo's Grad-CAM peak, and one of the same size elsewhere; one row per photo.

    Columns: p_dog, p_pred (probability of the predicted class), then p_pred with the Grad-CAM box and with the
    random box greyed, and the drops (positive = the model became less sure of its prediction).
    """
    import pandas as pd

    batch = _as_batch(model, images)
    n, h, w = batch.shape[:3]
    side = max(1, round(box_fraction * min(h, w)))
    heat, p_dog = grad_cam(model, batch, layer_name)
    rows, cols = np.unravel_index(heat.reshape(n, -1).argmax(axis=1), (h, w))
    tops, lefts = np.clip(rows - side // 2, 0, h - side), np.clip(cols - side // 2, 0, w - side)
    rng = np.random.default_rng(seed)
    r_tops, r_lefts = np.empty(n, int), np.empty(n, int)
    for k in range(n):  # a random box that does not overlap the Grad-CAM one, when the photo has room for it
        for _ in range(100):
            t, left = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
            if abs(t - tops[k]) >= side or abs(left - lefts[k]) >= side:
                break
        r_tops[k], r_lefts[k] = t, left
    pred = p_dog >= 0.5

    def p_pred(p: np.ndarray) -> np.ndarray:
        return np.where(pred, p, 1 - p)

    cam_p = p_pred(_predict_p(model, _grey_box(batch, tops, lefts, side)))
    rand_p = p_pred(_predict_p(model, _grey_box(batch, r_tops, r_lefts, side)))
    base = p_pred(p_dog)
    return pd.DataFrame({
        "p_dog": p_dog, "p_pred": base, "p_pred_gradcam_box": cam_p, "p_pred_random_box": rand_p,
        "drop_gradcam_box": base - cam_p, "drop_random_box": base - rand_p,
    })


def plot_occlusion(table: pd.DataFrame, title: str = "Occlusion check: greying out the Grad-CAM peak vs a random box") -> Figure:
    """Per photo, how much the predicted class's probability drops for each box (percentage points), with the means."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(5.0, 0.45 * len(table) + 2), 3.6))
    x = np.arange(1, len(table) + 1)
    for column, (colour, marker), label in (
        ("drop_gradcam_box", CLASS_STYLE[0], "box on the Grad-CAM peak"),
        ("drop_random_box", CLASS_STYLE[1], "box at a random place"),
    ):
        drops = table[column].to_numpy() * 100
        ax.scatter(x, drops, c=colour, marker=marker, s=40, label=f"{label} (mean {drops.mean():+.1f} pp)")
        ax.axhline(drops.mean(), color=colour, linestyle="--", linewidth=1)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("photo")
    ax.set_ylabel("drop in predicted-class\nprobability (percentage points)")
    ax.set_title(title)
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
