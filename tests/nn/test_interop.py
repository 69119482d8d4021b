"""Parity with PyTorch: same formulas step by step, and model files PyTorch can read.

These run where torch is importable (CI installs torch==2.13.0); elsewhere they skip.
"""

import numpy as np
import pytest

from chainrule.app.recipes import parse_recipe
from chainrule.nn.interop import compare_training, load_torch, to_torch
from chainrule.nn.optim import get_optimizer

torch = pytest.importorskip("torch")

OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]


def small_model(activation="tanh", dtype="float64"):
    recipe = parse_recipe(
        {
            "model": {
                "hidden": [16, 8],
                "activation": activation,
                "init": "he_normal",
                "input_shape": [20],
                "outputs": 5,
                "dtype": dtype,
            }
        }
    )
    return recipe.build_model()


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_training_follows_pytorch_to_1e_9(rng, name):
    """Same initial weights, same batches in the same order: the same losses and weights."""
    x, y = rng.normal(size=(400, 20)), rng.integers(0, 5, 400)
    optimizer = get_optimizer({"name": name, "learning_rate": 0.02})
    result = compare_training(small_model(), optimizer, x, y, batch_size=16, steps=25)
    assert result.max_loss_error < 1e-9
    assert result.max_param_error < 1e-9
    assert result.chainrule_losses[-1] < result.chainrule_losses[0]


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "sigmoid", "improved_sigmoid"])
def test_forward_matches_for_every_activation(rng, activation):
    model = small_model(activation)
    x = rng.normal(size=(7, 20))
    expected = to_torch(model)(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(model.predict_proba(x), expected, rtol=1e-12)


def test_a_model_file_loads_into_pytorch_and_predicts_the_same_classes(shared_data, tmp_path):
    """Trained here, saved, read by PyTorch via safetensors: the whole MNIST test set agrees."""
    from chainrule.data import load_split, scale
    from chainrule.training.trainer import Trainer

    images, labels = load_split("mnist", "test", data_dir=shared_data, download=False)
    x = scale(images.reshape(len(images), -1))
    recipe = parse_recipe({"model": {"hidden": [32], "activation": "relu"}})
    model = recipe.build_model()
    Trainer(model, get_optimizer("adam"), epochs=1, progress=False).fit(x[:3000], labels[:3000])
    path = model.save(tmp_path / "model.safetensors")

    network = load_torch(path)
    with torch.no_grad():
        theirs = network(torch.from_numpy(x)).argmax(dim=1).numpy()
    ours = model.predict(x)
    assert np.array_equal(ours, theirs)
    assert np.mean(ours == labels) > 0.7  # one epoch on 3,000 digits; chance is 0.1


def test_dropout_or_an_unfused_output_is_refused(rng):
    model = parse_recipe(
        {"model": {"hidden": [4], "dropout": 0.5, "input_shape": [3]}}
    ).build_model()
    with pytest.raises(ValueError, match="without dropout"):
        compare_training(model, get_optimizer("sgd"), rng.normal(size=(10, 3)), np.zeros(10, int))
