"""Interactive ipywidgets controls used by the notebooks (explorers, quizzes, dropdowns).

Each function builds and returns the widget; nothing is displayed on import. Figures are drawn into ``Image`` widgets
as PNG bytes, never through an ``Output`` widget: capturing output into ``Output`` widgets intermittently hangs
headless execution (nbclient, hence ``make run``), and PNG bytes look the same in Jupyter and Colab. Each image is
shown at its natural pixel size (:func:`_show`), and controls sit beside or above it, so that in a 1,400-px-wide window
neither squeezes the other (:data:`PAGE_WIDTH`; tests/test_browser.py checks it in JupyterLab with Chromium).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

PAGE_WIDTH = 940  # px a notebook's output area offers in a 1,400-px-wide JupyterLab 4 window, file browser open
SLIDER_WIDTH = 440  # px of each of the augmentation explorer's two slider columns, above its grid
DPI = 80


def feature_map_explorer(
    model: Any, photos: Mapping[str, Any], layer_names: Sequence[str], channels: int = 5
) -> Any:
    """08: pick a photo and a layer; shows that layer's most active channels (helpers.interpret.feature_maps)."""
    import ipywidgets as w

    from helpers import interpret

    cache: dict[str, dict[str, Any]] = {}
    photo = w.Dropdown(options=list(photos), description="photo")
    layer = w.Dropdown(options=list(layer_names), description="layer")
    out = w.Image(format="png")

    def show(_: Any = None) -> None:
        if photo.value not in cache:
            cache[photo.value] = interpret.feature_maps(model, photos[photo.value], layer_names)
        _show(out, interpret.plot_feature_maps({layer.value: cache[photo.value][layer.value]}, channels,
                                             title=f"Feature maps of {photo.value}"))

    photo.observe(show, names="value")
    layer.observe(show, names="value")
    show()
    return w.VBox([w.HBox([photo, layer]), out])


def cut_layer_explorer(shapes: Mapping[str, Sequence[Any]], default: str | None = None, dense_units: int = 1024) -> Any:
    """05: pick the layer to cut a pretrained base at from ``shapes`` (layer name → output shape); shows the head's size."""
    import ipywidgets as w

    def describe(name: str) -> str:
        shape = tuple(shapes[name])
        flat = 1
        for v in shape[1:]:
            flat *= int(v)
        head = (flat + 1) * dense_units + (dense_units + 1)
        return (f"<b>{name}</b>: output shape {shape}<br>"
                f"Flatten gives a vector of {flat:,} numbers per image<br>"
                f"Flatten → Dense {dense_units} → Dense 1 then has {head:,} trainable parameters")

    pick = w.Dropdown(options=list(shapes), value=default or list(shapes)[-1], description="cut at")
    info = w.HTML(describe(pick.value))
    pick.observe(lambda change: setattr(info, "value", describe(change["new"])), names="value")
    return w.VBox([pick, info])


# ---------------------------------------------------------------- notebook 01: learning-curve diagnosis quiz

DIAGNOSES = ("high bias", "high variance", "high bias and high variance", "neither")


def diagnosis_quiz(curves: dict, desired_error: float, answers: dict, reasons: dict):
    """A quiz: pick a learning curve, see it, choose a diagnosis, get feedback with the reason.

    ``curves[name] = (sizes, train_error, dev_error)`` in percent; ``answers[name]`` is one of :data:`DIAGNOSES`;
    ``reasons[name]`` explains it from the measured numbers. Introduced in ``01_bias_variance_learning_curves.ipynb``.
    """
    import ipywidgets as w

    from helpers.plots import plot_learning_curve

    names = list(curves)
    labels = {name: f"curve {chr(65 + i)}" for i, name in enumerate(names)}
    picker = w.Dropdown(options=[(labels[n], n) for n in names], description="Show:")
    choice = w.RadioButtons(options=list(DIAGNOSES), value=None, description="Diagnosis:")
    button = w.Button(description="Check my answer", button_style="primary")
    figure_out, feedback = w.Image(format="png"), w.HTML()

    def draw(*_):
        feedback.value = ""
        choice.value = None
        sizes, train, dev = curves[picker.value]
        _show(figure_out, plot_learning_curve(sizes, train, dev, desired_error,
                                              title=f"{labels[picker.value]}: which problem?"))

    def check(*_):
        name = picker.value
        if choice.value is None:
            feedback.value = "Choose a diagnosis first."
        elif choice.value == answers[name]:
            feedback.value = f"✓ Right: {answers[name]}. {reasons[name]}"
        else:
            feedback.value = f"✗ Not quite: this one is {answers[name]}. {reasons[name]}"

    picker.observe(draw, names="value")
    button.on_click(check)
    draw()
    controls = w.VBox([picker, choice, button, feedback], layout=w.Layout(width="360px", flex="0 0 auto"))
    return w.HBox([figure_out, controls])  # the curve and its buttons side by side: both fit on one screen


