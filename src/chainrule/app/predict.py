"""Predict your own handwritten digits, or your own points, with a saved model
(``chainrule predict``).

The model is a model file or a run directory holding ``model.safetensors``.

Each image file goes through MNIST's own preprocessing (:func:`chainrule.data.images.to_mnist`:
ink made white on black, paper removed, cropped, scaled to 20 px, centred by mass in 28×28),
then through the model's own input normalization (the :class:`Preprocessing` stored in its
model file), then the model. A file that cannot be read or holds no ink becomes a
:class:`PredictionError` naming it; the other files are still predicted.

    >>> results = predict_files("runs/mlp/model.safetensors", ["three.png", "seven.jpg"])
    >>> print(format_results(results))
    three.png  3 97.1%  5 1.6%  8 0.9%
    seven.jpg  7 88.0%  1 9.2%  2 1.1%

A model trained on a table (a CSV or NPZ file, a 2-D toy set) reads points instead: each
``.csv`` file gives one prediction per row, from the columns the model was trained on (a label
column, or any other, is ignored)::

    >>> print(format_results(predict_files("runs/moons", ["points.csv"])))
    points.csv:2  1 99.2%  0 0.8%
    points.csv:3  0 97.5%  1 2.5%
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule.data.images import MNIST_SIZE, STEP_TITLES, ImageError, load_image, to_mnist
from chainrule.data.preprocessing import Preprocessing
from chainrule.data.tabular import parse_csv_features, read_csv_text
from chainrule.nn.model import Sequential, load_model
from chainrule.training.trainer import float_warnings_off
from chainrule.utils.validation import check_integer

if TYPE_CHECKING:
    from matplotlib.figure import Figure

EXPLAIN_FORMATS = ("png", "svg", "pdf")
MODEL_FILE = "model.safetensors"


def resolve_model_path(path: str | Path) -> Path:
    """A model file, or a run directory holding ``model.safetensors``."""
    path = Path(path)
    if path.is_dir():
        candidate = path / MODEL_FILE
        if not candidate.is_file():
            raise FileNotFoundError(
                f"{path} is a directory without a {MODEL_FILE}; give a run directory written "
                "by `chainrule train` (a finished run) or a model file"
            )
        return candidate
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    return path


def load_trained(path: str | Path) -> tuple[Path, Sequential, dict[str, Any], Preprocessing]:
    """(model file, model, its metadata, its stored preprocessing) of a file or run directory."""
    resolved = resolve_model_path(path)
    model, extra = load_model(resolved)
    if "preprocessing" not in extra:
        raise ValueError(
            f"{resolved}: the model file has no stored preprocessing; models written by "
            "`chainrule train` carry it"
        )
    return resolved, model, extra, Preprocessing.from_dict(extra["preprocessing"])


def _class_names(model: Sequential, extra: dict[str, Any]) -> tuple[bool, list[str]]:
    """(one sigmoid output?, the class names: stored, else 0, 1, ...)."""
    outputs = int(np.prod(model.output_shape))
    binary = outputs == 1
    count = 2 if binary else outputs
    names = extra.get("class_names")
    if isinstance(names, list) and len(names) == count:
        return binary, [str(name) for name in names]
    return binary, [str(index) for index in range(count)]


@dataclass
class PredictionResult:
    """One file's prediction: the ``top`` classes with their probabilities, best first."""

    path: str
    top: list[tuple[str, float]]
    probabilities: list[float]
    class_names: list[str]
    #: The 28×28 uint8 image the model saw (before its own input normalization).
    digit: np.ndarray = field(repr=False)

    @property
    def predicted(self) -> str:
        return self.top[0][0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "prediction": self.predicted,
            "top": [{"class": name, "probability": p} for name, p in self.top],
            "probabilities": dict(zip(self.class_names, self.probabilities, strict=True)),
        }


@dataclass
class PredictionError:
    """A file that could not be predicted, and why (one line)."""

    path: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.path, "error": self.message}


