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

A *convolutional* spec (:class:`ConvSpec`) takes one image and layers with a ``type``
(``conv2d``, ``max_pool2d``/``avg_pool2d``, ``flatten``; dense layers as above, ``type: dense``
optional), numbered 1, 2, ... in order whatever their kind::

    input: [[0.2, 0.5, 0.1], [0.4, 0.9, 0.6], [0.0, 0.3, 0.8]]   # rows; or [channel][row][col]
    target: [0, 1]
    layers:
      - type: conv2d              # filters, kernel_size: read from W (checked when given)
        stride: 1                 # int or [rows, columns]
        padding: 0                # int, [rows, columns], valid or same
        activation: relu          # optional, per pixel (default identity)
        W: [[[0.5, -0.3], [0.2, 0.4]]]   # (filters, kh, kw) one channel, (filters, C, kh, kw),
        b: [0.1]                         # or a single kernel's rows
      - {type: max_pool2d, pool_size: 2}   # stride: the pool size unless given
      - flatten
      - {activation: softmax, W: [[...], [...]], b: [0, 0]}

Its windows must fit: (padded size - window) a multiple of the stride, or the engine would
drop the last rows silently. ``parse_spec`` and ``load_spec`` return a ``ConvSpec`` when a
layer has a ``type`` (or is ``flatten``); ``ConvSpec.kinds``, ``.shapes``, ``.weights()``,
``.engine_layers()`` and ``.to_model()`` describe the network.

Every problem is reported as one ``SpecError`` (a ``ValueError``) naming the file, the layer
and the shapes, e.g. ``layer 2: W2 has 3 columns but layer 1 has 2 outputs``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from chainrule.nn.formulas import ActivationMath
from chainrule.nn.layers import (
    ACTIVATIONS,
    LAYERS,
    Activation,
    AvgPool2D,
    Conv2D,
    Dense,
    Flatten,
    Layer,
    MaxPool2D,
    get_activation,
)
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
    "conv2d.W": "give the kernels, (filters, channels, kh, kw) nested lists, or one 2×2 kernel's "
    "rows as W: [[0.1, 0.2], [0.3, 0.4]]",
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


def _known_activation(value: str | dict[str, Any]) -> Activation:
    """The engine activation ``value`` names, if the worked example can write it out."""
    try:
        layer = get_activation(value)
    except TypeError as error:
        raise ValueError(str(error)) from None
    if layer.math is None:
        raise ValueError(
            f"{layer.type_name} has no math description (its class's math = "
            "ActivationMath(...)), so the worked example cannot write it out"
        )
    return layer


def _textbook_layout(value: Any) -> Any:
    if value != "textbook":
        raise ValueError(
            "only the textbook layout is accepted: W has one row per output neuron and "
            "z = W x + b (transpose a weight matrix stored the engine's way, (n_in, n_out))"
        )
    return value


class _Activated:
    """What a dense and a convolutional layer spec read from their ``activation`` key (each
    declares the key itself, where its messages list it)."""

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


class LayerSpec(_Activated, Strict):
    """One layer: its activation, W (n_out × n_in, textbook) and b (n_out,)."""

    activation: str | dict[str, Any]
    W: list[list[float]]
    b: list[float] | None = None

    @field_validator("activation")
    @classmethod
    def _known_activation(cls, value: str | dict[str, Any]) -> str | dict[str, Any]:
        _known_activation(value)
        return value

    @field_validator("W", mode="before")
    @classmethod
    def _matrix(cls, value: Any) -> list[list[float]]:
        return _rows(value, "", "[[0.1, 0.2], [0.3, 0.4]] (one row per output neuron)")

    @field_validator("b", mode="before")
    @classmethod
    def _bias(cls, value: Any) -> list[float] | None:
        return None if value is None else _vector(value)


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


def check_loss_fits_output(
    loss: LossSpec, output: str, n_layers: int, target: list[list[float]]
) -> None:
    """The loss can be taken of the last layer's output (``output``: its activation) and the
    targets fit it: cross-entropies need sigmoid/softmax outputs and targets in [0, 1]."""
    y = np.asarray(target)
    if loss.name in ("binary_crossentropy", "categorical_crossentropy"):
        if output not in ("sigmoid", "softmax"):
            raise ValueError(
                f"{loss.name} needs outputs in (0, 1): the last layer (layer "
                f"{n_layers}) must use sigmoid or softmax, got {output}"
            )
        if np.any((y < 0) | (y > 1)):
            raise ValueError(f"{loss.name}: target values must lie in [0, 1]")
    if loss.name == "categorical_crossentropy" and not np.allclose(y.sum(axis=1), 1):
        raise ValueError(
            "categorical_crossentropy: each target must sum to 1 (one-hot, e.g. "
            f"[0, 1, 0]), got sums {', '.join(f'{s:g}' for s in y.sum(axis=1))}"
        )