# ---------------------------------------------------------------- notebook 02: augmentation explorer


def augmentation_explorer(image, n: int = 8, seed: int = 0, **initial):
    """One slider per ImageDataGenerator-style parameter; moving one redraws ``n`` augmented copies of ``image``.

    ``initial`` sets the starting values (e.g. ``**augment.SOURCE_RECIPE``). Introduced in ``02_data_augmentation.ipynb``.
    """
    import ipywidgets as w

    from helpers import augment
    from helpers.plots import image_grid

    start = {**{"rotation_range": 0, "width_shift_range": 0.0, "height_shift_range": 0.0, "shear_range": 0.0,
                "zoom_range": 0.0, "horizontal_flip": False}, **initial}
    style = {"description_width": "140px"}
    layout = w.Layout(width=f"{SLIDER_WIDTH - 10}px")
    controls = {
        "rotation_range": w.IntSlider(value=start["rotation_range"], min=0, max=90, step=5,
                                      description="rotation (°)", style=style, layout=layout),
        "width_shift_range": w.FloatSlider(value=start["width_shift_range"], min=0, max=0.5, step=0.05,
                                           description="width shift (frac.)", style=style, layout=layout),
        "height_shift_range": w.FloatSlider(value=start["height_shift_range"], min=0, max=0.5, step=0.05,
                                            description="height shift (frac.)", style=style, layout=layout),
        "shear_range": w.FloatSlider(value=start["shear_range"], min=0, max=45, step=0.1,
                                     description="shear (°)", style=style, layout=layout),
        "zoom_range": w.FloatSlider(value=start["zoom_range"], min=0, max=0.5, step=0.05,
                                    description="zoom (frac.)", style=style, layout=layout),
        "horizontal_flip": w.Checkbox(value=bool(start["horizontal_flip"]), description="horizontal flip"),
    }
    out, layers_text = w.Image(format="png"), w.HTML()
    columns = 4
    side = (PAGE_WIDTH - 40) / DPI / columns  # inches per copy, so that the grid fits the page under the sliders

    def draw(*_):
        values = {k: c.value for k, c in controls.items()}
        stack = augment.augmentation_layers(**values, fill_mode=initial.get("fill_mode", "nearest"), seed=seed)
        copies = augment.augment_many(stack, image, n)
        layers_text.value = "<b>Keras layers:</b><br>" + "<br>".join(f"<code>{line}</code>" for line in
                                                                     augment.describe(stack))
        _show(out, image_grid(list(copies), [f"copy {i + 1}" for i in range(n)], suptitle="Augmented copies",
                              ncols=columns, side=side))

    for control in controls.values():
        control.observe(draw, names="value")
    draw()
    sliders = list(controls.values())
    column = w.Layout(width=f"{SLIDER_WIDTH}px", flex="0 0 auto")
    panel = w.HBox([w.VBox(sliders[:3], layout=column), w.VBox(sliders[3:], layout=column)])
    return w.VBox([panel, out, layers_text])  # sliders above the grid: both on one screen, the grid page-wide


def _png(fig: Any) -> bytes:
    """The figure as PNG bytes (then closed, so it is not also shown below the cell)."""
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _show(image: Any, fig: Any) -> None:
    """Draw ``fig`` into the Image widget at its natural pixel size: a stretched PNG is blurred, a squeezed one unreadable."""
    import struct

    png = _png(fig)
    width, height = struct.unpack(">II", png[16:24])  # the PNG header's IHDR chunk
    image.value = png
    image.layout.width, image.layout.height = f"{width}px", f"{height}px"
    image.layout.flex = "0 0 auto"  # an HBox may not shrink or grow it
