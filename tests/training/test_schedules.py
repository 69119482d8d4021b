"""Learning-rate schedules: each rate worked out by hand from the formula table in schedules.py.

Epochs count from 0 and η₀ is the optimizer's rate when training starts. A schedule only
reads and writes ``trainer.optimizer.learning_rate`` (and reads ``trainer.epochs``), so the
per-epoch rates are checked with a stand-in trainer; one test shows them in a real History.
"""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from chainrule.nn.layers import Dense, ReLU, Softmax
from chainrule.nn.model import Sequential
from chainrule.nn.optim import SGD
from chainrule.training.schedules import (
    CosineDecay,
    ExponentialDecay,
    ReduceOnPlateau,
    StepDecay,
    get_schedule,
)
from chainrule.training.trainer import Trainer

ETA_0 = 0.1


def fake_trainer(epochs=10):
    return SimpleNamespace(optimizer=SGD(ETA_0), epochs=epochs)


def rates(schedule, epochs, trainer=None):
    """The learning rate the optimizer holds during each of ``epochs`` epochs."""
    trainer = trainer or fake_trainer(epochs)
    schedule.on_train_begin(trainer)
    seen = []
    for epoch in range(epochs):
        schedule.on_epoch_begin(epoch, trainer)
        seen.append(trainer.optimizer.learning_rate)
    return seen


def test_step_decay_multiplies_by_gamma_every_step_size_epochs():
    """η₀ · γ^⌊e / step_size⌋ with step_size 3, γ 0.5."""
    expected = [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025]
    assert rates(StepDecay(step_size=3, gamma=0.5), 8) == pytest.approx(expected)


def test_exponential_decay_multiplies_by_gamma_every_epoch():
    """η₀ · γ^e with γ 0.9."""
    expected = [0.1, 0.09, 0.081, 0.0729, 0.06561]
    assert rates(ExponentialDecay(gamma=0.9), 5) == pytest.approx(expected)


def test_cosine_decay_follows_half_a_cosine_to_the_minimum():
    """η_min + ½ (η₀ - η_min)(1 + cos(π e / E)) with E 4, η_min 0.01; held at η_min after E."""
    half_range = 0.5 * (0.1 - 0.01)
    expected = [
        0.1,  # cos 0 = 1
        0.01 + half_range * (1 + math.sqrt(0.5)),  # cos π/4
        0.01 + half_range,  # cos π/2 = 0: halfway
        0.01 + half_range * (1 - math.sqrt(0.5)),  # cos 3π/4
        0.01,  # cos π = -1
        0.01,  # past E: stays at the minimum
    ]
    assert rates(CosineDecay(epochs=4, min_learning_rate=0.01), 6) == pytest.approx(expected)


def test_cosine_decay_defaults_to_the_trainers_epochs():
    seen = rates(CosineDecay(), 4, fake_trainer(epochs=4))
    assert seen == pytest.approx(
        [0.1, 0.05 * (1 + math.sqrt(0.5)), 0.05, 0.05 * (1 - math.sqrt(0.5))]
    )


def test_a_cosine_schedule_reused_follows_the_new_trainers_epochs():
    schedule = CosineDecay()
    rates(schedule, 4, fake_trainer(epochs=4))
    assert rates(schedule, 2, fake_trainer(epochs=2)) == pytest.approx([0.1, 0.05])


def classifier():
    return Sequential(
        [Dense(16), ReLU(), Dense(3), Softmax()],
        loss="categorical_crossentropy",
        input_shape=(5,),
        seed=0,
    )


def blobs(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 3)
    return 4.0 * np.eye(3, 5)[y] + rng.normal(size=(n, 5)), y