class Predictor:
    """A saved model with its stored preprocessing: 28×28 digits → class probabilities.

    Raises ``FileNotFoundError`` or ``ValueError`` naming the model file when it is missing,
    unreadable, has no stored preprocessing, or does not take 28×28 images.
    """

    def __init__(self, model_path: str | Path) -> None:
        self.path, self.model, extra, self.preprocessing = load_trained(model_path)
        if not self.preprocessing.is_images:
            raise ValueError(
                f"{self.path}: the model takes {self.preprocessing.describe_input()} (a table), "
                "not images; give its points as a CSV file with the columns "
                f"{', '.join(_feature_names(extra, self.preprocessing))} "
                "(chainrule predict RUN_DIR points.csv)"
            )
        if self.preprocessing.image_shape != (MNIST_SIZE, MNIST_SIZE) or tuple(
            self.model.input_shape
        ) != tuple(self.preprocessing.input_shape):
            shape = "×".join(map(str, self.model.input_shape))
            raise ValueError(
                f"{self.path}: the model takes inputs of shape {shape} made from "
                f"{'×'.join(map(str, self.preprocessing.image_shape))} images, not 28×28 "
                "images; predicting handwriting needs a model trained on 28×28 digits "
                "(MNIST-format data)"
            )
        self.binary, self.class_names = _class_names(self.model, extra)

    def inputs(self, digits: np.ndarray) -> np.ndarray:
        """uint8 digits (n, 28, 28) → the model's inputs, normalized as in training."""
        return self.preprocessing.transform(digits, self.model.dtype)

    def probabilities(self, digits: np.ndarray) -> np.ndarray:
        """(n, classes) probabilities; one sigmoid output p becomes the pair (1 - p, p)."""
        with float_warnings_off():  # an overflow gives NaN/inf, which the caller reports
            return self._as_classes(self.model.predict_proba(self.inputs(digits)))

    def activations(self, digit: np.ndarray) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
        """One digit's class probabilities and each hidden layer's activations.

        A hidden layer's activations are what a weighted layer (one with a kernel ``W``:
        Dense, Conv2D) after the first receives: the output of the layer right before it,
        skipping Dropout and Flatten (so feature maps keep their (channels, h, w) shape),
        named after the layer that computed it (``relu_1``). Not thread-safe: layers cache
        their last forward.
        """
        with float_warnings_off():  # an overflow gives NaN/inf, which the caller reports
            a = self.inputs(digit[None])
            hidden: list[tuple[str, np.ndarray]] = []
            last: tuple[str, np.ndarray] | None = None
            for layer in self.model.layers:
                if "W" in layer.parameter_specs() and last is not None:
                    hidden.append(last)
                a = layer.forward(a, training=False)
                if layer.type_name not in ("dropout", "flatten"):
                    last = (layer.name, a[0].copy())
            return self._as_classes(a)[0], hidden

    def _as_classes(self, output: np.ndarray) -> np.ndarray:
        output = output.reshape(len(output), -1).astype(np.float64)
        return np.column_stack([1.0 - output[:, 0], output[:, 0]]) if self.binary else output

    def overflow_message(self) -> str:
        """Why an image got no prediction when the model's output for it is not finite."""
        return (
            f"the model's output for this image is NaN or infinite (its {self.model.dtype} "
            f"arithmetic overflows: {self.path} holds weights too large to use)"
        )

    def top(self, probabilities: np.ndarray, count: int) -> list[tuple[str, float]]:
        order = np.argsort(-probabilities, kind="stable")[:count]
        return [(self.class_names[i], float(probabilities[i])) for i in order]


def _feature_names(extra: dict[str, Any], preprocessing: Preprocessing) -> list[str]:
    names = extra.get("feature_names")
    count = int(preprocessing.features or 0)
    if isinstance(names, list) and len(names) == count:
        return [str(name) for name in names]
    return [f"x{i + 1}" for i in range(count)]


