"""One contiguous buffer for every parameter, one for every gradient.

Layers do not own their arrays: they hold *views* into two flat buffers, ``data`` and
``grad``. ``params["dense_1.W"]`` and ``params.grads["dense_1.W"]`` are the same slice of the
two buffers, so they always pair up, and an optimizer step is a few ufuncs over the whole
buffer instead of a Python loop over tensors.

Weights that L2 regularization applies to are laid out first, so the penalty and its gradient
are one slice too: ``grad_data[:n_regularized] += l2 * data[:n_regularized]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ParameterSpec:
    """What a layer asks for: a named tensor of a shape, drawn by an initializer.

    ``fan_in``/``fan_out`` are what variance-scaling initializers need (for a Dense layer the
    two sides of W; for a convolution, channels times kernel area). ``regularize`` says whether
    L2 weight decay applies (weights yes, biases only if asked).
    """

    shape: tuple[int, ...]
    initializer: object
    fan_in: int
    fan_out: int
    regularize: bool = True


class ParameterStore:
    """Named views into one flat parameter buffer and one flat gradient buffer."""

    def __init__(self, specs: dict[str, ParameterSpec], dtype: np.dtype) -> None:
        # Regularized tensors first: the L2 term then touches one contiguous slice.
        ordered = sorted(specs.items(), key=lambda item: not item[1].regularize)
        self.dtype = np.dtype(dtype)
        self.specs = dict(ordered)
        self.size = sum(int(np.prod(spec.shape)) for spec in self.specs.values())
        self.n_regularized = sum(
            int(np.prod(spec.shape)) for spec in self.specs.values() if spec.regularize
        )
        self.data = np.zeros(self.size, dtype=self.dtype)
        self.grad_data = np.zeros(self.size, dtype=self.dtype)
        self.grads = GradientView(self)
        self._slices: dict[str, slice] = {}
        offset = 0
        for name, spec in self.specs.items():
            count = int(np.prod(spec.shape))
            self._slices[name] = slice(offset, offset + count)
            offset += count

    def view(self, name: str, buffer: np.ndarray | None = None) -> np.ndarray:
        """The tensor ``name`` as a shaped view into ``buffer`` (default: the parameters)."""
        if name not in self._slices:
            known = ", ".join(self._slices) or "(none)"
            raise KeyError(f"no parameter named {name!r}; the model has: {known}")
        buffer = self.data if buffer is None else buffer
        return buffer[self._slices[name]].reshape(self.specs[name].shape)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.view(name)

    def __setitem__(self, name: str, value: np.ndarray) -> None:
        target = self.view(name)
        value = np.asarray(value)
        if value.shape != target.shape:
            raise ValueError(
                f"parameter {name!r} has shape {target.shape}, got an array of shape {value.shape}"
            )
        target[...] = value

    def __contains__(self, name: object) -> bool:
        return name in self._slices

    def __iter__(self) -> Iterator[str]:
        return iter(self._slices)

    def __len__(self) -> int:
        return len(self._slices)

    def keys(self) -> list[str]:
        return list(self._slices)

    def items(self) -> Iterator[tuple[str, np.ndarray]]:
        for name in self._slices:
            yield name, self.view(name)

    def to_dict(self) -> dict[str, np.ndarray]:
        """A copy of every tensor, keyed by name (what a model file stores)."""
        return {name: np.array(array) for name, array in self.items()}


class GradientView:
    """The flat gradient buffer, also indexable by parameter name like the store itself."""

    def __init__(self, store: ParameterStore) -> None:
        self._store = store

    def __getitem__(self, name: str) -> np.ndarray:
        return self._store.view(name, self._store.grad_data)

    def __iter__(self) -> Iterator[str]:
        return iter(self._store)

    def items(self) -> Iterator[tuple[str, np.ndarray]]:
        for name in self._store:
            yield name, self[name]
