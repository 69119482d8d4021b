"""The package face: ``import chainrule as cr`` gives the names a Keras or PyTorch user
reaches for first, each imported on first use."""

import subprocess
import sys
from types import ModuleType

import numpy as np
import pytest

import chainrule as cr
from chainrule.app.recipes import load_recipe
from chainrule.app.run import train_recipe
from chainrule.nn import gradcheck, layers, losses, optim
from chainrule.training import callbacks, keras, trainer


def test_each_face_name_is_the_object_it_stands_for():
    assert cr.Sequential is keras.Sequential
    assert cr.Dense is layers.Dense
    assert cr.layers is layers and cr.optim is optim and cr.losses is losses
    assert cr.callbacks is callbacks
    assert cr.Trainer is trainer.Trainer
    assert cr.gradcheck is gradcheck.gradcheck
    assert cr.gradcheck_layer is gradcheck.gradcheck_layer
    assert cr.load_recipe is load_recipe
    assert cr.train_recipe is train_recipe
    assert isinstance(cr.explain, ModuleType) and callable(cr.explain.explain)
    assert isinstance(cr.data, ModuleType) and callable(cr.data.load_split)
    assert isinstance(cr.__version__, str)


def test_all_lists_the_face_and_from_import_works():
    assert set(cr.__all__) == {*cr.FACE, "__version__"}
    assert set(cr.FACE) <= set(dir(cr))
    assert not {"FACE", "Any", "TYPE_CHECKING", "import_module"} & set(dir(cr))  # no plumbing
    from chainrule import Dense, Sequential

    assert (Dense, Sequential) == (cr.Dense, cr.Sequential)


def test_the_other_layers_are_reachable_through_cr_layers():
    model = cr.Sequential([cr.layers.Flatten(), cr.Dense(3), cr.layers.Softmax()])
    assert model.predict(np.zeros((2, 2, 2))).shape == (2, 3)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Sequentail'"):
        _ = cr.Sequentail
    assert not hasattr(cr, "fit")


def test_importing_chainrule_loads_no_floor_until_a_name_is_used():
    """The command line imports the package for its version: that must stay cheap."""
    probe = (
        "import sys, chainrule\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('chainrule.') or m == 'numpy')\n"
        "print(loaded)\n"
        "chainrule.Dense\n"
        "print('chainrule.training.keras' in sys.modules, 'chainrule.app.run' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == ["[]", "False False"]
