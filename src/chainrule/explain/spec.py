"""The worked-example spec: a tiny network written out number by number, validated.

A spec is YAML in the *textbook* layout: each weight matrix has one row per output neuron,
so a layer computes z = W x + b (the engine stores W transposed, shape (n_in, n_out))::

    title: A 3-3-2-2 network, one step of gradient descent
    layout: textbook               # optional; the only layout accepted
    input: [0.3, 0.5, 0.8]         # or a batch: [[...], [...]]
    target: [0.5, 0.8]             # one target per input
    layers:
      - activation: relu
        W: [[0.1, 0.2, 0.2], [0.4, 0.1, 0.2], [0.2, 0.3, 0.1]]
        b: [0.2, 0.2, 0.1]
      - activation: {name: leaky_relu, slope: 0.1}
        W: [[0.1, 0.2, 0.2], [0.4, 0.1, 0.2]]
        b: [0.1, 0.4]               # optional: zeros when left out
    loss: {name: mse, reduction: mean}   # mean | sum | half_sum; or binary/categorical_crossentropy
    optimizer: {name: gd, learning_rate: 0.01}   # gd/sgd, momentum (momentum:), adam (beta1 ...)
    update: {biases: false}        # also weights: false, freeze: [W1, b2]
    steps: 1
    fuse: true                     # show sigmoid/softmax + cross-entropy as dL/dz = a - y

Every problem is reported as one ``SpecError`` (a ``ValueError``) naming the file, the layer
and the shapes, e.g. ``layer 2: W2 has 3 columns but layer 1 has 2 outputs``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chainrule.nn.formulas import ActivationMath
from chainrule.nn.layers import ACTIVATIONS, Activation, Dense, get_activation
from chainrule.nn.losses import LOSSES, get_loss
from chainrule.nn.model import Sequential
from chainrule.nn.optim import OPTIMIZERS, Optimizer, get_optimizer
from chainrule.utils.validation import check_number
from chainrule.utils.yamlfile import read_yaml_mapping, short_repr


def explained_optimizers() -> list[str]:
    """Optimizers whose update the worked example writes out (canonical registry names): those
    whose math description has the worked example's lines (``OptimizerMath.worked``)."""
    return [
        name
        for name in OPTIMIZERS.names()
        if (math := getattr(OPTIMIZERS.get(name), "math", None)) is not None and math.worked
    ]


#: What to say when a required key is missing.
REQUIRED_HINTS = {
    "input": "give the input vector, e.g. input: [0.3, 0.5, 0.8]",
    "target": "give the desired output of the last layer, e.g. target: [0.5, 0.8]",
    "layers": "give each layer's activation, W (rows = output neurons) and b",
    "loss": "name the loss and its convention, e.g. loss: {name: mse, reduction: mean}",
    "optimizer": "name the optimizer and its learning rate, e.g. "
    "optimizer: {name: gd, learning_rate: 0.01}",
    "activation": "name the activation, one of " + ", ".join(ACTIVATIONS.names()),
    "W": "give the weight matrix, one row per output neuron, e.g. W: [[0.1, 0.2], [0.3, 0.4]]",
    "learning_rate": "give the learning rate, e.g. learning_rate: 0.01",
}


