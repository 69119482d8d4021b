"""One training run, end to end: recipe → data → model → Trainer → run directory.

The run directory holds everything a student hands in or a sweep compares::

    recipe.yaml          the recipe as resolved (every default filled in)
    history.csv          per-epoch train/val loss and accuracy, learning rate, seconds
    steps.csv            the training loss of every optimizer step
    metrics.json         test accuracy and loss, epochs run, training time, per-class metrics
    model.safetensors    the weights, architecture, preprocessing and class names
    figures/             curves, confusion matrix, first-layer weights, misclassified, samples
    report.md, .html     all of it, readable
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from chainrule.app.recipes import DataConfig, Recipe, RecipeError, parse_recipe
from chainrule.data import Dataset, augment, train_test_split, train_val_split
from chainrule.data.load import dataset_kind, open_dataset
from chainrule.data.preprocessing import Preprocessing
from chainrule.nn.memory import check_training_memory
from chainrule.nn.model import Sequential, classes_of, load_model
from chainrule.reporting.display import RichDisplay, inline_figures
from chainrule.reporting.document import Document
from chainrule.reporting.metrics import per_class_metrics
from chainrule.training.callbacks import Callback, EarlyStopping
from chainrule.training.diagnostics import Diagnostics
from chainrule.training.history import History
from chainrule.training.parallel import check_threads
from chainrule.training.schedules import get_schedule
from chainrule.training.trainer import (
    INTERRUPTED_CHECKPOINT,
    Trainer,
    TrainingDiverged,
    TrainingInterrupted,
    float_warnings_off,
    rows_per_step,
)
from chainrule.utils.atomic import atomic_write_text


@dataclass
class PreparedData:
    """Network-ready arrays, plus what is needed to show and reproduce them.

    ``train_images``/``test_images`` are the raw examples before preprocessing: uint8 images,
    or the table's own numbers (``preprocessing.is_images`` says which).
    """

    name: str
    class_names: list[str]
    preprocessing: Preprocessing
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray
    test_images: np.ndarray  # uint8, for figures of misclassified examples
    train_images: np.ndarray
    feature_names: tuple[str, ...] | None = None


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C where training could not stop at a step boundary: while the data loaded, after
    a second Ctrl-C, or while the results were written. The message says what is true of the
    disk: nothing written yet, or the checkpoint ``chainrule train --resume`` continues from.

    ``directory``: the run directory (None: not made yet); ``resume_from``: its newest
    checkpoint (None: none yet).
    """

    def __init__(self, directory: Path | None, resume_from: Path | None) -> None:
        self.directory, self.resume_from = directory, resume_from
        if directory is None:
            message = "interrupted before training began; nothing was written: run it again"
        elif resume_from is not None:
            saved = resume_from.relative_to(directory)
            message = f"interrupted; chainrule train --resume {directory} continues from {saved}"
        else:
            message = (
                f"interrupted before the first checkpoint; {directory} has nothing to resume: "
                "remove it and train again"
            )
        super().__init__(message)


@dataclass(repr=False)
class RunResult(RichDisplay):
    directory: Path
    metrics: dict[str, Any]
    history: History
    model: Sequential

    def __repr__(self) -> str:
        accuracy = self.metrics.get("test_accuracy")
        shown = f", test accuracy {accuracy:.2%}" if isinstance(accuracy, float) else ""
        epochs = len(self.history)
        return f"RunResult({str(self.directory)!r}{shown}, {epochs} epoch{'s' * (epochs != 1)})"

    def to_document(self, fmt: str = "html") -> Document:
        """The run's report (``report.md``/``report.html``), its figures inline, for a
        notebook (``RichDisplay``), where a path relative to the run directory points nowhere."""
        from chainrule.reporting.report import build_report

        return inline_figures(build_report(self.directory), self.directory)


