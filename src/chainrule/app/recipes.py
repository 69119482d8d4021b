"""Recipes: the YAML description of one experiment, validated with clear errors.

A recipe names the data, the model and the training; every key is checked, and an unknown key
or a bad value is an error that names the file, the key, and what would be valid::

    name: mnist-64-sigmoid
    seed: 0
    data: {dataset: mnist, preprocessing: standardize, validation_fraction: 0.1}
    model:
      hidden: [64]                 # the MLP shorthand: hidden widths ...
      activation: sigmoid          # ... one activation for every hidden layer
      output: softmax
      init: lecun_normal
      loss: categorical_crossentropy
    training:
      optimizer: {name: sgd, learning_rate: 0.1}
      epochs: 10
      mode: minibatch
      batch_size: 32

Instead of ``hidden``/``activation``, ``model.layers`` may list layers one by one, each a name
(``relu``, ``flatten``) or a mapping with a ``type`` (``{type: dense, units: 64}``).

Nothing a recipe says is ignored without a word:

- **Kinds are exact.** An integer key takes an integer (``epochs: true`` is an error, not one
  epoch), a number key a finite number (``.inf`` and ``.nan`` are errors, here and inside the
  optimizer, schedule, early-stopping and layer mappings).
- **One value, one key.** Where two keys could give one value, giving both with different
  values is an error naming both: ``training.learning_rate`` and the optimizer mapping's
  ``learning_rate``; ``model.input_shape`` and the shape of the data. A key that the rest of
  the recipe makes unused must keep its default: the MLP shorthand's ``activation``, ``init``,
  ``bias_init``, ``dropout`` and ``outputs`` beside ``model.layers`` (each layer says its own),
  and ``training.batch_size`` in ``stochastic`` (1) or ``batch`` (all examples) mode.
- **One ``--set`` per key**: the same key twice with different values, or a key beside a
  section that holds it, is an error.
"""

from __future__ import annotations

import math
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from chainrule.data.load import dataset_kind
from chainrule.data.toy import TOY_DATASETS, get_toy, toy_class_names
from chainrule.nn.init import INITIALIZERS, get_initializer
from chainrule.nn.layers import (
    ACTIVATIONS,
    LAYERS,
    Dense,
    Dropout,
    Flatten,
    Layer,
    get_activation,
    layer_from_config,
)
from chainrule.nn.losses import LOSSES, get_loss
from chainrule.nn.model import Sequential
from chainrule.nn.optim import OPTIMIZERS, Optimizer, get_optimizer
from chainrule.training.callbacks import EarlyStopping
from chainrule.training.schedules import get_schedule
from chainrule.utils.yamlfile import parse_override_value, read_yaml_mapping, short_repr

NameOrSpec = Union[str, dict[str, Any]]  # noqa: UP007 - pydantic reads this at runtime

#: What the built-in datasets look like, so a model can be summarized without loading data.
IMAGE_SHAPE = (1, 28, 28)
NUM_CLASSES = 10


class RecipeError(ValueError):
    """A recipe that cannot be used, with the file, the key and the fix in the message."""


class Strict(BaseModel):
    """Unknown keys are errors; ints are ints (not bools, not strings); floats are finite."""

    model_config = ConfigDict(
        extra="forbid", validate_default=True, strict=True, allow_inf_nan=False
    )


