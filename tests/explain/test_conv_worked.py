"""compute() on convolutional specs: the record's worked values against a plain-NumPy
reference in loops (``worked_reference``, no chainrule code), the verification against the
engine's backward pass and finite differences, the update, several steps, deeper networks,
and the record's values addressed by their printed names."""

from __future__ import annotations

import numpy as np
import pytest
from worked_reference import CONV_MAXPOOL, CONV_STRIDED, correlate, load_raw, reference_loss

from chainrule.explain import FORMATS, compute, explain, render
from chainrule.explain.record import equation_values
from chainrule.explain.spec import load_spec, parse_spec
from chainrule.nn.gradcheck import numerical_gradient

#: conv (2 channels in) -> conv (padded) -> average pooling -> flatten -> sigmoid, unfused BCE
DEEP = {
    "title": "two convolutions",
    "input": [
        [[0.2, 0.5, 0.1, 0.4], [0.4, 0.9, 0.6, 0.2], [0.0, 0.3, 0.8, 0.7], [0.1, 0.2, 0.4, 0.9]],
        [[0.3, 0.1, 0.6, 0.2], [0.5, 0.2, 0.1, 0.8], [0.7, 0.4, 0.3, 0.1], [0.2, 0.6, 0.5, 0.3]],
    ],
    "target": [1, 0],
    "layers": [
        {
            "type": "conv2d",
            "activation": "tanh",
            "W": [
                [[[0.5, -0.3], [0.2, 0.4]], [[0.1, 0.2], [-0.3, 0.1]]],
                [[[-0.2, 0.6], [0.7, -0.1]], [[0.3, -0.1], [0.2, 0.2]]],
            ],
            "b": [0.1, -0.1],
        },
        {
            "type": "conv2d",
            "padding": 1,
            "activation": "relu",
            "W": [
                [
                    [[0.3, 0.1, -0.2], [0.2, -0.4, 0.1], [0.1, 0.2, 0.3]],
                    [[0.2, 0.5, -0.1], [-0.1, 0.3, 0.2], [0.4, -0.2, 0.1]],
                ]
            ],
            "b": [0.05],
        },
        {"type": "avgpool2d", "pool_size": 2, "stride": 1},
        "flatten",
        {"activation": "sigmoid", "W": [[0.5, -0.4, 0.3, 0.2], [0.1, 0.2, -0.3, 0.4]]},
    ],
    "loss": "binary_crossentropy",
    "optimizer": {"name": "adam", "learning_rate": 0.01},
    "fuse": False,
}


@pytest.fixture(scope="module", params=[CONV_MAXPOOL, CONV_STRIDED], ids=lambda p: p.name)
def worked(request):
    path = request.param
    spec = load_spec(path)
    return load_raw(path), spec, compute(spec, paths=["W1[1,1,2,1]", "b1[1]"])


def test_every_worked_value_equals_the_loop_reference(worked):
    raw, spec, record = worked
    step = record.steps[0]
    conv = raw["layers"][0]
    x = spec.x()[0].copy()
    W1, b1 = spec.weights()[0].copy(), spec.biases()[0].copy()
    z = correlate(x, W1, b1, conv["stride"], conv["padding"])
    values = equation_values(step.sections)
    for o, i, j in np.ndindex(*z.shape):
        assert values[f"z1[{o + 1},{i + 1},{j + 1}]"] == pytest.approx(z[o, i, j], abs=1e-14)

    def loss() -> float:
        return reference_loss(raw, x, W1, b1)

    assert values["L"] == pytest.approx(loss(), rel=1e-13)
    dW, db = numerical_gradient(loss, W1), numerical_gradient(loss, b1)
    dx = numerical_gradient(loss, x)
    for index in np.ndindex(*W1.shape):
        name = "dL/dW1[" + ",".join(str(v + 1) for v in index) + "]"
        assert values[name] == pytest.approx(dW[index], rel=1e-6, abs=1e-9)
    for o in range(len(b1)):
        assert values[f"dL/db1[{o + 1}]"] == pytest.approx(db[o], rel=1e-6, abs=1e-9)
    for c, i, j in np.ndindex(*dx.shape):
        assert values[f"dL/dx[{c + 1},{i + 1},{j + 1}]"] == pytest.approx(
            dx[c, i, j], rel=1e-6, abs=1e-9
        )


def test_verification_agrees_with_the_engine_and_finite_differences(worked):
    _, _, record = worked
    verification = record.steps[0].verification
    assert verification.passed and verification.engine_max_difference < 1e-12
    assert verification.fd_max_difference < 1e-7
    assert verification.arithmetic_max_difference < 1e-13
    assert verification.input_fd_max_difference < 1e-7
    assert not verification.kinks


def test_the_update_is_the_optimizers_step(worked):
    raw, _, record = worked
    step = record.steps[0]
    rate = raw["optimizer"]["learning_rate"]  # gd, and momentum's first step: θ - η g
    np.testing.assert_allclose(step.W_new[0], step.W[0] - rate * step.dW[0], rtol=1e-14)
    np.testing.assert_allclose(step.b_new[3], step.b[3] - rate * step.db[3], rtol=1e-14)
    assert step.W_new[1] is None and step.W_new[2] is None  # pooling, flatten
    assert record.final_loss < step.loss


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_and_verifies(worked, fmt):
    _, _, record = worked
    output = render(record, fmt=fmt)
    assert "agree" in output and "DISAGREE" not in output and "SOME" not in output


def test_a_deeper_network_verifies_with_a_conv_layer_that_is_not_first():
    spec = parse_spec(DEEP)
    record = compute(spec, paths=["W1[2,2,1,2]", "W5[1,2]"])
    step = record.steps[0]
    assert step.verification.passed
    assert all(path_set.agrees for path_set in step.paths)
    values = equation_values(step.sections)
    # the second conv layer's input gradient is printed, pixel by pixel, as dL/da1
    a1 = step.examples[0].dL_da[0]
    assert values["dL/da1[2,3,3]"] == a1[1, 2, 2]
    assert values["dL/dx[2,4,4]"] == step.examples[0].dL_dx[1, 3, 3]


def test_several_steps_each_start_from_the_updated_kernels():
    raw = load_raw(CONV_MAXPOOL)
    raw["steps"] = 2
    record = compute(parse_spec(raw))
    first, second = record.steps
    np.testing.assert_array_equal(second.W[0], first.W_new[0])
    assert second.loss < first.loss and record.final_loss < second.loss
    assert "STEP 2 OF 2" in render(record)


def test_the_cli_facing_explain_takes_a_conv_spec_file():
    text = explain(CONV_STRIDED, paths=["W1[1,1,2,2]"], digits=5)
    assert "Paths from L to W1[1,1,2,2]" in text
    assert "numbers shown rounded to 5 significant digits" in text
