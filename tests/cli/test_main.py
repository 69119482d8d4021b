"""The `chainrule` command: output a user reads, and one-line errors with exit code 2."""

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from chainrule.cli.main import main

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "mlp-784-64-10-sigmoid.yaml"


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
    from chainrule.app.recipes import load_recipe

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
    assert main(["train", str(RECIPE), "--threads", "0"]) == 2  # before any data is loaded
    assert "threads (cores to use) must be an integer >= 1" in capsys.readouterr().err


# -- train, evaluate, plot, datasets -----------------------------------------------------------
def test_train_evaluate_plot_on_real_digits(digits_dir, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        ["train", str(RECIPE), "--dataset", str(digits_dir), "--out", str(out), "--json",
         "--set", "training.epochs=2", "--set", "data.preprocessing=scale"]
    )  # fmt: skip
    assert code == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["run_dir"] == str(out)
    assert trained["epochs_run"] == 2
    assert 0.1 < trained["test_accuracy"] <= 1

    assert main(["evaluate", str(out / "model.safetensors"), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["accuracy"] == trained["test_accuracy"]

    assert main(["evaluate", str(out / "model.safetensors")]) == 0
    text = capsys.readouterr().out
    assert "precision" in text
    assert f"{trained['test_accuracy']:.2%}" in text

    assert main(["plot", str(out)]) == 0
    assert (out / "report.html").is_file()


def test_train_with_missing_data_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    code = main(
        ["train", str(RECIPE), "--dataset", "kmnist", "--offline", "--out", str(tmp_path / "r")]
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "dataset 'kmnist'" in err
    assert "--data-dir" in err


def test_bad_set_and_bad_choices_exit_2(tmp_path, capsys):
    assert (
        main(["train", str(RECIPE), "--set", "training.mode=online", "--out", str(tmp_path / "r")])
        == 2
    )
    assert "training.mode" in capsys.readouterr().err
    assert main(["plot", str(tmp_path / "no-such-run")]) == 2
    assert "run directory not found" in capsys.readouterr().err


def test_datasets_list_and_info(shared_data, capsys):
    assert main(["datasets", "list", "--data-dir", str(shared_data)]) == 0
    listing = capsys.readouterr().out
    assert "fashion-mnist" in listing
    assert "kmnist" in listing
    assert main(["datasets", "info", "fashion-mnist"]) == 0
    info = capsys.readouterr().out
    assert "Ankle boot" in info
    assert "26,421,880" in info  # the official download size, from the registry
    assert main(["datasets", "info"]) == 2
    assert "needs a dataset name" in capsys.readouterr().err


# -- explain, derive, graph --------------------------------------------------------------------
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_explain_prints_the_worked_example(capsys):
    assert (
        main(["explain", str(EXAMPLES / "relu-tanh-sigmoid-mse.yaml"), "--paths", "W1[1,1]"]) == 0
    )
    out = capsys.readouterr().out
    assert "a1[1] = ReLU(0.3*0.1 + 0.5*0.2 + 0.8*0.2 + 0.2) = ReLU(0.49) = 0.49" in out


def test_explain_writes_latex_to_a_file(tmp_path, capsys):
    out = tmp_path / "worked.tex"
    spec = str(EXAMPLES / "softmax-categorical-crossentropy.yaml")
    assert main(["explain", spec, "--format", "latex", "--out", str(out)]) == 0
    assert out.read_text().count("\\begin{") == out.read_text().count("\\end{")


def test_explain_bad_spec_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "input: [1, 2]\ntarget: [1]\nlayers:\n  - {activation: relux, W: [[1, 2]], b: [0]}\nloss: mse\n"
    )
    assert main(["explain", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "relux" in err


def test_derive_from_the_command_line_and_from_a_recipe(capsys):
    assert (
        main(["derive", "--arch", "784-64-10", "--activation", "sigmoid", "--optimizer", "adam"])
        == 0
    )
    markdown = capsys.readouterr().out
    assert "784 \\times 64" in markdown
    assert main(["derive", str(RECIPE), "--format", "text"]) == 0
    assert "δ" in capsys.readouterr().out
    assert main(["derive", "--arch", "784-x"]) == 2
    assert "--arch takes layer sizes" in capsys.readouterr().err


def test_graph_of_a_recipe_and_diagram_of_a_spec(tmp_path, capsys):
    out = tmp_path / "g"
    assert (
        main(["graph", str(RECIPE), "--backward", "--out", str(out), "--engine", "matplotlib"]) == 0
    )
    assert (tmp_path / "g-backward.png").stat().st_size > 0
    spec = str(EXAMPLES / "relu-tanh-sigmoid-mse.yaml")
    assert main(["graph", spec, "--diagram", "--out", str(out), "--formats", "png"]) == 0
    assert (tmp_path / "g-network.png").stat().st_size > 0
    assert main(["graph", str(RECIPE), "--diagram", "--out", str(out)]) == 2  # 784 inputs: too big
    assert "computation graph" in capsys.readouterr().err


def test_resume_continues_a_run_to_the_same_numbers(digits_dir, tmp_path, capsys):
    common = ["--dataset", str(digits_dir), "--quiet", "--set", "data.train_limit=600"]
    straight = tmp_path / "straight"
    assert (
        main(["train", str(RECIPE), "--out", str(straight), "--set", "training.epochs=3", *common])
        == 0
    )
    stopped = tmp_path / "stopped"
    assert (
        main(["train", str(RECIPE), "--out", str(stopped), "--set", "training.epochs=1", *common])
        == 0
    )
    assert main(["train", "--resume", str(stopped), "--set", "training.epochs=3", *common]) == 0
    first = (straight / "history.csv").read_text().splitlines()
    second = (stopped / "history.csv").read_text().splitlines()
    strip_seconds = lambda lines: [line.rsplit(",", 1)[0] for line in lines]  # noqa: E731
    assert strip_seconds(first) == strip_seconds(second)
    assert (straight / "model.safetensors").read_bytes() != b""
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_ctrl_c_stops_between_steps_and_resume_finishes_the_run(digits_dir, tmp_path):
    run = tmp_path / "run"
    common = ["--dataset", str(digits_dir), "--quiet", "--set", "data.train_limit=300",
              "--set", "training.epochs=40"]  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "chainrule.cli", "train", str(RECIPE), "--out", str(run), *common],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not list((run / "checkpoints").glob("epoch-*.safetensors")):  # training has begun
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130
    assert re.search(r"interrupted in epoch \d+ after step \d+; saved in \S+\.safetensors: "
                     r"chainrule train --resume \S+ continues from there", err), err  # fmt: skip
    assert main(["train", "--resume", str(run), *common]) == 0
    assert len((run / "history.csv").read_text().splitlines()) == 1 + 40
    assert not (run / "checkpoints" / "interrupted.safetensors").exists()


def test_divergence_exits_3_with_advice(digits_dir, tmp_path, capsys):
    code = main(
        ["train", str(RECIPE), "--dataset", str(digits_dir), "--out", str(tmp_path / "r"), "--quiet",
         "--set", "data.preprocessing=none", "--set", "model.activation=identity",
         "--set", "model.output=identity", "--set", "model.loss=mse",
         "--set", "training.optimizer={name: sgd, learning_rate: 10}"]
    )  # fmt: skip
    assert code == 3
    err = capsys.readouterr().err
    assert "diverged at epoch 1" in err
    assert "lower learning rate" in err
    assert (tmp_path / "r" / "history.csv").is_file()


def test_train_with_diagnostics_then_diagnose(digits_dir, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", str(RECIPE), "--dataset", str(digits_dir), "--out", str(out), "--quiet",
            "--diagnostics", "--set", "training.epochs=1"]  # fmt: skip
    assert main(args) == 0
    assert (out / "figures" / "gradient_norms.png").is_file()
    assert "## Diagnostics" in (out / "report.md").read_text()
    capsys.readouterr()
    assert main(["diagnose", str(out)]) == 0
    assert "dense_1" in capsys.readouterr().out
    assert main(["diagnose", str(tmp_path)]) == 2
    assert "--diagnostics" in capsys.readouterr().err


# -- predict and serve -------------------------------------------------------------------------
def test_predict_images_a_user_drew(digits_dir, tmp_path, capsys):
    from PIL import Image

    from chainrule.data import read_idx

    out = tmp_path / "run"
    assert main(["train", str(RECIPE), "--dataset", str(digits_dir), "--out", str(out), "--quiet",
                 "--set", "training.epochs=3", "--set", "model.activation=relu"]) == 0  # fmt: skip
    images = read_idx(digits_dir / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(digits_dir / "t10k-labels-idx1-ubyte.gz")
    paths = []
    for index in range(3):  # dark ink on light paper, 10x larger, as a photo of a digit would be
        image = Image.fromarray(255 - images[index]).resize((280, 280), Image.LANCZOS)
        paths.append(tmp_path / f"digit-{index}.png")
        image.save(paths[-1])
    blank = tmp_path / "blank.png"
    Image.new("L", (100, 100), 255).save(blank)
    capsys.readouterr()
    code = main(["predict", str(out / "model.safetensors"), *map(str, paths), str(blank), "--json"])
    assert code == 2  # one file failed; the others were still predicted
    results = json.loads(capsys.readouterr().out)
    predicted = [r["top"][0]["class"] for r in results if "top" in r]
    assert len(predicted) == 3
    assert sum(p == str(labels[i]) for i, p in enumerate(predicted)) >= 2
    assert any("error" in r for r in results)


# -- sweep and compare -------------------------------------------------------------------------
def test_sweep_then_compare_then_diagnostics_side_by_side(digits_dir, tmp_path, capsys):
    grid = tmp_path / "grid.yaml"
    grid.write_text(f"name: tiny\nbase: {RECIPE}\naxes:\n  model.activation: [relu, tanh]\n")
    out = tmp_path / "sweep"
    code = main(["sweep", str(grid), "--dataset", str(digits_dir), "--out", str(out), "--workers", "2",
                 "--epochs", "1", "--quiet", "--json", "--set", "data.train_limit=400",
                 "--set", "training.diagnostics=5"])  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["finished"] == summary["total"] == 2
    assert summary["failed"] == 0
    assert main(["compare", str(out), "--format", "csv,markdown", "--quiet"]) == 0
    assert (out / "report.html").is_file()
    assert (out / "comparison.csv").read_text().count("\n") >= 3
    capsys.readouterr()
    assert (
        main(["compare", str(out), "--diagnostic", "grad_norm", "--out", str(tmp_path / "g")]) == 0
    )
    assert (tmp_path / "g.png").stat().st_size > 0
    assert main(["compare", str(out), "--diagnostic", "nope", "--out", str(tmp_path / "h")]) == 2
    assert "unknown diagnostic" in capsys.readouterr().err
    assert (
        main(["sweep", str(grid), "--dataset", str(digits_dir), "--out", str(out), "--quiet"]) == 2
    )
    assert "resume" in capsys.readouterr().err