def _finite_everywhere(value: Any, key: str) -> None:
    """No NaN or infinity anywhere in a nested mapping spec (an optimizer's, a layer's ...)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{key} must be a finite number, got {value}")
    if isinstance(value, dict):
        for name, item in value.items():
            _finite_everywhere(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for position, item in enumerate(value, start=1):
            _finite_everywhere(item, f"{key}[{position}]")


def _positive_integers(value: list[int] | None, what: str) -> list[int] | None:
    if value is not None and any(number < 1 for number in value):
        raise ValueError(f"{what} must be positive integers, got {short_repr(value)}")
    return value


#: The MLP shorthand's keys, which ``model.layers`` makes unused (each layer says its own).
SHORTHAND_KEYS = ("activation", "init", "bias_init", "dropout", "outputs")


#: The settings of the built-in 2-D sets, each a ``data.`` key (``TOY_DATASETS`` says which
#: set takes which; a test checks this list covers them all).
TOY_KEYS = ("n", "noise", "margin", "factor", "classes", "turns", "centers")


class DataConfig(Strict):
    """``dataset``: a registered name (mnist, fashion-mnist, kmnist), a folder of IDX files, a
    ``.csv`` or ``.npz`` file of your own, or a built-in 2-D set (xor, moons, circles, spirals,
    blobs) whose settings are the keys ``n``, ``noise``, ... (see ``chainrule.data.toy``).

    Data without a test split (a CSV without ``test_file``, a toy set, an NPZ without
    ``x_test``) hold out ``test_fraction`` of their examples as the test split, stratified and
    seeded with ``seed`` (the data's own seed, also the toy set's: a sweep over the recipe's
    seed trains on the same points); the validation split then comes out of the rest.
    """

    dataset: str = "mnist"
    data_dir: str | None = None
    preprocessing: Literal["scale", "standardize", "none"] = "scale"
    shape: Literal["flat", "image"] = "flat"
    validation_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    binary_target: int | None = Field(None, ge=0)
    train_limit: int | None = Field(None, ge=1)
    augment: bool = False
    label_column: str = "label"
    test_file: str | None = None
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    seed: int = Field(0, ge=0)
    n: int | None = None
    noise: float | None = None
    margin: float | None = None
    factor: float | None = None
    classes: int | None = None
    turns: float | None = None
    centers: int | None = None

    @property
    def kind(self) -> str:
        """What ``dataset`` names: registered, idx-folder, csv, npz or toy."""
        return dataset_kind(self.dataset)

    def toy_settings(self) -> dict[str, int | float]:
        """The toy set's settings that the recipe gives (all of them, once validated)."""
        return {key: getattr(self, key) for key in TOY_KEYS if getattr(self, key) is not None}

    @model_validator(mode="after")
    def _keys_apply(self) -> DataConfig:
        kind = self.kind
        given = self.toy_settings()
        if kind != "toy" and given:
            key = next(iter(given))
            raise ValueError(
                f"data.{key} is a setting of the built-in 2-D datasets "
                f"({', '.join(TOY_DATASETS)}), not of {self.dataset!r}; remove it"
            )
        for key, used_by in (("label_column", "a .csv file"), ("test_file", "a .csv file")):
            default = type(self).model_fields[key].default
            if getattr(self, key) != default and kind != "csv":
                raise ValueError(
                    f"data.{key}={getattr(self, key)!r} would be ignored: it applies to "
                    f"{used_by}, and data.dataset is {self.dataset!r}; remove it"
                )
        if kind == "toy":
            self._resolve_toy(given)
        return self

    def _resolve_toy(self, given: dict[str, int | float]) -> None:
        """Check the toy set's settings, then write every one in (recipe.yaml records them)."""
        toy = get_toy(self.dataset)
        names = [param.name for param in toy.params]
        for key, value in given.items():
            if key not in names:
                raise ValueError(
                    f"data.{key} is not a setting of {toy.name}; its settings: "
                    f"{', '.join('data.' + name for name in names)}"
                )
            try:
                toy.param(key).check(value, where="")
            except ValueError as error:
                raise ValueError(f"data.{error}") from None
        try:
            resolved = toy.resolve(given)
        except ValueError as error:  # a rule across settings (n against the classes)
            raise ValueError(f"data.{str(error).split(': ', 1)[-1]}") from None
        for key, value in resolved.items():
            setattr(self, key, value)