class UpdateSpec(Strict):
    """Which parameters the optimizer changes; the rest keep their values."""

    weights: bool = True
    biases: bool = True
    freeze: list[str] = Field(default_factory=list)


class _SpecKeys(Strict):
    """The keys a dense and a convolutional spec share, in the order messages list them;
    each kind narrows ``input`` and ``layers`` (a redeclared field keeps its place)."""

    title: str = ""
    description: str = ""
    layout: Literal["textbook"] = "textbook"
    input: list[Any]
    target: list[list[float]]
    layers: list[Any] = Field(min_length=1)
    loss: LossSpec
    optimizer: OptimizerSpec
    update: UpdateSpec = Field(default_factory=UpdateSpec)
    steps: int = Field(1, ge=1, le=100)
    fuse: bool = True

    @field_validator("layout", mode="before")
    @classmethod
    def _textbook_only(cls, value: Any) -> Any:
        return _textbook_layout(value)

    def parameter_names(self) -> list[str]:
        raise NotImplementedError

    def _check_frozen_names(self) -> None:
        """Every ``update.freeze`` entry names a tensor of this network."""
        names = self.parameter_names()
        unknown = [name for name in self.update.freeze if name not in names]
        if unknown:
            raise ValueError(
                f"update.freeze: unknown tensor {', '.join(map(repr, unknown))}; this network "
                f"has {', '.join(names)}"
            )


class ExplainSpec(_SpecKeys):
    """A validated worked-example spec; weights in the textbook layout (rows = outputs)."""

    input: list[list[float]]
    layers: list[LayerSpec] = Field(min_length=1)

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
        self._check_frozen_names()
        return self

    def _loss_fits_output(self) -> None:
        check_loss_fits_output(
            self.loss, self.layers[-1].activation_name, len(self.layers), self.target
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


# -- convolutional specs ---------------------------------------------------------------------
#: The layer types a convolutional spec may hold besides dense layers (engine names).
SPATIAL_TYPES = ("conv2d", "max_pool2d", "avg_pool2d", "flatten")


def _regular(value: Any, depth: int, what: str, example: str) -> np.ndarray:
    """A nested list of finite numbers, ``depth`` levels deep, every level equally long."""
    if depth == 1:
        return np.array(_vector(value, what), dtype=np.float64)
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"{what} must be a non-empty nested list, e.g. {example}".lstrip())
    parts = [
        _regular(part, depth - 1, f"{what} [{i}]".lstrip(), example)
        for i, part in enumerate(value, start=1)
    ]
    shapes = {part.shape for part in parts}
    if len(shapes) > 1:
        listing = ", ".join("×".join(map(str, part.shape)) for part in parts)
        if depth == 2:
            raise ValueError(
                f"{what} has rows of different lengths ({listing}); give every row the same "
                "number of values".lstrip()
            )
        raise ValueError(f"{what} has parts of different shapes ({listing})".lstrip())
    return np.stack(parts)


def _depth(value: Any) -> int:
    """How deeply lists nest at the front of ``value``: 0 for a number, 2 for rows."""
    depth = 0
    while isinstance(value, list | tuple) and value:
        depth, value = depth + 1, value[0]
    return depth


def _shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


