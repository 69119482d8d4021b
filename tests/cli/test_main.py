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


def test_explain_works_a_convolution_with_paths_to_a_kernel_weight(capsys):
    spec = str(EXAMPLES / "conv-maxpool-dense-softmax.yaml")
    assert main(["explain", spec, "--paths", "W1[1,1,2,1]"]) == 0
    out = capsys.readouterr().out
    assert "z1[1,1,1] = 0.2*0.5 + 0.5*(-0.3) + 0.4*0.2 + 0.9*0.4 + 0.1 = 0.49" in out
    assert "Paths from L to W1[1,1,2,1]" in out and "DISAGREE" not in out
    assert main(["explain", spec, "--paths", "W1[1,1]"]) == 2  # a kernel takes four indices
    assert "W1 is 2×1×2×2" in capsys.readouterr().err


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


# -- faults: a full disk, a bad port, a taken port ---------------------------------------------
def _limit_file_size_to_64_kib():
    """In the child before exec: ``ulimit -f 64``; an ignored SIGXFSZ stays ignored in the
    child, so an over-large write fails with EFBIG instead of killing the process."""
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))


def test_a_full_disk_while_training_is_one_line_exit_2(digits_dir, tmp_path):
    import errno
    import os

    run = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "chainrule.cli", "train", str(RECIPE), "--out", str(run),
         "--dataset", str(digits_dir), "--quiet", "--set", "data.train_limit=200",
         "--set", "training.epochs=1"],
        capture_output=True, text=True, timeout=300, preexec_fn=_limit_file_size_to_64_kib,
    )  # fmt: skip
    checkpoint = run / "checkpoints" / "epoch-0001.safetensors"
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"chainrule train: error: could not write {checkpoint}: {os.strerror(errno.EFBIG)} "
        "(no file was written)\n"
    )
    assert (run / "recipe.yaml").is_file()  # small files were written, whole
    assert not [p for p in run.rglob("*") if p.name.endswith(".tmp")]


def _servable_model(path):
    """A model file ``serve`` accepts: a tiny 784-10 softmax with its preprocessing."""
    import numpy as np

    from chainrule.data.preprocessing import Preprocessing
    from chainrule.nn.layers import Dense, Softmax
    from chainrule.nn.model import Sequential, save_model

    model = Sequential([Dense(10), Softmax()], loss="categorical_crossentropy",
                       input_shape=(784,), seed=0)  # fmt: skip
    preprocessing = Preprocessing("scale").fit(np.zeros((2, 28, 28), np.uint8))
    extra = {"preprocessing": preprocessing.to_dict(), "class_names": [str(d) for d in range(10)]}
    return save_model(model, path, extra)


def test_serve_refuses_a_port_outside_1_to_65535_in_one_line(tmp_path, capsys):
    model = _servable_model(tmp_path / "model.safetensors")
    for port in ["70000", "0", "-5"]:
        assert main(["serve", str(model), "--port", port]) == 2
        err = capsys.readouterr().err
        assert err == (
            f"chainrule serve: error: --port must be an integer from 1 to 65535, got {port}\n"
        )


def test_serve_with_a_taken_port_or_a_bad_model_never_says_serving(tmp_path, capsys):
    import socket

    model = _servable_model(tmp_path / "model.safetensors")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", str(model), "--port", str(port)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "open http" not in err
    assert err.startswith(f"chainrule serve: error: cannot listen on 127.0.0.1:{port} (")
    assert err.rstrip().endswith("choose another with --port")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model")
    assert main(["serve", str(bad), "--port", str(port)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"chainrule serve: error: {bad}: not a readable model file")


# -- nothing silent: --set that would do nothing, values of the wrong kind, bounded YAML --------
def _one_line_exit_2(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"chainrule {argv[0]}: error: ")
    return err.rstrip("\n")


def test_summary_refuses_set_with_a_model_file(tmp_path, capsys):
    from chainrule.app.recipes import load_recipe

    path = load_recipe(RECIPE).build_model().save(tmp_path / "m.safetensors")
    err = _one_line_exit_2(capsys, ["summary", str(path), "--set", "model.hidden=[5]"])
    assert err.endswith(f"--set applies to recipes; a model file's architecture is fixed ({path})")


def test_train_refuses_two_learning_rates_before_loading_data(tmp_path, capsys):
    argv = ["train", str(RECIPE), "--offline", "--dataset", str(tmp_path / "no-data"),
            "--out", str(tmp_path / "r"), "--set", "training.learning_rate=0.5"]  # fmt: skip
    err = _one_line_exit_2(capsys, argv)
    assert "training.learning_rate=0.5 and training.optimizer.learning_rate=0.1 both give" in err
    assert not (tmp_path / "r").exists()


def test_train_refuses_values_of_the_wrong_kind(tmp_path, capsys):
    cases = {
        "training.epochs=true": "training.epochs: Input should be a valid integer (got True)",
        "training.learning_rate=.inf": (
            "training.learning_rate: Input should be a finite number (got inf)"
        ),
        "seed=-1": "seed: Input should be greater than or equal to 0 (got -1)",
    }
    for override, words in cases.items():
        argv = ["train", str(RECIPE), "--out", str(tmp_path / "r"), "--set", override]
        assert _one_line_exit_2(capsys, argv).endswith(f"{RECIPE}: {words}")


def test_train_refuses_a_key_given_twice(tmp_path, capsys):
    argv = ["train", str(RECIPE), "--out", str(tmp_path / "r"), "--dataset", "kmnist",
            "--set", "data.dataset=mnist"]  # fmt: skip
    err = _one_line_exit_2(capsys, argv)
    assert "data.dataset is given twice on the command line, as 'mnist' and 'kmnist'" in err


def _billion_laughs():
    return "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{name}: &{name} [{', '.join(['*' + before] * 9)}]\n"
        for before, name in zip("abcdefgh", "bcdefghi", strict=True)
    )