class ModelConfig(Strict):
    hidden: list[int] | None = None
    activation: NameOrSpec = "relu"
    output: Literal["softmax", "sigmoid", "identity"] | None = None
    outputs: int | None = Field(None, ge=1)
    init: NameOrSpec = "glorot_uniform"
    bias_init: NameOrSpec = "zeros"
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    layers: list[NameOrSpec] | None = None
    input_shape: list[int] | None = None
    loss: NameOrSpec | None = None
    l2: float = Field(0.0, ge=0.0)
    l2_biases: bool = False
    dtype: Literal["float32", "float64"] = "float32"

    @field_validator("hidden")
    @classmethod
    def _positive_widths(cls, value: list[int] | None) -> list[int] | None:
        return _positive_integers(value, "hidden widths")

    @field_validator("input_shape")
    @classmethod
    def _positive_sizes(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and not value:
            raise ValueError(
                "input_shape lists the sizes of one example, e.g. [784] or [1, 28, 28]"
            )
        return _positive_integers(value, "input_shape sizes")

    @field_validator("activation")
    @classmethod
    def _known_activation(cls, value: NameOrSpec) -> NameOrSpec:
        get_activation(value)
        return value

    @field_validator("init", "bias_init")
    @classmethod
    def _known_initializer(cls, value: NameOrSpec, info: ValidationInfo) -> NameOrSpec:
        _finite_everywhere(value, f"model.{info.field_name}")
        get_initializer(value)
        return value

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, value: NameOrSpec | None) -> NameOrSpec | None:
        if value is not None:
            get_loss(value)
        return value

    @field_validator("layers")
    @classmethod
    def _known_layers(cls, value: list[NameOrSpec] | None) -> list[NameOrSpec] | None:
        if value is not None:
            for position, spec in enumerate(value, start=1):
                try:
                    _finite_everywhere(spec, "")
                    _layer_from_spec(spec)
                except (ValueError, TypeError) as error:
                    raise ValueError(f"layer {position}: {error}") from None
        return value

    @model_validator(mode="after")
    def _one_architecture(self) -> ModelConfig:
        if self.layers is not None and self.hidden is not None:
            raise ValueError("give either 'hidden' (MLP shorthand) or 'layers', not both")
        if self.layers is not None:
            # Compared with the defaults, not with what was written, so that a resolved
            # recipe.yaml (every key written out) reads back.
            fields = type(self).model_fields
            unused = [
                f"model.{key}={getattr(self, key)!r}"
                for key in SHORTHAND_KEYS
                if getattr(self, key) != fields[key].default
            ]
            if unused:
                raise ValueError(
                    f"{', '.join(unused)} would be ignored: it belongs to the 'hidden' "
                    "shorthand, and with model.layers each layer gives its own (e.g. "
                    "{type: dense, units: 64, init: he_normal}, relu, {type: dropout, rate: "
                    "0.2}); remove it"
                )
        return self


class TrainingConfig(Strict):
    optimizer: NameOrSpec = "sgd"
    learning_rate: float | None = Field(None, gt=0.0)
    epochs: int = Field(10, ge=1)
    mode: Literal["minibatch", "stochastic", "batch"] = "minibatch"
    batch_size: int = Field(32, ge=1)
    schedule: NameOrSpec | None = None
    early_stopping: dict[str, Any] | bool | None = None
    shuffle: bool = True
    diagnostics: bool | int = False  # true, or record every N steps (default 50)

    @field_validator("optimizer")
    @classmethod
    def _known_optimizer(cls, value: NameOrSpec) -> NameOrSpec:
        _finite_everywhere(value, "training.optimizer")
        get_optimizer(value)
        return value

    @field_validator("schedule")
    @classmethod
    def _known_schedule(cls, value: NameOrSpec | None) -> NameOrSpec | None:
        if value is not None:
            _finite_everywhere(value, "training.schedule")
            get_schedule(value)
        return value

    @field_validator("early_stopping")
    @classmethod
    def _valid_early_stopping(
        cls, value: dict[str, Any] | bool | None
    ) -> dict[str, Any] | bool | None:
        if isinstance(value, dict):
            _finite_everywhere(value, "training.early_stopping")
            restore = value.get("restore_best_weights", True)
            if not isinstance(restore, bool):
                raise ValueError(
                    f"restore_best_weights is true or false, got {short_repr(restore)}"
                )
            try:
                EarlyStopping(**value)
            except TypeError:
                unknown = [key for key in value if key not in _EARLY_STOPPING_KEYS]
                raise ValueError(
                    f"unknown key {short_repr(unknown[0] if unknown else value)}; valid keys: "
                    f"{', '.join(_EARLY_STOPPING_KEYS)}"
                ) from None
        return value

    @field_validator("diagnostics")
    @classmethod
    def _diagnostics_every(cls, value: bool | int) -> bool | int:
        if not isinstance(value, bool) and value < 1:
            raise ValueError(
                f"diagnostics is true, false or every how many steps (>= 1), got {value}"
            )
        return value

    @model_validator(mode="after")
    def _one_learning_rate(self) -> TrainingConfig:
        given = self.optimizer.get("learning_rate") if isinstance(self.optimizer, dict) else None
        if self.learning_rate is not None and given is not None and given != self.learning_rate:
            raise ValueError(
                f"training.learning_rate={self.learning_rate} and "
                f"training.optimizer.learning_rate={short_repr(given)} both give the learning "
                "rate and disagree; give it once (e.g. --set training.optimizer.learning_rate="
                f"{self.learning_rate})"
            )
        return self

    @model_validator(mode="after")
    def _batch_size_used(self) -> TrainingConfig:
        default = type(self).model_fields["batch_size"].default
        if self.mode != "minibatch" and self.batch_size != default:
            steps = "one example" if self.mode == "stochastic" else "all training examples"
            raise ValueError(
                f"training.batch_size={self.batch_size} would be ignored: training.mode="
                f"{self.mode} takes {steps} per step; use mode: minibatch, or remove batch_size"
            )
        return self


