"""A whole run on real digits: the run directory, its files, and what can be done with them."""

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest

from chainrule.app.recipes import parse_recipe
from chainrule.app.run import evaluate_model, replot, train_recipe
from chainrule.nn.model import load_model


def recipe(digits_dir, **sections):
    raw = {
        "name": "digits",
        "data": {"dataset": str(digits_dir), "preprocessing": "standardize"},
        "model": {"hidden": [32], "activation": "relu", "init": "he_normal"},
        "training": {"optimizer": {"name": "adam", "learning_rate": 0.002}, "epochs": 3},
    }
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value}
    return parse_recipe(raw)


@pytest.fixture(scope="module")
def run(digits_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "digits"
    return train_recipe(recipe(digits_dir), out_dir=out, progress=False)


def test_run_directory_holds_everything_a_student_hands_in(run):
    names = {path.name for path in run.directory.iterdir()}
    assert names >= {"recipe.yaml", "history.csv", "steps.csv", "metrics.json", "model.safetensors",
                     "figures", "report.md", "report.html"}  # fmt: skip
    figures = {path.name for path in (run.directory / "figures").iterdir()}
    for figure in ("history", "confusion_matrix", "weights", "misclassified", "samples"):
        assert {f"{figure}.png", f"{figure}.svg"} <= figures
    assert not [name for name in names | figures if name.endswith(".tmp")]


def test_metrics_are_real_and_consistent(run):
    metrics = json.loads((run.directory / "metrics.json").read_text())
    assert metrics["epochs_run"] == 3
    assert metrics["test_accuracy"] > 0.8  # 2,000 real digits are enough for this
    assert metrics["train_examples"] == 1800  # 10% went to validation
    assert np.sum(metrics["confusion_matrix"]) == metrics["test_examples"] == 1000
    trace = np.trace(metrics["confusion_matrix"])
    assert trace / 1000 == pytest.approx(metrics["test_accuracy"])


def test_model_file_carries_preprocessing_and_class_names(run):
    model, extra = load_model(run.directory / "model.safetensors")
    assert extra["class_names"] == [str(d) for d in range(10)]
    assert extra["preprocessing"]["kind"] == "standardize"
    assert extra["preprocessing"]["standardizer"]["std"] > 0
    assert model.count_params() == 784 * 32 + 32 + 32 * 10 + 10


def test_evaluate_reproduces_the_runs_test_accuracy(run, digits_dir):
    result = evaluate_model(run.directory / "model.safetensors", progress=False)
    assert result["accuracy"] == run.metrics["test_accuracy"]
    assert result["loss"] == pytest.approx(run.metrics["test_loss"])
    assert result["dataset"] == digits_dir.name


def test_replot_redraws_from_the_files(run):
    history_png = run.directory / "figures" / "history.png"
    history_png.unlink()
    replot(run.directory)
    assert history_png.stat().st_size > 0


def test_same_seed_same_run(digits_dir, tmp_path):
    first = train_recipe(recipe(digits_dir), tmp_path / "a", progress=False, figures=False)
    second = train_recipe(recipe(digits_dir), tmp_path / "b", progress=False, figures=False)
    assert first.metrics["test_accuracy"] == second.metrics["test_accuracy"]
    assert first.history.step_loss == second.history.step_loss
    np.testing.assert_array_equal(first.model.params.data, second.model.params.data)


def test_binary_task(digits_dir, tmp_path):
    binary = recipe(digits_dir, data={"binary_target": 7}, model={"output": "sigmoid"})
    result = train_recipe(binary, tmp_path / "seven", progress=False, figures=False)
    assert result.metrics["class_names"] == ["not 7", "7"]
    assert result.model.output_shape == (1,)
    assert result.metrics["test_accuracy"] > 0.9  # better than always answering "not 7"


def test_augmentation_and_early_stopping(digits_dir, tmp_path):
    augmented = recipe(
        digits_dir,
        data={"augment": True},
        training={"early_stopping": {"patience": 1}, "schedule": "cosine"},
    )
    result = train_recipe(augmented, tmp_path / "aug", progress=False, figures=False)
    assert result.metrics["test_accuracy"] > 0.7
    rates = result.history["learning_rate"]
    assert rates[0] == 0.002
    assert rates[-1] < rates[0]


def test_early_stopping_on_val_loss_needs_a_validation_split(digits_dir, tmp_path):
    bad = recipe(digits_dir, data={"validation_fraction": 0.0}, training={"early_stopping": True})
    with pytest.raises(ValueError, match="validation_fraction is 0"):
        train_recipe(bad, tmp_path / "x", progress=False)


def test_a_non_empty_output_directory_is_refused(digits_dir, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        train_recipe(recipe(digits_dir), tmp_path / "taken", progress=False)
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"


def test_binary_target_outside_the_classes(digits_dir, tmp_path):
    with pytest.raises(ValueError, match="class 12 does not exist"):
        train_recipe(recipe(digits_dir, data={"binary_target": 12}), tmp_path / "x", progress=False)


def test_steps_csv_has_one_loss_per_optimizer_step(run):
    lines = (run.directory / "steps.csv").read_text().splitlines()
    assert lines[0] == "step,loss"
    assert len(lines) - 1 == len(run.history.step_loss) == 3 * -(-1800 // 32)


def test_a_cnn_run_draws_its_filters_and_feature_maps(digits_dir, tmp_path):
    cnn = parse_recipe(
        {
            "data": {"dataset": str(digits_dir), "shape": "image", "train_limit": 600},
            "model": {
                "layers": [
                    {"type": "conv2d", "filters": 4, "kernel_size": 3},
                    "relu",
                    {"type": "max_pool2d", "pool_size": 2},
                    "flatten",
                    {"type": "dense", "units": 10},
                    "softmax",
                ]
            },
            "training": {"optimizer": "adam", "epochs": 1},
        }
    )
    result = train_recipe(cnn, tmp_path / "cnn", progress=False)
    figures = {path.stem for path in (result.directory / "figures").glob("*.png")}
    assert {"filters", "feature_maps"} <= figures
    assert "weights" not in figures
    report = (result.directory / "report.md").read_text()
    assert "First-layer filters" in report
    assert "Feature maps" in report
    assert result.model.layers[0].output_shape == (4, 26, 26)


# -- Ctrl-C outside the training loop: the message says what is on disk ----------------------


def press_ctrl_c(*args, **kwargs):
    raise KeyboardInterrupt


def test_ctrl_c_while_the_data_loads_writes_nothing_and_says_so(digits_dir, tmp_path, monkeypatch):
    from chainrule.app import run as run_module
    from chainrule.app.run import RunInterrupted

    monkeypatch.setattr(run_module, "load_data", press_ctrl_c)
    out = tmp_path / "run"
    with pytest.raises(RunInterrupted) as stopped:
        train_recipe(recipe(digits_dir), out, progress=False)
    assert stopped.value.directory is None and stopped.value.resume_from is None
    assert "nothing was written" in str(stopped.value)
    assert "--resume" not in str(stopped.value)
    assert not out.exists()


def test_ctrl_c_before_the_first_checkpoint_says_there_is_nothing_to_resume(
    digits_dir, tmp_path, monkeypatch
):
    from chainrule.app.run import RunInterrupted
    from chainrule.training.trainer import Trainer

    monkeypatch.setattr(Trainer, "fit", press_ctrl_c)  # as a second Ctrl-C in epoch 1 does
    out = tmp_path / "run"
    with pytest.raises(RunInterrupted, match=f"{out} has nothing to resume") as stopped:
        train_recipe(recipe(digits_dir), out, progress=False)
    assert stopped.value.resume_from is None
    assert sorted(path.name for path in out.iterdir()) == ["recipe.yaml"]


def test_ctrl_c_after_training_names_the_checkpoint_that_resume_continues_from(
    digits_dir, tmp_path, monkeypatch
):
    from chainrule.app import run as run_module
    from chainrule.app.run import RunInterrupted

    short = recipe(digits_dir, data={"train_limit": 400}, training={"epochs": 1})
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(run_module, "per_class_metrics", press_ctrl_c)  # after the last epoch
        with pytest.raises(RunInterrupted) as stopped:
            train_recipe(short, out, progress=False, figures=False)
    checkpoint = out / "checkpoints" / "epoch-0001.safetensors"
    assert stopped.value.resume_from == checkpoint
    assert str(stopped.value) == (
        f"interrupted; chainrule train --resume {out} continues from "
        "checkpoints/epoch-0001.safetensors"
    )
    assert not (out / "metrics.json").exists()
    resumed = train_recipe(short, out, progress=False, figures=False, resume=True)
    assert resumed.metrics["epochs_run"] == 1 and (out / "metrics.json").is_file()


def test_evaluate_on_a_folder_whose_test_split_lacks_the_last_class(run, digits_dir, tmp_path):
    from chainrule.data import load_idx_directory, write_idx

    test = load_idx_directory(digits_dir, splits=("test",))
    images, labels = test.split("test")
    keep = labels != 9  # a small test set without any 9: the model's 10 classes still apply
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images[keep])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels[keep].astype(np.uint8))
    result = evaluate_model(run.directory / "model.safetensors", dataset=str(tmp_path))
    assert result["examples"] == int(keep.sum())
    assert len(result["per_class"]["classes"]) == 10


# --- your own data: the built-in 2-D sets, CSV and NPZ files ----------------------------------

SHIPPED = Path(__file__).resolve().parents[2] / "recipes"


@pytest.mark.parametrize(("name", "target"), [("xor", 0.99), ("moons", 0.97), ("spirals", 0.95)])
def test_the_shipped_2d_recipes_reach_their_test_accuracy(name, target, tmp_path):
    from chainrule.app.recipes import load_recipe

    result = train_recipe(
        load_recipe(SHIPPED / f"{name}.yaml"),
        out_dir=tmp_path / name,
        progress=False,
        figures=False,
    )
    assert result.metrics["test_accuracy"] >= target
    assert result.metrics["test_examples"] == 200  # 20% of the recipe's 1000 points


def write_points(path, n=300, seed=0, names=("ring", "core")):
    from chainrule.data import toy_dataset

    x, y = toy_dataset("circles", n=n, seed=seed)
    rows = "".join(f"{a},{b},{names[label]}\n" for (a, b), label in zip(x, y, strict=True))
    path.write_text("width,height,label\n" + rows)
    return path


def table_recipe(dataset, **data):
    return parse_recipe(
        {
            "name": "points",
            "data": {"dataset": str(dataset), "preprocessing": "standardize", **data},
            "model": {"hidden": [16], "activation": "tanh"},
            "training": {"optimizer": {"name": "adam", "learning_rate": 0.02}, "epochs": 15},
        }
    )


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("csv-run")
    points = write_points(directory / "points.csv")
    return train_recipe(table_recipe(points), out_dir=directory / "run", progress=False)


def test_a_csv_run_draws_the_boundary_and_no_image_figures(csv_run):
    figures = {path.stem for path in (csv_run.directory / "figures").glob("*.png")}
    assert figures == {"history", "confusion_matrix", "boundary"}
    report = (csv_run.directory / "report.md").read_text()
    assert "## Decision boundary" in report and "figures/boundary.png" in report
    metrics = csv_run.metrics
    assert metrics["class_names"] == ["core", "ring"]
    assert metrics["test_examples"] == 60 and metrics["dataset"] == "points"  # 20% held out
    assert metrics["test_accuracy"] > 0.9


def test_a_table_model_file_keeps_its_statistics_and_feature_names(csv_run):
    from chainrule.data.preprocessing import Preprocessing

    _, extra = load_model(csv_run.directory / "model.safetensors")
    preprocessing = Preprocessing.from_dict(extra["preprocessing"])
    assert preprocessing.describe_input() == "2 features"
    assert extra["feature_names"] == ["width", "height"]
    # the per-feature statistics are those of the training rows
    assert np.shape(preprocessing.standardizer.mean) == (2,)


def test_evaluate_a_csv_run_on_its_own_held_out_split_and_on_a_new_file(csv_run, tmp_path):
    own = evaluate_model(csv_run.directory)  # a run directory, the model's own data
    assert own["examples"] == 60
    assert own["accuracy"] == pytest.approx(csv_run.metrics["test_accuracy"])
    new = write_points(tmp_path / "new.csv", n=100, seed=9)
    other = evaluate_model(csv_run.directory, dataset=str(new))  # all of it is test data
    assert other["examples"] == 100 and other["accuracy"] > 0.85
    flipped = write_points(tmp_path / "other.csv", n=20, names=("ring", "edge"))
    with pytest.raises(ValueError, match="class 'edge' is not one the model knows"):
        evaluate_model(csv_run.directory, dataset=str(flipped))


def test_replot_redraws_the_boundary_from_the_recipe_s_data(csv_run):
    boundary = csv_run.directory / "figures" / "boundary.png"
    boundary.unlink()
    replot(csv_run.directory)
    assert boundary.is_file()
    assert not (csv_run.directory / "figures" / "weights.png").exists()


def test_an_npz_without_test_arrays_holds_out_the_test_fraction_and_wide_tables_train(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 9))  # nine features: a 3x3 square, yet not an image
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    np.savez(tmp_path / "wide.npz", x_train=x, y_train=y)
    recipe = table_recipe(tmp_path / "wide.npz", test_fraction=0.25, preprocessing="scale")
    result = train_recipe(recipe, out_dir=tmp_path / "run", progress=False)
    assert result.metrics["test_examples"] == 50
    figures = {path.stem for path in (result.directory / "figures").glob("*.png")}
    assert figures == {"history", "confusion_matrix"}  # no boundary for 9 features, no images


