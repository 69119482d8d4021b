"""Each usual mistake, made on purpose in an answers file, is recognised by name.

Every wrong number here is made from the worked example's right ones by the mistake itself
(the derivative left out, the indices swapped …), then written to 4 significant digits.
"""

from pathlib import Path

import numpy as np
import pytest
import yaml

from chainrule.classroom.diagnosis import _miscopies
from chainrule.classroom.grader import Grader
from chainrule.explain import parse_spec

CLASSIC = Path(__file__).resolve().parents[2] / "examples" / "relu-tanh-sigmoid-mse.yaml"
RAW = yaml.safe_load(CLASSIC.read_text())


@pytest.fixture(scope="module")
def grader():
    return Grader(CLASSIC)


def g(value: float) -> str:
    return f"{value:.4g}"


def diagnosed(grader, answers: dict, name: str, tmp_path: Path) -> str:
    path = tmp_path / "answers.yaml"
    path.write_text(yaml.safe_dump({key: str(value) for key, value in answers.items()}))
    result = grader.check(path)
    assert result[name].verdict == "wrong", result[name]
    assert result[name].diagnosis is not None, result[name]
    return result[name].diagnosis.mistake


def test_activation_derivative_omitted(grader, tmp_path):
    gradient = grader.expected["dL/da2[1]"]
    answers = {"dL/da2[1]": g(gradient), "δ2[1]": g(gradient)}
    assert diagnosed(grader, answers, "δ2[1]", tmp_path) == "activation derivative omitted"


def test_derivative_taken_from_z(grader, tmp_path):
    z = grader.expected["z2[1]"]
    assert diagnosed(grader, {"tanh'(z2[1])": g(1 - z**2)}, "tanh'(z2[1])", tmp_path) == (
        "derivative from z"
    )


def test_sigmoid_derivative_of_the_output(grader, tmp_path):
    a = grader.expected["a3[1]"]
    s = 1 / (1 + np.exp(-a))  # σ'(a) = σ(a)(1 - σ(a)) where a(1 - a) belongs
    answers = {"sigmoid'(z3[1])": g(s * (1 - s))}
    assert diagnosed(grader, answers, "sigmoid'(z3[1])", tmp_path) == "derivative from z"


def test_the_loss_conventions_factor(grader, tmp_path):
    a, y = grader.expected, grader.spec.y()[0]
    full = sum((a[f"a3[{j + 1}]"] - y[j]) ** 2 for j in range(2))  # Σ (a - y)²: no ½
    assert diagnosed(grader, {"L": g(full)}, "L", tmp_path) == "loss convention factor"


def test_a_transposed_index(grader, tmp_path):
    value = grader.expected["δ2[2]"] * grader.expected["a1[1]"]  # δ[k]·a[j] for [j,k] = [1,2]
    answers = {"dL/dW2[1,2]": g(value)}
    assert diagnosed(grader, answers, "dL/dW2[1,2]", tmp_path) == "transposed index"


def test_a_sign_error_in_the_update(grader, tmp_path):
    old, g3 = 0.5, grader.expected["dL/dW3[1,1]"]
    answers = {"W3[1,1]": f"{old + 0.01 * g3:.5f}"}  # θ + ηg
    assert diagnosed(grader, answers, "W3[1,1]", tmp_path) == "sign error in the update"


def test_the_updated_weight_used_in_the_backward_pass(tmp_path):
    spec = parse_spec(RAW | {"optimizer": {"name": "gd", "learning_rate": 20.0}}, "test")
    grader = Grader(spec)
    step = grader.record.steps[0]
    delta3 = step.examples[0].delta[2]
    value = step.W_new[2][:, 0] @ delta3  # Σ_k W3_new[k,1] δ3[k]
    answers = {"dL/da2[1]": g(value)}
    assert diagnosed(grader, answers, "dL/da2[1]", tmp_path) == "updated weight used in backward"


def test_relu_derivative_at_its_kink(tmp_path):
    layers = [dict(RAW["layers"][0], W=[[1, -1, 0], [0.4, 0.1, 0.2], [0.2, 0.3, 0.1]])]
    layers[0]["b"] = [0, 0.2, 0.1]
    raw = RAW | {"input": [0.3, 0.3, 0.8], "layers": layers + RAW["layers"][1:]}
    grader = Grader(parse_spec(raw, "kink"))
    assert grader.expected["z1[1]"] == 0 and grader.expected["ReLU'(z1[1])"] == 0
    assert diagnosed(grader, {"ReLU'(z1[1])": "1"}, "ReLU'(z1[1])", tmp_path) == "ReLU'(0)"


def test_copied_from_the_neighbouring_neuron(grader, tmp_path):
    answers = {"a2[1]": g(grader.expected["a2[2]"])}
    assert diagnosed(grader, answers, "a2[1]", tmp_path) == "copied from a neighbour"


def test_a_forward_value_copied_wrong(grader, tmp_path):
    right = grader.expected
    a1 = np.array([right["a1[1]"], 0.35, right["a1[3]"]])  # 0.53 copied as 0.35
    z = grader.spec.weights()[1][0] @ a1 + grader.spec.biases()[1][0]
    answers = {"a1[2]": "0.53", "z2[1]": g(z)}
    assert diagnosed(grader, answers, "z2[1]", tmp_path) == "forward value copied wrong"


def test_an_undiagnosed_wrong_value_has_no_diagnosis(grader):
    result = grader.check({"L": "0.9"})
    assert result["L"].verdict == "wrong" and result["L"].diagnosis is None


def test_miscopies_change_swap_or_drop_one_digit():
    copies = set(_miscopies("0.53"))
    assert {"0.35", "0.63", "0.5", "0.03"} <= copies and "0.53" not in copies
