"""Plumbing for evaluating a binary classifier on a ``tf.data`` dataset: labels, probabilities and a few photos.

Introduced in ``03_vgg16_feature_extraction.ipynb`` and used in every notebook that evaluates a classifier. The lines a
learner came for (thresholding, the confusion matrix, the classification report) stay in the notebooks; this module
only walks the dataset and keeps what they need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf


@dataclass
class Predictions:
    """What one pass over a dataset gives: true labels, predicted probabilities of class 1, and a few photos.

    ``y_true`` holds ints 0/1 and ``p`` floats, both of shape ``(n,)`` and in the dataset's order; ``images`` is a
    uint8 array ``(k, height, width, 3)`` of the photos at positions ``image_index`` (chosen by :func:`grid_indices`).
    """

    y_true: np.ndarray
    p: np.ndarray
    images: np.ndarray
    image_index: np.ndarray

    def __len__(self) -> int:
        return len(self.y_true)


def grid_indices(y_true: np.ndarray, p: np.ndarray, n: int, seed: int = 0, wrong_share: float = 1 / 3) -> np.ndarray:
    """Positions of ``n`` photos for a prediction grid: up to ``wrong_share`` of them misclassified, the rest right.

    Mistakes are what a learner wants to see, but a grid of only mistakes would misrepresent the model, so the
    share is capped. Both groups are drawn at random with ``seed``; the result is sorted.
    """
    y_true = np.asarray(y_true).astype(int).ravel()
    wrong = np.flatnonzero((np.asarray(p).ravel() >= 0.5).astype(int) != y_true)
    right = np.setdiff1d(np.arange(len(y_true)), wrong)
    rng = np.random.default_rng(seed)
    n = min(n, len(y_true))
    n_wrong = min(len(wrong), int(round(n * wrong_share)))
    n_right = min(len(right), n - n_wrong)
    n_wrong = min(len(wrong), n - n_right)  # top up with mistakes when there are too few right answers
    chosen = np.concatenate([rng.choice(wrong, n_wrong, replace=False), rng.choice(right, n_right, replace=False)])
    return np.sort(chosen.astype(int))


def predict_dataset(model: Any, ds: tf.data.Dataset, n_images: int = 15, seed: int = 0,
                    progress: bool = True) -> Predictions:
    """Run ``model`` over every batch of ``ds`` (pairs of images and 0/1 labels) in one pass, in order.

    Returns the labels and the model's probabilities of class 1 as flat arrays, and ``n_images`` of the photos
    (uint8, for a grid) chosen by :func:`grid_indices`. Labels come from the same pass as the predictions, so this
    is safe on a dataset that reshuffles every time it is iterated.
    """
    from tqdm.auto import tqdm

    labels, probs, pixels = [], [], []
    for images, y in tqdm(ds, desc="predicting", unit="batch", disable=not progress, leave=False):
        probs.append(np.asarray(model.predict_on_batch(images)).reshape(-1))
        labels.append(np.asarray(y).reshape(-1))
        if n_images:
            pixels.append(np.clip(np.asarray(images), 0, 255).astype(np.uint8))
    y_true = np.concatenate(labels).astype(int) if labels else np.zeros(0, dtype=int)
    p = np.concatenate(probs).astype(float) if probs else np.zeros(0)
    index = grid_indices(y_true, p, n_images, seed=seed) if n_images else np.zeros(0, dtype=int)
    images = np.concatenate(pixels)[index] if n_images and pixels else np.zeros((0, 0, 0, 3), dtype=np.uint8)
    return Predictions(y_true=y_true, p=p, images=images, image_index=index)