class ConvLayerSpec(_Activated, Strict):
    """A convolution: W (filters, channels, kh, kw) as the engine stores it, b (filters,).

    A single kernel may be written as its kh rows (one filter over one channel), and the
    kernels of one-channel filters as a list of kh × kw kernels (filters, kh, kw).
    ``filters`` and ``kernel_size`` are read from W; given, they must agree with it.
    """

    type: Literal["conv2d"]
    filters: int | None = Field(None, ge=1)
    kernel_size: int | tuple[int, int] | None = None
    stride: int | tuple[int, int] = 1
    padding: int | tuple[int, int] | Literal["valid", "same"] = 0
    activation: str | dict[str, Any] = "identity"
    W: list[Any]
    b: list[float] | None = None

    @field_validator("activation")
    @classmethod
    def _elementwise(cls, value: str | dict[str, Any]) -> str | dict[str, Any]:
        if not _known_activation(value).math.elementwise:
            raise ValueError(
                "a convolution's activation acts on each pixel; softmax is for the last dense layer"
            )
        return value

    @field_validator("W", mode="before")
    @classmethod
    def _kernel(cls, value: Any) -> list[Any]:
        depth = _depth(value)
        if depth not in (2, 3, 4):
            raise ValueError(
                "must be a kernel's rows [[w11, w12], [w21, w22]], a list of such kernels (one "
                "per filter), or (filters, channels, kh, kw) nested lists"
            )
        return _regular(value, depth, "", "[[0.1, 0.2], [0.3, 0.4]]").tolist()

    @field_validator("b", mode="before")
    @classmethod
    def _bias(cls, value: Any) -> list[float] | None:
        return None if value is None else _vector(value)

    def kernel(self, channels: int) -> np.ndarray:
        """W as (filters, channels, kh, kw) float64, for an input with ``channels``."""
        W = np.array(self.W, dtype=np.float64)
        if W.ndim == 2:
            W = W[None, None]
        elif W.ndim == 3:
            W = W[:, None] if channels == 1 else W[None]
        return W

    def engine_layer(self, number: int, channels: int) -> Conv2D:
        """A fresh engine Conv2D for an input with ``channels`` (unbuilt, no parameters)."""
        W = self.kernel(channels)
        return Conv2D(W.shape[0], W.shape[2:], self.stride, self.padding, name=f"conv_{number}")


class PoolLayerSpec(Strict):
    """Max or average pooling over pool_size windows, moved by stride (default pool_size)."""

    type: Literal["max_pool2d", "avg_pool2d"]
    pool_size: int | tuple[int, int] = 2
    stride: int | tuple[int, int] | None = None

    @property
    def is_max(self) -> bool:
        return self.type == "max_pool2d"

    def engine_layer(self, number: int, channels: int = 0) -> MaxPool2D | AvgPool2D:
        kind = MaxPool2D if self.is_max else AvgPool2D
        return kind(self.pool_size, self.stride, name=f"pool_{number}")


class FlattenLayerSpec(Strict):
    """Feature maps (C, H, W) to a vector of C·H·W values, row by row, channel by channel."""

    type: Literal["flatten"]

    def engine_layer(self, number: int, channels: int = 0) -> Flatten:
        return Flatten(name=f"flatten_{number}")


class DenseLayerSpec(LayerSpec):
    """A dense layer in a convolutional spec: as in a dense spec, ``type: dense`` optional."""

    type: Literal["dense"] = "dense"

    def engine_layer(self, number: int, channels: int = 0) -> Dense:
        return Dense(len(self.W), name=f"dense_{number}")


def _layer_tag(value: Any) -> str:
    kind = value.get("type", "dense") if isinstance(value, dict) else getattr(value, "type", "")
    try:
        kind = LAYERS.canonical(kind) if isinstance(kind, str) else kind
    except ValueError:
        return "unknown"
    return {"max_pool2d": "pool", "avg_pool2d": "pool"}.get(kind, kind)


SpatialLayer = Annotated[
    Annotated[ConvLayerSpec, Tag("conv2d")]
    | Annotated[PoolLayerSpec, Tag("pool")]
    | Annotated[FlattenLayerSpec, Tag("flatten")]
    | Annotated[DenseLayerSpec, Tag("dense")],
    Discriminator(
        _layer_tag,
        custom_error_type="layer_type",
        custom_error_message="unknown layer type",
    ),
]


