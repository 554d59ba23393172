"""Learning curves and image grids with the course's conventions: one colour per run, solid training,
dashed validation, accuracy in percent, a vertical line where fine-tuning starts.

Introduced in ``00_start_here.ipynb`` (image grids) and ``01_bias_variance_learning_curves.ipynb`` (curves).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

RIGHT, WRONG = "#1b7837", "#c51b7d"  # green / magenta; a symbol is shown too, so colour is never the only cue


def _history_dict(run: Any) -> Mapping[str, Sequence[float]]:
    return run.history if hasattr(run, "history") else run


def plot_curves(
    runs: Mapping[str, Any],
    metrics: Sequence[str] = ("accuracy", "loss"),
    fine_tune_start: int | None = None,
    title: str = "Learning curves",
) -> Figure:
    """One panel per metric; each run (a History or its dict) in its own colour, training solid, validation dashed."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(6 * len(metrics), 4), squeeze=False)
    colours = plt.cm.tab10.colors
    for ax, metric in zip(axes[0], metrics):
        scale = 100.0 if "acc" in metric else 1.0
        for i, (label, run) in enumerate(runs.items()):
            hist = _history_dict(run)
            for key, style, kind in ((metric, "-", "training"), (f"val_{metric}", "--", "validation")):
                if key in hist:
                    ys = np.asarray(hist[key], dtype=float) * scale
                    ax.plot(np.arange(1, len(ys) + 1), ys, style, color=colours[i % 10], label=f"{label} ({kind})",
                            marker="o" if len(ys) < 15 else None, markersize=3)
        if fine_tune_start is not None:
            ax.axvline(fine_tune_start + 0.5, color="grey", linestyle=":", label="fine-tuning starts")
        ax.set_title(f"{title}: {metric}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{metric} (%)" if scale == 100 else metric)
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def image_grid(
    images: Sequence[Any],
    titles: Sequence[str],
    suptitle: str,
    ncols: int = 5,
    title_colours: Sequence[str] | None = None,
    side: float = 2.6,
) -> Figure:
    """Show images (arrays in [0, 255] or PIL images) in a grid, each with its own title (``side`` inches per image)."""
    nrows = max(1, int(np.ceil(len(images) / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(side * ncols, (side + 0.35) * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < len(images):
            img = np.asarray(images[k])
            ax.imshow(img.astype("uint8") if img.dtype != np.uint8 else img)
            ax.set_title(titles[k], fontsize=9, color=title_colours[k] if title_colours else "black")
    fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def prediction_grid(
    images: Sequence[Any],
    y_true: Sequence[int],
    p_dog: Sequence[float],
    class_names: Sequence[str] = ("cats", "dogs"),
    suptitle: str = "Predictions on validation photos",
    ncols: int = 5,
) -> Figure:
    """Grid titled with prediction, its probability and the true label; right marked ✓ in green, wrong ✗ in magenta."""
    titles, colours = [], []
    for truth, p in zip(y_true, p_dog):
        pred = int(p >= 0.5)
        ok = pred == int(truth)
        titles.append(f"{'✓' if ok else '✗'} pred {class_names[pred]} ({max(p, 1 - p):.0%})\ntrue {class_names[int(truth)]}")
        colours.append(RIGHT if ok else WRONG)
    return image_grid(images, titles, suptitle, ncols=ncols, title_colours=colours)


def plot_accuracy_vs_trainable(
    n_trainable: Sequence[int],
    accuracy: Mapping[str, Sequence[float]],
    title: str = "Progressive fine-tuning",
    xlabel: str = "trainable layers in the base",
) -> Figure:
    """07: accuracy (fractions, shown in %) against how many layers of the base were unfrozen; one line per series."""
    fig, ax = plt.subplots(figsize=(7, 4))
    colours = plt.cm.tab10.colors
    for i, (label, ys) in enumerate(accuracy.items()):
        ax.plot(list(n_trainable), np.asarray(ys, dtype=float) * 100, "o-", color=colours[i % 10], label=label)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy (%)")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- learning curves over training-set size (notebook 01)

TRAIN_COLOUR, DEV_COLOUR, TARGET_COLOUR = "#0072B2", "#D55E00", "#009E73"  # Okabe-Ito blue, vermillion, green


def plot_learning_curve(
    sizes: Sequence[int],
    train_error: Sequence[float],
    dev_error: Sequence[float],
    desired_error: float,
    title: str = "Learning curve",
    ax: Any = None,
) -> Figure:
    """Training and dev error (in %) against the number of training examples, with the desired-performance line.

    Introduced in ``01_bias_variance_learning_curves.ipynb``. Pass ``ax`` to draw into an existing panel.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 4))
    else:
        fig = ax.figure
    ax.plot(sizes, train_error, "o-", color=TRAIN_COLOUR, label="training error")
    ax.plot(sizes, dev_error, "s--", color=DEV_COLOUR, label="dev (validation) error")
    ax.axhline(desired_error, color=TARGET_COLOUR, linestyle=":", linewidth=2, label="desired performance")
    ax.set_xscale("log")
    ax.set_xticks(list(sizes))
    ax.set_xticklabels([f"{n:,}" for n in sizes], fontsize="small")
    ax.minorticks_off()
    ax.set_ylim(-2, max(55.0, float(np.max(dev_error)) + 5))
    ax.set_title(title)
    ax.set_xlabel("number of training examples (log scale)")
    ax.set_ylabel("error (%)")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return fig