def test_the_test_split_depends_on_the_data_seed_not_the_model_seed():
    from chainrule.app.run import prepare_data

    def held_out(seed, data_seed):
        recipe = table_recipe("moons", n=200, seed=data_seed).model_copy(update={"seed": seed})
        return prepare_data(recipe, progress=False).test_images

    first = held_out(0, 0)
    assert first.shape == (40, 2)
    np.testing.assert_array_equal(held_out(1, 0), first)  # another model seed: the same test
    assert not np.array_equal(held_out(0, 1), first)  # another data seed: other points


def test_image_figures_stay_for_uint8_images_from_an_npz(digits_dir, tmp_path):
    from chainrule.data import read_idx

    images = read_idx(digits_dir / "train-images-idx3-ubyte.gz")[:100]
    labels = read_idx(digits_dir / "train-labels-idx1-ubyte.gz")[:100].astype(np.int64)
    np.savez(tmp_path / "digits.npz", x_train=images, y_train=labels)
    recipe = table_recipe(tmp_path / "digits.npz", preprocessing="scale", validation_fraction=0.0)
    recipe.training.epochs = 1
    result = train_recipe(recipe, out_dir=tmp_path / "run", progress=False)
    figures = {path.stem for path in (result.directory / "figures").glob("*.png")}
    assert {"weights", "samples"} <= figures and "boundary" not in figures


def test_a_run_shows_its_report_in_a_notebook_figures_inline(run, html_text):
    accuracy = run.metrics["test_accuracy"]
    assert repr(run) == f"RunResult({str(run.directory)!r}, test accuracy {accuracy:.2%}, 3 epochs)"
    page = run._repr_html_()
    text = html_text(page)
    assert text.startswith("digits Result Test accuracy")
    assert "Training history" in text and "Test set: confusion matrix" in text
    images = re.findall(r'<img src="([^"]+)"', page)
    assert len(images) >= 4 and all(src.startswith("data:image/png;base64,") for src in images)
    history_png = (run.directory / "figures" / "history.png").read_bytes()
    assert base64.b64encode(history_png).decode() in page  # the run's own figure, inline
    markdown = run._repr_markdown_()
    assert markdown.startswith("# digits\n") and "](data:image/png;base64," in markdown