#: What ``training.early_stopping`` may hold (the arguments of ``EarlyStopping``).
_EARLY_STOPPING_KEYS = ("monitor", "mode", "patience", "min_delta", "restore_best_weights")


class Recipe(Strict):
    name: str = "run"
    description: str = ""
    seed: int = Field(0, ge=0)  # NumPy's generators take non-negative seeds
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)

    # -- what the recipe means -----------------------------------------------------------
    @property
    def is_binary(self) -> bool:
        return self.data.binary_target is not None

    def default_input_shape(self) -> tuple[int, ...]:
        """The shape of one example when no data are loaded: a toy set's 2 coordinates, else
        (for a summary before training) MNIST's 28×28; a CSV or NPZ file's own width is known
        once it is read (``build_model(input_shape=...)``)."""
        if self.model.input_shape is not None:
            return tuple(self.model.input_shape)
        if self.data.kind == "toy":
            return (2,)
        return IMAGE_SHAPE if self.data.shape == "image" else (math.prod(IMAGE_SHAPE),)

    def default_num_classes(self) -> int:
        """A toy set's classes (its settings say how many), else the built-in datasets' 10."""
        if self.data.kind == "toy":
            return len(toy_class_names(self.data.dataset, **self.data.toy_settings()))
        return NUM_CLASSES

    def default_outputs(self, num_classes: int | None = None) -> int:
        if self.model.outputs is not None:
            return self.model.outputs
        return 1 if self.is_binary else (num_classes or self.default_num_classes())

    def build_model(
        self, input_shape: tuple[int, ...] | None = None, num_classes: int | None = None
    ) -> Sequential:
        """The model this recipe describes, initialized from ``seed``."""
        spec = self.model
        given = spec.input_shape
        if input_shape is not None and given is not None and tuple(given) != tuple(input_shape):
            raise RecipeError(
                f"model.input_shape={given} disagrees with the data, whose examples have shape "
                f"{list(input_shape)} (data.shape: {self.data.shape}); make them agree or "
                "remove model.input_shape"
            )
        input_shape = input_shape or self.default_input_shape()
        outputs = self.default_outputs(num_classes)
        output = spec.output or ("sigmoid" if self.is_binary else "softmax")
        if spec.layers is not None:
            layers = [_layer_from_spec(layer) for layer in spec.layers]
        else:
            layers = [Flatten()] if len(input_shape) > 1 else []
            for width in spec.hidden if spec.hidden is not None else [64]:
                layers.append(self._dense(width))
                layers.append(get_activation(spec.activation))
                if spec.dropout > 0:
                    layers.append(Dropout(spec.dropout))
            layers += [self._dense(outputs), get_activation(output)]
        loss = spec.loss or _default_loss(output)
        return Sequential(
            layers,
            loss=loss,
            input_shape=input_shape,
            l2=spec.l2,
            l2_biases=spec.l2_biases,
            dtype=spec.dtype,
            seed=self.seed,
        )

    def _dense(self, units: int) -> Dense:
        return Dense(
            units, kernel_initializer=self.model.init, bias_initializer=self.model.bias_init
        )

    def build_optimizer(self) -> Optimizer:
        """The optimizer; ``training.learning_rate`` fills in when the optimizer names none."""
        defaults = {}
        if self.training.learning_rate is not None:
            defaults["learning_rate"] = self.training.learning_rate
        return get_optimizer(self.training.optimizer, **defaults)


def _default_loss(output: str) -> str:
    return {"softmax": "categorical_crossentropy", "sigmoid": "binary_crossentropy"}.get(
        output, "mse"
    )


def _layer_from_spec(spec: NameOrSpec) -> Layer:
    if isinstance(spec, str):
        return layer_from_config({"type": spec})
    if isinstance(spec, dict) and "type" in spec:
        arguments = dict(spec)
        if "init" in arguments:  # recipe spelling of the Dense argument
            arguments["kernel_initializer"] = arguments.pop("init")
        return layer_from_config(arguments)
    raise ValueError(
        f"a layer is a name such as 'relu' or a mapping with a 'type' key such as "
        f"{{type: dense, units: 64}}, got {short_repr(spec)}"
    )


