"""The name tables of layers: ``"dense"`` -> ``Dense``, ``"relu"`` -> ``ReLU`` (with aliases).

Recipes, model files and ``Dense(units, activation="relu")`` name layers by string. The
tables are created here, empty, in a module that imports no layer, so that any layer module
may look a name up; ``chainrule/nn/layers/__init__.py`` fills them with every layer type.
Python runs that package ``__init__`` before any module inside the package, so the tables are
full before any layer can be constructed.
"""

from __future__ import annotations

from typing import Any

from chainrule.nn.layers.activations import Activation
from chainrule.nn.layers.base import Layer
from chainrule.utils.registry import Registry

LAYERS: Registry[type[Layer]] = Registry("layer type")
ACTIVATIONS: Registry[type[Activation]] = Registry("activation")


def get_activation(spec: str | dict[str, Any]) -> Activation:
    """An activation layer from ``"relu"`` or ``{"name": "leaky_relu", "slope": 0.1}``."""
    return ACTIVATIONS.create(spec)


def layer_from_config(config: dict[str, Any]) -> Layer:
    """Rebuild a layer from ``layer.get_config()`` (as stored in a model file)."""
    if not isinstance(config, dict) or "type" not in config:
        raise ValueError(f"a layer config needs a 'type' key, got {config!r}")
    arguments = {key: value for key, value in config.items() if key != "type"}
    return LAYERS.build(config["type"], arguments)
