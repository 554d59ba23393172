"""helpers.interpret: Grad-CAM proven right on images where we know the answer, smoke runs on the three course bases
(flat and nested), the learner-facing error messages, and the figures' titles, labels and colour bars."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from helpers import interpret, widgets

SIZE, PATCH = 32, 8


# ---------------------------------------------------------------- a task where the right answer is known


def _patch_images(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noisy grey 32×32 images with one bright 8×8 square: left half = class 0, right half = class 1."""
    images = rng.uniform(40, 120, size=(n, SIZE, SIZE, 3)).astype("float32")
    labels = rng.integers(0, 2, size=n)
    tops = rng.integers(0, SIZE - PATCH + 1, size=n)
    lefts = np.where(labels == 1, rng.integers(SIZE // 2, SIZE - PATCH + 1, size=n), rng.integers(0, SIZE // 2 - PATCH + 1, size=n))
    for k in range(n):
        images[k, tops[k] : tops[k] + PATCH, lefts[k] : lefts[k] + PATCH] = 250.0
    return images, labels.astype("float32"), np.stack([tops, lefts], axis=1)


class XCoord(keras.layers.Layer):
    """Appends a left-to-right ramp channel, so a convolution can tell the left half from the right (CoordConv)."""

    def call(self, x):
        ramp = keras.ops.linspace(-1.0, 1.0, x.shape[2])[None, None, :, None]
        return keras.ops.concatenate([x, keras.ops.zeros_like(x[..., :1]) + ramp], axis=-1)


def _tiny_cnn() -> keras.Model:
    inp = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255)(inp)
    x = XCoord()(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv_a")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv_b")(x)  # 16×16: a 2-pixel cell
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(1, activation="sigmoid", name="head")(x), name="patch_cnn")


@pytest.fixture(scope="module")
def trained_patch_model():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y, _ = _patch_images(400, rng)
    model = _tiny_cnn()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=12, batch_size=32, verbose=0)
    test_x, test_y, boxes = _patch_images(60, rng)
    return model, test_x, test_y, boxes


def test_grad_cam_peak_falls_on_the_patch(trained_patch_model):
    model, x, y, boxes = trained_patch_model
    heat, p_dog = interpret.grad_cam(model, x, "conv_b")
    assert ((p_dog >= 0.5) == (y == 1)).mean() >= 0.95, "the tiny CNN did not learn the task; the test proves nothing"
    assert heat.shape == (len(x), SIZE, SIZE) and heat.min() >= 0 and heat.max() <= 1
    rows, cols = np.unravel_index(heat.reshape(len(x), -1).argmax(axis=1), (SIZE, SIZE))
    margin = 2  # one feature-map cell: the map is upsampled from 16×16
    on_patch = ((rows >= boxes[:, 0] - margin) & (rows < boxes[:, 0] + PATCH + margin)
                & (cols >= boxes[:, 1] - margin) & (cols < boxes[:, 1] + PATCH + margin))
    # a patch plus margin covers 144 of 1,024 pixels: a map that ignored the patch would hit it ~14% of the time
    assert on_patch.mean() >= 0.8, f"Grad-CAM peak on the patch for only {on_patch.mean():.0%} of test images"
    both = [on_patch[y == k].mean() for k in (0, 1)]
    assert min(both) >= 0.7, f"per-class hit rates {both}: Grad-CAM must explain both classes"