class SpecError(ValueError):
    """A spec that cannot be used, with the file, the layer and the fix in the message."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


def _number(value: Any, what: str) -> float:
    return check_number(value, what)


def _vector(value: Any, what: str = "") -> list[float]:
    """A non-empty list of finite numbers; ``what`` names it in messages ("" inside a key)."""
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"{what} must be a non-empty list of numbers, e.g. [0.1, 0.2]".lstrip())
    where = f"{what} value" if what else "value"
    return [_number(v, f"{where} {i}") for i, v in enumerate(value, start=1)]


def _rows(value: Any, what: str, example: str) -> list[list[float]]:
    """A non-empty list of equally long rows of numbers."""
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"{what} must be a non-empty list of rows, e.g. {example}".lstrip())
    rows = [_vector(row, f"{what} row {i}".lstrip()) for i, row in enumerate(value, start=1)]
    lengths = [len(row) for row in rows]
    if len(set(lengths)) > 1:
        raise ValueError(
            f"{what} rows have different lengths ({', '.join(map(str, lengths))}); every row "
            "needs one value per input".lstrip()
        )
    return rows


def _vector_or_batch(value: Any, what: str) -> list[list[float]]:
    """One vector, or a batch of vectors (a list of lists): always returned as a batch."""
    if isinstance(value, list | tuple) and value and isinstance(value[0], list | tuple):
        return _rows(value, f"{what} (a batch)", "[[0.1, 0.2], [0.3, 0.4]]")
    return [_vector(value, what)]


class LayerSpec(Strict):
    """One layer: its activation, W (n_out × n_in, textbook) and b (n_out,)."""

    activation: str | dict[str, Any]
    W: list[list[float]]
    b: list[float] | None = None

    @field_validator("activation")
    @classmethod
    def _known_activation(cls, value: str | dict[str, Any]) -> str | dict[str, Any]:
        try:
            layer = get_activation(value)
        except TypeError as error:
            raise ValueError(str(error)) from None
        if layer.math is None:
            raise ValueError(
                f"{layer.type_name} has no math description (its class's math = "
                "ActivationMath(...)), so the worked example cannot write it out"
            )
        return value

    @field_validator("W", mode="before")
    @classmethod
    def _matrix(cls, value: Any) -> list[list[float]]:
        return _rows(value, "", "[[0.1, 0.2], [0.3, 0.4]] (one row per output neuron)")

    @field_validator("b", mode="before")
    @classmethod
    def _bias(cls, value: Any) -> list[float] | None:
        return None if value is None else _vector(value)

    @property
    def activation_name(self) -> str:
        name = self.activation if isinstance(self.activation, str) else self.activation["name"]
        return ACTIVATIONS.canonical(name)

    def make_activation(self) -> Activation:
        """A fresh engine activation layer (its forward/backward do the math)."""
        return get_activation(self.activation)

    @property
    def math(self) -> ActivationMath:
        """The activation's own description of its formula and derivative."""
        return self.make_activation().math


