"""The playground behind ``chainrule serve``'s ``/playground`` page: train a small network on
2-D points and watch its decision boundary move.

Everything here is chainrule's own training path, nothing imitated: the page's settings
become a :class:`~chainrule.app.recipes.Recipe` (validated as any recipe file is), the
network is ``recipe.build_model``, the optimizer ``recipe.build_optimizer``, and every update
is ``Trainer.step`` on the batches ``Trainer.batches`` deals, in the order ``Trainer.fit``
would deal them with the recipe's seed. Exported, the same recipe trains the same network
from the command line.

Training runs in bounded chunks, one request each (``POST .../train``: up to
``MAX_CHUNK_STEPS`` steps and ``CHUNK_SECONDS`` of work), so nothing trains while nobody
asks: pausing is not asking, and a closed tab leaves no thread behind. After each chunk the
answer holds a snapshot: losses and accuracies, the decision boundary on a ``GRID``² grid
over the plane, and every hidden unit's output on a ``NEURON_GRID``² grid, as base64 uint8
arrays that the page colours in canvases.

Bounds, so that one page cannot take the machine: at most ``MAX_POINTS`` points (a CSV of at
most ``MAX_CSV_ROWS`` rows), ``MAX_HIDDEN_LAYERS`` hidden layers of at most ``MAX_WIDTH``
units, ``MAX_STEPS`` steps per training run; each page holds one session, at most
``MAX_SESSIONS`` live server-wide (the one idle longest makes way), and at most
``COMPUTE_SLOTS`` chunks compute at once.
"""

from __future__ import annotations

import base64
import contextlib
import math
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from chainrule.app.recipes import Recipe, RecipeError, parse_recipe
from chainrule.app.run import PreparedData, model_metadata, prepare_data
from chainrule.data.load import Dataset
from chainrule.data.tabular import Table, parse_csv
from chainrule.data.toy import TOY_DATASETS, get_toy
from chainrule.nn.layers import ACTIVATIONS
from chainrule.nn.model import Sequential, save_model
from chainrule.nn.optim import OPTIMIZERS
from chainrule.serve.limits import RequestError, read_body, read_json
from chainrule.training.trainer import Trainer, TrainingDiverged, float_warnings_off
from chainrule.utils.validation import check_integer, check_number

# -- bounds ------------------------------------------------------------------------------------
MAX_POINTS = 2000
MAX_CSV_BYTES = 1024 * 1024
MAX_CSV_ROWS = 5000
MAX_CLASSES = 10
MAX_HIDDEN_LAYERS = 4
MAX_WIDTH = 64
MAX_STEPS = 50_000
MAX_CHUNK_STEPS = 1000
#: A chunk stops after this much training, whatever it was asked for: answers stay quick.
CHUNK_SECONDS = 0.1
MAX_SESSIONS = 8
#: A session unused this long is gone; the page then starts a new one.
IDLE_SECONDS = 30 * 60
#: Chunks computing at once, server-wide (the machine may have two cores).
COMPUTE_SLOTS = 2
#: How long a request waits for its session or a compute slot before a 409/503.
WAIT_SECONDS = 2.0

GRID = 64
NEURON_GRID = 32
#: Loss-curve points kept; older ones are thinned to every other one when it is reached.
MAX_CURVE_POINTS = 600

#: What the page offers; every name is also checked by the recipe (the registries' names).
PAGE_ACTIVATIONS = ("tanh", "relu", "leaky_relu", "sigmoid", "improved_sigmoid", "identity")
PAGE_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
CSV_SOURCE = "csv"

DEFAULTS: dict[str, Any] = {
    "dataset": "xor",
    "settings": {},
    "seed": 0,
    "test_fraction": 0.3,
    "hidden": [8, 8],
    "activation": "tanh",
    "optimizer": "adam",
    "learning_rate": 0.03,
    "batch_size": 16,
    "l2": 0.0,
}