def test_occluding_the_patch_moves_the_prediction_more_than_elsewhere(trained_patch_model):
    model, x, y, boxes = trained_patch_model
    table = interpret.occlusion_check(model, x, "conv_b", box_fraction=PATCH / SIZE, seed=0)
    assert list(table.columns) == ["p_dog", "p_pred", "p_pred_gradcam_box", "p_pred_random_box",
                                   "drop_gradcam_box", "drop_random_box"]
    assert table.drop_gradcam_box.mean() > 3 * max(table.drop_random_box.mean(), 0.01)
    assert (table.drop_gradcam_box > table.drop_random_box).mean() >= 0.75
    # greying the known patch itself, against a same-size box in the other half (where no patch is)
    far = np.where(boxes[:, 1] >= SIZE // 2, 2, SIZE - PATCH - 2)
    p = model.predict(x, verbose=0).ravel()
    on = model.predict(interpret._grey_box(x, boxes[:, 0], boxes[:, 1], PATCH), verbose=0).ravel()
    off = model.predict(interpret._grey_box(x, boxes[:, 0], far, PATCH), verbose=0).ravel()
    assert np.mean(np.abs(on - p)) > 2 * np.mean(np.abs(off - p))  # on this seed: 0.16 against 0.06


def test_grad_cam_reads_sigmoid_outputs_as_logits(trained_patch_model):
    model, x, _, _ = trained_patch_model
    heat_sigmoid, p_sigmoid = interpret.grad_cam(model, x[:8], "conv_b")
    assert model.get_layer("head").activation is keras.activations.sigmoid  # restored after the call
    logit_model = keras.models.clone_model(model)
    logit_model.set_weights(model.get_weights())
    logit_model.get_layer("head").activation = keras.activations.linear
    heat_logit, p_logit = interpret.grad_cam(logit_model, x[:8], "conv_b")
    np.testing.assert_allclose(p_sigmoid, p_logit, atol=1e-5)
    np.testing.assert_allclose(heat_sigmoid, heat_logit, atol=1e-4)


# ---------------------------------------------------------------- the three course bases, flat and nested

BASES = {
    "vgg16": ("VGG16", "block5_conv3", keras.applications.vgg16.preprocess_input),
    "inception_v3": ("InceptionV3", "mixed10", keras.applications.inception_v3.preprocess_input),
    "mobilenet_v2": ("MobileNetV2", "out_relu", keras.applications.mobilenet_v2.preprocess_input),
}
SMOKE = 80


def _classifier(key: str) -> tuple[keras.Model, keras.Model]:
    """The course's shape: inputs → augmentation → preprocess → base(x, training=False) → GAP → Dense (sigmoid)."""
    cls, _, preprocess = BASES[key]
    keras.utils.set_random_seed(1)
    base = getattr(keras.applications, cls)(weights=None, include_top=False, input_shape=(SMOKE, SMOKE, 3))
    base.trainable = False
    inp = keras.Input((SMOKE, SMOKE, 3))
    x = keras.layers.RandomFlip("horizontal")(inp)
    x = preprocess(x)
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return base, keras.Model(inp, keras.layers.Dense(1, activation="sigmoid")(x))


@pytest.fixture(scope="module")
def photos():
    return np.random.default_rng(3).uniform(0, 255, size=(2, SMOKE, SMOKE, 3)).astype("float32")


@pytest.mark.parametrize("key", list(BASES))
def test_grad_cam_runs_on_course_bases_flat_and_nested(key, photos):
    base, nested = _classifier(key)
    layer = BASES[key][1]
    flat = keras.Model(base.input, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling2D()(base.output)))
    for model in (nested, flat):
        heat, p_dog = interpret.grad_cam(model, photos, layer)
        assert heat.shape == (2, SMOKE, SMOKE) and np.isfinite(heat).all() and heat.max() <= 1
        assert p_dog.shape == (2,) and ((p_dog > 0) & (p_dog < 1)).all()
    assert layer in interpret.conv_layer_names(nested)
    maps = interpret.feature_maps(nested, photos[0], [layer])
    assert maps[layer].shape == tuple(base.get_layer(layer).output.shape[1:])


