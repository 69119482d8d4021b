"""The shipped hand-written loop and Trainer.fit give bit-identical results from one seed."""

import importlib.util
from pathlib import Path

import numpy as np

from chainrule.app.recipes import parse_recipe
from chainrule.data import load_split, scale
from chainrule.training.trainer import Trainer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "manual_loop.py"


def load_example():
    spec = importlib.util.spec_from_file_location("manual_loop", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hand_written_loop_equals_trainer_fit(shared_data):
    images, labels = load_split("mnist", "test", data_dir=shared_data, download=False)
    x, y = scale(images[:1000].reshape(1000, -1)), labels[:1000]
    recipe = parse_recipe(
        {
            "seed": 3,
            "model": {"hidden": [32], "activation": "tanh", "dropout": 0.2, "l2": 1e-3},
            "training": {"optimizer": {"name": "adam", "learning_rate": 0.003}},
        }
    )
    by_hand = recipe.build_model()
    losses = load_example().train_by_hand(
        by_hand, recipe.build_optimizer(), x, y, epochs=2, batch_size=50, seed=3
    )
    with_fit = recipe.build_model()
    trainer = Trainer(
        with_fit, recipe.build_optimizer(), epochs=2, batch_size=50, seed=3, progress=False
    )
    history = trainer.fit(x, y)
    assert losses == history.step_loss
    assert np.array_equal(by_hand.params.data, with_fit.params.data)
    assert losses[-1] < losses[0]
