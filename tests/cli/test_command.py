import json
import math

from chainrule.cli.command import to_json


def test_json_output_is_strict_json_even_when_a_loss_overflows():
    result = {"accuracy": 0.1, "loss": math.inf, "per_class": [{"f1": math.nan}], "n": 3}
    text = to_json(result)
    assert json.loads(text) == {"accuracy": 0.1, "loss": None, "per_class": [{"f1": None}], "n": 3}
    assert "NaN" not in text and "Infinity" not in text


def test_options_pass_through():
    assert to_json({"a": 1}, indent=2) == '{\n  "a": 1\n}'