def test_feature_maps_match_a_sub_model_on_nested_vgg16(photos):
    base, nested = _classifier("vgg16")
    names = ["block1_conv2", "block3_conv3", "block5_conv3"]
    maps = interpret.feature_maps(nested, photos[0], names)
    probe = keras.Model(base.input, [base.get_layer(n).output for n in names])
    direct = probe(keras.applications.vgg16.preprocess_input(photos[:1].copy()))
    for name, want in zip(names, direct):
        np.testing.assert_allclose(maps[name], np.asarray(want)[0], rtol=1e-4, atol=1e-4)
    assert [maps[n].shape[-1] for n in names] == [64, 256, 512]
    assert "call" not in vars(base.get_layer("block1_conv2"))  # the recording wrapper is gone


# ---------------------------------------------------------------- a learner's wrong input


@pytest.fixture(scope="module")
def vgg_nested():
    return _classifier("vgg16")[1]


def test_unknown_layer_names_the_valid_choices(vgg_nested):
    with pytest.raises(ValueError, match=r"No layer named 'block5_conv4'.*did you mean 'block5_conv3'.*block1_conv1") as err:
        interpret.grad_cam(vgg_nested, np.zeros((1, SMOKE, SMOKE, 3)), "block5_conv4")
    assert "\n" not in str(err.value) and "random_flip" not in str(err.value)


def test_dense_layer_is_refused_with_the_choices(vgg_nested):
    dense = vgg_nested.layers[-1].name
    with pytest.raises(ValueError, match=rf"'{dense}' is a Dense layer with output \(None, 1\).*block5_conv3"):
        interpret.grad_cam(vgg_nested, np.zeros((1, SMOKE, SMOKE, 3)), dense)


def test_wrong_image_size_says_the_expected_size(vgg_nested):
    with pytest.raises(ValueError, match=r"is 100×100×3 but model .* expects 80×80×3"):
        interpret.grad_cam(vgg_nested, np.zeros((1, 100, 100, 3)), "block5_conv3")
    with pytest.raises(ValueError, match="expects 80×80×3"):
        interpret.feature_maps(vgg_nested, np.zeros((80, 80)), ["block1_conv1"])


def test_long_layer_lists_are_shortened_but_counted():
    model = _classifier("inception_v3")[1]
    with pytest.raises(ValueError) as err:
        interpret.feature_maps(model, np.zeros((SMOKE, SMOKE, 3)), ["mixed11"])
    text = str(err.value)
    assert "did you mean 'mixed1" in text and "mixed10" in text and "…" in text and len(text) < 600
    assert f"{len(interpret.conv_layer_names(model))} layers" in text


# ---------------------------------------------------------------- feature space


def test_separability_tells_separated_from_mixed_features():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 40)
    apart = rng.normal(size=(80, 16)) + y[:, None] * 3.0
    mixed = rng.normal(size=(80, 16))
    assert interpret.separability(apart, y) >= 0.95
    assert 0.2 <= interpret.separability(mixed, y) <= 0.8
    assert interpret.separability(rng.normal(size=(6, 2, 2, 4)), [0, 1] * 3) >= 0  # tiny sets: fewer folds, 4-D flattened


# ---------------------------------------------------------------- figures


def _heat_figure_is_labelled(fig, n_colorbars=1):
    assert fig._suptitle is not None and fig._suptitle.get_text()
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == n_colorbars and all(bar.get_ylabel() for bar in bars)
    images = [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and ax.images]
    assert images and all(ax.get_title() for ax in images)
    return images


def test_feature_map_figure_titles_each_layer_with_its_shape(photos):
    base, nested = _classifier("vgg16")
    names = ["block1_conv2", "block3_conv3", "block5_conv3"]
    fig = interpret.plot_feature_maps(interpret.feature_maps(nested, photos[0], names), channels=4)
    assert fig._suptitle.get_text()
    rows = [sub._suptitle.get_text() for sub in fig.subfigs]
    assert rows[0].startswith("block1_conv2: output 80×80×64") and rows[2].startswith("block5_conv3: output 5×5×512")
    for sub in fig.subfigs:
        bars = [ax for ax in sub.axes if ax.get_label() == "<colorbar>"]
        assert len(bars) == 1 and bars[0].get_ylabel() == "activation"
        assert sum(1 for ax in sub.axes if ax.images) == 4


