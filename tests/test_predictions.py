"""helpers.predictions: one pass over a dataset gives labels, probabilities and grid photos in the right order."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from helpers import predictions  # noqa: E402


class MeanBrightness:
    """A stand-in model: the probability of class 1 is the mean pixel value / 255."""

    def predict_on_batch(self, images):
        return tf.reduce_mean(images, axis=[1, 2, 3])[:, None] / 255.0


def _dataset(n=10, batch=4, side=6, shuffle=False):
    rng = np.random.default_rng(0)
    labels = np.array([0] * (n // 2) + [1] * (n - n // 2), dtype="float32")
    # class 1 bright, class 0 dark, except the last photo of each class, which looks like the other class
    level = np.where(labels == 1, 220.0, 30.0)
    level[n // 2 - 1], level[-1] = 220.0, 30.0
    images = (level[:, None, None, None] + rng.uniform(-5, 5, size=(n, side, side, 3))).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((images, labels[:, None]))
    if shuffle:
        ds = ds.shuffle(n, seed=1, reshuffle_each_iteration=True)
    return ds.batch(batch), images, labels


def test_predict_dataset_keeps_order_shapes_and_images():
    ds, images, labels = _dataset()
    out = predictions.predict_dataset(MeanBrightness(), ds, n_images=4, progress=False)
    assert len(out) == 10
    assert out.y_true.dtype.kind == "i" and out.y_true.tolist() == labels.astype(int).tolist()
    np.testing.assert_allclose(out.p, images.mean(axis=(1, 2, 3)) / 255.0, rtol=1e-5)
    assert out.images.dtype == np.uint8 and out.images.shape == (4, 6, 6, 3)
    np.testing.assert_array_equal(out.images, np.clip(images[out.image_index], 0, 255).astype(np.uint8))


def test_predict_dataset_pairs_labels_with_predictions_on_a_reshuffling_dataset():
    ds, _, _ = _dataset(n=12, shuffle=True)
    out = predictions.predict_dataset(MeanBrightness(), ds, n_images=0, progress=False)
    assert out.images.shape[0] == 0
    # bright photos are class 1 except the two planted look-alikes: exactly two mistakes in any order
    assert int(((out.p >= 0.5).astype(int) != out.y_true).sum()) == 2


def test_grid_indices_includes_mistakes_but_caps_their_share():
    y = np.array([0] * 50 + [1] * 50)
    p = np.where(y == 1, 0.9, 0.1)
    p[:10] = 0.8  # ten mistakes
    idx = predictions.grid_indices(y, p, n=15, seed=3)
    assert len(idx) == 15 and len(set(idx.tolist())) == 15 and (np.diff(idx) > 0).all()
    wrong = ((p[idx] >= 0.5).astype(int) != y[idx]).sum()
    assert wrong == 5


def test_grid_indices_with_few_items_or_no_mistakes():
    y = np.array([0, 1, 1])
    assert predictions.grid_indices(y, np.array([0.1, 0.9, 0.8]), n=10).tolist() == [0, 1, 2]
    assert predictions.grid_indices(y, np.array([0.9, 0.1, 0.2]), n=2).shape == (2,)  # all wrong: still fills the grid
