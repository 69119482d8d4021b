"""The shipped hand-written loop and Trainer.fit give bit-identical results from one seed."""

import importlib.util
from pathlib import Path

import numpy as np

import chainrule as cr
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


def test_the_examples_keras_style_model_fit_equals_its_loop(shared_data):
    example = load_example()
    images, labels = load_split("mnist", "test", data_dir=shared_data, download=False)
    x, y = scale(images[:600].reshape(600, -1)), labels[:600]
    by_hand = example.build_model(seed=5)
    by_hand.set_loss("categorical_crossentropy")
    optimizer = cr.optim.Momentum(learning_rate=0.05)
    losses = example.train_by_hand(by_hand, optimizer, x, y, epochs=2, batch_size=32, seed=5)
    keras_style = example.build_model(seed=5)
    keras_style.compile(
        optimizer=cr.optim.Momentum(learning_rate=0.05), loss="categorical_crossentropy"
    )
    history = keras_style.fit(x, y, epochs=2, batch_size=32, seed=5, verbose=0)
    assert losses == history.step_loss
    assert np.array_equal(by_hand.params.data, keras_style.params.data)