class ConvSpec(_SpecKeys):
    """A validated convolutional worked example: one image, conv / pool / flatten, then dense.

    Layers are numbered 1, 2, ... in the spec's order, whatever their kind; layer l's output
    is a_l (a_0 = x), and a layer with parameters has W_l, b_l and z_l. Shapes exclude the
    batch: ``shapes[l]`` is a_l's shape, (C, H, W) for feature maps, (n,) for vectors.
    Indices are 1-based in print: x[c,i,j], W1[o,c,p,q], z1[o,i,j].
    """

    layers: list[SpatialLayer] = Field(min_length=1)

    @field_validator("layers", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        """``flatten`` alone, and engine spellings (maxpool2d, conv2) of the types."""
        if not isinstance(value, list):
            return value
        items = []
        for item in value:
            if isinstance(item, str):
                item = {"type": item}
            if isinstance(item, dict) and isinstance(item.get("type"), str):
                with suppress(ValueError):  # an unknown type: the discriminator names them
                    item = {**item, "type": LAYERS.canonical(item["type"])}
            items.append(item)
        return items

    @field_validator("input", mode="before")
    @classmethod
    def _image(cls, value: Any) -> list[Any]:
        depth = _depth(value)
        if depth not in (2, 3):
            raise ValueError(
                "a convolutional spec takes one image: its rows [[x11, x12, ...], ...] (one "
                "channel) or a list of channels, each its rows"
            )
        image = _regular(value, depth, "", "[[0.1, 0.2], [0.3, 0.4]]")
        return (image[None] if depth == 2 else image).tolist()

    @field_validator("target", mode="before")
    @classmethod
    def _target(cls, value: Any) -> list[list[float]]:
        return [_vector(value, "target")]

    @model_validator(mode="after")
    def _shapes_agree(self) -> ConvSpec:
        shape = self.input_shape
        flat = False
        for number, layer in enumerate(self.layers, start=1):
            if isinstance(layer, DenseLayerSpec):
                if len(shape) != 1:
                    raise ValueError(
                        f"layer {number}: a dense layer needs a vector, but layer {number - 1} "
                        f"gives feature maps {_shape_text(shape)}; put a flatten layer before it"
                    )
                shape = self._dense_shape(number, layer, shape[0])
                continue
            if flat:
                raise ValueError(
                    f"layer {number}: {layer.type} needs feature maps (channels, height, width), "
                    f"but layer {number - 1} gives a vector of {shape[0]}; put conv2d and "
                    "pooling layers before flatten"
                )
            if isinstance(layer, ConvLayerSpec):
                shape = self._conv_shape(number, layer, shape)
            elif isinstance(layer, PoolLayerSpec):
                shape = self._pool_shape(number, layer, shape)
            else:
                shape, flat = (int(np.prod(shape)),), True
        last = self.layers[-1]
        if not isinstance(last, DenseLayerSpec):
            raise ValueError(
                f"the last layer (layer {len(self.layers)}) is {last.type}; end with a dense "
                "layer whose outputs the loss compares with the target"
            )
        if last.activation_name == "softmax" and shape[0] == 1:
            raise ValueError(
                f"layer {len(self.layers)}: softmax over a single output is the constant 1; "
                "use sigmoid"
            )
        if len(self.target[0]) != shape[0]:
            raise ValueError(
                f"target has {len(self.target[0])} values but the last layer (layer "
                f"{len(self.layers)}) has {shape[0]} outputs"
            )
        check_loss_fits_output(self.loss, last.activation_name, len(self.layers), self.target)
        self._check_frozen_names()
        return self

    def _dense_shape(self, number: int, layer: DenseLayerSpec, n_in: int) -> tuple[int]:
        rows, columns = len(layer.W), len(layer.W[0])
        if columns != n_in:
            raise ValueError(
                f"layer {number}: W{number} has {columns} column{'s' * (columns != 1)} but "
                f"layer {number - 1} has {n_in} outputs (W{number} is {rows}×{columns}: rows = "
                f"output neurons, columns = inputs, z{number} = W{number} a{number - 1} + "
                f"b{number})"
            )
        if layer.b is not None and len(layer.b) != rows:
            raise ValueError(
                f"layer {number}: b{number} has {len(layer.b)} values but W{number} has {rows} "
                "rows (one bias per output neuron)"
            )
        return (rows,)

    def _conv_shape(
        self, number: int, layer: ConvLayerSpec, shape: tuple[int, ...]
    ) -> tuple[int, ...]:
        channels = shape[0]
        given = np.array(layer.W).shape
        W = layer.kernel(channels)
        name = f"W{number}"
        if W.shape[1] != channels:
            raise ValueError(
                f"layer {number}: {name} is {_shape_text(given)}, so its filters read "
                f"{W.shape[1]} channel{'s' * (W.shape[1] != 1)}, but its input "
                f"({'the image' if number == 1 else f'layer {number - 1}'}) has {channels}; "
                f"give {name} as (filters, channels, kh, kw) = ({W.shape[0]}, {channels}, "
                f"{W.shape[2]}, {W.shape[3]})"
            )
        if layer.filters is not None and layer.filters != W.shape[0]:
            raise ValueError(
                f"layer {number}: filters is {layer.filters} but {name} holds {W.shape[0]} "
                f"kernel{'s' * (W.shape[0] != 1)} (W is {_shape_text(W.shape)}: filters, "
                "channels, kh, kw)"
            )
        if layer.kernel_size is not None:
            size = _pair_of(layer.kernel_size, "kernel_size")
            if size != W.shape[2:]:
                raise ValueError(
                    f"layer {number}: kernel_size is {size[0]}×{size[1]} but the kernels of "
                    f"{name} are {W.shape[2]}×{W.shape[3]}"
                )
        if layer.b is not None and len(layer.b) != W.shape[0]:
            raise ValueError(
                f"layer {number}: b{number} has {len(layer.b)} values but {name} has "
                f"{W.shape[0]} filter{'s' * (W.shape[0] != 1)} (one bias per filter)"
            )
        engine = _made(lambda: layer.engine_layer(number, channels), number)
        output = _built(engine, shape, number)
        (top, bottom), (left, right) = engine.pads
        padded = (shape[1] + top + bottom, shape[2] + left + right)
        _stride_fits(number, "kernel", W.shape[2:], engine.stride, padded, "padding")
        return output

    def _pool_shape(
        self, number: int, layer: PoolLayerSpec, shape: tuple[int, ...]
    ) -> tuple[int, ...]:
        engine = _made(lambda: layer.engine_layer(number), number)
        output = _built(engine, shape, number)
        _stride_fits(number, "pool", engine.pool_size, engine.stride, shape[1:], None)
        return output

    # -- what the spec means ------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def n_examples(self) -> int:
        return 1

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of the image."""
        image = np.asarray(self.input)
        return tuple(int(d) for d in image.shape)  # type: ignore[return-value]

    @property
    def kinds(self) -> list[str]:
        """Each layer's type: ``conv2d``, ``max_pool2d``, ``avg_pool2d``, ``flatten``, ``dense``."""
        return [layer.type for layer in self.layers]

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        """[shape of x, shape of a_1, ..., shape of a_L], batch excluded."""
        return [self.input_shape] + [layer.output_shape for layer in self.engine_layers()]

    @property
    def widths(self) -> list[int]:
        """How many numbers each of x, a_1, ..., a_L holds."""
        return [int(np.prod(shape)) for shape in self.shapes]

    def has_parameters(self, number: int) -> bool:
        return isinstance(self.layers[number - 1], ConvLayerSpec | DenseLayerSpec)

    def parameter_names(self) -> list[str]:
        return [
            f"{kind}{n}"
            for n in range(1, self.n_layers + 1)
            if self.has_parameters(n)
            for kind in ("W", "b")
        ]

    def trainable(self, name: str) -> bool:
        """Whether the optimizer updates tensor ``name`` (``"W1"``, ``"b4"``)."""
        return ExplainSpec.trainable(self, name)  # type: ignore[arg-type]

    @property
    def fused(self) -> bool:
        if not self.fuse:
            return False
        loss = get_loss(self.loss.engine_config())
        return loss.fused_with(self.layers[-1].make_activation()) is not None

    def x(self) -> np.ndarray:
        """The image as a float64 batch of one, (1, C, H, W)."""
        return np.array(self.input, dtype=np.float64)[None]

    def y(self) -> np.ndarray:
        """The target as a float64 batch of one, (1, n_L)."""
        return np.array(self.target, dtype=np.float64)

    def weights(self) -> list[np.ndarray | None]:
        """W_l per layer: conv (filters, channels, kh, kw), dense textbook (n_out, n_in);
        None for a layer without parameters."""
        result: list[np.ndarray | None] = []
        shapes = self.shapes
        for number, layer in enumerate(self.layers, start=1):
            if isinstance(layer, ConvLayerSpec):
                result.append(layer.kernel(shapes[number - 1][0]).copy())
            elif isinstance(layer, DenseLayerSpec):
                result.append(np.array(layer.W, dtype=np.float64))
            else:
                result.append(None)
        return result

    def biases(self) -> list[np.ndarray | None]:
        """b_l per layer (zeros where the spec left b out); None without parameters."""
        result: list[np.ndarray | None] = []
        for W, layer in zip(self.weights(), self.layers, strict=True):
            if W is None:
                result.append(None)
            else:
                b = getattr(layer, "b", None)
                result.append(np.zeros(W.shape[0]) if b is None else np.array(b, dtype=np.float64))
        return result

    def engine_layers(self, built: bool = True) -> list[Layer]:
        """Each layer's engine layer (conv_1, pool_2, flatten_3, dense_4), built for its
        input unless ``built`` is False (its activation, if any, is separate:
        ``layers[l].make_activation()``)."""
        result, shape = [], self.input_shape
        for number, layer in enumerate(self.layers, start=1):
            engine = layer.engine_layer(number, shape[0])
            if built:
                shape = engine.build(shape, np.random.default_rng(0))
            else:
                shape = engine.compute_output_shape(shape)
            result.append(engine)
        return result

    def to_model(
        self,
        weights: list[np.ndarray | None] | None = None,
        biases: list[np.ndarray | None] | None = None,
    ) -> Sequential:
        """The engine's float64 ``Sequential``: ``conv_l`` (W as given, (O, C, kh, kw)),
        its activation, ``pool_l``, ``flatten_l``, ``dense_l`` (W TRANSPOSED, as the engine
        stores it) and its activation; ``model.params["conv_1.W"]`` and so on."""
        weights = self.weights() if weights is None else weights
        biases = self.biases() if biases is None else biases
        layers: list[Layer] = []
        for engine, layer in zip(self.engine_layers(built=False), self.layers, strict=True):
            layers.append(engine)
            if isinstance(layer, ConvLayerSpec | DenseLayerSpec):
                layers.append(layer.make_activation())
        model = Sequential(
            layers,
            loss=self.loss.engine_config(),
            input_shape=self.input_shape,
            dtype="float64",
            fuse_loss=self.fuse,
        )
        for number, (W, b) in enumerate(zip(weights, biases, strict=True), start=1):
            if W is None:
                continue
            key = self.engine_name(number)
            model.params[f"{key}.W"] = W if W.ndim == 4 else np.asarray(W).T
            model.params[f"{key}.b"] = b
        return model

    def engine_name(self, number: int) -> str:
        """The engine's name of layer ``number``: conv_1, pool_2, flatten_3, dense_4."""
        prefix = {"conv2d": "conv", "flatten": "flatten", "dense": "dense"}
        return f"{prefix.get(self.kinds[number - 1], 'pool')}_{number}"


def _pair_of(value: int | tuple[int, int], what: str) -> tuple[int, int]:
    items = tuple(value) if isinstance(value, list | tuple) else (value, value)
    if len(items) != 2:
        raise ValueError(f"{what} must be an integer or a pair (height, width), got {value!r}")
    return int(items[0]), int(items[1])


def _made(make: Callable[[], Layer], number: int) -> Layer:
    """The engine layer ``make`` builds; its own argument checks, with the layer named."""
    try:
        return make()
    except ValueError as error:
        raise ValueError(f"layer {number}: {error}") from None


def _built(engine: Layer, shape: tuple[int, ...], number: int) -> tuple[int, ...]:
    """The engine layer's output shape for ``shape``; its own errors, with the layer named."""
    try:
        return engine.build(shape, np.random.default_rng(0))
    except ValueError as error:
        message = str(error).replace(f" {engine.name!r}", "").replace(" None", "")
        raise ValueError(f"layer {number}: {message}") from None


def _stride_fits(
    number: int,
    window: str,
    size: tuple[int, int],
    stride: tuple[int, int],
    extent: tuple[int, int],
    padding: str | None,
) -> None:
    """Every row and column is covered: (extent - size) is a multiple of the stride."""
    for axis, name in enumerate(("rows", "columns")):
        rest = (extent[axis] - size[axis]) % stride[axis]
        if rest:
            fix = f"change the stride or the {padding}" if padding else "change the stride"
            raise ValueError(
                f"layer {number}: stride {stride[axis]} does not fit: a {size[0]}×{size[1]} "
                f"{window} over {extent[0]}×{extent[1]} "
                f"{'padded input' if padding else 'input'} leaves {rest} of the {name} "
                f"uncovered ({extent[axis]} - {size[axis]} is not a multiple of "
                f"{stride[axis]}); {fix}"
            )


# -- loading ---------------------------------------------------------------------------------
def load_spec(path: str | Path) -> ExplainSpec | ConvSpec:
    """Read and validate a spec file; problems raise ``SpecError`` naming the file. A spec
    whose layers hold a conv2d, pooling or flatten layer is a :class:`ConvSpec`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"explain spec not found: {path}")
    raw = read_yaml_mapping(path, "a spec", SpecError, keys="input, target, layers, ...")
    return parse_spec(raw, source=str(path))


def parse_spec(raw: dict[str, Any], source: str = "<spec>") -> ExplainSpec | ConvSpec:
    """Validate a spec given as a dict: a :class:`ConvSpec` when a layer has a ``type``
    (or is ``flatten``), else a dense :class:`ExplainSpec`."""
    kind = ConvSpec if is_conv_spec(raw) else ExplainSpec
    try:
        return kind.model_validate(raw)
    except ValidationError as error:
        raise SpecError(_describe(error, source, kind)) from None


def require_dense(spec: ExplainSpec | ConvSpec, command: str, source: str = "") -> ExplainSpec:
    """``spec`` itself when it is a dense spec; a SpecError naming ``command`` for a
    convolutional one, which only ``chainrule explain`` works so far."""
    if isinstance(spec, ConvSpec):
        where = f"{source}: " if source else ""
        raise SpecError(
            f"{where}{command} covers dense specs; a convolutional spec (conv2d, pooling, "
            "flatten) is worked by chainrule explain"
        )
    return spec


def is_conv_spec(raw: Any) -> bool:
    """Whether the raw spec's layers name a type (conv2d, max_pool2d, flatten, ...)."""
    layers = raw.get("layers") if isinstance(raw, dict) else None
    return isinstance(layers, list) and any(
        isinstance(item, str) or (isinstance(item, dict) and "type" in item) for item in layers
    )


def _describe(error: ValidationError, source: str, kind: type[BaseModel] = ExplainSpec) -> str:
    """One line per problem: 'layer 2: W2: ...', 'unknown key ...; valid keys ...'."""
    problems = []
    said: set[str] = set()
    for item in error.errors():
        location = _location(item["loc"])
        if location and location in said and item["type"] != "extra_forbidden":
            continue  # one line per key: a union (an int or a pair) fails once per member
        said.add(location)
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            parent = tuple(part for part in item["loc"][:-1] if not isinstance(part, int))
            where = _location(item["loc"][:-1]) or "the top level"
            valid = ", ".join(_model_at(parent, item["loc"], kind).model_fields)
            problems.append(f"{where}: unknown key '{item['loc'][-1]}'; valid keys: {valid}")
        elif item["type"] == "layer_type":
            given = item.get("input")
            if isinstance(given, dict):
                what = f"unknown layer type {short_repr(given.get('type'))}"
            else:  # a bare number or string where a layer's mapping belongs
                what = f"a layer is a mapping of its keys, not {short_repr(given)}"
            problems.append(
                f"{location}: {what}"
                f"; a convolutional spec holds {', '.join(SPATIAL_TYPES)} and dense layers"
            )
        elif item["type"] == "missing":
            key = str(item["loc"][-1])
            hint = REQUIRED_HINTS.get(key, "it is required")
            if "conv2d" in item["loc"]:
                hint = REQUIRED_HINTS.get(f"conv2d.{key}", hint)
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
        part in ("str", "int", "list[...]", "function-before[_from_name(), LossSpec]", *LAYER_TAGS)
        or part.startswith(("dict[", "function-", "tuple[", "literal["))
    )


#: The tags of a convolutional spec's layer kinds, in error locations.
LAYER_TAGS = ("conv2d", "pool", "flatten", "dense")


def _model_at(
    location: tuple[Any, ...], loc: tuple[Any, ...] = (), kind: type[BaseModel] = ExplainSpec
) -> type[BaseModel]:
    """The model whose keys are valid at ``location`` (``loc``: the full error location, whose
    union tag names a convolutional spec's layer kind)."""
    model: type[BaseModel] = kind
    nested = {
        "layers": LayerSpec,
        "loss": LossSpec,
        "optimizer": OptimizerSpec,
        "update": UpdateSpec,
    }
    if kind is ConvSpec:
        tags = {
            "conv2d": ConvLayerSpec,
            "pool": PoolLayerSpec,
            "flatten": FlattenLayerSpec,
            "dense": DenseLayerSpec,
        }
        tag = next((part for part in loc if part in tags), "dense")
        nested["layers"] = tags[tag]
    for part in location:
        model = nested.get(str(part), model)
    return model
