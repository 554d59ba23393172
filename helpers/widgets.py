"""Interactive ipywidgets controls used by the notebooks (explorers, quizzes, dropdowns).

Each function builds and returns the widget; nothing is displayed on import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def feature_map_explorer(
    model: Any, photos: Mapping[str, Any], layer_names: Sequence[str], channels: int = 6
) -> Any:
    """03: pick a photo and a layer; shows that layer's most active channels (helpers.inspect.feature_maps)."""
    import ipywidgets as w
    import matplotlib.pyplot as plt

    from helpers import inspect

    cache: dict[str, dict[str, Any]] = {}
    photo = w.Dropdown(options=list(photos), description="photo")
    layer = w.Dropdown(options=list(layer_names), description="layer")
    out = w.Output()

    def show(_: Any = None) -> None:
        if photo.value not in cache:
            cache[photo.value] = inspect.feature_maps(model, photos[photo.value], layer_names)
        with out:
            out.clear_output(wait=True)
            fig = inspect.plot_feature_maps({layer.value: cache[photo.value][layer.value]}, channels,
                                            title=f"Feature maps of {photo.value}")
            plt.show()
            plt.close(fig)

    photo.observe(show, names="value")
    layer.observe(show, names="value")
    show()
    return w.VBox([w.HBox([photo, layer]), out])


def cut_layer_explorer(base: Any, layer_names: Sequence[str], default: str | None = None,
                       dense_units: int = 1024) -> Any:
    """05: pick the layer to cut a pretrained base at; shows its output shape, the Flatten vector and the head's size.

    Reads only shapes from ``base`` (``base.get_layer(name).output.shape``): nothing is computed on images.
    """
    import ipywidgets as w

    def describe(name: str) -> str:
        shape = tuple(base.get_layer(name).output.shape)
        flat = 1
        for v in shape[1:]:
            flat *= int(v)
        head = (flat + 1) * dense_units + (dense_units + 1)
        return (f"<b>{name}</b>: output shape {shape}<br>"
                f"Flatten gives a vector of {flat:,} numbers per image<br>"
                f"Flatten → Dense {dense_units} → Dense 1 then has {head:,} trainable parameters")

    pick = w.Dropdown(options=list(layer_names), value=default or list(layer_names)[-1], description="cut at")
    info = w.HTML(describe(pick.value))
    pick.observe(lambda change: setattr(info, "value", describe(change["new"])), names="value")
    return w.VBox([pick, info])
