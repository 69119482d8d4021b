"""chainrule predict: real MNIST digits, rendered as a user's photos would look, predicted.

A small network is trained here on 5,000 MNIST test digits (the only split shipped offline),
and 300 other digits are drawn the way a person's file looks: upscaled to 300 px, dark ink
on grey paper, off-centre, with a lighting gradient and noise, saved as PNG or JPEG. After
to_mnist they must be classified about as well as the original 28×28 digits.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chainrule.app.predict import (
    PredictionError,
    PredictionResult,
    Predictor,
    format_results,
    predict_files,
)
from chainrule.data import load_split
from chainrule.data.preprocessing import Preprocessing
from chainrule.nn.layers import Dense, ReLU, Sigmoid, Softmax
from chainrule.nn.model import Sequential, save_model
from chainrule.nn.optim import get_optimizer
from chainrule.training.trainer import Trainer

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
TRAIN = slice(0, 5000)
HELD_OUT = slice(5000, 5300)


def render_on_paper(digit: np.ndarray, rng: np.random.Generator, size: int = 300) -> Image.Image:
    """An MNIST digit as a photo of paper: upscaled, dark on grey, off-centre, uneven, noisy."""
    side = int(rng.integers(150, 231))
    ink = np.asarray(
        Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC), np.float64
    )
    ink = np.clip(ink / 255.0, 0.0, 1.0)
    paper, pen = rng.uniform(150, 215), rng.uniform(10, 60)
    page = np.full((size, size), paper)
    top, left = rng.integers(0, size - side, size=2)
    window = page[top : top + side, left : left + side]
    page[top : top + side, left : left + side] = window * (1 - ink) + pen * ink
    rows, cols = np.mgrid[0:size, 0:size] / size - 0.5
    page += rng.uniform(-20, 20) * cols + rng.uniform(-20, 20) * rows  # light from one side
    page += rng.normal(0.0, 8.0, page.shape)
    grey = np.clip(np.rint(page), 0, 255).astype(np.uint8)
    if rng.random() < 0.5:  # blue ink on warm paper, for some
        tint = np.stack([grey * 1.0, grey * 0.97, np.minimum(grey * 0.9 + 40, 255)], axis=-1)
        return Image.fromarray(tint.astype(np.uint8), "RGB")
    return Image.fromarray(grey, "L")


@pytest.fixture(scope="module")
def mnist():
    if not SHARED_DATA.is_dir():
        pytest.skip(f"offline datasets not found at {SHARED_DATA}")
    return load_split("mnist", "test", data_dir=SHARED_DATA, download=False)


@pytest.fixture(scope="module")
def model_path(mnist, tmp_path_factory) -> Path:
    """784-128-10 ReLU, standardized inputs (so the model's own normalization matters)."""
    images, labels = mnist
    preprocessing = Preprocessing("standardize").fit(images[TRAIN])
    model = Sequential(
        [Dense(128), ReLU(), Dense(10), Softmax()],
        loss="categorical_crossentropy",
        input_shape=(784,),
        seed=0,
    )
    trainer = Trainer(model, get_optimizer("adam"), epochs=8, batch_size=64, progress=False)
    trainer.fit(preprocessing.transform(images[TRAIN]), labels[TRAIN])
    path = tmp_path_factory.mktemp("model") / "model.safetensors"
    extra = {"preprocessing": preprocessing.to_dict(), "class_names": [str(d) for d in range(10)]}
    save_model(model, path, extra)
    return path


def write_rendered(images: np.ndarray, directory: Path, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    paths = []
    for index, digit in enumerate(images):
        page = render_on_paper(digit, rng)
        path = directory / (f"digit-{index:03d}." + ("jpg" if index % 2 else "png"))
        page.save(path, quality=85) if path.suffix == ".jpg" else page.save(path, compress_level=1)
        paths.append(path)
    return paths


def test_rendered_files_are_classified_as_well_as_the_original_digits(mnist, model_path, tmp_path):
    images, labels = mnist
    predictor = Predictor(model_path)
    originals = predictor.probabilities(images[HELD_OUT]).argmax(axis=1)
    accuracy_originals = float(np.mean(originals == labels[HELD_OUT]))

    paths = write_rendered(images[HELD_OUT], tmp_path)
    results = predict_files(model_path, paths, top=3)
    assert all(isinstance(result, PredictionResult) for result in results)
    predicted = np.array([int(result.predicted) for result in results])
    accuracy_files = float(np.mean(predicted == labels[HELD_OUT]))

    print(
        f"\naccuracy on 300 digits: originals {accuracy_originals:.1%}, files {accuracy_files:.1%}"
    )
    assert accuracy_originals > 0.85
    assert accuracy_files >= accuracy_originals - 0.05


def test_one_result_per_file_in_order_and_bad_files_are_errors_that_name_them(
    mnist, model_path, tmp_path
):
    images, _ = mnist
    good = write_rendered(images[5300:5302], tmp_path)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    blank = tmp_path / "blank.png"
    Image.new("L", (200, 200), 235).save(blank)
    missing = tmp_path / "missing.jpg"

    results = predict_files(model_path, [good[0], text, blank, missing, good[1]])
    kinds = [type(result) for result in results]
    assert kinds == [
        PredictionResult,
        PredictionError,
        PredictionError,
        PredictionError,
        PredictionResult,
    ]
    assert [result.path for result in results] == [
        str(p) for p in (good[0], text, blank, missing, good[1])
    ]
    assert "not an image" in results[1].message
    assert "no ink found" in results[2].message
    assert "not found" in results[3].message
    first = results[0]
    assert len(first.top) == 3 and first.top[0][1] >= first.top[1][1] >= first.top[2][1]
    assert abs(sum(first.probabilities) - 1) < 1e-5
    assert first.digit.shape == (28, 28) and first.digit.dtype == np.uint8

    lines = format_results(results).splitlines()
    assert len(lines) == 5
    assert lines[1].startswith(str(text)) and "error: not an image" in lines[1]
    assert lines[0].startswith(str(good[0])) and "%" in lines[0]


def test_json_output(mnist, model_path, tmp_path):
    images, _ = mnist
    paths = write_rendered(images[5300:5301], tmp_path)
    missing = tmp_path / "missing.png"
    data = json.loads(format_results(predict_files(model_path, [*paths, missing]), as_json=True))
    assert data[0]["file"] == str(paths[0])
    assert data[0]["prediction"] == data[0]["top"][0]["class"]
    assert len(data[0]["top"]) == 3 and set(data[0]["probabilities"]) == {str(d) for d in range(10)}
    assert data[1] == {"file": str(missing), "error": "file not found"}


def test_explain_image_shows_every_step_of_every_predicted_file(mnist, model_path, tmp_path):
    images, _ = mnist
    paths = write_rendered(images[5300:5303], tmp_path)
    out = tmp_path / "figures" / "steps.png"
    results = predict_files(model_path, [*paths, tmp_path / "missing.png"], explain_image=out)
    assert len(results) == 4
    with Image.open(out) as figure:
        width, height = figure.size
    assert width > 1.5 * height  # 7 steps across, 3 rows
    assert not list(out.parent.glob(".*.tmp"))  # written atomically


def test_explain_image_needs_a_figure_suffix(model_path, tmp_path):
    with pytest.raises(ValueError, match=r"must end in \.png, \.svg, \.pdf"):
        predict_files(model_path, [], explain_image=tmp_path / "steps.jpg")


def test_top_is_capped_by_the_number_of_classes_and_validated(mnist, model_path, tmp_path):
    images, _ = mnist
    paths = write_rendered(images[5300:5301], tmp_path)
    assert len(predict_files(model_path, paths, top=20)[0].top) == 10
    with pytest.raises(ValueError, match="top must be an integer >= 1, got 0"):
        predict_files(model_path, paths, top=0)


def test_a_model_that_does_not_take_28x28_images_is_refused(tmp_path):
    model = Sequential([Dense(3), Softmax()], loss="categorical_crossentropy", input_shape=(100,))
    preprocessing = Preprocessing().fit(np.zeros((2, 10, 10), np.uint8))
    path = save_model(
        model, tmp_path / "small.safetensors", {"preprocessing": preprocessing.to_dict()}
    )
    with pytest.raises(
        ValueError, match=r"small\.safetensors: the model takes inputs of shape 100"
    ):
        predict_files(path, [tmp_path / "any.png"])


def test_a_model_without_stored_preprocessing_is_refused(tmp_path):
    model = Sequential([Dense(10), Softmax()], loss="categorical_crossentropy", input_shape=(784,))
    path = save_model(model, tmp_path / "bare.safetensors")
    with pytest.raises(ValueError, match="no stored preprocessing"):
        predict_files(path, [])
    with pytest.raises(FileNotFoundError, match="model file not found"):
        predict_files(tmp_path / "nothing.safetensors", [])


def test_a_binary_model_reports_both_classes(mnist, tmp_path):
    images, _ = mnist
    model = Sequential([Dense(16), ReLU(), Dense(1), Sigmoid()], input_shape=(784,), seed=0)
    extra = {
        "preprocessing": Preprocessing().fit(images[:10]).to_dict(),
        "class_names": ["not 7", "7"],
        "binary_target": 7,
    }
    path = save_model(model, tmp_path / "is-it-7.safetensors", extra)
    paths = write_rendered(images[:1], tmp_path)
    (result,) = predict_files(path, paths)
    assert sorted(name for name, _ in result.top) == ["7", "not 7"]
    assert abs(sum(p for _, p in result.top) - 1) < 1e-6


def test_hidden_activations_for_the_web_page(model_path, mnist):
    images, _ = mnist
    probabilities, hidden = Predictor(model_path).activations(images[0])
    assert probabilities.shape == (10,) and abs(probabilities.sum() - 1) < 1e-5
    assert [(name, values.shape) for name, values in hidden] == [("relu_1", (128,))]
    assert (hidden[0][1] >= 0).all()


def test_a_model_file_with_non_finite_weights_is_refused_at_load(tmp_path):
    model = Sequential([Dense(10), Softmax()], loss="categorical_crossentropy", input_shape=(784,))
    model.params["dense_1.W"][3, :4] = np.nan
    extra = {"preprocessing": Preprocessing().fit(np.zeros((2, 28, 28), np.uint8)).to_dict()}
    path = save_model(model, tmp_path / "nan.safetensors", extra)
    with pytest.raises(ValueError, match=r"nan\.safetensors: tensor 'dense_1\.W' holds 4 "
                       r"non-finite value\(s\)"):  # fmt: skip
        predict_files(path, [tmp_path / "any.png"])


def test_an_output_that_overflows_is_an_error_and_the_json_stays_strict(mnist, tmp_path):
    images, _ = mnist
    model = Sequential(
        [Dense(16), ReLU(), Dense(10), Softmax()],
        loss="categorical_crossentropy",
        input_shape=(784,),
        seed=0,
    )
    model.params["dense_1.W"][...] = 3e38  # finite, but x @ W overflows float32 to inf
    extra = {"preprocessing": Preprocessing().fit(images[:10]).to_dict()}
    path = save_model(model, tmp_path / "huge.safetensors", extra)
    paths = write_rendered(images[:1], tmp_path)
    with np.errstate(over="ignore", invalid="ignore"):
        (result,) = predict_files(path, paths)
    assert isinstance(result, PredictionError)
    assert "NaN or infinite" in result.message and "huge.safetensors" in result.message

    def refuse(constant):
        raise AssertionError(f"JSON holds the non-standard constant {constant}")

    data = json.loads(format_results([result], as_json=True), parse_constant=refuse)
    assert data == [{"file": str(paths[0]), "error": result.message}]
    nan_result = PredictionResult("x.png", [("0", float("nan"))], [float("nan")], ["0"], images[0])
    with pytest.raises(ValueError, match="NaN or infinity, which JSON cannot carry"):
        format_results([nan_result], as_json=True)


# --- a run directory; models of a table -------------------------------------------------------


def test_a_run_directory_is_accepted_where_a_model_file_is(mnist, model_path, tmp_path):
    images, _ = mnist
    run_dir = model_path.parent  # holds model.safetensors, as a run directory does
    path = tmp_path / "digit.png"
    Image.fromarray(255 - images[HELD_OUT][0]).resize((140, 140)).save(path)
    by_dir = predict_files(run_dir, [path])
    by_file = predict_files(model_path, [path])
    assert isinstance(by_dir[0], PredictionResult)
    assert by_dir[0].probabilities == by_file[0].probabilities
    with pytest.raises(FileNotFoundError, match="is a directory without a model.safetensors"):
        predict_files(tmp_path, [path])


@pytest.fixture(scope="module")
def table_model(tmp_path_factory) -> Path:
    """A model of two features named a and b: class 1 where a + b > 0 (learnable in a blink)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2)) * [1.0, 10.0]  # two units: the stored scaling matters
    y = (x[:, 0] + x[:, 1] / 10 > 0).astype(np.int64)
    preprocessing = Preprocessing("standardize").fit(x)
    model = Sequential([Dense(2), Softmax()], loss="categorical_crossentropy", input_shape=(2,))
    trainer = Trainer(model, get_optimizer("adam", learning_rate=0.05), epochs=30, progress=False)
    trainer.fit(preprocessing.transform(x), y)
    directory = tmp_path_factory.mktemp("table-run")
    extra = {
        "preprocessing": preprocessing.to_dict(),
        "class_names": ["below", "above"],
        "feature_names": ["a", "b"],
    }
    save_model(model, directory / "model.safetensors", extra)
    return directory


def test_a_table_model_predicts_each_row_of_a_csv_by_column_name(table_model, tmp_path):
    points = tmp_path / "points.csv"
    points.write_text("b,a,label\n20,1,x\n\n-20,-1,y\n")  # columns in another order, a label
    results = predict_files(table_model, [points])
    assert [result.path for result in results] == [f"{points}:2", f"{points}:4"]
    assert [result.predicted for result in results] == ["above", "below"]
    assert all(abs(sum(result.probabilities) - 1) < 1e-6 for result in results)
    assert format_results(results).splitlines()[0].startswith(f"{points}:2  above ")


def test_a_table_model_given_an_image_says_what_it_takes(table_model, tmp_path):
    with pytest.raises(ValueError, match=r"the model takes 2 features, not an image; give its "
                                         r"points as a CSV file with the columns a, b"):  # fmt: skip
        predict_files(table_model, [tmp_path / "digit.png"])
    with pytest.raises(ValueError, match="model takes 2 features .a table., not images"):
        Predictor(table_model)
    with pytest.raises(ValueError, match="--explain-image draws an image's preprocessing"):
        predict_files(table_model, [tmp_path / "p.csv"], explain_image=tmp_path / "x.png")


def test_a_bad_csv_of_points_is_an_error_naming_its_line(table_model, tmp_path):
    points = tmp_path / "bad.csv"
    points.write_text("a,b\n1,2\n3,x\n")
    (result,) = predict_files(table_model, [points])
    assert isinstance(result, PredictionError)
    assert result.message == "line 3, column 2 ('b'): 'x' is not a finite number"


def test_an_image_model_given_a_csv_says_it_reads_images(model_path, tmp_path):
    (result,) = predict_files(model_path, [tmp_path / "points.csv"])
    assert isinstance(result, PredictionError)
    assert "a CSV file holds points, but this model reads 28×28 images" in result.message
