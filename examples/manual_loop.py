"""Training by hand with the low-level API, and proof that ``Trainer.fit`` does the same.

Everything ``Trainer.fit`` does in one epoch of mini-batch training, written out: draw the
epoch's order from the seeded generator, cut it into batches, and for each batch run the
forward pass, the loss, the backward pass and one optimizer step. From the same seed the
two give bit-identical weights.

    python examples/manual_loop.py --data-dir ../shared/data

trains on 5,000 of MNIST's test digits (the split that is available offline) and tests on
the other 5,000, once by hand and once with ``Trainer.fit``.
"""

from __future__ import annotations

import argparse

import numpy as np

from chainrule.app.recipes import parse_recipe
from chainrule.nn.model import Sequential
from chainrule.nn.optim import Optimizer
from chainrule.training.parallel import plan_threads
from chainrule.training.trainer import Trainer


def train_by_hand(
    model: Sequential,
    optimizer: Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch_size: int,
    seed: int,
) -> list[float]:
    """Mini-batch training written out; returns the loss of every step."""
    order_rng = np.random.default_rng(seed)
    step_losses = []
    # fit runs small steps like these on one thread with a one-thread BLAS; the last bits of
    # a matrix product depend on how it is split across threads, so bit-identical results
    # need the same plan (a plan that splits batches across threads would regroup sums).
    plan = plan_threads(model, batch_size)
    assert plan.workers == 1, "this loop is the one-thread path of Trainer.fit"
    with plan.limits():
        for _epoch in range(epochs):
            order = order_rng.permutation(len(x))
            for start in range(0, len(x), batch_size):
                index = order[start : start + batch_size]
                xb, yb = x[index], y[index]
                probabilities = model.forward(xb, training=True)  # layers cache their inputs
                loss = model.compute_loss(probabilities, yb)  # data term + L2 term
                model.backward(yb)  # dL/dz = (p - y)/m at the logits, then layer by layer
                optimizer.step(model.params.data, model.params.grad_data)
                step_losses.append(loss.total)
    return step_losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder holding mnist/ (e.g. ../shared/data)")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    from chainrule.data import load_split, scale

    images, labels = load_split("mnist", "test", data_dir=args.data_dir)
    x = scale(images.reshape(len(images), -1))
    x_train, y_train, x_test, y_test = x[:5000], labels[:5000], x[5000:], labels[5000:]
    recipe = parse_recipe(
        {
            "seed": 0,
            "model": {"hidden": [64], "activation": "relu", "init": "he_normal"},
            "training": {"optimizer": {"name": "momentum", "learning_rate": 0.05}},
        }
    )

    by_hand, optimizer = recipe.build_model(), recipe.build_optimizer()
    losses = train_by_hand(by_hand, optimizer, x_train, y_train, args.epochs, 32, recipe.seed)

    with_fit = recipe.build_model()
    trainer = Trainer(
        with_fit, recipe.build_optimizer(), epochs=args.epochs, batch_size=32, seed=recipe.seed
    )
    history = trainer.fit(x_train, y_train)

    same = np.array_equal(by_hand.params.data, with_fit.params.data)
    accuracy = np.mean(by_hand.predict(x_test) == y_test)
    print(f"by hand: final step loss {losses[-1]:.6f}, test accuracy {accuracy:.2%}")
    print(f"Trainer.fit: final step loss {history.step_loss[-1]:.6f}")
    print("identical weights" if same else "DIFFERENT weights")


if __name__ == "__main__":
    main()