def load_data(
    dataset: str,
    data_dir: str | Path | None,
    download: bool,
    progress: bool,
    splits=("train", "test"),
    num_classes: int | None = None,
    spec: DataConfig | None = None,
) -> Dataset:
    """A registered dataset by name, your own IDX files given as a directory path, a CSV or
    NPZ file, or a built-in 2-D set (``chainrule.data.open_dataset``); ``spec`` gives the
    options a CSV or a toy set takes (label column, test file, settings, seed).

    ``num_classes`` (a trained model's) checks a folder's labels against the model's classes,
    so that a test split that happens to lack the last class still loads."""
    options: dict[str, Any] = {}
    if spec is not None:
        options = {
            "label_column": spec.label_column,
            "test_file": spec.test_file,
            "toy_settings": spec.toy_settings(),
            "seed": spec.seed,
        }
    return open_dataset(
        dataset, data_dir, download, progress, splits, num_classes=num_classes, **options
    )


def load_splits(
    spec: DataConfig, data_dir: str | Path | None, download: bool, progress: bool
) -> tuple[Dataset, tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The recipe's data with its train and test splits; data without a test split (a CSV
    file, a toy set, an NPZ file without ``x_test``) hold out ``data.test_fraction`` of
    their examples, stratified and seeded with ``data.seed``: the same test split every
    time, whatever the recipe's own seed."""
    data = load_data(spec.dataset, data_dir or spec.data_dir, download, progress, spec=spec)
    return (data, *split_dataset(spec, data))


