"""Parity with PyTorch: the same network trained here and there follows the same numbers.

    python benchmarks/parity.py [--steps 50] [--data-dir ../shared/data]

For each optimizer, builds 784-128-64-10 ReLU (float64, no dropout) in chainrule, copies its
initial weights into a PyTorch ``nn.Sequential``, feeds both the same batches of real images
in the same order, and prints the largest relative difference of the per-step losses and of
the final parameters (the target: below 1e-9). Then saves a float32 model, loads the file
into PyTorch through safetensors, and counts the test images on which the predicted classes
differ (the target: none).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from chainrule.app.recipes import parse_recipe
from chainrule.data import load_dataset, scale
from chainrule.nn.interop import compare_training, load_torch
from chainrule.nn.optim import get_optimizer
from chainrule.training.trainer import Trainer

OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]


def model(dtype: str):
    recipe = parse_recipe(
        {"model": {"hidden": [128, 64], "activation": "relu", "init": "he_normal", "dtype": dtype}}
    )
    return recipe.build_model()


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()

    data = load_dataset(args.dataset, args.data_dir, progress=False)
    x = scale(data.x_train.reshape(len(data.x_train), -1), np.float64)
    x_test = scale(data.x_test.reshape(len(data.x_test), -1))
    print(f"{'optimizer':<10} {'loss rel. diff':>15} {'param rel. diff':>16}")
    worst = 0.0
    for name in OPTIMIZERS:
        optimizer = get_optimizer({"name": name, "learning_rate": 0.01})
        result = compare_training(model("float64"), optimizer, x, data.y_train, 32, args.steps)
        worst = max(worst, result.max_loss_error, result.max_param_error)
        print(f"{name:<10} {result.max_loss_error:15.2e} {result.max_param_error:16.2e}")
    print(f"worst relative difference after {args.steps} steps: {worst:.2e} (target < 1e-9)")

    trained = model("float32")
    trainer = Trainer(trained, get_optimizer("adam"), epochs=1, progress=False)
    trainer.fit(scale(data.x_train.reshape(len(data.x_train), -1)), data.y_train)
    with tempfile.TemporaryDirectory() as directory:
        path = trained.save(Path(directory) / "model.safetensors")
        network = load_torch(path)
    with torch.no_grad():
        theirs = network(torch.from_numpy(x_test)).argmax(dim=1).numpy()
    ours = trained.predict(x_test)
    print(
        f"model file in PyTorch: {int(np.sum(ours != theirs))} of {len(ours):,} test predictions "
        f"differ; accuracy {np.mean(ours == data.y_test):.2%} (chainrule) vs "
        f"{np.mean(theirs == data.y_test):.2%} (PyTorch)"
    )


if __name__ == "__main__":
    main()
