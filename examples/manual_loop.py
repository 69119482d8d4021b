"""Training by hand with the low-level API, and proof that ``fit`` does the same.

Everything ``fit`` does in one epoch of mini-batch training, written out: draw the epoch's
order from the seeded generator, cut it into batches, and for each batch run the forward
pass, the loss, the backward pass and one optimizer step (what a Keras user writes with a
``GradientTape``). From the same seed, three ways give bit-identical weights: that loop,
``cr.Trainer(...).fit``, and the Keras-style ``model.compile(...); model.fit(...)``.

    python examples/manual_loop.py --data-dir ../shared/data

trains on 5,000 of MNIST's test digits (the split that is available offline) and tests on
the other 5,000.
"""

from __future__ import annotations

import argparse

import numpy as np

import chainrule as cr
from chainrule.training.parallel import plan_threads


def train_by_hand(
    model: cr.Sequential,
    optimizer: cr.optim.Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch_size: int,
    seed: int,
) -> list[float]:
    """Mini-batch training written out; returns the loss of every step."""
    model.build(x.shape[1:])  # a no-op when the model already knows its input shape
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


def build_model(seed: int) -> cr.Sequential:
    """784-64-10 with ReLU and He initialization; the input shape comes from the data."""
    model = cr.Sequential(seed=seed)
    model.add(cr.Dense(64, activation="relu", kernel_initializer="he_normal"))
    model.add(cr.Dense(10, activation="softmax", kernel_initializer="he_normal"))
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder holding mnist/ (e.g. ../shared/data)")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    images, labels = cr.data.load_split("mnist", "test", data_dir=args.data_dir)
    x = cr.data.scale(images.reshape(len(images), -1))
    x_train, y_train, x_test, y_test = x[:5000], labels[:5000], x[5000:], labels[5000:]
    seed, batch_size = 0, 32

    def momentum() -> cr.optim.Optimizer:
        return cr.optim.Momentum(learning_rate=0.05, momentum=0.9)

    by_hand = build_model(seed)
    by_hand.set_loss("categorical_crossentropy")
    losses = train_by_hand(by_hand, momentum(), x_train, y_train, args.epochs, batch_size, seed)

    with_trainer = build_model(seed)
    with_trainer.set_loss("categorical_crossentropy")
    trainer = cr.Trainer(
        with_trainer, momentum(), epochs=args.epochs, batch_size=batch_size, seed=seed
    )
    history = trainer.fit(x_train, y_train)

    keras_style = build_model(seed)
    keras_style.compile(optimizer=momentum(), loss="sparse_categorical_crossentropy")
    keras_style.fit(x_train, y_train, epochs=args.epochs, batch_size=batch_size, seed=seed)

    accuracy = np.mean(by_hand.predict(x_test).argmax(axis=1) == y_test)
    print(f"by hand: final step loss {losses[-1]:.6f}, test accuracy {accuracy:.2%}")
    print(f"Trainer.fit: final step loss {history.step_loss[-1]:.6f}")
    for name, model in [("Trainer.fit", with_trainer), ("model.fit", keras_style)]:
        same = np.array_equal(by_hand.params.data, model.params.data)
        print(f"{name}: {'identical' if same else 'DIFFERENT'} weights")


if __name__ == "__main__":
    main()