class PlaygroundError(ValueError):
    """A setting or an upload the playground cannot use; ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# -- the page's settings -------------------------------------------------------------------------
@dataclass
class Settings:
    """The page's settings, checked; :meth:`recipe` is what they mean to chainrule."""

    dataset: str
    settings: dict[str, int | float]
    seed: int
    test_fraction: float
    hidden: list[int]
    activation: str
    optimizer: str
    learning_rate: float
    batch_size: int
    l2: float

    @classmethod
    def parse(cls, given: dict[str, Any], csv_loaded: bool = False) -> Settings:
        """Settings from the page's JSON (missing keys take ``DEFAULTS``); a bad one is a
        ``PlaygroundError`` naming the key, the value and what is valid."""
        unknown = sorted(set(given) - set(DEFAULTS))
        if unknown:
            raise PlaygroundError(
                f"unknown setting {unknown[0]!r}; the settings are: {', '.join(DEFAULTS)}"
            )
        values = {**DEFAULTS, **given}
        dataset = values["dataset"]
        names = [*TOY_DATASETS, CSV_SOURCE]
        if dataset not in names:
            raise PlaygroundError(f"dataset must be one of {', '.join(names)}, got {dataset!r}")
        if dataset == CSV_SOURCE and not csv_loaded:
            raise PlaygroundError("dataset 'csv' needs a CSV file: upload one first")
        toy_settings: dict[str, int | float] = {}
        if not isinstance(values["settings"], dict):
            raise PlaygroundError(f"settings must be an object, got {values['settings']!r}")
        try:
            if dataset != CSV_SOURCE:
                if "n" in values["settings"]:  # the page's bound, before the set's own
                    check_integer(values["settings"]["n"], "n", 4, MAX_POINTS, where="playground")
                toy_settings = get_toy(dataset).resolve(values["settings"])
            elif values["settings"]:
                raise PlaygroundError("an uploaded CSV takes no settings (its points are fixed)")
            hidden = values["hidden"]
            if not isinstance(hidden, list) or len(hidden) > MAX_HIDDEN_LAYERS:
                raise PlaygroundError(
                    f"hidden must list at most {MAX_HIDDEN_LAYERS} layer widths, got {hidden!r}"
                )
            hidden = [check_integer(w, "hidden width", 1, MAX_WIDTH) for w in hidden]
            activation = _choice(values["activation"], "activation", PAGE_ACTIVATIONS)
            optimizer = _choice(values["optimizer"], "optimizer", PAGE_OPTIMIZERS)
            return cls(
                dataset=dataset,
                settings=toy_settings,
                seed=check_integer(values["seed"], "seed", 0, 2**31 - 1),
                test_fraction=check_number(values["test_fraction"], "test_fraction", 0.1, 0.9),
                hidden=hidden,
                activation=activation,
                optimizer=optimizer,
                learning_rate=check_number(
                    values["learning_rate"], "learning_rate", 0.0, 10.0, strict=True
                ),
                batch_size=check_integer(values["batch_size"], "batch_size", 1, MAX_POINTS),
                l2=check_number(values["l2"], "l2", 0.0, 1.0),
            )
        except PlaygroundError:
            raise
        except (ValueError, TypeError) as error:
            raise PlaygroundError(str(error)) from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "settings": dict(self.settings),
            "seed": self.seed,
            "test_fraction": self.test_fraction,
            "hidden": list(self.hidden),
            "activation": self.activation,
            "optimizer": self.optimizer,
            "learning_rate": self.learning_rate,
            "batch_size": self.batch_size,
            "l2": self.l2,
        }

    def recipe_dict(self, epochs: int = 1, csv_name: str | None = None) -> dict[str, Any]:
        """The chainrule recipe these settings train (``epochs``: as many as trained so far;
        ``csv_name``: the uploaded file's name, which the recipe's ``data.dataset`` gives)."""
        is_csv = self.dataset == CSV_SOURCE
        data: dict[str, Any] = {
            "dataset": (csv_name or "points.csv") if is_csv else self.dataset,
            # a CSV's features have any scale; the built-in sets live in about [-1.5, 1.5]²
            "preprocessing": "standardize" if is_csv else "none",
            "validation_fraction": 0.0,
            "test_fraction": self.test_fraction,
            "seed": self.seed,
            **self.settings,
        }
        name = Path(csv_name or "points.csv").stem if is_csv else self.dataset
        return {
            "name": f"playground-{name}",
            "description": "exported from the chainrule serve playground",
            "seed": self.seed,
            "data": data,
            "model": {"hidden": list(self.hidden), "activation": self.activation, "l2": self.l2},
            "training": {
                "optimizer": {"name": self.optimizer, "learning_rate": self.learning_rate},
                "epochs": max(1, epochs),
                "batch_size": self.batch_size,
            },
        }

    def recipe(self, epochs: int = 1, csv_name: str | None = None) -> Recipe:
        """:meth:`recipe_dict`, validated by chainrule's recipe schema."""
        try:
            return parse_recipe(self.recipe_dict(epochs, csv_name), source="playground settings")
        except RecipeError as error:
            raise PlaygroundError(str(error).removeprefix("playground settings: ")) from None


