"""Layers: one concept a file, each with its derivation in its docstring."""

from __future__ import annotations

from typing import Any

from chainrule.nn.layers.activations import (
    Activation,
    Identity,
    ImprovedSigmoid,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from chainrule.nn.layers.base import Layer
from chainrule.nn.layers.batchnorm import BatchNorm
from chainrule.nn.layers.conv2d import Conv2D
from chainrule.nn.layers.dense import Dense
from chainrule.nn.layers.dropout import Dropout
from chainrule.nn.layers.flatten import Flatten
from chainrule.nn.layers.pooling import AvgPool2D, MaxPool2D
from chainrule.utils.registry import Registry

LAYERS: Registry[type[Layer]] = Registry("layer type")
ACTIVATIONS: Registry[type[Activation]] = Registry("activation")

for _activation, _aliases in [
    (Identity, ("linear", "none")),
    (ReLU, ()),
    (LeakyReLU, ("leakyrelu",)),
    (Sigmoid, ("logistic",)),
    (Tanh, ()),
    (ImprovedSigmoid, ("lecun_tanh", "scaled_tanh")),
    (Softmax, ()),
]:
    ACTIVATIONS.register(_activation.type_name, _activation, aliases=_aliases)
    LAYERS.register(_activation.type_name, _activation, aliases=_aliases)
for _layer in (Dense, Dropout, Flatten):
    LAYERS.register(_layer.type_name, _layer)
LAYERS.register(Conv2D.type_name, Conv2D, aliases=("conv2", "convolution2d"))
LAYERS.register(MaxPool2D.type_name, MaxPool2D, aliases=("maxpool2d", "max_pooling2d"))
LAYERS.register(AvgPool2D.type_name, AvgPool2D, aliases=("avgpool2d", "average_pooling2d"))
LAYERS.register(BatchNorm.type_name, BatchNorm, aliases=("batchnorm", "batch_normalization"))


def get_activation(spec: str | dict[str, Any]) -> Activation:
    """An activation layer from ``"relu"`` or ``{"name": "leaky_relu", "slope": 0.1}``."""
    return ACTIVATIONS.create(spec)


def layer_from_config(config: dict[str, Any]) -> Layer:
    """Rebuild a layer from ``layer.get_config()`` (as stored in a model file)."""
    if not isinstance(config, dict) or "type" not in config:
        raise ValueError(f"a layer config needs a 'type' key, got {config!r}")
    arguments = {key: value for key, value in config.items() if key != "type"}
    return LAYERS.build(config["type"], arguments)


__all__ = [
    "ACTIVATIONS",
    "LAYERS",
    "Activation",
    "AvgPool2D",
    "BatchNorm",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "Identity",
    "ImprovedSigmoid",
    "Layer",
    "LeakyReLU",
    "MaxPool2D",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "get_activation",
    "layer_from_config",
]