# -- loading ---------------------------------------------------------------------------------
def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read and validate a recipe file; ``overrides`` are ``key.path=value`` strings."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"recipe file not found: {path}")
    raw = read_yaml_mapping(path, "a recipe", RecipeError)
    return parse_recipe(raw, source=str(path), overrides=overrides)


def parse_recipe(
    raw: dict[str, Any], source: str = "<recipe>", overrides: list[str] | None = None
) -> Recipe:
    """Validate a recipe given as a dict (after applying ``overrides``)."""
    raw = apply_overrides(raw, overrides or [], source)
    try:
        return Recipe.model_validate(raw)
    except ValidationError as error:
        raise RecipeError(_describe(error, source)) from None


def apply_overrides(raw: dict[str, Any], overrides: list[str], source: str) -> dict[str, Any]:
    """Set ``training.epochs=3``-style overrides into a copy of ``raw`` (values read as YAML).

    A key given twice with different values, or a key and a section holding it
    (``model={hidden: [32]}`` beside ``model.hidden=[64]``), is an error: which one was meant?
    """
    import copy

    result = copy.deepcopy(raw)
    given: dict[str, Any] = {}
    for override in overrides:
        key, sep, text = override.partition("=")
        key = key.strip()
        if not sep or not key:
            raise RecipeError(
                f"--set expects key=value (e.g. training.epochs=3), got {short_repr(override)}"
            )
        value = parse_override_value(text, f"{source}: --set {key}", RecipeError)
        if key in given and given[key] != value:
            raise RecipeError(
                f"{source}: {key} is given twice on the command line, as "
                f"{short_repr(given[key])} and {short_repr(value)}; give it once"
            )
        for other in given:
            outer, inner = sorted((other, key), key=len)
            if other != key and inner.startswith(f"{outer}."):
                raise RecipeError(
                    f"{source}: --set {other} and --set {key} overlap ({inner} is inside "
                    f"{outer}); give one of them"
                )
        given[key] = value
        set_dotted(result, key, value, f"{source}: --set")
    return result


def set_dotted(raw: dict[str, Any], key: str, value: Any, source: str) -> None:
    """``raw["model"]["activation"] = value`` for ``key="model.activation"``."""
    parts = key.split(".")
    node = raw
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise RecipeError(
                f"{source} {key}: {part!r} is not a section (it is {short_repr(child)})"
            )
        node = child
    node[parts[-1]] = value


def _describe(error: ValidationError, source: str) -> str:
    problems = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"] if not _is_union_tag(part))
        if item["type"] == "extra_forbidden":
            parent = item["loc"][:-1]
            valid = _valid_keys(parent)
            where = ".".join(map(str, parent)) or "the top level"
            problems.append(f"unknown key '{location}'; valid keys in {where}: {', '.join(valid)}")
        else:
            message = item["msg"].removeprefix("Value error, ")
            if message.startswith(f"{location}."):  # a check of two keys names both itself
                problems.append(message)
            elif item["type"] == "value_error":  # our own messages name the value
                problems.append(f"{location}: {message}")
            else:
                problems.append(f"{location}: {message} (got {short_repr(item.get('input'))})")
    unique = list(dict.fromkeys(problems))
    if len(unique) > MAX_PROBLEMS:  # a list of a thousand bad items is still one short line
        more = len(unique) - MAX_PROBLEMS
        unique = [*unique[:MAX_PROBLEMS], f"and {more} more problem{'s' * (more > 1)}"]
    return f"{source}: " + "; ".join(unique)


#: Problems one message lists before it counts the rest.
MAX_PROBLEMS = 3


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and (part in ("str", "list[...]") or part.startswith("dict["))


def _valid_keys(location: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = Recipe
    for part in location:
        annotation = model.model_fields[part].annotation
        candidates = (
            typing.get_args(annotation)
            if isinstance(annotation, types.UnionType)
            else (annotation,)
        )
        model = next(c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel))
    return list(model.model_fields)


#: Registries a user may ask about (``chainrule summary --help`` and error messages list them).
REGISTRIES = {
    "activations": ACTIVATIONS,
    "initializers": INITIALIZERS,
    "losses": LOSSES,
    "optimizers": OPTIMIZERS,
    "layers": LAYERS,
}