class TablePredictor:
    """A saved model of a table (n, features) with its stored preprocessing: points → class
    probabilities. The features are read by name from a CSV file (``feature_names``)."""

    def __init__(self, model_path: str | Path) -> None:
        self.path, self.model, extra, self.preprocessing = load_trained(model_path)
        if self.preprocessing.is_images:
            raise ValueError(f"{self.path}: the model reads images, not a table of features")
        self.feature_names = _feature_names(extra, self.preprocessing)
        self.binary, self.class_names = _class_names(self.model, extra)

    def probabilities(self, points: np.ndarray) -> np.ndarray:
        """(n, classes) probabilities of raw points (n, features)."""
        with float_warnings_off():
            x = self.preprocessing.transform(points, self.model.dtype)
            output = self.model.predict_proba(x).reshape(len(points), -1).astype(np.float64)
        return np.column_stack([1.0 - output[:, 0], output[:, 0]]) if self.binary else output

    def top(self, probabilities: np.ndarray, count: int) -> list[tuple[str, float]]:
        order = np.argsort(-probabilities, kind="stable")[:count]
        return [(self.class_names[i], float(probabilities[i])) for i in order]


def predict_points(
    model_path: str | Path, paths: Sequence[str | Path], top: int = 3
) -> list[PredictionResult | PredictionError]:
    """Predict every row of each CSV file with a table model; one result per row, named
    ``file:line``, or one error per file that cannot be read."""
    predictor = TablePredictor(model_path)
    results: list[PredictionResult | PredictionError] = []
    for path in paths:
        if Path(path).suffix.lower() != ".csv":
            raise ValueError(
                f"{path}: the model takes {predictor.preprocessing.describe_input()}, not an "
                f"image; give its points as a CSV file with the columns "
                f"{', '.join(predictor.feature_names)}"
            )
        try:
            points, lines = parse_csv_features(
                read_csv_text(path), str(path), predictor.feature_names
            )
        except (OSError, ValueError) as error:
            results.append(PredictionError(str(path), str(error).removeprefix(f"{path}: ")))
            continue
        for point, line, p in zip(points, lines, predictor.probabilities(points), strict=True):
            name = f"{path}:{line}"
            if not np.isfinite(p).all():
                results.append(PredictionError(name, "the model's output is NaN or infinite"))
                continue
            results.append(
                PredictionResult(
                    path=name,
                    top=predictor.top(p, top),
                    probabilities=[float(value) for value in p],
                    class_names=list(predictor.class_names),
                    digit=point,
                )
            )
    return results


def predict_files(
    model_path: str | Path,
    paths: Sequence[str | Path],
    top: int = 3,
    explain_image: str | Path | None = None,
) -> list[PredictionResult | PredictionError]:
    """Predict each image file; one result or error per path, in order.

    ``model_path`` is a model file or a run directory. A model trained on a table predicts
    the rows of CSV files instead (``predict_points``; no ``explain_image`` there).

    ``explain_image`` (``.png``, ``.svg`` or ``.pdf``) receives a figure of every successful
    file's preprocessing steps, one row each, written atomically; no file is written when no
    image could be predicted. Problems with the model itself (missing, unreadable, not for
    28×28 images) raise ``FileNotFoundError``/``ValueError`` before any image is read.
    """
    top = check_integer(top, "top")
    if explain_image is not None:
        _explain_format(explain_image)
    if isinstance(paths, str | Path):
        paths = [paths]
    _, _, _, preprocessing = load_trained(model_path)
    if not preprocessing.is_images:
        if explain_image is not None:
            raise ValueError(
                "--explain-image draws an image's preprocessing steps; this model reads "
                f"{preprocessing.describe_input()}"
            )
        return predict_points(model_path, paths, top)
    predictor = Predictor(model_path)
    results: list[PredictionResult | PredictionError | None] = []
    loaded: dict[int, tuple[np.ndarray, dict[str, np.ndarray]]] = {}
    for index, path in enumerate(paths):
        if Path(path).suffix.lower() == ".csv":
            results.append(
                PredictionError(
                    str(path), "a CSV file holds points, but this model reads 28×28 images"
                )
            )
            continue
        try:
            loaded[index] = to_mnist(load_image(path), return_steps=True)
        except ImageError as error:
            results.append(PredictionError(str(path), error.reason))
        else:
            results.append(None)  # filled in below, all digits in one batch
    if loaded:
        probabilities = predictor.probabilities(np.stack([digit for digit, _ in loaded.values()]))
        for (index, (digit, _)), p in zip(loaded.items(), probabilities, strict=True):
            if not np.isfinite(p).all():  # finite weights can still overflow on an input
                results[index] = PredictionError(str(paths[index]), predictor.overflow_message())
                continue
            results[index] = PredictionResult(
                path=str(paths[index]),
                top=predictor.top(p, top),
                probabilities=[float(value) for value in p],
                class_names=list(predictor.class_names),
                digit=digit,
            )
    rows = [
        (steps, results[index])
        for index, (_, steps) in loaded.items()
        if isinstance(results[index], PredictionResult)
    ]
    if explain_image is not None and rows:
        save_explain_image(plot_steps(rows), explain_image)
    return results


