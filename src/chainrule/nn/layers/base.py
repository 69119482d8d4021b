"""The contract every layer keeps.

A layer is built once for an input shape (``build``), asks for the parameters it needs
(``parameter_specs``), receives views into the model's flat buffers (``bind``), and then runs
``forward(x, training)`` — caching exactly what its backward needs — and ``backward(dout)``,
which fills its parameter gradients and returns ``dL/d(input)`` for the layer below.

Shapes exclude the batch dimension everywhere in this API: a Dense layer on MNIST has
``input_shape == (784,)``; batches are rows, so ``x`` has shape ``(m, 784)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from chainrule.nn.params import ParameterSpec


class Layer:
    """Base class: identity shape, no parameters. Subclasses override what they need."""

    #: The name recipes and model files use for this layer type (``"dense"``, ``"relu"``, …).
    type_name: ClassVar[str] = "layer"
    #: True when an example's output depends on the other examples of its batch (batch
    #: statistics): such a model cannot split a batch across threads without changing results.
    mixes_examples: ClassVar[bool] = False
    #: True when training-mode forward draws random numbers (dropout masks).
    draws_in_training: ClassVar[bool] = False

    def __init__(self, name: str | None = None) -> None:
        if name is not None and (not isinstance(name, str) or not name or "." in name):
            raise ValueError(f"a layer name must be a non-empty string without '.', got {name!r}")
        self.name = name
        self.input_shape: tuple[int, ...] | None = None
        self.output_shape: tuple[int, ...] | None = None
        #: The model sets this False on its first layer when nobody needs dL/d(input).
        self.needs_input_grad = True

    # -- construction -------------------------------------------------------------------
    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        """Fix the input shape; return the output shape. ``rng`` is for layers that draw."""
        self.input_shape = tuple(int(d) for d in input_shape)
        self.output_shape = self.compute_output_shape(self.input_shape)
        return self.output_shape

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape

    def parameter_specs(self) -> dict[str, ParameterSpec]:
        """Local parameter names (``"W"``, ``"b"``) -> what to allocate and how to initialize."""
        return {}

    def bind(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Receive views into the model's parameter and gradient buffers."""

    # -- computation --------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        raise NotImplementedError

    # -- description --------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """Everything needed to rebuild this layer (parameters travel separately)."""
        return {"type": self.type_name, "name": self.name}

    def count_params(self) -> int:
        return sum(int(np.prod(spec.shape)) for spec in self.parameter_specs().values())

    def multiply_adds(self) -> int:
        """Multiply-adds of one example's forward pass in matrix products (0 for elementwise
        layers); backward costs about twice that. Used to size the threads a step gets."""
        return 0

    def __repr__(self) -> str:
        arguments = ", ".join(
            f"{key}={value!r}"
            for key, value in self.get_config().items()
            if key not in ("type", "name") and value is not None
        )
        return f"{type(self).__name__}({arguments})"

    def _check_built(self) -> None:
        if self.input_shape is None:
            raise RuntimeError(
                f"layer {self.name or self.type_name!r} is not built yet; add it to a "
                "Sequential model (or call layer.build(input_shape, rng)) first"
            )

    def _check_forward_ran(self, cache: object) -> None:
        if cache is None:
            raise RuntimeError(
                f"layer {self.name or self.type_name!r}: backward() called before "
                "forward(x, training=True)"
            )