def test_yaml_problems_are_one_line_for_recipes_grids_and_specs(tmp_path, capsys):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(_billion_laughs())
    for command in ("summary", "train", "sweep", "explain", "graph"):
        err = _one_line_exit_2(capsys, [command, str(bomb)])
        assert f"error: {bomb}:" in err and "expands to more than 1,000,000 values" in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("model:\n  hidden: [64\ntraining: {}\n")
    for command in ("summary", "sweep", "explain"):
        err = _one_line_exit_2(capsys, [command, str(broken)])
        assert f"error: {broken}:3:9: not valid YAML: expected ',' or ']'" in err
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: caf\xe9\n")
    for command in ("summary", "sweep", "explain"):
        err = _one_line_exit_2(capsys, [command, str(latin)])
        assert err.endswith(f"{latin}: not UTF-8 text: byte 0xe9 at offset 9 (line 1) is not "
                            "valid UTF-8; save the file as UTF-8")  # fmt: skip


# -- nothing silent, nothing unbounded: stray labels, bad model files, huge models and images --
def _idx_folder(directory, stray_label=None):
    """A tiny MNIST-format folder (20 train, 10 test digits 0..9); ``stray_label`` replaces
    the train split's label at index 7."""
    import numpy as np

    from chainrule.data import write_idx

    rng = np.random.default_rng(0)
    directory.mkdir(parents=True)
    train_labels = (np.arange(20) % 10).astype(np.uint8)
    if stray_label is not None:
        train_labels[7] = stray_label
    images = rng.integers(0, 256, (30, 28, 28), np.uint8)
    write_idx(directory / "train-images-idx3-ubyte.gz", images[:20])
    write_idx(directory / "train-labels-idx1-ubyte.gz", train_labels)
    write_idx(directory / "t10k-images-idx3-ubyte.gz", images[20:])
    write_idx(directory / "t10k-labels-idx1-ubyte.gz", (np.arange(10) % 10).astype(np.uint8))
    return directory


def _model_file(path, poison=None):
    """A 784-10 softmax model file with its preprocessing; ``poison`` is written into the
    first four weights of dense_1.W."""
    import numpy as np

    from chainrule.data.preprocessing import Preprocessing
    from chainrule.nn.layers import Dense, Softmax
    from chainrule.nn.model import Sequential, save_model

    model = Sequential([Dense(10), Softmax()], loss="categorical_crossentropy",
                       input_shape=(784,), seed=0)  # fmt: skip
    if poison is not None:
        model.params["dense_1.W"][0, :4] = poison
    preprocessing = Preprocessing("scale").fit(np.zeros((2, 28, 28), np.uint8))
    return save_model(model, path, {"preprocessing": preprocessing.to_dict()})


