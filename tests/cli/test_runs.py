"""chainrule train / evaluate / plot on your own data: CSV and NPZ files, the built-in 2-D sets,
and a one-line error (exit 2) for every bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chainrule.cli.main import main
from chainrule.data import toy_dataset


def one_line_exit_2(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"chainrule {argv[0]}: error: ")
    return err.rstrip("\n")


@pytest.fixture
def recipe(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(
        "name: tiny\n"
        "data: {preprocessing: standardize}\n"
        "model: {hidden: [8], activation: tanh}\n"
        "training: {optimizer: {name: adam, learning_rate: 0.03}, epochs: 8}\n"
    )
    return path


def points_csv(path, n=200):
    x, y = toy_dataset("moons", n=n, seed=1)
    names = ("top", "bottom")
    path.write_text(
        "x,y,kind\n" + "".join(f"{a},{b},{names[k]}\n" for (a, b), k in zip(x, y, strict=True))
    )
    return path


def train_json(capsys, argv):
    assert main(["train", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_train_on_a_csv_then_evaluate_and_predict_its_rows(recipe, tmp_path, capsys):
    points = points_csv(tmp_path / "points.csv")
    out = tmp_path / "run"
    result = train_json(capsys, [str(recipe), "--dataset", str(points), "--out", str(out),
                                 "--set", "data.label_column=kind"])  # fmt: skip
    assert result["test_accuracy"] > 0.8
    assert (out / "figures" / "boundary.png").is_file()
    assert main(["evaluate", str(out), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["examples"] == 40
    assert evaluated["accuracy"] == pytest.approx(result["test_accuracy"])
    new = tmp_path / "new.csv"
    new.write_text("x,y\n-1,0.5\n2,-0.2\n")
    assert main(["predict", str(out), str(new)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == ["top", "bottom"]


def test_train_on_npz_arrays_with_their_own_test_split(recipe, tmp_path, capsys):
    x, y = toy_dataset("circles", n=300, seed=2)
    path = tmp_path / "arrays.npz"
    np.savez(path, x_train=x[:200], y_train=y[:200], x_test=x[200:], y_test=y[200:])
    result = train_json(capsys, [str(recipe), "--dataset", str(path), "--out", str(tmp_path / "r")])
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["test_examples"] == 100 and metrics["train_examples"] == 180  # 10% validation
    assert result["test_accuracy"] > 0.8


def test_train_on_a_built_in_set_with_its_settings(recipe, tmp_path, capsys):
    train_json(capsys, [str(recipe), "--dataset", "blobs", "--set", "data.centers=4",
                        "--set", "data.n=200", "--out", str(tmp_path / "r")])  # fmt: skip
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["class_names"] == ["0", "1", "2", "3"] and metrics["test_examples"] == 40
    resolved = (tmp_path / "r" / "recipe.yaml").read_text()
    assert "centers: 4" in resolved and "noise: 0.3" in resolved  # every setting written in


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "moon"], "unknown dataset 'moon'; give a registered dataset"),
        (["--dataset", "missing.csv"], "CSV file not found: missing.csv"),
        (
            ["--dataset", "moons", "--set", "data.factor=0.5"],
            "data.factor is not a setting of moons; its settings: data.n, data.noise",
        ),
        (["--dataset", "moons", "--set", "data.noise=-1"], "data.noise must be a number >= 0.0"),
        (["--dataset", "moons", "--set", "data.bogus=1"], "unknown key 'data.bogus'"),
        (
            ["--dataset", "moons", "--set", "data.augment=true"],
            "data.augment shifts and rotates images, but moons is a table of 2 features",
        ),
        (["--dataset", "moons", "--set", "data.shape=image"], "data.shape: image needs images"),
    ],
)
def test_bad_built_in_set_settings_are_one_line(recipe, tmp_path, capsys, args, message):
    err = one_line_exit_2(capsys, ["train", str(recipe), *args, "--out", str(tmp_path / "r")])
    assert message in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x,y,label\n1,2,0\n3,zz,1\n", "line 3, column 2 ('y'): 'zz' is not a finite number"),
        ("1,2,0\n3,4,1\n", "no label column 'label' in the header (1, 2, 0); the first line looks "
                           "like numbers"),
        ("x,y,kind\n1,2,0\n", "no label column 'label' in the header (x, y, kind); name the label "
                              "column with --set data.label_column=NAME"),
        ("x,y,label\n1,2\n", "line 2 has 2 value(s) but the header has 3 columns"),
        ("x,y,label\n1,2,0\n", "data.test_fraction=0.2: bad has no test split, and 0.2 of its 1 "
                               "example(s) holds out 0; the train and test splits each need"),
    ],
)  # fmt: skip
def test_a_bad_csv_is_one_line_naming_the_file_and_place(recipe, tmp_path, capsys, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    err = one_line_exit_2(capsys, ["train", str(recipe), "--dataset", str(path), "--out",
                                   str(tmp_path / "r")])  # fmt: skip
    assert message in err
    if "data.test_fraction" not in message:
        assert f"{path}: " in err


def test_a_bad_npz_is_one_line_naming_the_file_and_array(recipe, tmp_path, capsys):
    path = tmp_path / "bad.npz"
    np.savez(path, x_train=np.zeros((5, 2)), y_train=np.zeros(4))
    err = one_line_exit_2(capsys, ["train", str(recipe), "--dataset", str(path), "--out",
                                   str(tmp_path / "r")])  # fmt: skip
    assert f"{path}: y_train has shape (4,) but x_train holds 5 example(s)" in err
    assert not (tmp_path / "r").exists()  # refused before a run directory is made


def test_evaluate_a_table_model_on_images_says_what_it_takes(recipe, tmp_path, capsys, digits_dir):
    out = tmp_path / "r"
    train_json(capsys, [str(recipe), "--dataset", "xor", "--out", str(out)])
    err = one_line_exit_2(capsys, ["evaluate", str(out), "--dataset", str(digits_dir)])
    assert f"the model takes 2 features, but {digits_dir} holds images" in err


def test_summary_of_a_recipe_on_a_csv_reads_the_file_s_width_and_classes(tmp_path, capsys):
    path = tmp_path / "wide.csv"
    path.write_text("a,b,c,label\n1,2,3,x\n4,5,6,y\n7,8,9,z\n1,1,1,x\n2,2,2,y\n3,3,3,z\n")
    recipe = tmp_path / "wide.yaml"
    recipe.write_text(f"data: {{dataset: {path}, test_fraction: 0.5, validation_fraction: 0}}\n"
                      "model: {hidden: [4]}\n")  # fmt: skip
    assert main(["summary", str(recipe), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["total_params"] == (3 * 4 + 4) + (4 * 3 + 3)  # 3 features in, 3 classes out