class LossSpec(Strict):
    name: str
    reduction: Literal["mean", "sum", "half_sum"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @field_validator("name")
    @classmethod
    def _known_loss(cls, value: str) -> str:
        return LOSSES.canonical(value)

    @model_validator(mode="after")
    def _reduction_for_mse_only(self) -> LossSpec:
        if self.name == "mse" and self.reduction is None:
            self.reduction = "mean"
        elif self.name != "mse" and self.reduction is not None:
            raise ValueError(
                f"reduction applies to mse only; {self.name} averages over the outputs as the "
                "engine does (leave reduction out)"
            )
        return self

    def engine_config(self) -> dict[str, Any]:
        if self.name == "mse":
            return {"name": "mse", "reduction": self.reduction}
        return {"name": self.name}


class OptimizerSpec(Strict):
    name: str
    learning_rate: float
    momentum: float | None = None
    beta1: float | None = None
    beta2: float | None = None
    epsilon: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @field_validator("name")
    @classmethod
    def _explained(cls, value: str) -> str:
        name = OPTIMIZERS.canonical(value)
        explained = explained_optimizers()
        if name not in explained:
            # Specs name plain gradient descent "gd", so the message does too.
            spoken = ["gd/sgd" if known == "sgd" else known for known in explained]
            listing = (
                ", ".join(spoken[:-1]) + " and " + spoken[-1] if len(spoken) > 1 else spoken[0]
            )
            raise ValueError(f"the worked example writes out {listing}, got {value!r}")
        return name

    @model_validator(mode="after")
    def _engine_accepts(self) -> OptimizerSpec:
        self.make()  # the engine's own checks (unknown argument, momentum in [0, 1), ...)
        return self

    def engine_config(self) -> dict[str, Any]:
        arguments = {
            key: value
            for key, value in self.model_dump().items()
            if key != "name" and value is not None
        }
        return {"name": self.name, **arguments}

    def make(self) -> Optimizer:
        """A fresh engine optimizer with these hyperparameters."""
        return get_optimizer(self.engine_config())

    @property
    def hyperparameters(self) -> dict[str, float]:
        """Every hyperparameter the update uses, defaults filled in by the engine."""
        return self.make().hyperparameters()


class UpdateSpec(Strict):
    """Which parameters the optimizer changes; the rest keep their values."""

    weights: bool = True
    biases: bool = True
    freeze: list[str] = Field(default_factory=list)


class ExplainSpec(Strict):
    """A validated worked-example spec; weights in the textbook layout (rows = outputs)."""

    title: str = ""
    description: str = ""
    layout: Literal["textbook"] = "textbook"
    input: list[list[float]]
    target: list[list[float]]
    layers: list[LayerSpec] = Field(min_length=1)
    loss: LossSpec
    optimizer: OptimizerSpec
    update: UpdateSpec = Field(default_factory=UpdateSpec)
    steps: int = Field(1, ge=1, le=100)
    fuse: bool = True

    @field_validator("layout", mode="before")
    @classmethod
    def _textbook_only(cls, value: Any) -> Any:
        if value != "textbook":
            raise ValueError(
                "only the textbook layout is accepted: W has one row per output neuron and "
                "z = W x + b (transpose a weight matrix stored the engine's way, (n_in, n_out))"
            )
        return value

    @field_validator("input", mode="before")
    @classmethod
    def _input(cls, value: Any) -> list[list[float]]:
        return _vector_or_batch(value, "input")

    @field_validator("target", mode="before")
    @classmethod
    def _target(cls, value: Any) -> list[list[float]]:
        return _vector_or_batch(value, "target")

    @model_validator(mode="after")
    def _shapes_agree(self) -> ExplainSpec:
        n_in = len(self.input[0])
        for number, layer in enumerate(self.layers, start=1):
            rows, columns = len(layer.W), len(layer.W[0])
            if columns != n_in:
                source = "the input has" if number == 1 else f"layer {number - 1} has"
                unit = "values" if number == 1 else "outputs"
                raise ValueError(
                    f"layer {number}: W{number} has {columns} column{'s' * (columns != 1)} but {source} "
                    f"{n_in} {unit} (W{number} is {rows}×{columns}: rows = output neurons, "
                    f"columns = inputs, z{number} = W{number} a{number - 1} + b{number})"
                )
            if layer.b is not None and len(layer.b) != rows:
                raise ValueError(
                    f"layer {number}: b{number} has {len(layer.b)} values but W{number} has {rows} rows "
                    f"(one bias per output neuron)"
                )
            if layer.activation_name == "softmax" and rows == 1:
                raise ValueError(
                    f"layer {number}: softmax over a single output is the constant 1; use sigmoid"
                )
            n_in = rows
        if len(self.target[0]) != n_in:
            raise ValueError(
                f"target has {len(self.target[0])} values but the last layer (layer "
                f"{len(self.layers)}) has {n_in} outputs"
            )
        if len(self.target) != len(self.input):
            raise ValueError(
                f"input has {len(self.input)} examples but target has {len(self.target)}"
            )
        self._loss_fits_output()
        names = self.parameter_names()
        unknown = [name for name in self.update.freeze if name not in names]
        if unknown:
            raise ValueError(
                f"update.freeze: unknown tensor {', '.join(map(repr, unknown))}; this network "
                f"has {', '.join(names)}"
            )
        return self

    def _loss_fits_output(self) -> None:
        output = self.layers[-1].activation_name
        y = np.asarray(self.target)
        if self.loss.name in ("binary_crossentropy", "categorical_crossentropy"):
            if output not in ("sigmoid", "softmax"):
                raise ValueError(
                    f"{self.loss.name} needs outputs in (0, 1): the last layer (layer "
                    f"{len(self.layers)}) must use sigmoid or softmax, got {output}"
                )
            if np.any((y < 0) | (y > 1)):
                raise ValueError(f"{self.loss.name}: target values must lie in [0, 1]")
        if self.loss.name == "categorical_crossentropy" and not np.allclose(y.sum(axis=1), 1):
            raise ValueError(
                "categorical_crossentropy: each target must sum to 1 (one-hot, e.g. "
                f"[0, 1, 0]), got sums {', '.join(f'{s:g}' for s in y.sum(axis=1))}"
            )

    # -- what the spec means ------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def n_examples(self) -> int:
        return len(self.input)

    @property
    def widths(self) -> list[int]:
        """[n_inputs, n_1, ..., n_L]."""
        return [len(self.input[0])] + [len(layer.W) for layer in self.layers]

    def parameter_names(self) -> list[str]:
        return [f"{kind}{n}" for n in range(1, self.n_layers + 1) for kind in ("W", "b")]

    def trainable(self, name: str) -> bool:
        """Whether the optimizer updates tensor ``name`` (``"W1"``, ``"b2"``)."""
        if name in self.update.freeze:
            return False
        return self.update.biases if name.startswith("b") else self.update.weights

    @property
    def fused(self) -> bool:
        """Whether the output activation and the loss are taken together (dL/dz = a - y), as
        the engine fuses them (``Loss.fused_with``)."""
        if not self.fuse:
            return False
        loss = get_loss(self.loss.engine_config())
        return loss.fused_with(self.layers[-1].make_activation()) is not None

    def x(self) -> np.ndarray:
        """The inputs as a float64 batch (m, n_0)."""
        return np.array(self.input, dtype=np.float64)

    def y(self) -> np.ndarray:
        """The targets as a float64 batch (m, n_L)."""
        return np.array(self.target, dtype=np.float64)

    def weights(self) -> list[np.ndarray]:
        """W1 ... WL in the textbook layout (n_out, n_in), float64 copies."""
        return [np.array(layer.W, dtype=np.float64) for layer in self.layers]

    def biases(self) -> list[np.ndarray]:
        """b1 ... bL (zeros where the spec left b out), float64 copies."""
        return [
            np.zeros(len(layer.W)) if layer.b is None else np.array(layer.b, dtype=np.float64)
            for layer in self.layers
        ]

    def to_model(
        self,
        weights: list[np.ndarray] | None = None,
        biases: list[np.ndarray] | None = None,
    ) -> Sequential:
        """The engine's float64 ``Sequential`` holding this network.

        Layers are ``dense_1, <activation>, dense_2, ...``; ``model.params["dense_l.W"]`` is the
        TRANSPOSE of the spec's Wl (the engine computes z = x @ W + b on row batches) and
        ``model.params["dense_l.b"]`` is bl. ``weights``/``biases`` (textbook layout) replace
        the spec's values, e.g. after an update step.
        """
        weights = self.weights() if weights is None else weights
        biases = self.biases() if biases is None else biases
        layers = []
        for number, layer in enumerate(self.layers, start=1):
            layers.append(Dense(len(layer.W), name=f"dense_{number}"))
            layers.append(layer.make_activation())
        model = Sequential(
            layers,
            loss=self.loss.engine_config(),
            input_shape=(self.widths[0],),
            dtype="float64",
            fuse_loss=self.fuse,
        )
        for number, (W, b) in enumerate(zip(weights, biases, strict=True), start=1):
            model.params[f"dense_{number}.W"] = np.asarray(W, dtype=np.float64).T
            model.params[f"dense_{number}.b"] = b
        return model


# -- loading ---------------------------------------------------------------------------------
def load_spec(path: str | Path) -> ExplainSpec:
    """Read and validate a spec file; problems raise ``SpecError`` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"explain spec not found: {path}")
    raw = read_yaml_mapping(path, "a spec", SpecError, keys="input, target, layers, ...")
    return parse_spec(raw, source=str(path))


def parse_spec(raw: dict[str, Any], source: str = "<spec>") -> ExplainSpec:
    """Validate a spec given as a dict."""
    try:
        return ExplainSpec.model_validate(raw)
    except ValidationError as error:
        raise SpecError(_describe(error, source)) from None


def _describe(error: ValidationError, source: str) -> str:
    """One line per problem: 'layer 2: W2: ...', 'unknown key ...; valid keys ...'."""
    problems = []
    for item in error.errors():
        location = _location(item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            parent = tuple(part for part in item["loc"][:-1] if not isinstance(part, int))
            where = _location(item["loc"][:-1]) or "the top level"
            valid = ", ".join(_model_at(parent).model_fields)
            problems.append(f"{where}: unknown key '{item['loc'][-1]}'; valid keys: {valid}")
        elif item["type"] == "missing":
            key = str(item["loc"][-1])
            hint = REQUIRED_HINTS.get(key, "it is required")
            problems.append(f"{location}: missing; {hint}")
        elif not location:
            problems.append(message)
        else:
            got = "" if item["type"] == "value_error" else f" (got {short_repr(item.get('input'))})"
            problems.append(f"{location}: {message}{got}")
    return f"{source}: " + "; ".join(dict.fromkeys(problems))


def _location(loc: tuple[Any, ...]) -> str:
    """('layers', 1, 'W') -> 'layer 2: W2'; ('optimizer', 'momentum') -> 'optimizer.momentum'."""
    parts = [part for part in loc if not _is_union_tag(part)]
    if len(parts) >= 2 and parts[0] == "layers" and isinstance(parts[1], int):
        number = parts[1] + 1
        rest = [f"{p}{number}" if p in ("W", "b") else str(p) for p in parts[2:]]
        return ": ".join([f"layer {number}", *rest[:1]]) + "".join(f".{p}" for p in rest[1:])
    return ".".join(str(part) for part in parts)


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and (
        part in ("str", "list[...]", "function-before[_from_name(), LossSpec]")
        or part.startswith(("dict[", "function-"))
    )


def _model_at(location: tuple[Any, ...]) -> type[BaseModel]:
    model: type[BaseModel] = ExplainSpec
    nested = {
        "layers": LayerSpec,
        "loss": LossSpec,
        "optimizer": OptimizerSpec,
        "update": UpdateSpec,
    }
    for part in location:
        model = nested.get(str(part), model)
    return model
