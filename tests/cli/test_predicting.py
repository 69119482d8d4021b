"""chainrule predict RUN_DIR IMAGE: a run directory works where a model file does; a model of
a table takes CSV rows, and says so when given an image."""

from __future__ import annotations

import json

from PIL import Image

from chainrule.cli.main import main
from chainrule.data import read_idx


def test_predict_takes_the_run_directory_that_train_wrote(digits_dir, tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: {hidden: [32]}\ntraining: {optimizer: adam, epochs: 2}\n")
    out = tmp_path / "run"
    assert main(["train", str(recipe), "--dataset", str(digits_dir), "--out", str(out),
                 "--quiet"]) == 0  # fmt: skip
    images = read_idx(digits_dir / "t10k-images-idx3-ubyte.gz")
    photo = tmp_path / "digit.png"
    Image.fromarray(255 - images[0]).resize((200, 200)).save(photo)
    capsys.readouterr()
    assert main(["predict", str(out), str(photo), "--json"]) == 0
    (by_dir,) = json.loads(capsys.readouterr().out)
    assert main(["predict", str(out / "model.safetensors"), str(photo), "--json"]) == 0
    (by_file,) = json.loads(capsys.readouterr().out)
    assert by_dir == by_file and by_dir["file"] == str(photo)


def test_predict_on_a_table_model_reads_csv_rows_and_refuses_an_image(tmp_path, capsys):
    out = tmp_path / "xor"
    recipe = tmp_path / "xor.yaml"
    recipe.write_text(
        "data: {dataset: xor, n: 400, preprocessing: standardize}\n"
        "model: {hidden: [8], activation: tanh}\n"
        "training: {optimizer: {name: adam, learning_rate: 0.03}, epochs: 40}\n"
    )
    assert main(["train", str(recipe), "--out", str(out), "--quiet"]) == 0
    points = tmp_path / "corners.csv"
    points.write_text("x1,x2\n0.8,0.8\n-0.8,0.8\n")
    assert main(["predict", str(out), str(points), "--top", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # (0.8, 0.8): same signs, class 0; (-0.8, 0.8): opposite signs, class 1
    assert [line.split()[:2] for line in lines] == [[f"{points}:2", "0"], [f"{points}:3", "1"]]
    assert main(["predict", str(out), str(tmp_path / "photo.jpg")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "the model takes 2 features, not an image; give its points as a CSV file with the " \
           "columns x1, x2" in err  # fmt: skip


def test_predict_on_a_directory_that_is_no_run_is_one_line(tmp_path, capsys):
    assert main(["predict", str(tmp_path), str(tmp_path / "a.png")]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"chainrule predict: error: {tmp_path} is a directory without a model.safetensors; give "
        "a run directory written by `chainrule train` (a finished run) or a model file\n"
    )