def test_a_stray_label_in_an_idx_folder_is_one_line_naming_it(tmp_path, capsys):
    folder = _idx_folder(tmp_path / "data", stray_label=200)
    run = tmp_path / "run"
    assert main(["train", str(RECIPE), "--dataset", str(folder), "--out", str(run), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    labels = folder / "train-labels-idx1-ubyte.gz"
    assert err.startswith(
        f"chainrule train: error: {labels}: label 200 at index 7 is outside the classes 0..9 "
    )
    assert not run.exists()  # refused before any run directory was made


def test_a_model_file_with_nan_weights_is_one_line_for_predict_and_summary(tmp_path, capsys):
    model = _model_file(tmp_path / "model.safetensors", poison=float("nan"))
    image = tmp_path / "digit.png"
    image.write_bytes(b"")  # never read: the model is refused first
    for command in (["predict", str(model), str(image), "--json"], ["summary", str(model)]):
        assert main(command) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1
        assert err.startswith(f"chainrule {command[0]}: error: {model}: tensor 'dense_1.W' holds 4 "
                              "non-finite value(s) (NaN or infinity)")  # fmt: skip


def test_a_json_depth_bomb_in_model_metadata_is_one_line_naming_the_file(tmp_path, capsys):
    import numpy as np
    from safetensors.numpy import save_file

    bomb = tmp_path / "bomb.safetensors"
    deep = "[" * 100_000 + "]" * 100_000
    metadata = {"format": "chainrule-model", "format_version": "1", "model": deep, "extra": "{}"}
    save_file({"w": np.zeros(3, np.float32)}, str(bomb), metadata=metadata)
    assert main(["summary", str(bomb)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "recursion" not in err
    assert err.startswith(f"chainrule summary: error: {bomb}: the model file's metadata 'model' "
                          "nests lists or mappings more than 64 deep")  # fmt: skip


def test_a_model_too_big_for_memory_is_one_line_with_the_figures(capsys):
    assert main(["summary", str(RECIPE), "--set", "model.hidden=[1000000000]"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("chainrule summary: error: building this model needs about ")
    assert "795,000,000,010 parameters in float32" in err  # 784·10⁹ + 10⁹ + 10⁹·10 + 10
    assert " available (" in err and "MemoryError" not in err


def test_training_that_needs_more_memory_than_is_free_is_refused_before_it_starts(
    tmp_path, capsys, monkeypatch
):
    from chainrule.app.recipes import load_recipe
    from chainrule.nn import memory

    overrides = ["model.hidden=[4096]"]
    recipe = load_recipe(RECIPE, overrides)
    model = recipe.build_model()
    building = memory.parameter_memory(model.params.specs, model.dtype).total
    training = memory.training_memory(model, recipe.build_optimizer(), 32).total
    free = (building + training) // 2  # enough to build the model, not to train it
    assert memory.SMALL_ESTIMATE < building < free < training
    monkeypatch.setattr(memory, "available_memory", lambda: memory.AvailableMemory(free, "test"))
    folder = _idx_folder(tmp_path / "data")
    run = tmp_path / "run"
    code = main(["train", str(RECIPE), "--dataset", str(folder), "--out", str(run), "--quiet",
                 "--set", overrides[0], "--set", "training.batch_size=32"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("chainrule train: error: training this model needs about ")
    assert f"this machine has {memory.format_bytes(free)} available (test)" in err
    assert not run.exists()


def test_an_image_over_the_pixel_cap_is_one_line_and_strict_json(tmp_path, capsys):
    import struct
    import zlib

    model = _model_file(tmp_path / "model.safetensors")
    ihdr = struct.pack(">IIBBBBB", 10_000, 10_000, 8, 0, 0, 0, 0)  # declared, never stored
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + crc
    huge = tmp_path / "huge.png"
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk + b"\x00\x00\x00\x00IEND\xaeB`\x82")
    assert main(["predict", str(model), str(huge)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(
        f"chainrule predict: error: {huge}: too large: 10000×10000 pixels (100 megapixels); "
    )
    assert main(["predict", str(model), str(huge), "--json"]) == 2

    def refuse(constant):
        raise AssertionError(f"not JSON: {constant}")

    (result,) = json.loads(capsys.readouterr().out, parse_constant=refuse)
    assert result["file"] == str(huge) and result["error"].startswith("too large: ")


# -- sweeps: one writer, a store that refuses a write, compare at 80 columns ----------------------
def _tiny_cli_sweep(digits_dir, tmp_path, name="tiny"):
    """`chainrule sweep` of 2 one-epoch runs with a validation split: (grid, out, argv)."""
    grid = tmp_path / f"{name}.yaml"
    grid.write_text(f"name: {name}\nbase: {RECIPE}\naxes:\n  model.activation: [relu, tanh]\n")
    out = tmp_path / name
    argv = ["sweep", str(grid), "--dataset", str(digits_dir), "--out", str(out), "--workers", "1",
            "--epochs", "1", "--quiet", "--set", "data.train_limit=300"]  # fmt: skip
    return grid, out, argv


def test_sweep_resume_while_another_sweep_writes_is_one_line_naming_its_pid(
    digits_dir, tmp_path, capsys
):
    import os

    from chainrule.sweep import SweepStore

    _, out, argv = _tiny_cli_sweep(digits_dir, tmp_path)
    out.mkdir()
    with SweepStore.create(out / "sweep.sqlite"):  # a live writer holds the sweep
        err = _one_line_exit_2(capsys, [*argv, "--resume"])
    assert f"is being written by another sweep (process {os.getpid()}, lock " in err
    assert not (out / "runs").exists()  # nothing trained


def test_sweep_store_refusing_a_write_is_one_line_exit_2(digits_dir, tmp_path, capsys, monkeypatch):
    from chainrule.sweep import SweepStore

    mark_running = SweepStore.mark_running

    def read_only(self, name, **keys):  # the first write once the sweep starts: nothing trains
        self.connection.execute("PRAGMA query_only = ON")  # as a file turned read-only
        return mark_running(self, name, **keys)

    monkeypatch.setattr(SweepStore, "mark_running", read_only)
    _, out, argv = _tiny_cli_sweep(digits_dir, tmp_path)
    err = _one_line_exit_2(capsys, argv)
    assert (
        f"cannot write the sweep store {out / 'sweep.sqlite'}: attempt to write a readonly" in err
    )


def test_compare_in_80_columns_keeps_numbers_whole_and_names_the_ranking(
    digits_dir, tmp_path, capsys, monkeypatch
):
    import chainrule.sweep

    grid, out, _ = _tiny_cli_sweep(digits_dir, tmp_path)
    chainrule.sweep.run_sweep(grid, out_dir=out, workers=1, epochs=1, progress=False,
                              figures=False, overrides=[f"data.dataset={digits_dir}",
                                                        "data.train_limit=300"])  # fmt: skip
    monkeypatch.setenv("COLUMNS", "80")  # an 80-column terminal, as a pipe gets too
    assert main(["compare", str(out)]) == 0
    table = capsys.readouterr().out
    assert "…" not in table and max(map(len, table.splitlines())) <= 80
    flat = " ".join(table.split())
    assert "2 runs, ranked by val_accuracy (higher is better), on the validation data" in flat
    assert "not shown at 80 columns: " in flat
    assert re.search(r"│ +1 │ .*finished │ +\d+\.\d\d% │", table)  # status and metric whole
    assert (out / "comparison.csv").read_text().startswith("rank_by_val_accuracy,run,")


# -- a finite loss that explodes, NumPy's warnings, Ctrl-C before a run directory exists -------
def test_a_finite_loss_that_explodes_exits_3_with_one_message(digits_dir, tmp_path, capsys):
    """SGD at lr 10⁶: the loss goes from about 2.4 to about 10⁶, finite, in one step."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # one that escapes fails the test
        code = main(
            ["train", str(RECIPE), "--dataset", str(digits_dir), "--out", str(tmp_path / "r"),
             "--quiet", "--set", "data.train_limit=300",
             "--set", "training.optimizer={name: sgd, learning_rate: 1000000}"]
        )  # fmt: skip
    assert code == 3
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("chainrule train: training diverged at ")
    assert "the loss grew to " in err and "not finite" not in err
    assert "lower learning rate (it is 1e+06)" in err
    assert (tmp_path / "r" / "steps.csv").is_file()


def test_numpy_float_warnings_never_reach_the_terminal(tmp_path, capsys):
    """A worked example whose sigmoid saturates to exactly 1: log(1 - a) is log(0)."""
    import warnings

    spec = tmp_path / "saturated.yaml"
    spec.write_text(
        "input: [1.0e300, -2.0e300]\ntarget: [1]\n"
        "layers:\n  - {activation: tanh, W: [[0.5, -0.3], [0.2, 0.8]], b: [0.1, -0.1]}\n"
        "  - {activation: sigmoid, W: [[1.0e300, -1.0e300]], b: [0.05]}\n"
        "loss: binary_crossentropy\noptimizer: {name: gd, learning_rate: 0.1}\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # one that escapes fails the test
        code = main(["explain", str(spec)])
    assert code == 0
    assert "Warning" not in capsys.readouterr().err


def test_ctrl_c_while_the_data_loads_says_nothing_was_written(tmp_path, capsys, monkeypatch):
    import chainrule.app.run

    def press_ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(chainrule.app.run, "load_data", press_ctrl_c)
    out = tmp_path / "run"
    assert main(["train", str(RECIPE), "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert err == "interrupted before training began; nothing was written: run it again\n"
    assert not out.exists()


def test_a_reader_that_closes_early_gets_no_broken_pipe_error():
    # `chainrule explain ... | head`: the reader goes away before chainrule has written
    # everything; closing the read end at once makes every write fail, whatever the timing
    spec = Path(__file__).resolve().parents[2] / "examples" / "relu-tanh-sigmoid-mse.yaml"
    process = subprocess.Popen(
        [sys.executable, "-m", "chainrule.cli", "explain", str(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=60) == 141
    assert stderr == ""
