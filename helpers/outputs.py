"""What a classifier's output is: the layer that makes it (inside a nested head too) and whether it is a probability.

Used by :mod:`helpers.evaluate` (which threshold to apply) and :mod:`helpers.interpret` (Grad-CAM and the occlusion
check read the logit before a sigmoid). The course's models end three ways: a flat ``Dense(1, "sigmoid")`` (01, 02),
a nested ``head`` Sequential whose last layer is that Dense (03, 04), and a logit ``Dense(1)`` with no activation (05–07).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

READABLE = {"sigmoid": 0.5, "linear": 0.0, "softmax": None}  # activation -> threshold on P(class 1) or the logit


class UnreadableOutput(ValueError):
    """The model's last layer does not say whether its output is a probability, a logit or a softmax."""


def output_layer(model: keras.Model) -> keras.layers.Layer:
    """The layer whose output is the model's output, looking inside nested models (the course's ``head``)."""
    outputs = getattr(model, "outputs", None) or []
    history = getattr(outputs[0], "_keras_history", None) if outputs else None
    layer = history[0] if history else model.layers[-1]
    if layer is not model and hasattr(layer, "layers") and layer.layers:
        return output_layer(layer)
    return layer


def output_activation(model: keras.Model) -> str:
    """'sigmoid', 'linear' (a raw logit) or 'softmax': the activation of :func:`output_layer`, else an error."""
    layer = output_layer(model)
    if type(layer).__name__ == "Softmax":
        return "softmax"
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None) if activation is not None else None
    if name not in READABLE:
        raise UnreadableOutput(
            f"The model's output layer {layer.name!r} ({type(layer).__name__}, activation {name}) is not a sigmoid, "
            "a logit (no activation) or a softmax, so its scores cannot be read as a class: end it with Dense(1) or "
            'Dense(1, activation="sigmoid").'
        )
    return name


def decision_threshold(model: keras.Model) -> float:
    """The score at and above which a one-output model says class 1: 0.5 after a sigmoid, 0.0 for a logit."""
    threshold = READABLE[output_activation(model)]
    if threshold is None:
        raise UnreadableOutput("A softmax output is read by argmax, not by a threshold.")
    return threshold