def _choice(value: Any, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise PlaygroundError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


# -- the points ----------------------------------------------------------------------------------
@dataclass
class Points:
    """The recipe's data as ``chainrule train`` prepares it, and the plane drawn around it."""

    data: PreparedData
    #: (x_min, x_max, y_min, y_max) of the plotted plane, in the data's own coordinates
    extent: tuple[float, float, float, float]

    @property
    def class_names(self) -> list[str]:
        return list(self.data.class_names)

    def inputs(self, raw: np.ndarray, dtype: Any = np.float32) -> np.ndarray:
        """Points in the data's coordinates → the network's inputs (its preprocessing)."""
        return self.data.preprocessing.transform(np.asarray(raw, dtype=np.float64), dtype)

    def to_dict(self) -> dict[str, Any]:
        data = self.data
        return {
            "classes": self.class_names,
            "features": list(data.feature_names or ("x1", "x2")),
            "extent": list(self.extent),
            "train": {"x": _rounded(data.train_images), "y": data.y_train.tolist()},
            "test": {"x": _rounded(data.test_images), "y": data.y_test.tolist()},
        }


def load_points(recipe: Recipe, table: Table | None = None) -> Points:
    """The recipe's points through ``prepare_data`` (exactly what ``chainrule train`` does with
    the exported recipe): a built-in set, or an uploaded ``table`` in place of the recipe's CSV
    file (``data.test_fraction`` held out, stratified and seeded with ``data.seed``)."""
    spec = recipe.data
    try:
        uploaded = None
        if table is not None:
            uploaded = Dataset(
                name=spec.dataset,
                class_names=table.class_names,
                x_train=table.x,
                y_train=table.y,
                feature_names=table.feature_names,
            )
        data = prepare_data(recipe, download=False, progress=False, dataset=uploaded)
    except ValueError as error:
        raise PlaygroundError(str(error)) from None
    raw = np.concatenate([data.train_images, data.test_images]).astype(np.float64)
    low, high = raw.min(axis=0), raw.max(axis=0)
    centre = (low + high) / 2
    half = max(float((high - low).max()) / 2, 1e-6) * 1.12  # square, with a margin
    extent = (centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half)
    return Points(data, tuple(float(v) for v in extent))  # type: ignore[arg-type]


def parse_upload(data: bytes) -> Table:
    """An uploaded CSV (header ``x1,x2,label``, or any two feature columns and ``label``) →
    its table, read by ``chainrule.data.tabular.parse_csv`` (the reader ``--dataset
    points.csv`` uses); a ``PlaygroundError`` names the line and column of a bad value."""
    if len(data) > MAX_CSV_BYTES:
        raise PlaygroundError(f"the CSV is over {MAX_CSV_BYTES // 1024} KiB", status=413)
    try:
        text = data.decode("utf-8-sig")  # -sig: a spreadsheet's byte-order mark
    except UnicodeDecodeError as error:
        raise PlaygroundError(
            f"the uploaded CSV is not UTF-8 text (byte {error.start}); save it as UTF-8"
        ) from None
    try:
        table = parse_csv(text, "the uploaded CSV")
    except ValueError as error:
        raise PlaygroundError(str(error)) from None
    rows, features = table.x.shape
    if features != 2:
        names = ", ".join(table.feature_names)
        raise PlaygroundError(
            f"the uploaded CSV has {features} feature column(s) ({names}); the playground draws "
            "the plane of two: give two feature columns and a label column"
        )
    if rows > MAX_CSV_ROWS:
        raise PlaygroundError(
            f"the uploaded CSV has {rows} points; the playground takes at most {MAX_CSV_ROWS}",
            status=413,
        )
    if not 2 <= len(table.class_names) <= MAX_CLASSES:
        raise PlaygroundError(
            f"the uploaded CSV's labels make {len(table.class_names)} class(es); the playground "
            f"needs 2 to {MAX_CLASSES}"
        )
    return table


# -- a session: one page's network -----------------------------------------------------------
@dataclass
class Session:
    """One page's data, network and training run. Use it under ``lock`` (:func:`locked`)."""

    id: str
    settings: Settings
    points: Points
    recipe: Recipe
    model: Sequential
    trainer: Trainer
    #: The uploaded CSV's table and its (cleaned) file name, kept for new settings.
    table: Table | None = None
    csv_name: str | None = None
    steps: int = 0
    diverged: str | None = None
    curve: dict[str, list[float | None]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_used: float = field(default_factory=time.monotonic)
    _batches: Iterator[tuple[np.ndarray, np.ndarray]] | None = None
    _grid: np.ndarray | None = None
    _neuron_grid: np.ndarray | None = None

    @classmethod
    def create(
        cls,
        session_id: str,
        settings: Settings,
        table: Table | None = None,
        csv_name: str | None = None,
    ) -> Session:
        if settings.dataset == CSV_SOURCE and table is None:
            raise PlaygroundError("dataset 'csv' needs a CSV file: upload one first")
        recipe = settings.recipe(csv_name=csv_name)
        points = load_points(recipe, table if settings.dataset == CSV_SOURCE else None)
        training_points = len(points.data.y_train)
        if settings.batch_size > training_points:
            raise PlaygroundError(
                f"batch_size must be at most the {training_points} training points, got "
                f"{settings.batch_size}"
            )
        model, trainer = _network(recipe, len(points.class_names))
        session = cls(session_id, settings, points, recipe, model, trainer, table, csv_name)
        session._grid = points.inputs(plane_grid(points.extent, GRID), model.dtype)
        session._neuron_grid = points.inputs(plane_grid(points.extent, NEURON_GRID), model.dtype)
        session._record()
        return session

    # -- training ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Fresh weights (drawn again from the seed), optimizer and curves; same settings."""
        self.model, self.trainer = _network(self.recipe, len(self.points.class_names))
        self.steps = 0
        self.diverged = None
        self.curve = {}
        self._batches = None
        self._record()

    def train(self, steps: int, seconds: float = CHUNK_SECONDS) -> int:
        """Up to ``steps`` updates, stopping after ``seconds``; returns how many were made."""
        if self.diverged:
            raise PlaygroundError(f"{self.diverged} Reset to train again.", status=409)
        steps = min(steps, MAX_STEPS - self.steps)
        if steps <= 0:
            raise PlaygroundError(
                f"this run has made its {MAX_STEPS:,} steps; reset to train again", status=409
            )
        started = time.perf_counter()
        made = 0
        # (the compiled optimizer kernels run on one thread, chainrule.nn.kernels)
        while made < steps and (made == 0 or time.perf_counter() - started < seconds):
            xb, yb = self._next_batch()
            try:
                self.trainer.step(xb, yb)
            except TrainingDiverged as error:
                self.diverged = str(error).split(" What usually helps")[0]
                break
            made += 1
            self.steps += 1
        self._record()
        return made

    def _next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        """The next batch in ``Trainer.fit``'s order: each epoch one shuffle of the trainer's
        order generator, dealt by the trainer's own ``batches``."""
        data = self.points.data
        while True:
            if self._batches is None:
                self._batches = self.trainer.batches(
                    data.x_train, data.y_train, self.trainer.order_rng
                )
            try:
                return next(self._batches)  # type: ignore[call-overload]
            except StopIteration:
                self._batches = None

    @property
    def steps_per_epoch(self) -> int:
        examples = len(self.points.data.y_train)
        return math.ceil(examples / self.trainer.effective_batch_size(examples))

    @property
    def epochs(self) -> float:
        return self.steps / self.steps_per_epoch

    def _record(self) -> None:
        """Evaluate train and test loss and accuracy now: one point of the curves."""
        data = self.points.data
        values: dict[str, float | None] = {"step": float(self.steps)}
        for part, x, y in (
            ("train", data.x_train, data.y_train),
            ("test", data.x_test, data.y_test),
        ):
            loss, accuracy = self.trainer.evaluate(x, y)
            values[f"{part}_loss"] = loss if math.isfinite(loss) else None
            values[f"{part}_accuracy"] = accuracy
        if self.curve and self.curve["step"][-1] == values["step"]:
            for key, value in values.items():
                self.curve[key][-1] = value
        else:
            for key, value in values.items():
                self.curve.setdefault(key, []).append(value)
        if len(self.curve["step"]) > MAX_CURVE_POINTS:  # every other one, and the latest
            for key, series in self.curve.items():
                self.curve[key] = series[:-1:2] + series[-1:]

    # -- what the page draws ----------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Where training is: step, losses, the boundary and every hidden unit's map."""
        classes = len(self.points.class_names)
        with float_warnings_off():
            probabilities = self.model.predict_proba(self._grid)
            hidden = hidden_outputs(self.model, self._neuron_grid)
        probabilities = np.nan_to_num(probabilities.astype(np.float64), nan=1.0 / classes)
        best = probabilities.argmax(axis=1)
        # how sure: 0 where every class is as likely (1/k), 1 where one class is certain
        sure = (probabilities.max(axis=1) - 1.0 / classes) / (1.0 - 1.0 / classes)
        last = {key: series[-1] for key, series in self.curve.items()}
        return {
            "id": self.id,
            "step": self.steps,
            "epoch": round(self.epochs, 2),
            "max_steps": MAX_STEPS,
            "diverged": self.diverged,
            **{key: last[key] for key in CURVE_KEYS},
            "curve": {key: _rounded(np.array(v, dtype=float), 5) for key, v in self.curve.items()},
            "boundary": {
                "size": GRID,
                "classes": _bytes(best),
                "certainty": _bytes(np.clip(sure, 0.0, 1.0) * 255),
            },
            "neurons": [
                {
                    "layer": name,
                    "size": NEURON_GRID,
                    "units": values.shape[1],
                    "scale": _rounded(scale, 4),
                    # each unit's map over the plane, divided by its largest |value|: -1..1
                    "values": _bytes((values / scale).T * 127.5 + 127.5),
                }
                for name, values, scale in ((name, v, _unit_scale(v)) for name, v in hidden)
            ],
        }

    def describe(self) -> dict[str, Any]:
        """Everything the page needs after (re)configuring: settings, points and a snapshot."""
        return {
            "id": self.id,
            "settings": self.settings.to_dict(),
            "csv_name": self.csv_name,
            "recipe_name": self.recipe.name,
            "points": self.points.to_dict(),
            "layers": [
                {"name": name, "output_shape": shape, "parameters": count}
                for name, shape, count in self.model.summary_rows()
            ],
            "parameters": self.model.count_params(),
            "snapshot": self.snapshot(),
        }

    # -- export -----------------------------------------------------------------------------
    @property
    def trained_epochs(self) -> int:
        """Epochs the exported recipe trains: those begun here, at least one."""
        return max(1, math.ceil(self.epochs))

    def recipe_yaml(self) -> str:
        """The recipe that trains this network from the command line (``chainrule train``):
        the same data, initial weights and batch order, for the epochs begun here."""
        raw = self.settings.recipe_dict(self.trained_epochs, self.csv_name)
        lines = [
            "# Exported from the chainrule serve playground after "
            f"{self.steps} steps ({self.epochs:.1f} epochs).",
            "# Train the same network from the command line: chainrule train THIS_FILE.yaml",
        ]
        if self.csv_name is not None:
            lines.append(
                f"# data.dataset is your CSV file: run this in the folder that holds "
                f"{self.csv_name}, or give its path (--set data.dataset=PATH)."
            )
        return "\n".join(lines) + "\n" + yaml.safe_dump(raw, sort_keys=False)

    def model_file(self) -> bytes:
        """The trained network as a chainrule model file (``save_model``, safetensors), with
        what ``chainrule train`` stores beside the weights (``model_metadata``)."""
        recipe = self.settings.recipe(self.trained_epochs, self.csv_name)
        extra = model_metadata(recipe, self.points.data)
        extra["playground_steps"] = self.steps
        with tempfile.TemporaryDirectory(prefix="chainrule-playground-") as folder:
            path = Path(folder) / "model.safetensors"
            save_model(self.model, path, extra)
            return path.read_bytes()


#: The latest values of these curves come with every snapshot.
CURVE_KEYS = ("train_loss", "test_loss", "train_accuracy", "test_accuracy")


def _network(recipe: Recipe, num_classes: int) -> tuple[Sequential, Trainer]:
    """The recipe's model and trainer, made as ``chainrule train`` makes them."""
    training = recipe.training
    try:
        model = recipe.build_model(input_shape=(2,), num_classes=num_classes)
    except (RecipeError, ValueError) as error:
        raise PlaygroundError(str(error)) from None
    trainer = Trainer(
        model,
        recipe.build_optimizer(),
        epochs=training.epochs,
        mode=training.mode,
        batch_size=training.batch_size,
        shuffle=training.shuffle,
        seed=recipe.seed,
        progress=False,
        threads=1,
    )
    return model, trainer


def plane_grid(extent: tuple[float, float, float, float], size: int) -> np.ndarray:
    """(size², 2) points at the centres of a size×size grid over ``extent``, row by row from
    the top (the largest x2) down, as an image is stored."""
    x_min, x_max, y_min, y_max = extent
    xs = x_min + (np.arange(size) + 0.5) * (x_max - x_min) / size
    ys = y_max - (np.arange(size) + 0.5) * (y_max - y_min) / size
    grid_x, grid_y = np.meshgrid(xs, ys)
    return np.column_stack([grid_x.ravel(), grid_y.ravel()]).astype(np.float32)


def hidden_outputs(model: Sequential, x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Each hidden layer's output for inputs ``x``: what the next weighted layer receives,
    named after the layer that computed it (``tanh_1``), each (n, units)."""
    outputs: list[tuple[str, np.ndarray]] = []
    a = x
    last: tuple[str, np.ndarray] | None = None
    for layer in model.layers:
        if "W" in layer.parameter_specs() and last is not None:
            outputs.append(last)
        a = layer.forward(a, training=False)
        last = (layer.name, a)
    return outputs


def _unit_scale(values: np.ndarray) -> np.ndarray:
    scale = np.nan_to_num(np.abs(values).max(axis=0), nan=1.0, posinf=1.0)
    return np.where(scale > 1e-12, scale, 1.0)


def _bytes(values: np.ndarray) -> str:
    """uint8 values as base64: a 64×64 grid is 5.5 kB of JSON (as a list of numbers, 15)."""
    clean = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=127.5)
    return base64.b64encode(np.clip(np.rint(clean), 0, 255).astype(np.uint8).tobytes()).decode()


def _rounded(values: np.ndarray, decimals: int = 4) -> list[Any]:
    array = np.asarray(values, dtype=np.float64)
    rounded = np.round(array, decimals)
    return (
        [None if not math.isfinite(v) else v for v in rounded.ravel().tolist()]
        if (array.ndim == 1)
        else rounded.tolist()
    )


# -- the server's sessions ---------------------------------------------------------------------
class Playground:
    """Every page's session, bounded: ``MAX_SESSIONS`` at once, ``COMPUTE_SLOTS`` computing."""

    def __init__(self, max_sessions: int = MAX_SESSIONS, idle_seconds: float = IDLE_SECONDS):
        self.max_sessions = max_sessions
        self.idle_seconds = idle_seconds
        self.sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._compute = threading.BoundedSemaphore(COMPUTE_SLOTS)

    @staticmethod
    def options() -> dict[str, Any]:
        """What the page may choose from, with defaults and bounds."""
        return {
            "defaults": DEFAULTS,
            "datasets": {
                name: {
                    "description": toy.description,
                    "params": [
                        {
                            "name": p.name,
                            "kind": p.kind,
                            "default": p.default,
                            "minimum": p.minimum,
                            "help": p.help,
                            "maximum": MAX_POINTS if p.name == "n" else p.maximum,
                        }
                        for p in toy.params
                    ],
                }
                for name, toy in TOY_DATASETS.items()
            },
            "activations": [a for a in PAGE_ACTIVATIONS if a in ACTIVATIONS.names()],
            "optimizers": [o for o in PAGE_OPTIMIZERS if o in OPTIMIZERS.names()],
            "limits": {
                "max_points": MAX_POINTS,
                "max_csv_bytes": MAX_CSV_BYTES,
                "max_csv_rows": MAX_CSV_ROWS,
                "max_hidden_layers": MAX_HIDDEN_LAYERS,
                "max_width": MAX_WIDTH,
                "max_steps": MAX_STEPS,
                "max_chunk_steps": MAX_CHUNK_STEPS,
            },
        }

    def create(self, given: dict[str, Any]) -> Session:
        settings = Settings.parse(given)
        with self._computing():
            session = Session.create(secrets.token_urlsafe(12), settings)
        with self._lock:
            self._make_room()
            self.sessions[session.id] = session
        return session

    def get(self, session_id: str) -> Session:
        with self._lock:
            self._drop_idle()
            session = self.sessions.get(session_id)
        if session is None:
            raise PlaygroundError(
                "this playground session is gone (the server restarted, or it sat idle or made "
                "way for newer pages): reload the page",
                status=404,
            )
        session.last_used = time.monotonic()
        return session

    def configure(self, session: Session, given: dict[str, Any]) -> Session:
        """New settings for the page: a new network (and data), under the same id."""
        settings = Settings.parse(given, csv_loaded=session.table is not None)
        with self._computing():
            fresh = Session.create(session.id, settings, session.table, session.csv_name)
        return self._replace(session, fresh)

    def upload_csv(self, session: Session, data: bytes, name: str | None) -> Session:
        """An uploaded CSV becomes the page's data (the other settings kept)."""
        table = parse_upload(data)
        settings = Settings.parse(
            {**session.settings.to_dict(), "dataset": CSV_SOURCE, "settings": {}},
            csv_loaded=True,
        )
        # a small file: at most a third of its points in one batch
        settings.batch_size = min(settings.batch_size, max(1, len(table.y) // 3))
        with self._computing():
            fresh = Session.create(session.id, settings, table, _csv_name(name))
        return self._replace(session, fresh)

    def close(self, session_id: str) -> None:
        with self._lock:
            self.sessions.pop(session_id, None)

    def train(self, session: Session, steps: int) -> None:
        with self._computing():
            session.train(steps)

    def _replace(self, old: Session, fresh: Session) -> Session:
        with self._lock:
            if self.sessions.get(old.id) is old:
                self.sessions[old.id] = fresh
        return fresh

    def _drop_idle(self) -> None:
        now = time.monotonic()
        for key in [k for k, s in self.sessions.items() if now - s.last_used > self.idle_seconds]:
            del self.sessions[key]

    def _make_room(self) -> None:
        self._drop_idle()
        while len(self.sessions) >= self.max_sessions:
            oldest = min(self.sessions.values(), key=lambda s: s.last_used)
            del self.sessions[oldest.id]

    def _computing(self) -> contextlib.AbstractContextManager:
        """A compute slot, waited for at most ``WAIT_SECONDS`` (then a 503)."""
        busy = "the server is busy training other pages' networks; try again in a moment"
        return _waiting(self._compute, 503, busy)


@contextlib.contextmanager
def _waiting(lock: threading.Lock | threading.BoundedSemaphore, status: int, busy: str):
    """Hold ``lock``, waited for at most ``WAIT_SECONDS``; then a ``PlaygroundError``."""
    if not lock.acquire(timeout=WAIT_SECONDS):
        raise PlaygroundError(busy, status=status)
    try:
        yield
    finally:
        lock.release()


def locked(session: Session) -> contextlib.AbstractContextManager:
    """The session's lock, waited for at most ``WAIT_SECONDS`` (then a 409)."""
    return _waiting(
        session.lock, 409, "this page's network is busy with another request; try again"
    )


def _csv_name(name: str | None) -> str:
    """A safe file name for the recipe to refer to: the upload's base name, plain characters
    only (it names a file on the user's machine, never one on this server)."""
    base = Path(str(name or "points.csv").replace("\\", "/")).name
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in base).strip(".-")
    if not cleaned.lower().endswith(".csv"):
        cleaned = f"{cleaned or 'points'}.csv"
    return cleaned[-80:]


# -- the HTTP side -------------------------------------------------------------------------------
#: Request bodies: a CSV upload, and the JSON of everything else.
BODY_LIMITS = {"/api/playground/csv/": MAX_CSV_BYTES, "/api/playground/": 64 * 1024}


def playground_routes(playground: Playground, static: Path, headers: dict[str, str]) -> list[Route]:
    """The page (``/playground``, from ``static``, with ``headers``) and its API:

    GET  /api/playground/options       datasets, activations, optimizers, defaults, bounds
    POST /api/playground/new           JSON settings → a session: id, points, snapshot
    POST /api/playground/settings/ID   JSON settings → new data and network, same id
    POST /api/playground/csv/ID        a CSV body (?name=points.csv) → the page's data
    POST /api/playground/train/ID      {"steps": n} → n steps (bounded) → snapshot
    POST /api/playground/reset/ID      fresh weights → snapshot
    GET  /api/playground/recipe/ID     the recipe, YAML (chainrule train takes it)
    GET  /api/playground/model/ID      the trained model file (safetensors)
    POST /api/playground/close/ID      the page is gone
    """

    async def page(request: Request) -> FileResponse:
        return FileResponse(static / "playground.html", headers=headers)

    async def options(request: Request) -> JSONResponse:
        return JSONResponse(Playground.options())

    async def new(request: Request) -> JSONResponse:
        given = await read_json(request)
        session = await _call(playground.create, given)
        return JSONResponse(await _call(_locked_describe, session))

    async def settings(request: Request) -> JSONResponse:
        session = _session(playground, request)
        given = await read_json(request)
        fresh = await _call(_locked, session, playground.configure, given)
        return JSONResponse(await _call(_locked_describe, fresh))

    async def upload(request: Request) -> JSONResponse:
        session = _session(playground, request)
        body = await read_body(request, empty="the upload is empty: send the CSV file's bytes")
        name = request.query_params.get("name")
        fresh = await _call(_locked, session, playground.upload_csv, body, name)
        return JSONResponse(await _call(_locked_describe, fresh))

    async def train(request: Request) -> JSONResponse:
        session = _session(playground, request)
        given = await read_json(request)
        try:
            steps = check_integer(given.get("steps", 10), "steps", 1, MAX_CHUNK_STEPS)
        except ValueError as error:
            raise RequestError(400, str(error)) from None

        def chunk() -> dict[str, Any]:
            with locked(session):
                playground.train(session, steps)
                return session.snapshot()

        return JSONResponse(await _call(chunk))

    async def reset(request: Request) -> JSONResponse:
        session = _session(playground, request)

        def again() -> dict[str, Any]:
            with locked(session):
                session.reset()
                return session.snapshot()

        return JSONResponse(await _call(again))

    async def recipe(request: Request) -> Response:
        session = _session(playground, request)
        text = await _call(_locked, session, lambda s: s.recipe_yaml())
        name = f"{session.recipe.name}.yaml"
        return Response(text, media_type="application/yaml", headers=_download(name))

    async def model(request: Request) -> Response:
        session = _session(playground, request)
        data = await _call(_locked, session, lambda s: s.model_file())
        name = f"{session.recipe.name}.safetensors"
        return Response(data, media_type="application/octet-stream", headers=_download(name))

    async def close(request: Request) -> Response:
        playground.close(request.path_params["id"])
        return Response(status_code=204)

    return [
        Route("/playground", page),
        Route("/api/playground/options", options),
        Route("/api/playground/new", new, methods=["POST"]),
        Route("/api/playground/settings/{id}", settings, methods=["POST"]),
        Route("/api/playground/csv/{id}", upload, methods=["POST"]),
        Route("/api/playground/train/{id}", train, methods=["POST"]),
        Route("/api/playground/reset/{id}", reset, methods=["POST"]),
        Route("/api/playground/recipe/{id}", recipe),
        Route("/api/playground/model/{id}", model),
        Route("/api/playground/close/{id}", close, methods=["POST"]),
    ]


def _session(playground: Playground, request: Request) -> Session:
    try:
        return playground.get(request.path_params["id"])
    except PlaygroundError as error:
        raise RequestError(error.status, str(error)) from None


def _locked(session: Session, action: Any, *args: Any) -> Any:
    with locked(session):
        return action(session, *args)


def _locked_describe(session: Session) -> dict[str, Any]:
    with locked(session):
        return session.describe()


async def _call(function: Any, *args: Any) -> Any:
    """``function(*args)`` in a worker thread; a ``PlaygroundError`` becomes its 4xx/503."""
    try:
        return await run_in_threadpool(function, *args)
    except PlaygroundError as error:
        raise RequestError(error.status, str(error)) from None


def _download(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
