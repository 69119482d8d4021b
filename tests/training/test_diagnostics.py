"""Diagnostics: per-layer statistics while training, and a reading that names the problem."""

import math

import numpy as np
import pytest

from chainrule.app.recipes import parse_recipe
from chainrule.data import load_split, scale
from chainrule.training.diagnostics import (
    Diagnostics,
    format_reading,
    load_records,
    read_diagnostics,
)
from chainrule.training.trainer import Trainer


@pytest.fixture(scope="module")
def digits(shared_data):
    images, labels = load_split("mnist", "test", data_dir=shared_data, download=False)
    return scale(images[:1500].reshape(1500, -1)), labels[:1500]


def train(digits, hidden, activation="sigmoid", every=5, epochs=2, init=None):
    x, y = digits
    model_spec = {"hidden": hidden, "activation": activation}
    if init:
        model_spec["init"] = init
    recipe = parse_recipe({"model": model_spec,
                           "training": {"optimizer": {"name": "sgd", "learning_rate": 0.1}}})  # fmt: skip
    diagnostics = Diagnostics(every=every)
    trainer = Trainer(recipe.build_model(), recipe.build_optimizer(), epochs=epochs,
                      callbacks=[diagnostics], progress=False)  # fmt: skip
    trainer.fit(x, y)
    return trainer, diagnostics


def test_records_every_n_steps_for_every_dense_layer(digits):
    _trainer, diagnostics = train(digits, [32, 16])
    steps = 2 * math.ceil(1500 / 32)
    assert len(diagnostics.records) == (steps // 5) * 3
    first = diagnostics.records[0]
    assert first["layer"] == "dense_1"
    assert first["activation"] == "sigmoid"
    assert first["grad_norm"] > 0
    # the update of that step, measured: ‖ΔW‖ ≈ lr · ‖dL/dW‖ for plain SGD
    assert first["update_ratio"] * first["weight_norm"] == pytest.approx(
        0.1 * first["grad_norm"], rel=1e-3
    )
    assert 0 <= first["saturated"] <= 1


def test_the_ten_layer_sigmoid_network_is_read_as_vanishing_gradients(digits):
    _, deep = train(digits, [32] * 10, init={"name": "normal", "std": 0.1})
    findings = read_diagnostics(deep.records)
    assert findings[0].level == "problem"
    assert "vanishing gradients" in findings[0].text
    _, shallow = train(digits, [32], activation="relu", init="he_normal")
    assert not any("vanishing" in finding.text for finding in read_diagnostics(shallow.records))


def test_dead_relus_are_counted():
    from chainrule.nn.layers import ReLU
    from chainrule.training.diagnostics import _activation_stats

    layer = ReLU()
    layer.forward(np.array([[-1.0, 2.0, -3.0, 0.5], [-2.0, 1.0, -1.0, -0.5]]))
    stats = _activation_stats(layer)
    assert stats["dead"] == 0.5  # units 1 and 3 are 0 for both examples


def test_files_and_the_text_reading(digits, tmp_path):
    _, diagnostics = train(digits, [32, 16])
    diagnostics.write(tmp_path)
    records = load_records(tmp_path / "diagnostics.csv")
    assert len(records) == len(diagnostics.records)
    assert records[0]["layer"] == diagnostics.records[0]["layer"]
    assert records[0]["grad_norm"] == pytest.approx(diagnostics.records[0]["grad_norm"], 1e-5)
    assert (tmp_path / "diagnostics_histograms.json").is_file()
    text = format_reading(records)
    assert "dense_1" in text
    assert "grad norm" in text


@pytest.mark.parametrize("every", [0, 2.5, True])
def test_every_must_be_a_step_count(every):
    with pytest.raises(ValueError) as error:
        Diagnostics(every=every)
    assert str(error.value) == f"diagnostics: every must be an integer >= 1, got {every!r}"


def test_missing_diagnostics_say_how_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="--diagnostics"):
        load_records(tmp_path / "diagnostics.csv")


def test_diagnostics_do_not_change_training(digits):
    with_diagnostics, _ = train(digits, [16])
    x, y = digits
    recipe = parse_recipe({"model": {"hidden": [16], "activation": "sigmoid"},
                           "training": {"optimizer": {"name": "sgd", "learning_rate": 0.1}}})  # fmt: skip
    plain = Trainer(recipe.build_model(), recipe.build_optimizer(), epochs=2, progress=False)
    plain.fit(x, y)
    assert np.array_equal(plain.model.params.data, with_diagnostics.model.params.data)