def format_results(
    results: Sequence[PredictionResult | PredictionError], as_json: bool = False
) -> str:
    """One line per file (``name  3 97.1%  5 1.6% …`` or ``name  error: …``), or JSON.

    The JSON is strict: a probability is always a finite number (``predict_files`` turns a
    non-finite output into an error), never the bare ``NaN`` that JSON parsers reject.
    """
    if as_json:
        try:
            return json.dumps([result.to_dict() for result in results], indent=2, allow_nan=False)
        except ValueError:
            raise ValueError(
                "a prediction holds NaN or infinity, which JSON cannot carry; "
                "predict_files reports such outputs as errors"
            ) from None
    width = max((len(result.path) for result in results), default=0)
    lines = []
    for result in results:
        if isinstance(result, PredictionError):
            lines.append(f"{result.path:<{width}}  error: {result.message}")
        else:
            guesses = "  ".join(f"{name} {p:.1%}" for name, p in result.top)
            lines.append(f"{result.path:<{width}}  {guesses}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- explain figure


def plot_steps(rows: Sequence[tuple[dict[str, np.ndarray], PredictionResult]]) -> Figure:
    """The preprocessing steps side by side, one row per image, its prediction on the left."""
    from matplotlib.figure import Figure

    names = list(STEP_TITLES)
    fig = Figure(figsize=(1.35 * len(names) + 0.9, 1.45 * len(rows) + 0.3), layout="constrained")
    axes = fig.subplots(len(rows), len(names), squeeze=False)
    for row, (steps, result) in enumerate(rows):
        for column, name in enumerate(names):
            ax = axes[row, column]
            image = steps[name]
            small = max(image.shape[:2]) <= MNIST_SIZE
            style = {} if image.ndim == 3 else {"cmap": "gray", "vmin": 0, "vmax": 255}
            ax.imshow(image, interpolation="nearest" if small else "antialiased", **style)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(STEP_TITLES[name], fontsize=8, pad=2)
        name, probability = result.top[0]
        label = f"{Path(result.path).name}\n→ {name} ({probability:.0%})"
        axes[row, 0].set_ylabel(label, fontsize=8)
    return fig


def save_explain_image(fig: Figure, path: str | Path) -> Path:
    """Save ``fig`` to ``path`` (its suffix picks the format), atomically."""
    from chainrule.reporting.figures import save_figure

    fmt = _explain_format(path)
    path = Path(path)
    return save_figure(fig, path.with_name(path.stem), formats=(fmt,))[0]


def _explain_format(path: str | Path) -> str:
    fmt = Path(path).suffix.lstrip(".").lower()
    if fmt not in EXPLAIN_FORMATS:
        raise ValueError(
            f"--explain-image {path}: the file name must end in "
            f"{', '.join('.' + f for f in EXPLAIN_FORMATS)}"
        )
    return fmt


__all__ = [
    "PredictionError",
    "PredictionResult",
    "Predictor",
    "TablePredictor",
    "format_results",
    "load_trained",
    "plot_steps",
    "predict_files",
    "predict_points",
    "resolve_model_path",
]
