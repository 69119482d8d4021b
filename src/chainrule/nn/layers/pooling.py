"""Max and average pooling over (batch, channels, height, width) images."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from chainrule.nn import kernels
from chainrule.nn.formulas import LayerEquation, LayerMath, add_math_to_docstring
from chainrule.nn.layers.base import Layer
from chainrule.nn.layers.conv2d import _pair, pair_text, window_index


class _Pool2D(Layer):
    """Shared shape logic: a (ph, pw) window moved by (sh, sw), no padding.

    Output size Ho = ⌊(H - ph) / sh⌋ + 1 (likewise Wo): rows and columns that do not fill a
    whole window are dropped, as PyTorch does by default (``ceil_mode=False``).
    """

    def __init__(
        self,
        pool_size: int | tuple[int, int] = 2,
        stride: int | tuple[int, int] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        label = type(self).__name__
        self.pool_size = _pair(pool_size, "pool_size", minimum=1, layer=label)
        self.stride = self.pool_size if stride is None else _pair(stride, "stride", 1, label)

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        label = type(self).__name__
        if len(input_shape) != 3:
            raise ValueError(
                f"{label} {self.name!r} expects input (channels, height, width), got "
                f"{tuple(input_shape)}; set data.shape: image"
            )
        channels, height, width = input_shape
        ph, pw = self.pool_size
        if height < ph or width < pw:
            raise ValueError(
                f"{label} {self.name!r}: pool {ph}x{pw} is larger than its input "
                f"{height}x{width} (input shape {tuple(input_shape)})"
            )
        sh, sw = self.stride
        return (channels, (height - ph) // sh + 1, (width - pw) // sw + 1)

    def _check_input(self, x: np.ndarray) -> None:
        self._check_built()
        if x.ndim != 4 or x.shape[1:] != self.input_shape:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expects input of shape (batch, "
                f"{', '.join(map(str, self.input_shape))}), got {x.shape}"
            )

    def _window_offsets(self, array: np.ndarray) -> list[np.ndarray]:
        """For each offset (p, q) in the window, row-major: the view array[:, :, s·i+p, s·j+q].

        Each view has the output's shape (N, C, Ho, Wo); they share memory with ``array``,
        so writing into them scatters back into it.
        """
        _, out_height, out_width = self.output_shape
        sh, sw = self.stride
        row_span, col_span = sh * (out_height - 1) + 1, sw * (out_width - 1) + 1
        return [
            array[:, :, p : p + row_span : sh, q : q + col_span : sw]
            for p in range(self.pool_size[0])
            for q in range(self.pool_size[1])
        ]

    @property
    def _windows_tile(self) -> bool:
        """Whether the windows cover every input position exactly once."""
        _, height, width = self.input_shape
        _, out_height, out_width = self.output_shape
        return self.stride == self.pool_size and (
            out_height * self.pool_size[0],
            out_width * self.pool_size[1],
        ) == (height, width)

    @property
    def _two_by_two(self) -> bool:
        """2x2 windows moved by 2, the common case, which has compiled kernels."""
        return self.pool_size == self.stride == (2, 2)

    @property
    def _windows_overlap(self) -> bool:
        return self.stride[0] < self.pool_size[0] or self.stride[1] < self.pool_size[1]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "stride": list(self.stride),
        }


class MaxPool2D(_Pool2D):
    """Max pooling: each output is the largest input in its window.

    Shapes: x (N, C, H, W) -> a (N, C, Ho, Wo); channels are pooled independently.
    Forward:   a[n, c, i, j] = max_{p, q} x[n, c, s·i + p, s·j + q]
    Local derivative: ∂a[n, c, i, j]/∂x[n, c, s·i + p, s·j + q] = 1 at the window's argmax
    (p*, q*), 0 elsewhere — the max passes its input through and ignores the rest.
    Backward, given dout = dL/da:
        dx[n, c, s·i + p*, s·j + q*] += dout[n, c, i, j],   dx = 0 at every other position
    (``+=`` because overlapping windows, stride < pool size, can share an argmax).

    The forward keeps the argmax of every window (its offset p·pw + q, as int8/int16) for the
    backward. Ties route the whole gradient to the *first* maximum in row-major order, as
    PyTorch does; the max itself is the same whichever tied entry is chosen.
    """

    type_name = "max_pool2d"
    math = LayerMath(
        name="max pooling",
        forward=(
            LayerEquation(
                "{out}[n, c, i, j]",
                r"\max_{{p,q}} {x}[n, c, {ri}, {cj}]",
                "a[n, c, i, j] = max_{p,q} x[n, c, s·i + p, s·j + q]",
                shape="out",
                note=r"the largest entry of each ${ph} \times {pw}$ window, stride {stride}; "
                "each channel on its own",
            ),
        ),
        backward=(
            LayerEquation(
                "{dx}[n, c, {ri_star}, {cj_star}]",
                "{dout}[n, c, i, j]",
                "dx[n, c, s·i + p*, s·j + q*] += dout[n, c, i, j] at the window's argmax "
                "(p*, q*); dx = 0 elsewhere",
                shape="x",
                note=r"$(p^*, q^*)$: where the window's maximum is, kept by the forward pass; "
                r"every other entry of ${dx}$ is 0{overlap}",
                when="input_grad",
            ),
        ),
        edges={"x": r"\text{{routed to the argmax}}"},
        values=lambda layer: _math_values(layer),
        note="The maximum passes one input through and ignores the others, so its local "
        "derivative is 1 at the argmax and 0 elsewhere: each window's gradient goes back, "
        "unchanged, to the position that won. Ties go to the first maximum in row-major order, "
        "as in PyTorch.",
    )

    def __init__(
        self,
        pool_size: int | tuple[int, int] = 2,
        stride: int | tuple[int, int] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(pool_size, stride, name)
        self._argmax: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._check_input(x)
        if self._two_by_two and kernels.enabled() and kernels.images_fit(x):
            a, self._argmax = kernels.max_pool_2x2(x)  # the passes below in one
            return a
        # All window entries side by side, (ph·pw, N, C, Ho, Wo): one copy, so that the
        # comparisons below run over contiguous memory (several times faster than views).
        ph, pw = self.pool_size
        windows = sliding_window_view(x, (ph, pw), axis=(2, 3))[
            :, :, :: self.stride[0], :: self.stride[1]
        ]
        windows = np.ascontiguousarray(windows.transpose(4, 5, 0, 1, 2, 3))
        windows = windows.reshape(ph * pw, *windows.shape[2:])
        a = windows[0].copy()
        index_type = np.int8 if ph * pw <= 127 else np.int16
        argmax = np.zeros(a.shape, index_type)
        greater = np.empty(a.shape, bool)
        moved = np.empty(a.shape, index_type)
        for offset in range(1, ph * pw):
            candidate = windows[offset]
            np.greater(candidate, a, out=greater)  # strictly greater: the first max wins ties
            np.maximum(a, candidate, out=a)
            # argmax = offset where greater, else unchanged; as offset exceeds every earlier
            # index this is max(argmax, greater·offset): branch-free, unlike a masked write
            np.multiply(greater, index_type(offset), out=moved)
            np.maximum(argmax, moved, out=argmax)
        self._argmax = argmax
        return a

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_forward_ran(self._argmax)
        argmax = self._argmax
        shape = (dout.shape[0], *self.input_shape)
        # Windows that tile the input exactly write every position below: no need to zero it.
        dx = np.empty(shape, dout.dtype) if self._windows_tile else np.zeros(shape, dout.dtype)
        if self._two_by_two and kernels.enabled() and kernels.images_fit(dout):
            kernels.max_pool_2x2_backward(dout, argmax, dx)  # the four products below in one
            return dx
        targets = self._window_offsets(dx)
        for offset, target in enumerate(targets):
            routed = argmax == offset  # where this window offset held the max
            if self._windows_overlap:
                target += dout * routed
            else:  # each input position belongs to one window: write, no accumulation
                np.multiply(dout, routed, out=target)
        return dx


class AvgPool2D(_Pool2D):
    """Average pooling: each output is the mean of its window.

    Shapes: x (N, C, H, W) -> a (N, C, Ho, Wo). With P = ph·pw entries per window:
    Forward:   a[n, c, i, j] = (1/P) Σ_{p, q} x[n, c, s·i + p, s·j + q]
    Local derivative: ∂a[n, c, i, j]/∂x[n, c, s·i + p, s·j + q] = 1/P for every (p, q).
    Backward, given dout = dL/da:
        dx[n, c, s·i + p, s·j + q] += dout[n, c, i, j] / P   for every (p, q) of the window
    Every window is full (no padding), so P is the same everywhere.
    """

    type_name = "avg_pool2d"
    math = LayerMath(
        name="average pooling",
        forward=(
            LayerEquation(
                "{out}[n, c, i, j]",
                r"(1/{P}) \sum_{{p,q}} {x}[n, c, {ri}, {cj}]",
                "a[n, c, i, j] = (1/P) Σ_{p,q} x[n, c, s·i + p, s·j + q]",
                shape="out",
                note=r"the mean of each ${ph} \times {pw}$ window ($P = {P}$ entries), "
                "stride {stride}; each channel on its own",
            ),
        ),
        backward=(
            LayerEquation(
                "{dx}[n, c, {ri}, {cj}]",
                "{dout}[n, c, i, j]/{P}",
                "dx[n, c, s·i + p, s·j + q] += dout[n, c, i, j] / P for every (p, q)",
                shape="x",
                note="for every $(p, q)$ of the window: its ${P}$ entries get equal shares"
                "{overlap}",
                when="input_grad",
            ),
        ),
        edges={"x": r"\cdot\, 1/{P} \text{{ to each}}"},
        values=lambda layer: _math_values(layer),
        note="Every entry of a window counts $1/{P}$ in its mean, so the window's gradient is "
        "spread evenly over it.",
    )

    def __init__(
        self,
        pool_size: int | tuple[int, int] = 2,
        stride: int | tuple[int, int] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(pool_size, stride, name)
        self._forward_ran: bool | None = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._check_input(x)
        offsets = self._window_offsets(x)
        a = offsets[0].copy()
        for view in offsets[1:]:
            a += view
        a /= len(offsets)
        self._forward_ran = True
        return a

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_forward_ran(self._forward_ran)
        share = dout / (self.pool_size[0] * self.pool_size[1])
        dx = np.zeros((dout.shape[0], *self.input_shape), dout.dtype)
        for target in self._window_offsets(dx):
            if self._windows_overlap:
                target += share
            else:
                target[...] = share
        return dx


def _math_values(layer: _Pool2D) -> dict[str, Any]:
    """The numbers the pooling layers' ``math`` writes into their equations."""
    layer._check_built()
    (ph, pw), (sh, sw) = layer.pool_size, layer.stride
    notes = []
    if layer._windows_overlap:
        notes.append("; where windows overlap, their shares add")
    if not layer._windows_tile and not layer._windows_overlap:
        notes.append("; rows or columns that no window covers get 0")
    return {
        "ph": ph,
        "pw": pw,
        "P": ph * pw,
        "stride": pair_text(layer.stride),
        "ri": window_index("i", "p", sh),
        "cj": window_index("j", "q", sw),
        "ri_star": window_index("i", "p^*", sh),
        "cj_star": window_index("j", "q^*", sw),
        "overlap": "".join(notes),
    }


add_math_to_docstring(MaxPool2D)
add_math_to_docstring(AvgPool2D)