def split_dataset(
    spec: DataConfig, data: Dataset
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``data``'s train and test splits; without a test split, ``data.test_fraction`` of the
    training examples held out (``load_splits``)."""
    train = data.split("train")
    if data.x_test is not None and data.y_test is not None:
        return train, (data.x_test, data.y_test)
    count = len(train[1])
    held_out = round(spec.test_fraction * count)
    if not 1 <= held_out <= count - 1:
        raise ValueError(
            f"data.test_fraction={spec.test_fraction}: {data.name} has no test split, and "
            f"{spec.test_fraction:g} of its {count} example(s) holds out {held_out}; the train "
            "and test splits each need at least one: give more examples or another fraction"
        )
    x_train, y_train, x_test, y_test = train_test_split(*train, spec.test_fraction, spec.seed)
    return (x_train, y_train), (x_test, y_test)


def prepare_data(
    recipe: Recipe,
    data_dir: str | Path | None = None,
    download: bool = True,
    progress: bool = True,
    dataset: Dataset | None = None,
) -> PreparedData:
    """Load, subsample, split (stratified, seeded), relabel and preprocess the recipe's data.

    ``dataset``: arrays already in memory (a CSV uploaded to the playground) used in place of
    the recipe's source, and split and preprocessed exactly as that source would be.
    """
    spec = recipe.data
    if dataset is None:
        data, (images, labels), (test_images, test_labels) = load_splits(
            spec, data_dir, download, progress
        )
    else:
        data = dataset
        (images, labels), (test_images, test_labels) = split_dataset(spec, data)
    if spec.augment and not data.is_images:
        raise ValueError(
            f"data.augment shifts and rotates images, but {data.name} is a table of "
            f"{images.shape[1]} features; remove data.augment"
        )
    class_names = list(data.class_names)
    if spec.binary_target is not None:
        if spec.binary_target >= len(class_names):
            raise ValueError(
                f"data.binary_target: class {spec.binary_target} does not exist; {data.name} has "
                f"classes 0..{len(class_names) - 1}"
            )
        positive = class_names[spec.binary_target]
        class_names = [f"not {positive}", positive]
        labels = (labels == spec.binary_target).astype(np.int64)
        test_labels = (test_labels == spec.binary_target).astype(np.int64)
    rng = np.random.default_rng(recipe.seed)
    if spec.train_limit is not None and spec.train_limit < len(images):
        keep = np.sort(rng.permutation(len(images))[: spec.train_limit])
        images, labels = images[keep], labels[keep]
    val_images = val_labels = None
    if spec.validation_fraction > 0:
        train_index, val_index = train_val_split(images, labels, spec.validation_fraction, rng)
        val_images, val_labels = images[val_index], labels[val_index]
        images, labels = images[train_index], labels[train_index]
    preprocessing = Preprocessing(spec.preprocessing, spec.shape).fit(images)
    dtype = np.dtype(recipe.model.dtype)
    return PreparedData(
        name=data.name,
        class_names=class_names,
        preprocessing=preprocessing,
        x_train=preprocessing.transform(images, dtype),
        y_train=labels,
        x_val=None if val_images is None else preprocessing.transform(val_images, dtype),
        y_val=val_labels,
        x_test=preprocessing.transform(test_images, dtype),
        y_test=test_labels,
        test_images=test_images,
        train_images=images,
        feature_names=data.feature_names,
    )


def build_augmentation(recipe: Recipe, preprocessing: Preprocessing):
    """Random shifts (±2 px) and rotations (±10°) of each training batch, if asked for."""
    if not recipe.data.augment:
        return None
    height, width = preprocessing.image_shape
    # Pixels shifted in from outside are background: a black (0) pixel after preprocessing.
    background = float(preprocessing.transform(np.zeros((1, height, width), np.uint8)).flat[0])

    def augment_batch(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        images = x.reshape(len(x), height, width)
        return augment(images, rng, fill=background).reshape(x.shape)

    return augment_batch


def build_callbacks(recipe: Recipe) -> list[Callback]:
    """Early stopping and the learning-rate schedule the recipe asks for."""
    callbacks: list[Callback] = []
    training = recipe.training
    if training.schedule is not None:
        callbacks.append(get_schedule(training.schedule))
    stopping = training.early_stopping
    if stopping:
        options = {} if stopping is True else dict(stopping)
        try:
            callbacks.append(EarlyStopping(**options))
        except TypeError as error:
            raise ValueError(
                f"training.early_stopping: {error}; valid keys: monitor, mode, patience, "
                "min_delta, restore_best_weights"
            ) from None
    diagnostics = training.diagnostics
    if diagnostics is not False:
        every = 50 if diagnostics is True else int(diagnostics)
        callbacks.append(Diagnostics(every=every))
    return callbacks


def train_recipe(
    recipe: Recipe,
    out_dir: str | Path | None = None,
    data_dir: str | Path | None = None,
    download: bool = True,
    progress: bool = True,
    figures: bool = True,
    resume: bool = False,
    threads: int | None = None,
) -> RunResult:
    """Train the recipe's model and write the run directory (see the module docstring).

    ``threads``: cores to train on (default: all; see ``Trainer``).

    Every epoch leaves a checkpoint in ``<run>/checkpoints``; ``resume=True`` continues the
    run in ``out_dir`` from its newest one. A run whose loss or gradient turns non-finite, or
    whose loss explodes (``chainrule.training.trainer.loss_ceiling``), raises
    ``TrainingDiverged`` after writing its history up to that point. Ctrl-C raises
    ``TrainingInterrupted`` (between two steps, saved) or ``RunInterrupted`` (elsewhere),
    each saying what is on disk. NumPy's float warnings are off throughout
    (``float_warnings_off``): overflow ends in those checks' message, not a RuntimeWarning.
    """
    check_threads(threads)
    run = _RunPlace(Path(out_dir) if resume else None)
    try:
        with float_warnings_off():
            return _train(recipe, run, out_dir, data_dir, download, progress, figures, threads)
    except TrainingInterrupted:
        raise
    except KeyboardInterrupt:
        directory = run.directory
        resume_from = None if directory is None else _resume_point(directory)
        raise RunInterrupted(directory, resume_from) from None


@dataclass
class _RunPlace:
    """The directory a run being trained writes: the one it resumes, or (a new run) None
    until it is made."""

    directory: Path | None


def _resume_point(directory: Path) -> Path | None:
    """The checkpoint ``--resume`` would continue ``directory`` from, or None."""
    try:
        return latest_checkpoint(directory)
    except FileNotFoundError:
        return None


def _train(
    recipe: Recipe,
    run: _RunPlace,
    out_dir: str | Path | None,
    data_dir: str | Path | None,
    download: bool,
    progress: bool,
    figures: bool,
    threads: int | None,
) -> RunResult:
    """``train_recipe``'s work; a new run sets ``run.directory`` as soon as it is made."""
    data = prepare_data(recipe, data_dir, download, progress)
    model = recipe.build_model(data.preprocessing.input_shape, len(data.class_names))
    optimizer = recipe.build_optimizer()
    training = recipe.training
    rows = rows_per_step(training.mode, training.batch_size, len(data.x_train))
    check_training_memory(model, optimizer, rows)  # before the run directory is made
    callbacks = build_callbacks(recipe)
    has_validation = data.x_val is not None
    for callback in callbacks:
        monitor = getattr(callback, "monitor", None)
        if monitor is not None and monitor.name.startswith("val_") and not has_validation:
            raise ValueError(
                f"{callback.type_name} monitors {monitor.name!r} but data.validation_fraction is "
                "0; set a validation fraction or monitor a train_ quantity"
            )
    if run.directory is not None:  # resuming
        directory = run.directory
        resume_from = latest_checkpoint(directory)
    else:
        directory = run.directory = _new_run_directory(out_dir, recipe.name)
        resume_from = None
        atomic_write_text(
            directory / "recipe.yaml", yaml.safe_dump(recipe.model_dump(), sort_keys=False)
        )
    trainer = Trainer(
        model,
        optimizer,
        epochs=recipe.training.epochs,
        mode=recipe.training.mode,
        batch_size=recipe.training.batch_size,
        shuffle=recipe.training.shuffle,
        seed=recipe.seed,
        callbacks=callbacks,
        progress=progress,
        augment=build_augmentation(recipe, data.preprocessing),
        threads=threads,
        checkpoint_dir=directory / "checkpoints",
    )
    started = time.perf_counter()
    validation = (data.x_val, data.y_val) if has_validation else None
    stopped: TrainingDiverged | TrainingInterrupted | None = None
    try:
        trainer.fit(data.x_train, data.y_train, validation, resume_from=resume_from)
    except (TrainingDiverged, TrainingInterrupted) as error:
        stopped = error  # the logs up to where it stopped are still written, then it is raised
    train_seconds = time.perf_counter() - started
    history = trainer.history
    write_training_logs(directory, history, callbacks, figures)
    if stopped is not None:
        raise stopped

    test_loss, test_accuracy = trainer.evaluate(data.x_test, data.y_test)
    test_proba = model.predict_proba(data.x_test)
    predicted = classes_of(test_proba)  # the same as model.predict, without a third pass
    per_class = per_class_metrics(
        data.y_test, predicted, len(data.class_names), class_names=data.class_names
    )
    stopping = next((c for c in callbacks if isinstance(c, EarlyStopping)), None)
    metrics = {
        "test_accuracy": test_accuracy,
        "test_loss": test_loss,
        "epochs_run": len(history),
        "train_seconds": train_seconds,
        "dataset": data.name,
        "parameters": model.count_params(),
        "train_examples": len(data.x_train),
        "test_examples": len(data.x_test),
        "stopped_early": bool(stopping and stopping.stopped_epoch is not None),
        "best_epoch": (stopping.best_epoch + 1)
        if stopping and stopping.best_epoch is not None
        else None,
        "val_accuracy": history.last().get("val_accuracy"),
        "val_loss": history.last().get("val_loss"),
        "binary_target": recipe.data.binary_target,
        "class_names": data.class_names,
        "confusion_matrix": per_class.confusion.tolist(),
        "per_class": per_class.to_dict(),
        "model_summary": model.summary(),
    }
    atomic_write_text(directory / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    model.save(directory / "model.safetensors", model_metadata(recipe, data))
    if figures:
        write_figures(directory, model, history, data, test_proba, predicted, per_class.confusion)
        from chainrule.reporting.report import write_report

        write_report(directory)
    return RunResult(directory, metrics, history, model)


def model_metadata(recipe: Recipe, data: PreparedData) -> dict[str, Any]:
    """What a model file carries besides weights, so evaluate/predict need nothing else."""
    return {
        "preprocessing": data.preprocessing.to_dict(),
        "class_names": data.class_names,
        "feature_names": list(data.feature_names) if data.feature_names else None,
        "dataset": recipe.data.dataset,  # a registered name, a folder or file, a toy set
        "binary_target": recipe.data.binary_target,
        "recipe": recipe.model_dump(),
    }


def write_figures(
    directory: Path,
    model: Sequential,
    history: History,
    data: PreparedData,
    test_proba: np.ndarray,
    predicted: np.ndarray,
    confusion: np.ndarray,
) -> None:
    """Every figure of a run: those from its files, and those that need the images."""
    from chainrule.reporting import figures as viz

    figures = directory / "figures"
    images = data.preprocessing.is_images
    write_run_figures(directory, model, history, confusion, data.class_names, images)
    if not images:
        write_boundary_figure(directory, model, data)
        return
    wrong = np.flatnonzero(predicted != data.y_test)
    if wrong.size:
        scores = test_proba[wrong] if test_proba.shape[1] > 1 else predicted[wrong]
        figure = viz.plot_misclassified(
            data.test_images[wrong], data.y_test[wrong], scores, class_names=data.class_names
        )
        viz.save_figure(figure, figures / "misclassified")
    count = min(25, len(data.train_images))
    titles = [data.class_names[label] for label in data.y_train[:count]]
    viz.save_figure(
        viz.plot_image_grid(data.train_images[:count], titles=titles), figures / "samples"
    )
    maps = feature_maps(model, data.x_test[:1])
    if maps:
        viz.save_figure(viz.plot_feature_maps(maps), figures / "feature_maps")


def feature_maps(model: Sequential, x: np.ndarray) -> dict[str, np.ndarray]:
    """Each image-shaped layer output (C, H, W) for one input, in order (CNNs only)."""
    maps = {}
    a = x
    for layer in model.layers:
        a = layer.forward(a, training=False)
        if a.ndim == 4:
            maps[layer.name] = a[0]
    return maps


def write_boundary_figure(directory: Path, model: Sequential, data: PreparedData) -> None:
    """For 2-feature data: the decision boundary over the plane, with the train and test
    points, in the data's own coordinates (the grid goes through the model's preprocessing)."""
    if data.preprocessing.input_shape != (2,):
        return
    from chainrule.reporting.boundary import plot_decision_boundary
    from chainrule.reporting.figures import save_figure

    def probabilities(points: np.ndarray) -> np.ndarray:
        return model.predict_proba(data.preprocessing.transform(points, model.dtype))

    figure = plot_decision_boundary(
        probabilities,
        data.train_images,
        data.y_train,
        data.test_images,
        data.y_test,
        class_names=data.class_names,
        feature_names=data.feature_names,
    )
    save_figure(figure, directory / "figures" / "boundary")


def write_run_figures(
    directory: Path,
    model: Sequential,
    history: History,
    confusion: np.ndarray | None,
    class_names: list[str] | None,
    images: bool = True,
) -> None:
    """Curves, confusion matrix and first-layer weights: all drawn from the run's own files.

    ``images``: the data are images, so the first layer's weights are drawn as images (a
    table's are not, whatever its width)."""
    from chainrule.reporting import figures as viz

    figures = directory / "figures"
    if len(history):
        viz.save_figure(viz.plot_history(history.to_dict()), figures / "history")
    if confusion is not None:
        figure = viz.plot_confusion_matrix(np.asarray(confusion), class_names=class_names)
        viz.save_figure(figure, figures / "confusion_matrix")
    weights = first_layer_weights(model) if images else None
    if weights is not None and weights.ndim == 4:
        viz.save_figure(viz.plot_filters(weights), figures / "filters")
        return
    side = math.isqrt(weights.shape[0]) if weights is not None else 0
    if weights is not None and side * side == weights.shape[0]:
        viz.save_figure(viz.plot_weight_images(weights, (side, side)), figures / "weights")


def replot(directory: str | Path) -> Path:
    """Redraw a run's figures from its files and rewrite its report (``chainrule plot``)."""
    from chainrule.reporting.report import write_report

    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"run directory not found: {directory}")
    model_path = directory / "model.safetensors"
    metrics_path = directory / "metrics.json"
    for required in (model_path, metrics_path):
        if not required.is_file():
            raise FileNotFoundError(
                f"{directory} is not a complete run directory: {required.name} is missing"
            )
    model, extra = load_model(model_path)
    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    history_path = directory / "history.csv"
    history = History.from_csv(history_path) if history_path.is_file() else History()
    stored = extra.get("preprocessing")
    images = stored is None or Preprocessing.from_dict(stored).is_images
    write_run_figures(
        directory,
        model,
        history,
        metrics.get("confusion_matrix"),
        metrics.get("class_names"),
        images,
    )
    if not images:
        _replot_boundary(directory, model, Preprocessing.from_dict(stored))
    if (directory / "diagnostics.csv").is_file():
        from chainrule.reporting.diagnostics_figures import write_figures as draw_diagnostics

        draw_diagnostics(directory)
    write_report(directory)
    return directory


def _replot_boundary(directory: Path, model: Sequential, preprocessing: Preprocessing) -> None:
    """Redraw a 2-feature run's decision boundary from its recipe's data (a toy set is made
    again; a CSV or NPZ file is read again if it is still there, else the figure is kept)."""
    try:
        recipe = parse_recipe(
            yaml.safe_load((directory / "recipe.yaml").read_text(encoding="utf-8")),
            source=str(directory / "recipe.yaml"),
        )
        data = prepare_data(recipe, download=False, progress=False)
    except (OSError, ValueError, RecipeError, yaml.YAMLError):
        return
    if preprocessing.input_shape == data.preprocessing.input_shape:
        data.preprocessing = preprocessing  # the model's own numbers, as stored
        write_boundary_figure(directory, model, data)


def first_layer_weights(model: Sequential) -> np.ndarray | None:
    """The first weighted layer's W: Dense (fan_in, fan_out) or Conv2D (out, in, kh, kw)."""
    for layer in model.layers:
        weights = getattr(layer, "W", None)
        if weights is not None:
            return np.array(weights)
    return None


def evaluate_model(
    model_path: str | Path,
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    split: str = "test",
    download: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Accuracy, loss and per-class metrics of a saved model (a model file or a run
    directory) on a dataset split.

    Without ``dataset``, the model's own data: for a CSV or NPZ file or a toy set, the same
    held-out test split (or training split) as in training. A CSV or NPZ file named as
    ``dataset`` without a test split is all test data; its labels are matched to the model's
    classes by name."""
    with float_warnings_off():  # a model that overflows scores an inf/NaN loss, not a warning
        return _evaluate_model(model_path, dataset, data_dir, split, download, progress)


def _evaluate_model(
    model_path: str | Path,
    dataset: str | None,
    data_dir: str | Path | None,
    split: str,
    download: bool,
    progress: bool,
) -> dict[str, Any]:
    from chainrule.app.predict import load_trained

    model_path, model, extra, preprocessing = load_trained(model_path)
    own_dataset = dataset is None
    dataset = dataset or extra.get("dataset")
    if not dataset:
        raise ValueError(f"{model_path}: name the dataset to evaluate on with --dataset")
    known = extra.get("class_names")
    binary_target = extra.get("binary_target")
    num_classes = len(known) if known and binary_target is None else None
    if not preprocessing.is_images and dataset_kind(dataset) in ("registered", "idx-folder"):
        raise ValueError(
            f"{model_path}: the model takes {preprocessing.describe_input()}, but {dataset} "
            "holds images"
        )
    recipe = _stored_recipe(extra) if own_dataset else None
    if recipe is not None and recipe.data.kind in ("csv", "npz", "toy"):
        # The model's own data: the same held-out test split as in training.
        data, train, test = load_splits(recipe.data, data_dir, download, progress)
        images, labels = train if split == "train" else test
    else:
        data = load_data(dataset, data_dir, download, progress, (split,), num_classes)
        if split == "test" and data.x_test is None:  # a file of your own: all of it is test data
            images, labels = data.split("train")
        else:
            images, labels = data.split(split)
    if binary_target is not None:
        labels = (labels == binary_target).astype(np.int64)
    elif known and list(known) != list(data.class_names):
        labels = _relabel(labels, data.class_names, known, dataset)
    class_names = list(extra.get("class_names") or data.class_names)
    _check_takes(preprocessing, images, model_path, dataset)
    x = preprocessing.transform(images, model.dtype)
    trainer = Trainer(model, _NoOptimizer(), progress=False)
    loss, accuracy = trainer.evaluate(x, labels)
    per_class = per_class_metrics(
        labels, model.predict(x), len(class_names), class_names=class_names
    )
    return {
        "model": str(model_path),
        "dataset": data.name,
        "split": split,
        "examples": len(labels),
        "accuracy": accuracy,
        "loss": loss,
        "per_class": per_class.to_dict(),
        "report": per_class.to_text(),
    }


def _stored_recipe(extra: dict[str, Any]) -> Recipe | None:
    """The recipe a model file carries, or None (an older file, or one that no longer reads)."""
    raw = extra.get("recipe")
    if not isinstance(raw, dict):
        return None
    try:
        return parse_recipe(raw, source="the model file's recipe")
    except RecipeError:
        return None


def _relabel(
    labels: np.ndarray, names: tuple[str, ...], model_names: list[str], dataset: str
) -> np.ndarray:
    """Labels indexing ``names`` -> indices into the model's classes, matched by name."""
    position = {name: index for index, name in enumerate(model_names)}
    missing = [name for name in names if name not in position]
    used = set(np.unique(labels).tolist())
    absent = [name for index, name in enumerate(names) if name in missing and index in used]
    if absent:
        raise ValueError(
            f"{dataset}: class {absent[0]!r} is not one the model knows "
            f"({', '.join(model_names[:10])})"
        )
    table = np.array([position.get(name, -1) for name in names], dtype=np.int64)
    return table[labels]


def _check_takes(
    preprocessing: Preprocessing, examples: np.ndarray, model_path: str | Path, dataset: str
) -> None:
    """The data are the kind of input the model reads, or an error saying both."""
    given = (
        f"{examples.shape[1]}×{examples.shape[2]} images"
        if examples.ndim == 3
        else f"{examples.shape[1]} features"
    )
    if given != preprocessing.describe_input():
        raise ValueError(
            f"{model_path}: the model takes {preprocessing.describe_input()}, but {dataset} "
            f"holds {given}"
        )


class _NoOptimizer:
    learning_rate = 0.0


def write_training_logs(
    directory: Path, history: History, callbacks: list[Callback], figures: bool
) -> None:
    """What training logged, into the run directory: history.csv, steps.csv, and the
    diagnostics (with their figures when ``figures``) if a Diagnostics callback recorded any."""
    history.to_csv(directory / "history.csv")
    history.steps_to_csv(directory / "steps.csv")
    for callback in callbacks:
        if isinstance(callback, Diagnostics) and callback.records:
            callback.write(directory)
            if figures:  # (imported here: matplotlib loads only when a figure is drawn)
                from chainrule.reporting.diagnostics_figures import write_figures as draw

                draw(directory)


def latest_checkpoint(directory: Path) -> Path:
    """The newest checkpoint of a run directory (the mid-epoch one Ctrl-C left, else the last
    epoch's), or a clear error."""
    if not (directory / "recipe.yaml").is_file():
        raise FileNotFoundError(f"{directory} is not a run directory (no recipe.yaml) to resume")
    interrupted = directory / "checkpoints" / INTERRUPTED_CHECKPOINT
    if interrupted.is_file():
        return interrupted
    checkpoints = sorted((directory / "checkpoints").glob("epoch-*.safetensors"))
    if not checkpoints:
        raise FileNotFoundError(
            f"{directory} has no checkpoint to resume from (checkpoints/epoch-*.safetensors)"
        )
    return checkpoints[-1]


def _new_run_directory(out_dir: str | Path | None, name: str) -> Path:
    """``out_dir`` as given (must be empty if it exists), or a fresh ``runs/<name>[-N]``."""
    if out_dir is not None:
        directory = Path(out_dir)
        if directory.exists() and any(directory.iterdir()):
            raise ValueError(
                f"output directory {directory} is not empty; choose another --out or remove it"
            )
        directory.mkdir(parents=True, exist_ok=True)
        return directory
    base = Path("runs") / name
    directory, number = base, 1
    while directory.exists():
        number += 1
        directory = base.with_name(f"{base.name}-{number}")
    directory.mkdir(parents=True)
    return directory