def test_the_history_records_the_rate_each_epoch_trained_with():
    x, y = blobs(200, seed=0)
    trainer = Trainer(
        classifier(), SGD(ETA_0), epochs=5, callbacks=[StepDecay(2, 0.5)], progress=False
    )
    history = trainer.fit(x, y)
    assert history["learning_rate"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


# -- ReduceOnPlateau ------------------------------------------------------------------------


def plateau_rates(schedule, losses):
    """The optimizer's rate after each epoch's logs (for the next epoch)."""
    trainer = fake_trainer()
    schedule.on_train_begin(trainer)
    seen = []
    for epoch, loss in enumerate(losses):
        schedule.on_epoch_end(epoch, {"val_loss": loss}, trainer)
        seen.append(trainer.optimizer.learning_rate)
    return seen


def test_reduce_on_plateau_cuts_the_rate_after_patience_bad_epochs():
    """Patience 2: two epochs without improvement, then η ← η · factor, and count again."""
    schedule = ReduceOnPlateau(factor=0.5, patience=2, min_delta=0.0)
    losses = [1.0, 0.9, 0.9, 0.95, 0.9, 0.92, 0.5, 0.6]
    expected = [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.025]
    assert plateau_rates(schedule, losses) == pytest.approx(expected)


def test_reduce_on_plateau_respects_min_delta():
    """With min_delta 0.1, going from 1.0 to 0.95 is a plateau, not progress."""
    schedule = ReduceOnPlateau(factor=0.5, patience=1, min_delta=0.1)
    assert plateau_rates(schedule, [1.0, 0.95, 0.8]) == pytest.approx([0.1, 0.05, 0.05])


def test_reduce_on_plateau_never_goes_below_the_minimum():
    schedule = ReduceOnPlateau(factor=0.1, patience=1, min_learning_rate=0.002)
    assert plateau_rates(schedule, [1.0, 2.0, 2.0, 2.0]) == pytest.approx([0.1, 0.01, 0.002, 0.002])


def test_reduce_on_plateau_waits_cooldown_epochs_after_a_cut():
    """Cooldown 2: the two epochs after a cut are not counted; then patience starts again."""
    schedule = ReduceOnPlateau(factor=0.5, patience=1, min_delta=0.0, cooldown=2)
    losses = [1.0, 2.0, 2.0, 2.0, 2.0, 2.0]
    expected = [0.1, 0.05, 0.05, 0.05, 0.025, 0.025]
    assert plateau_rates(schedule, losses) == pytest.approx(expected)


def test_reduce_on_plateau_on_val_loss_needs_a_validation_split():
    schedule = ReduceOnPlateau()
    trainer = fake_trainer()
    schedule.on_train_begin(trainer)
    with pytest.raises(ValueError, match=r"reduce_on_plateau: .*needs a validation split"):
        schedule.on_epoch_end(0, {"train_loss": 0.3}, trainer)


def test_reduce_on_plateau_monitoring_accuracy_wants_it_higher():
    schedule = ReduceOnPlateau(monitor="val_accuracy", factor=0.5, patience=1, min_delta=0.0)
    trainer = fake_trainer()
    schedule.on_train_begin(trainer)
    for epoch, accuracy in enumerate([0.5, 0.6, 0.55]):
        schedule.on_epoch_end(epoch, {"val_accuracy": accuracy}, trainer)
    assert trainer.optimizer.learning_rate == pytest.approx(0.05)


def test_reduce_on_plateau_takes_an_explicit_mode_from_a_recipe_mapping():
    """mode "max" for a quantity whose name does not say which way is better."""
    schedule = get_schedule({"name": "reduce_on_plateau", "monitor": "val_margin", "mode": "max",
                             "factor": 0.5, "patience": 1, "min_delta": 0.0})  # fmt: skip
    trainer = fake_trainer()
    schedule.on_train_begin(trainer)
    rates = []
    for epoch, margin in enumerate([0.5, 0.6, 0.55]):
        schedule.on_epoch_end(epoch, {"val_margin": margin}, trainer)
        rates.append(trainer.optimizer.learning_rate)
    assert rates == pytest.approx([0.1, 0.1, 0.05])


# -- lookup and validation ------------------------------------------------------------------


def test_get_schedule_builds_from_a_name_or_a_mapping():
    assert isinstance(get_schedule("cosine"), CosineDecay)
    assert isinstance(get_schedule("plateau"), ReduceOnPlateau)
    step = get_schedule({"name": "step", "step_size": 4, "gamma": 0.3})
    assert (step.step_size, step.gamma) == (4, 0.3)
    existing = ExponentialDecay()
    assert get_schedule(existing) is existing


def test_an_unknown_schedule_lists_the_valid_names():
    with pytest.raises(
        ValueError, match="unknown schedule 'nope'; valid schedules: step, exponential, cosine"
    ):
        get_schedule("nope")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ExponentialDecay(gamma=0), "exponential: gamma must be a number > 0, got 0"),
        (lambda: StepDecay(gamma=-0.5), "step: gamma must be a number > 0, got -0.5"),
        (lambda: StepDecay(step_size=0), "step: step_size must be an integer >= 1, got 0"),
        (lambda: CosineDecay(epochs=0), "cosine: epochs must be an integer >= 1, got 0"),
        (lambda: ReduceOnPlateau(factor=1.5), r"factor must be a number in \(0, 1\), got 1.5"),
        (lambda: ReduceOnPlateau(patience=-1), "patience must be an integer >= 0, got -1"),
        (lambda: ReduceOnPlateau(cooldown=-1), "cooldown must be an integer >= 0, got -1"),
        (lambda: get_schedule({"name": "step", "gama": 0.5}), "unknown argument"),
    ],
)
def test_bad_arguments_name_the_argument(build, message):
    with pytest.raises(ValueError, match=message):
        build()
