"""Layers: one concept a file, each with its derivation in its docstring.

This module fills the name tables (``names.LAYERS``, ``names.ACTIVATIONS``) that recipes,
model files and ``Dense(activation=...)`` resolve names through: a new layer or activation is
its class in its own file plus one ``register`` line here.
"""

from __future__ import annotations

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
from chainrule.nn.layers.names import ACTIVATIONS, LAYERS, get_activation, layer_from_config
from chainrule.nn.layers.pooling import AvgPool2D, MaxPool2D

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