def test_grad_cam_figures_mark_right_and_wrong_and_have_a_colour_bar(trained_patch_model):
    model, x, y, _ = trained_patch_model
    wrong_truth = 1 - y[:2]  # pretend the first two labels are the other class: two ✗ panels
    truth = np.concatenate([wrong_truth, y[2:6]])
    fig = interpret.plot_grad_cam(model, x[:6], truth, "conv_b", ncols=3)
    titles = [ax.get_title() for ax in _heat_figure_is_labelled(fig)]
    assert sum(t.startswith("✗") for t in titles) == 2 and sum(t.startswith("✓") for t in titles) == 4
    pair = interpret.plot_grad_cam_pair({"before": model, "after": model}, x[:2], y[:2], "conv_b")
    titles = [ax.get_title() for ax in _heat_figure_is_labelled(pair)]
    assert titles[0].startswith("photo") and titles[1].startswith("before") and titles[2].startswith("after")
    assert [c.get_cmap().name for ax in fig.axes for c in ax.images[1:]][0] in ("magma", "viridis", "cividis")


def test_right_and_wrong_picks_half_wrong_when_it_can():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    p = np.array([0.1, 0.9, 0.2, 0.8, 0.9, 0.1, 0.7, 0.6, 0.4, 0.95])
    idx = interpret.right_and_wrong(y, p, n=6)
    wrong = ((p[idx] >= 0.5) != y[idx]).sum()
    assert len(idx) == 6 and wrong == 3
    assert len(interpret.right_and_wrong(y, np.where(y == 1, 0.9, 0.1), n=4)) == 4  # all right: still n photos


def test_feature_space_and_occlusion_figures_are_labelled(trained_patch_model):
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 20)
    sets = {"pretrained": rng.normal(size=(40, 8)) + y[:, None] * 2, "random weights": rng.normal(size=(40, 8))}
    fig = interpret.plot_feature_space(sets, y, scores={"pretrained": 0.9}, title="demo")
    for ax in fig.axes:
        assert ax.get_title() and ax.get_ylabel().startswith("PC 2") and "cross-validated accuracy" in ax.get_xlabel()
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["cats", "dogs"]
    assert "90%" in fig.axes[0].get_xlabel()
    tsne = interpret.plot_feature_space(sets, y, method="tsne")
    assert tsne.axes[0].get_xlabel().startswith("t-SNE 1")
    with pytest.raises(ValueError, match="'pca' or 'tsne'"):
        interpret.plot_feature_space(sets, y, method="umap")
    model, x, _, _ = trained_patch_model
    occ = interpret.plot_occlusion(interpret.occlusion_check(model, x[:5], "conv_b"))
    ax = occ.axes[0]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert len(ax.get_legend().get_texts()) == 2


def test_feature_map_explorer_switches_layer_and_photo(photos):
    _, nested = _classifier("vgg16")
    box = widgets.feature_map_explorer(nested, {"a": photos[0], "b": photos[1]}, ["block1_conv2", "block5_conv3"])
    photo, layer = box.children[0].children
    layer.value = "block5_conv3"
    photo.value = "b"
    assert photo.options == ("a", "b") and layer.options == ("block1_conv2", "block5_conv3")


def test_grad_cam_figure_uses_maps_it_is_given(trained_patch_model):
    model, x, y, _ = trained_patch_model
    heat, p_dog = interpret.grad_cam(model, x[:2], "conv_b")
    sure_dog = np.full_like(p_dog, 0.99)  # given probabilities, not the model's: the titles must show these
    fig = interpret.plot_grad_cam(model, x[:2], np.array([1, 0]), "conv_b", ncols=2, cams=(heat, sure_dog))
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0].startswith("✓ pred dogs (99%)") and titles[1].startswith("✗ pred dogs (99%)")
