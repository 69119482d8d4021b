"""The `chainrule` command: output a user reads, and one-line errors with exit code 2."""

import json
import subprocess
import sys
from pathlib import Path

from chainrule.cli import main

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "mlp-784-64-10-sigmoid.yaml"


def test_summary_of_a_recipe(capsys):
    assert main(["summary", str(RECIPE)]) == 0
    out = capsys.readouterr().out
    assert "Total params: 50,890" in out
    assert "dense_1 (Dense)" in out


def test_summary_with_overrides_as_json(capsys):
    assert main(["summary", str(RECIPE), "--set", "model.hidden=[64,64]", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["total_params"] == 55_050
    assert summary["layers"][0] == {
        "layer": "dense_1 (Dense)",
        "output_shape": "(None, 64)",
        "params": 50_240,
    }


def test_summary_of_a_saved_model(tmp_path, capsys):
    from chainrule.config import load_recipe

    path = load_recipe(RECIPE).build_model().save(tmp_path / "m.safetensors")
    assert main(["summary", str(path)]) == 0
    assert "Total params: 50,890" in capsys.readouterr().out


def test_bad_recipe_is_one_line_with_exit_code_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {activation: relux}\n")
    assert main(["summary", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith("chainrule summary: error: ")
    assert "unknown activation 'relux'" in err


def test_missing_file_and_bad_arguments_exit_2(capsys, tmp_path):
    assert main(["summary", str(tmp_path / "missing.yaml")]) == 2
    assert "recipe file not found" in capsys.readouterr().err
    result = subprocess.run(
        [sys.executable, "-m", "chainrule.cli", "frobnicate"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
