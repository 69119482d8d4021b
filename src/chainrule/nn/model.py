"""Sequential: a stack of layers, a loss, and the flat buffers that hold every parameter.

Also the model's side of its file: ``save``/``load`` turn the architecture into plain data
(``get_config``) and back; ``chainrule.nn.model_file`` only stores that data with the tensors.
"""

from __future__ import annotations

import html
import itertools
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.nn.batching import chunk_rows
from chainrule.nn.layers import Dense, Layer, layer_from_config
from chainrule.nn.losses import L2Penalty, Loss, get_loss
from chainrule.nn.memory import check_memory, not_enough_memory, parameter_memory
from chainrule.nn.model_file import read_model_file, write_model_file
from chainrule.nn.params import ParameterSpec, ParameterStore
from chainrule.utils.markup import fragment, html_table
from chainrule.utils.validation import is_integer

DTYPES = {"float32": np.float32, "float64": np.float64}
#: Activation values an inference chunk may produce: small arrays stay in the CPU caches.
INFERENCE_VALUES = 1_000_000


@dataclass(frozen=True)
class LossBreakdown:
    """The loss of one batch: the data term, the L2 term, and their sum."""

    data: float
    l2: float

    @property
    def total(self) -> float:
        return self.data + self.l2


class Sequential:
    """Layers applied in order; forward, backward, predict, summary, save and load.

    >>> model = Sequential(
    ...     [Dense(64), Sigmoid(), Dense(10), Softmax()],
    ...     loss="categorical_crossentropy", input_shape=(784,), seed=0)

    or, one layer at a time, with the input shape taken from the first data seen:

    >>> model = Sequential(loss="categorical_crossentropy")
    >>> model.add(Dense(64, activation="sigmoid"))   # a Dense layer, then a Sigmoid layer
    >>> model.add(Dense(10, activation="softmax"))
    >>> model.predict_proba(x_train[:1])             # builds for x_train's shape (784,)

    The model is built (its parameters allocated and drawn) as soon as it knows its input
    shape: at construction when ``input_shape`` is given (or the first Dense layer has
    ``input_dim``/``input_shape``), otherwise at ``build(input_shape)`` or on the first data it
    sees. Layers added to a built model are built on the next use; the weights of the layers
    before them are kept. Using ``params`` or ``summary`` before the shape is known is an error
    that says how to give it.

    Building allocates one flat parameter buffer and one flat gradient buffer and hands each
    layer views into them (``model.params["dense_1.W"]``, ``model.grads["dense_1.W"]``).
    All parameters are drawn from one ``np.random.Generator`` seeded by ``seed``: the same
    seed gives identical weights. The same generator later draws dropout masks.

    Backward pass: ``backward(y)`` starts from dL/d(output) and hands each layer the gradient
    of the loss with respect to its output, last layer first. When the last layer is Softmax
    and the loss categorical cross-entropy (or Sigmoid and binary cross-entropy), the two are
    fused: the backward starts from dL/dz = (a - y)/m at the logits, skipping the activation.
    ``fuse_loss=False`` turns that off (same gradients, computed through the activation's
    Jacobian and -y/a — slower and less stable, but instructive).
    """

    def __init__(
        self,
        layers: Sequence[Layer] = (),
        loss: str | dict[str, Any] | Loss | None = None,
        *,
        input_shape: Sequence[int] | int | None = None,
        l2: float = 0.0,
        l2_biases: bool = False,
        dtype: str | type | np.dtype = "float32",
        seed: int | np.random.Generator | None = 0,
        fuse_loss: bool = True,
    ) -> None:
        self.layers: list[Layer] = []
        self.dtype = _resolve_dtype(dtype)
        self.loss = get_loss(loss) if loss is not None else None
        self.l2 = L2Penalty(l2)
        self.l2_biases = bool(l2_biases)
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.fuse_loss = bool(fuse_loss)
        self._fused_loss: Loss | None = None
        self._cached_output: np.ndarray | None = None
        #: The shape of one example (batch dimension excluded); None until it is known.
        self.input_shape = None if input_shape is None else _check_input_shape(input_shape)
        self._params: ParameterStore | None = None
        self._output_shape: tuple[int, ...] | None = None
        self._built_layers = 0  # how many of self.layers the parameter buffer covers
        for layer in layers:
            self.add(layer)
        if self.layers and self._declared_input_shape() is not None:
            self.build()

    # -- construction -------------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        """Append ``layer``; a ``Dense(units, activation=...)`` appends its activation layer
        right after it (``dense_1`` then ``relu_1``: two layers, as the summary shows)."""
        if not isinstance(layer, Layer):
            raise TypeError(f"layer {len(self.layers) + 1} is not a Layer, got {layer!r}")
        if any(layer is present for present in self.layers):
            raise ValueError(f"layer {layer!r} is already in this model; add a new instance")
        self.layers.append(layer)
        if isinstance(layer, Dense) and layer.activation is not None:
            self.add(layer.activation)
        self._refresh_fusion()

    def set_loss(self, loss: str | dict[str, Any] | Loss | None) -> None:
        """Replace the loss, and decide again whether it fuses with the output activation."""
        self.loss = get_loss(loss) if loss is not None else None
        self._cached_output = None
        self._refresh_fusion()

    def _refresh_fusion(self) -> None:
        fuse = self.loss is not None and self.fuse_loss and self.layers
        self._fused_loss = self.loss.fused_with(self.layers[-1]) if fuse else None

    @property
    def built(self) -> bool:
        """True when every layer is built and holds its parameters."""
        return self._params is not None and self._built_layers == len(self.layers)

    @property
    def params(self) -> ParameterStore:
        """Every parameter, in one flat buffer (``params.data``), by name."""
        return self._require_built()

    @property
    def grads(self) -> Any:
        """The gradients, keyed like ``params`` (views into ``params.grad_data``)."""
        return self._require_built().grads

    @property
    def output_shape(self) -> tuple[int, ...]:
        """The shape of one example's output (batch dimension excluded)."""
        self._require_built()
        return self._output_shape

    def build(self, input_shape: Sequence[int | None] | int | None = None) -> None:
        """Fix the input shape and allocate the parameters of every layer not built yet.

        ``input_shape`` excludes the batch dimension; a Keras-style leading ``None``
        (``(None, 784)``) is dropped. Without it, the shape given at construction (or by the
        first Dense layer's ``input_dim``) is used. Layers built before keep their weights;
        new layers draw theirs from the model's generator, in layer order, so building in
        steps gives the same weights as building at once.
        """
        if input_shape is not None:
            shape = _check_input_shape(input_shape)
            if self.input_shape is not None and shape != self.input_shape:
                raise ValueError(
                    f"this model takes input of shape {self.input_shape}, got input_shape={shape}"
                )
        else:
            shape = self._declared_input_shape()
            if shape is None:
                raise ValueError(
                    "this model does not know its input shape yet: pass input_shape=(784,) "
                    "to Sequential (or to its first layer), call model.build((784,)), or give "
                    "it data (fit, predict, forward) and it takes the shape from that"
                )
        if not self.layers:
            raise ValueError("this model has no layers yet; add some with model.add(Dense(64))")
        if self.built:
            return
        self._build_layers(shape)
        self.input_shape = shape

    def _declared_input_shape(self) -> tuple[int, ...] | None:
        if self.input_shape is not None:
            return self.input_shape
        input_dim = getattr(self.layers[0], "input_dim", None) if self.layers else None
        return None if input_dim is None else (int(input_dim),)

    def _require_built(self) -> ParameterStore:
        if not self.built:
            self.build()
        return self._params

    def _name_layers(self) -> None:
        """Give unnamed layers Keras-style names: dense_1, relu_1, dense_2 …"""
        taken = {layer.name for layer in self.layers if layer.name}
        counts: dict[str, int] = {}
        for layer in self.layers:
            if layer.name:
                continue
            while True:
                counts[layer.type_name] = counts.get(layer.type_name, 0) + 1
                candidate = f"{layer.type_name}_{counts[layer.type_name]}"
                if candidate not in taken:
                    break
            layer.name = candidate
            taken.add(candidate)
        names = [layer.name for layer in self.layers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"layer names must be unique, repeated: {', '.join(duplicates)}")

    def _build_layers(self, input_shape: tuple[int, ...]) -> None:
        """Build the layers from ``self._built_layers`` on, then lay out one buffer for all."""
        self._name_layers()
        new = self._built_layers
        shape = input_shape if new == 0 else self._output_shape
        for position, layer in enumerate(self.layers[new:], start=new + 1):
            try:
                shape = layer.build(shape, self.rng)
            except ValueError as error:
                raise ValueError(f"{error} (layer {position} of the model)") from None
        specs: dict[str, ParameterSpec] = {}
        for layer in self.layers:
            for local, spec in layer.parameter_specs().items():
                if self.l2_biases and not spec.regularize:
                    spec = ParameterSpec(spec.shape, spec.initializer, spec.fan_in, spec.fan_out)
                specs[f"{layer.name}.{local}"] = spec
        previous, params = self._params, self._allocate(specs)
        # Initialize in layer order (not buffer order) so that adding a regularized tensor
        # never changes the draws of the layers before it.
        for layer in self.layers:
            for local, spec in layer.parameter_specs().items():
                name = f"{layer.name}.{local}"
                if previous is not None and name in previous:
                    params[name] = previous[name]  # built earlier: keep its weights
                else:
                    params[name] = spec.initializer(spec.shape, spec.fan_in, spec.fan_out, self.rng)
        self._params, self._output_shape = params, shape
        self._built_layers = len(self.layers)
        self._bind_layers()

    def _allocate(self, specs: dict[str, ParameterSpec]) -> ParameterStore:
        """The flat buffers for ``specs``, once the memory they take is known to be free
        (``chainrule.nn.memory``): an absurd width is one clear error, not a MemoryError."""
        estimate = parameter_memory(specs, self.dtype)
        check_memory(estimate)
        try:
            return ParameterStore(specs, self.dtype)
        except MemoryError:
            raise not_enough_memory(estimate, None) from None

    def _bind_layers(self) -> None:
        for layer in self.layers:
            local_names = layer.parameter_specs()
            layer.bind(
                {k: self.params[f"{layer.name}.{k}"] for k in local_names},
                {k: self.grads[f"{layer.name}.{k}"] for k in local_names},
            )

    def replica(self, seed: int | np.random.Generator | None = None) -> Sequential:
        """A twin for data-parallel training (``chainrule.training.parallel``).

        It has the same layers and *the same parameter buffer* (shared memory: an optimizer
        step on this model is seen by the replica at once), but its own gradient buffer,
        layer caches, and random generator (``seed``) for dropout masks.
        """
        twin = Sequential.from_config(self.get_config(), dtype=self.dtype, seed=seed)
        twin.set_layer_states(self.layer_states())
        twin.params.data = self.params.data
        twin._bind_layers()
        return twin

    # -- computation --------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Run every layer; returns the network's output (probabilities after softmax)."""
        return self.forward_batch(self._check_input(x), training)

    def forward_batch(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """``forward`` without the input checks, for loops that checked their data once.

        ``x`` must already have the model's dtype and input shape and be finite.
        """
        a = x
        fused = self._fused_loss is not None
        for layer in self.layers[:-1] if fused else self.layers:
            a = layer.forward(a, training)
        if fused:
            self._logits = a
            a = self.layers[-1].forward(a, training)
        self._cached_output = a
        return a

    def compute_loss(self, output: np.ndarray, y: Any) -> LossBreakdown:
        """The loss of ``output`` (from ``forward``) against ``y``, plus the L2 term."""
        loss = self._require_loss()
        if self._fused_loss is not None and output is self._cached_output:
            data = self._fused_loss.value_from_activation(output, self._logits, y)
        else:
            data = loss.value(output, y)
        return LossBreakdown(data, self.l2.value(self._regularized()))

    def loss_and_backward(self, y: Any) -> LossBreakdown:
        """``compute_loss`` of the last ``forward`` against ``y``, then ``backward(y)``: what a
        training step does, in one call that checks ``y`` once and, with a fused output
        activation, reads the loss and δ off its output together (the same numbers)."""
        self._require_loss()
        if self._cached_output is None:
            raise RuntimeError("loss_and_backward(y) needs a forward(x, training=True) first")
        if self._fused_loss is None:
            loss = self.compute_loss(self._cached_output, y)
            self.backward(y)
            return loss
        data, delta = self._fused_loss.value_and_gradient_from_activation(
            self._cached_output, self._logits, y
        )
        self.backward_from(delta, self.layers[:-1], input_grad=False)
        return LossBreakdown(data, self.l2.value(self._regularized()))

    def loss_value(self, x: np.ndarray, y: Any) -> LossBreakdown:
        """Forward ``x`` in inference mode and return the loss against ``y``."""
        return self.compute_loss(self.forward(x), y)

    def backward(self, y: Any, input_grad: bool = False) -> np.ndarray | None:
        """Backpropagate the loss of the last ``forward`` against ``y``.

        Fills ``model.grads`` (overwriting, never accumulating) including the L2 term, and
        returns dL/d(input) when ``input_grad`` is true.
        """
        self._require_loss()
        if self._cached_output is None:
            raise RuntimeError("backward(y) needs a forward(x, training=True) first")
        if self._fused_loss is not None:
            # The output activation already computed softmax(z) or σ(z): reuse it.
            delta = self._fused_loss.gradient_from_activation(self._cached_output, y)
            layers = self.layers[:-1]
        else:
            delta = self.loss.gradient(self._cached_output, y)
            layers = self.layers
        return self.backward_from(delta, layers, input_grad)

    def backward_from(
        self, dout: np.ndarray, layers: Sequence[Layer] | None = None, input_grad: bool = True
    ) -> np.ndarray | None:
        """Backpropagate a given dL/d(output) through ``layers`` (default: all of them)."""
        layers = self.layers if layers is None else layers
        for position, layer in enumerate(reversed(layers)):
            layer.needs_input_grad = input_grad or position < len(layers) - 1
            dout = layer.backward(dout)
        self.l2.add_gradient(self._regularized(), self._regularized(self.params.grad_data))
        return dout

    def predict_proba(self, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Network outputs for ``x`` in inference mode, computed in chunks to bound memory
        (at most ``batch_size`` examples, fewer for big networks: see ``inference_chunk``)."""
        x = self._check_input(x)
        batch_size = self.inference_chunk(batch_size)
        chunks = [self._forward_inference(x[rows]) for rows in chunk_rows(x.shape[0], batch_size)]
        return np.concatenate(chunks) if chunks else np.empty((0, *self.output_shape), self.dtype)

    def predict(self, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Predicted classes: argmax of the outputs, or output > 0.5 for one sigmoid unit."""
        return classes_of(self.predict_proba(x, batch_size))

    def _forward_inference(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x, training=False)
        return x

    def _check_input(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind not in "biuf":
            raise ValueError(f"model input must be numeric, got dtype {x.dtype}")
        if not self.built:
            self._build_for(x)
        if x.shape[1:] != self.input_shape:
            if x.shape == self.input_shape:
                hint = "; for one example pass x[None] (a batch of one)"
            else:
                hint = ""
            raise ValueError(
                f"model expects input of shape (batch, {', '.join(map(str, self.input_shape))}), "
                f"got {x.shape}{hint}"
            )
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
            bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
            raise ValueError(
                f"model input contains {bad} NaN or infinite value(s); clean or impute the data"
            )
        return x

    def _build_for(self, x: np.ndarray) -> None:
        """Build for the shape of ``x``'s examples when no input shape was given."""
        if self._declared_input_shape() is not None:
            self.build()
        elif x.ndim < 2:
            raise ValueError(
                f"the model takes its input shape from the first batch it sees, got an array "
                f"of shape {x.shape}; pass a batch (rows are examples; x[None] for one example)"
            )
        else:
            self.build(x.shape[1:])

    def _require_loss(self) -> Loss:
        if self.loss is None:
            raise ValueError("this model has no loss; pass loss=... to Sequential")
        return self.loss

    def _regularized(self, buffer: np.ndarray | None = None) -> np.ndarray:
        buffer = self.params.data if buffer is None else buffer
        return buffer[: self.params.n_regularized]

    # -- description --------------------------------------------------------------------
    def count_params(self) -> int:
        return self.params.size

    def activation_size(self) -> int:
        """Values one example leaves in the layers' outputs: the elementwise work and memory
        of a forward pass, per example."""
        self._require_built()
        return sum(math.prod(layer.output_shape) for layer in self.layers)

    def inference_chunk(self, limit: int) -> int:
        """Examples per inference chunk: at most ``limit``, and few enough that a chunk's
        activations stay under ``INFERENCE_VALUES`` (cnn-lenet: 12 images, about 5x faster
        than 2,048 at once, whose im2col matrices alone take 400 MB)."""
        return max(1, min(limit, INFERENCE_VALUES // max(1, self.activation_size())))

    def multiply_adds(self) -> int:
        """Multiply-adds of one example's forward pass in matrix products (layer by layer:
        Dense fan_in·fan_out, Conv2D out_channels·in_channels·kh·kw·Ho·Wo)."""
        self._require_built()
        return sum(layer.multiply_adds() for layer in self.layers)

    def summary_rows(self) -> list[tuple[str, str, int]]:
        """(layer, output shape, parameter count) for each layer."""
        self._require_built()
        rows = []
        for layer in self.layers:
            shape = "(None, " + ", ".join(map(str, layer.output_shape)) + ")"
            rows.append((f"{layer.name} ({type(layer).__name__})", shape, layer.count_params()))
        return rows

    def summary(self) -> str:
        """A Keras-style table: layer, output shape, parameter count, and the totals."""
        rows = self.summary_rows()
        header = ("Layer (type)", "Output shape", "Param #")
        widths = [max(len(header[i]), *(len(str(r[i])) for r in rows)) for i in range(2)]
        widths.append(max(len(header[2]), *(len(f"{r[2]:,}") for r in rows)))
        rule = "─" * (sum(widths) + 6)
        lines = [
            self._summary_title(),
            rule,
            f"{header[0]:<{widths[0]}}   {header[1]:<{widths[1]}}   {header[2]:>{widths[2]}}",
            rule,
        ]
        for name, shape, count in rows:
            lines.append(f"{name:<{widths[0]}}   {shape:<{widths[1]}}   {count:>{widths[2]},}")
        totals, note = self._summary_notes()
        lines += [rule, *totals]
        if note:
            lines += textwrap.wrap(note, width=max(len(rule), 60))
        return "\n".join(lines)

    def _summary_title(self) -> str:
        return f"Model: Sequential, input shape (None, {', '.join(map(str, self.input_shape))})"

    def _summary_notes(self) -> tuple[list[str], str]:
        """The lines under the summary's table (parameter totals, the loss), and the note of
        which activation layers came from ``Dense(activation=...)`` ("" if none)."""
        total = self.count_params()
        frozen = sum(state.size for state in self.layer_states().values())
        notes = [
            f"Total params: {total + frozen:,}",
            f"Trainable params: {total:,}",
            f"Non-trainable params: {frozen:,}",
        ]
        if self.loss is not None:
            fused = " (fused with the output activation)" if self._fused_loss else ""
            notes.append(f"Loss: {self.loss.type_name}{fused}")
        pairs = self._dense_activation_pairs()
        note = ""
        if pairs:
            note = (
                "Dense(units, activation=...) is a Dense layer followed by its activation "
                "layer: " + ", ".join(f"{dense} → {activation}" for dense, activation in pairs)
            )
        return notes, note

    def _repr_html_(self) -> str | None:
        """The summary as an HTML table, for Jupyter (not built yet: None, so a notebook shows
        the plain repr, since showing a model must not build it)."""
        if not self.built:
            return None
        rows = [
            (html.escape(name), html.escape(shape), f"{count:,}")
            for name, shape, count in self.summary_rows()
        ]
        table = html_table(("Layer (type)", "Output shape", "Param #"), rows, align="llr")
        totals, note = self._summary_notes()
        notes = "<br>\n".join(html.escape(line) for line in [*totals, note] if line)
        title = html.escape(self._summary_title().removeprefix("Model: "))
        return fragment(f"<p><strong>{title}</strong></p>\n{table}\n<p>{notes}</p>")

    def _dense_activation_pairs(self) -> list[tuple[str, str]]:
        """(dense, activation) names of the activations that came from Dense(activation=)."""
        return [
            (layer.name, following.name)
            for layer, following in itertools.pairwise(self.layers)
            if isinstance(layer, Dense) and layer.activation is following
        ]

    def get_config(self) -> dict[str, Any]:
        """The architecture as plain data: what a model file stores besides the weights."""
        self._require_built()
        return {
            "input_shape": list(self.input_shape),
            "layers": [layer.get_config() for layer in self.layers],
            "loss": self.loss.get_config() if self.loss else None,
            "l2": self.l2.strength,
            "l2_biases": self.l2_biases,
            "dtype": self.dtype.name,
            "fuse_loss": self.fuse_loss,
        }

    @classmethod
    def from_config(
        cls,
        config: dict[str, Any],
        dtype: str | type | np.dtype | None = None,
        seed: int | np.random.Generator | None = 0,
    ) -> Sequential:
        """Rebuild the architecture (weights freshly initialized; load them separately)."""
        try:
            layers = [layer_from_config(dict(c)) for c in config["layers"]]
            return cls(
                layers,
                loss=config.get("loss"),
                input_shape=config["input_shape"],
                l2=config.get("l2", 0.0),
                l2_biases=config.get("l2_biases", False),
                dtype=dtype or config.get("dtype", "float32"),
                fuse_loss=config.get("fuse_loss", True),
                seed=seed,
            )
        except KeyError as error:
            raise ValueError(f"model config is missing the key {error}") from None

    def astype(self, dtype: str | type | np.dtype) -> Sequential:
        """A copy of this model with every parameter in ``dtype`` (e.g. float64 for checks)."""
        copy = Sequential.from_config(self.get_config(), dtype=dtype)
        copy.params.data[...] = self.params.data
        copy.set_layer_states(self.layer_states())
        return copy

    def layer_states(self) -> dict[str, np.ndarray]:
        """State that layers keep besides parameters (running statistics …), by name.

        Layers with such state have ``get_state()``/``set_state()``; the optimizer never
        touches it, and model files store it as ``<layer>.state.<key>``.
        """
        states = {}
        for layer in self.layers:
            if hasattr(layer, "get_state"):
                for key, value in layer.get_state().items():
                    states[f"{layer.name}.state.{key}"] = np.array(value)
        return states

    def set_layer_states(self, states: dict[str, np.ndarray]) -> None:
        for layer in self.layers:
            if hasattr(layer, "set_state"):
                prefix = f"{layer.name}.state."
                mine = {k[len(prefix) :]: v for k, v in states.items() if k.startswith(prefix)}
                if mine:
                    layer.set_state(mine)

    def save(self, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
        """Write weights, layer states and architecture to a safetensors model file
        (atomically); ``metadata`` (JSON-serializable) travels as the file's extras."""
        tensors = {**self.params.to_dict(), **self.layer_states()}
        return write_model_file(path, tensors, self.get_config(), metadata)

    @classmethod
    def load(cls, path: str | Path) -> Sequential:
        """Read a model written by ``save``. Loading never executes code from the file."""
        return cls.load_with_extra(path)[0]

    @classmethod
    def load_with_extra(cls, path: str | Path) -> tuple[Sequential, dict[str, Any]]:
        """The model stored in ``path`` and the extras saved with it."""
        stored = read_model_file(path)
        try:
            model = cls.from_config(stored.architecture)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{path}: the stored architecture is invalid: {error}") from None
        model._set_stored_tensors(stored.tensors, str(path))
        return model, stored.extra

    def _set_stored_tensors(self, tensors: dict[str, np.ndarray], source: str) -> None:
        """Copy a model file's tensors into the parameters and layer states, checking that
        their names, shapes and dtypes are exactly what this architecture needs."""
        states = self.layer_states()
        expected = set(self.params.keys()) | set(states)
        if set(tensors) != expected:
            missing = sorted(expected - set(tensors))
            unexpected = sorted(set(tensors) - expected)
            raise ValueError(
                f"{source}: the tensors do not match the stored architecture "
                f"(missing: {', '.join(missing) or 'none'}; "
                f"unexpected: {', '.join(unexpected) or 'none'})"
            )
        for name, array in tensors.items():
            target = states[name] if name in states else self.params[name]
            if array.shape != target.shape or array.dtype != target.dtype:
                raise ValueError(
                    f"{source}: tensor {name!r} is {array.dtype}{list(array.shape)}, the "
                    f"architecture needs {target.dtype}{list(target.shape)}"
                )
            target[...] = array
        self.set_layer_states({name: tensors[name] for name in states})

    def __repr__(self) -> str:
        if not self.built:  # showing a model must not build it
            return f"Sequential({len(self.layers)} layers, not built yet)"
        return f"Sequential({len(self.layers)} layers, {self.count_params():,} parameters)"


def save_model(model: Sequential, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` to ``path`` atomically (``model.save``); ``extra`` must be
    JSON-serializable."""
    return model.save(path, extra)


def load_model(path: str | Path) -> tuple[Sequential, dict[str, Any]]:
    """Rebuild the model stored in ``path``; returns it and the ``extra`` metadata."""
    return Sequential.load_with_extra(path)


def _check_input_shape(input_shape: Any) -> tuple[int, ...]:
    """One example's shape as positive integers; a Keras-style leading None is dropped."""
    try:
        shape = (input_shape,) if isinstance(input_shape, int | np.integer) else tuple(input_shape)
    except TypeError:
        shape = ()
    if len(shape) > 1 and shape[0] is None:
        shape = shape[1:]
    valid = all(is_integer(d) and d > 0 for d in shape)
    if not shape or not valid:
        raise ValueError(
            f"input_shape must be positive integers (batch dimension excluded), got {input_shape!r}"
        )
    return tuple(int(d) for d in shape)


def _resolve_dtype(dtype: Any) -> np.dtype:
    try:
        resolved = np.dtype(DTYPES.get(dtype, dtype) if isinstance(dtype, str) else dtype)
    except TypeError:
        resolved = None
    if resolved not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return resolved


def classes_of(proba: np.ndarray) -> np.ndarray:
    """Predicted classes from network outputs: argmax, or output > 0.5 for one sigmoid unit."""
    if proba.ndim == 2 and proba.shape[1] == 1:
        return (proba[:, 0] > 0.5).astype(np.int64)
    return proba.argmax(axis=1)
