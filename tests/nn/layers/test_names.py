"""The name tables: every layer type and activation by name, full before any layer is built."""

import subprocess
import sys

import pytest

from chainrule.nn.layers import LAYERS, Dense, ReLU, Softmax
from chainrule.nn.layers.names import ACTIVATIONS, get_activation, layer_from_config


def test_the_package_fills_the_tables():
    assert {"relu", "softmax", "identity"} <= set(ACTIVATIONS.names())
    assert {"dense", "relu", "conv2d", "flatten", "batch_norm"} <= set(LAYERS.names())
    assert isinstance(get_activation("linear"), type(get_activation("identity")))


def test_importing_one_layer_module_first_still_gives_full_tables():
    """Python runs the package ``__init__`` (which registers every name) before the module."""
    probe = (
        "from chainrule.nn.layers.dense import Dense\n"
        "print(type(Dense(3, activation='softmax').activation).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "Softmax"


def test_layer_from_config_rebuilds_a_layer():
    dense = layer_from_config({"type": "dense", "units": 4, "name": "hidden"})
    assert isinstance(dense, Dense) and dense.units == 4 and dense.name == "hidden"
    assert isinstance(layer_from_config({"type": "relu"}), ReLU)
    assert isinstance(layer_from_config(Softmax().get_config()), Softmax)


def test_a_config_without_a_type_or_with_an_unknown_one_is_refused():
    with pytest.raises(ValueError, match="needs a 'type' key"):
        layer_from_config({"units": 4})
    with pytest.raises(ValueError, match="unknown layer type 'dens'; valid layer types: .*dense"):
        layer_from_config({"type": "dens"})
    with pytest.raises(ValueError, match="layer type 'dense' got unknown argument"):
        layer_from_config({"type": "dense", "units": 4, "neurons": 4})
