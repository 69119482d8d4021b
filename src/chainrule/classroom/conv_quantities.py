"""A convolutional spec's gradient step as a chain of named quantities (``Chain`` for
``conv2d`` / pooling / ``flatten`` layers, then dense ones).

The names are those ``chainrule explain`` prints for a convolutional spec (1-based)::

    z1[o,i,j], a1[o,i,j]       convolution:  z = the kernel slid over pad(a_{l-1}), a = f(z)
    a2[c,i,j]                  pooling:      each window's max (or mean)
    a3[k]                      flatten:      a2 read row by row, channel after channel
    z4[j], a4[j], L, δ4[j]     dense layers and the loss, as in a dense spec
    dL/da3[k], dL/da2[c,i,j]   what each layer hands down: W^T δ, reshaped, routed to the
    dL/da1[c,u,v]              pooling's maxima (or spread over its windows), or the full
                               convolution of δ with the flipped kernel
    ReLU'(z1[o,i,j]), δ1[o,i,j]
    dL/dx[c,u,v]               the first convolution's gradient for the image
    dL/dW1[o,c,p,q], dL/db1[o] the correlation of the input with δ, and Σ δ
    W1[o,c,p,q] …              the update, as for a dense spec

Each quantity computes its value from the values before it (a student's where given), with
the formulas of ``conv_math`` for the convolutional layers and ``Chain``'s own for the
dense ones and the update; with no overrides it gives explain's values (a test holds them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from chainrule.classroom import conv_math
from chainrule.classroom.quantities import Chain, Compute, Parameters, name_of
from chainrule.explain.conv_steps import Geometry
from chainrule.explain.loss import fused_loss
from chainrule.explain.spec import ConvLayerSpec, ConvSpec, DenseLayerSpec, PoolLayerSpec
from chainrule.explain.symbols import LOSS, Applied, sym_map
from chainrule.nn.losses import get_loss
from chainrule.reporting.expr import Deriv, Expr

Tensor = Callable[[Mapping[str, float], Parameters], np.ndarray]


def _one(index: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(i + 1 for i in index)


class ConvChain(Chain):
    """The quantities of step 1 of a convolutional spec, in the order explain prints them."""

    def __init__(self, spec: ConvSpec) -> None:
        self.kinds = spec.kinds
        self.shapes = spec.shapes
        self.engines = spec.engine_layers()
        #: Where each conv and pooling layer's windows sit (by layer number).
        self.geometry = {
            n: Geometry(engine)
            for n, engine in enumerate(self.engines, start=1)
            if self.kinds[n - 1] != "flatten" and self.kinds[n - 1] != "dense"
        }
        #: Each named tensor's entries: ``self.names[("δ", 1)]`` holds δ1's names, shaped
        #: like δ1; bases z, a, dL/da, f', δ, dL/dx.
        self.names: dict[tuple[str, int], np.ndarray] = {}
        super().__init__(spec)  # type: ignore[arg-type]

    # -- tensors ------------------------------------------------------------------------------
    def tensor(self, values: Mapping[str, float], base: str, layer: int) -> np.ndarray:
        """A whole map (or vector) from ``values``; a0 is the image x."""
        if base == "a" and layer == 0:
            return self.x
        names = self.names[(base, layer)]
        return np.array([values[name] for name in names.flat]).reshape(names.shape)

    def input_names(self, layer: int) -> list[str]:
        """The names of a_{layer-1} (none for the image: its values are given)."""
        return [] if layer == 1 else list(self.names[("a", layer - 1)].flat)

    def _table(self, base: str, layer: int, shape: tuple[int, ...], symbol) -> np.ndarray:
        names = np.empty(shape, dtype=object)
        for index in np.ndindex(*shape):
            names[index] = name_of(symbol(_one(index)))
        self.names[(base, layer)] = names
        return names

    @staticmethod
    def _memo(inputs: list[str], tensor: Tensor) -> Tensor:
        """``tensor`` computed once for the same input values and parameters: each entry of a
        map reads the same map."""
        cache: dict[str, object] = {"key": None, "p": None, "value": None}

        def compute(values: Mapping[str, float], p: Parameters) -> np.ndarray:
            key = tuple(values[name] for name in inputs)
            if cache["p"] is not p or cache["key"] != key:
                cache.update(key=key, p=p, value=tensor(values, p))
            return cache["value"]  # type: ignore[return-value]

        return compute

    def _entries(
        self,
        base: str,
        kind: str,
        layer: int,
        symbol: Callable[[tuple[int, ...]], Expr],
        tensor: Tensor,
        inputs: Callable[[tuple[int, ...]], list[str]],
        shape: tuple[int, ...],
        **facts,
    ) -> None:
        """One quantity per entry of a tensor, each reading its own entry of ``tensor``."""
        self._table(base, layer, shape, symbol)
        for index in np.ndindex(*shape):

            def entry(values, p, index=index) -> float:
                return float(tensor(values, p)[index])

            self._add(symbol(_one(index)), kind, layer, _one(index), inputs(index), entry, **facts)

    # -- forward ------------------------------------------------------------------------------
    def _forward(self) -> None:
        for number, layer in enumerate(self.spec.layers, start=1):
            if isinstance(layer, ConvLayerSpec):
                self._conv_forward(number)
            elif isinstance(layer, PoolLayerSpec):
                self._pool_forward(number, layer.is_max)
            elif isinstance(layer, DenseLayerSpec):
                self._dense_forward(number)
            else:
                self._flatten_forward(number)

    def _conv_forward(self, number: int) -> None:
        geometry, shape = self.geometry[number], self.shapes[number]
        previous = self.input_names(number)

        def z(values, p):
            a = self.tensor(values, "a", number - 1)
            return conv_math.correlate(a, p.W[number - 1], p.b[number - 1], geometry)

        self._entries(
            "z",
            "z",
            number,
            lambda index: sym_map("z", number, index),
            self._memo(previous, z),
            lambda index: self._window_names(number, index[1:]),
            shape,
            spatial=True,
        )
        self._elementwise_activation(number, shape)

    def _window_names(self, number: int, at: tuple[int, int]) -> list[str]:
        """The input entries (not padding) under window ``at`` of layer ``number``, all channels."""
        if number == 1:
            return []
        geometry = self.geometry[number]
        names = self.names[("a", number - 1)]
        channels, height, width = names.shape
        found = []
        for c in range(channels):
            for p in range(geometry.window[0]):
                for q in range(geometry.window[1]):
                    y, x = geometry.position(*at, p, q)
                    y, x = y - geometry.top, x - geometry.left
                    if 0 <= y < height and 0 <= x < width:
                        found.append(names[c, y, x])
        return found

    def _elementwise_activation(self, number: int, shape: tuple[int, ...]) -> None:
        zs = self.names[("z", number)]
        self._table("a", number, shape, lambda index: sym_map("a", number, index))
        for index in np.ndindex(*shape):
            z_name = zs[index]

            def a(values, p, z_name=z_name) -> float:
                return float(self.activate(number, np.array([values[z_name]]))[0])

            self._add(sym_map("a", number, _one(index)), "a", number, _one(index), [z_name], a)

    def _pool_forward(self, number: int, is_max: bool) -> None:
        geometry, shape = self.geometry[number], self.shapes[number]
        names = self.names[("a", number - 1)] if number > 1 else None

        def pooled(values, p):
            return conv_math.pool_forward(self.tensor(values, "a", number - 1), geometry, is_max)

        def window(index):
            if names is None:
                return []
            c, i, j = index
            rows, columns = geometry.position(i, j, 0, 0)
            ph, pw = geometry.window
            return list(names[c, rows : rows + ph, columns : columns + pw].flat)

        self._entries(
            "a",
            "a",
            number,
            lambda index: sym_map("a", number, index),
            self._memo(self.input_names(number), pooled),
            window,
            shape,
            spatial=True,
        )

    def _flatten_forward(self, number: int) -> None:
        flat = list(self.names[("a", number - 1)].flat) if number > 1 else None
        size = self.shapes[number][0]
        self._table("a", number, (size,), lambda index: sym_map("a", number, index))
        for k in range(size):
            if flat is None:  # flatten of the image itself: a given value
                value = float(self.x.ravel()[k])
                compute, inputs = (lambda values, p, value=value: value), []
            else:
                compute, inputs = self._copy(flat[k]), [flat[k]]
            self._add(sym_map("a", number, (k + 1,)), "a", number, (k + 1,), inputs, compute)

    def _dense_forward(self, number: int) -> None:
        width = self.shapes[number][0]
        previous = self.input_names(number)
        self._table("z", number, (width,), lambda index: sym_map("z", number, index))
        for j in range(width):
            compute = self._pre_activation(number, j, previous)
            self._add(sym_map("z", number, (j + 1,)), "z", number, (j + 1,), previous, compute)
        zs = list(self.names[("z", number)])
        elementwise = self.spec.layers[number - 1].math.elementwise
        self._table("a", number, (width,), lambda index: sym_map("a", number, index))
        for j in range(width):
            self._add(
                sym_map("a", number, (j + 1,)),
                "a",
                number,
                (j + 1,),
                [zs[j]] if elementwise else zs,
                self._activation(number, j, zs),
            )

    # -- backward -----------------------------------------------------------------------------
    def _backward(self) -> None:
        spec = self.spec
        L = spec.n_layers
        for number in range(L, 0, -1):
            kind = self.kinds[number - 1]
            if number == L and spec.fused:
                self._fused_output(number)
                continue
            self._upstream(number)
            if kind in ("conv2d", "dense"):
                self._deltas(number)
        if self.kinds[0] != "dense":  # the gradient for the image itself, dL/dx
            self._hand_down(1)

    def _fused_output(self, number: int) -> None:
        fused = fused_loss(self.spec)
        outputs = list(self.names[("a", number)])
        width = len(outputs)
        self._table("δ", number, (width,), lambda index: sym_map("δ", number, index))
        for j in range(width):
            self._add(
                sym_map("δ", number, (j + 1,)),
                "δ",
                number,
                (j + 1,),
                [outputs[j]],
                self._fused_delta(fused, j, outputs[j], width),
                fused=True,
            )

    def _upstream(self, number: int) -> None:
        """dL/da_number: from the loss, or from the layer above, by that layer's kind."""
        spec, L = self.spec, self.spec.n_layers
        shape = self.shapes[number]
        if number == L:
            symbol = lambda index: Deriv(LOSS, sym_map("a", number, index))  # noqa: E731
            loss = get_loss(spec.loss.engine_config())
            outputs = list(self.names[("a", number)])
            self._table("dL/da", number, shape, symbol)
            for j in range(shape[0]):
                compute = self._output_gradient(loss, self.y, outputs, j)
                self._add(symbol((j + 1,)), "dL/da", number, (j + 1,), outputs, compute)
            return
        self._hand_down(number + 1)

    def _hand_down(self, above: int) -> None:
        """dL/da_{above-1} (dL/dx below layer 1), by the kind of layer ``above``."""
        kind = self.kinds[above - 1]
        base, quantity_kind = ("dL/dx", "dL/dx") if above == 1 else ("dL/da", "dL/da")
        number, shape = above - 1, self.shapes[above - 1]

        def symbol(index):
            return Deriv(LOSS, sym_map("a", number, index))

        if kind == "dense":
            deltas = list(self.names[("δ", above)])
            self._table(base, number, shape, symbol)
            for j in range(shape[0]):
                compute = self._hidden_gradient(number, j, deltas)
                self._add(
                    symbol((j + 1,)),
                    quantity_kind,
                    number,
                    (j + 1,),
                    deltas,
                    compute,
                    source="dense",
                )
        elif kind == "flatten":
            flat = self.names[("dL/da", above)]
            self._table(base, number, shape, symbol)
            for k, index in enumerate(np.ndindex(*shape)):
                self._add(
                    symbol(_one(index)),
                    quantity_kind,
                    number,
                    _one(index),
                    [flat[k]],
                    self._copy(flat[k]),
                    source="flatten",
                    spatial=True,
                )
        elif kind in ("max_pool2d", "avg_pool2d"):
            self._pool_backward(above, kind == "max_pool2d", base, quantity_kind)
        else:
            self._input_gradient(above, base, quantity_kind)

    def _pool_backward(self, pool: int, is_max: bool, base: str, kind: str) -> None:
        """dL/da_{pool-1}: the pooled gradient routed to each window's maximum (from the
        values used for a_{pool-1}), or spread over the window."""
        number = pool - 1
        geometry, shape = self.geometry[pool], self.shapes[number]
        upstream = self.names[("dL/da", pool)]
        below = self.names.get(("a", number))
        inputs = list(upstream.flat) + (list(below.flat) if below is not None and is_max else [])

        def gradient(values, p):
            grads = self.tensor(values, "dL/da", pool)
            a = self.tensor(values, "a", number)
            return conv_math.pool_backward(grads, a, geometry, is_max)

        def reads(index):
            c, y, x = index
            held = [(i, j) for i, j, _, _ in geometry.windows_holding(y, x, upstream.shape[1:])]
            names = [upstream[c, i, j] for i, j in held]
            if is_max and below is not None:
                ph, pw = geometry.window
                for i, j in held:
                    rows, columns = geometry.position(i, j, 0, 0)
                    names += list(below[c, rows : rows + ph, columns : columns + pw].flat)
            return list(dict.fromkeys(names))

        self._entries(
            base,
            kind,
            number,
            lambda index: Deriv(LOSS, sym_map("a", number, index)),
            self._memo(inputs, gradient),
            reads,
            shape,
            source="max_pool2d" if is_max else "avg_pool2d",
            pool=pool,
            spatial=True,
        )

    def _input_gradient(self, conv: int, base: str, kind: str) -> None:
        """dL/da_{conv-1} (dL/dx for conv 1): the full convolution of δ_conv with the flipped
        kernel, the padding cropped off."""
        number = conv - 1
        geometry, shape = self.geometry[conv], self.shapes[number]
        deltas = self.names[("δ", conv)]

        def gradient(values, p):
            delta = self.tensor(values, "δ", conv)
            return conv_math.input_gradient(delta, p.W[conv - 1], geometry, shape)

        def reads(index):
            _, y, x = index
            padded = (y + geometry.top, x + geometry.left)
            held = geometry.windows_holding(*padded, deltas.shape[1:])
            return list(
                dict.fromkeys(deltas[o, i, j] for i, j, _, _ in held for o in range(len(deltas)))
            )

        self._entries(
            base,
            kind,
            number,
            lambda index: Deriv(LOSS, sym_map("a", number, index)),
            self._memo(list(deltas.flat), gradient),
            reads,
            shape,
            source="conv2d",
            conv=conv,
            spatial=True,
        )

    def _deltas(self, number: int) -> None:
        """f'(z) and δ = dL/da ⊙ f'(z) of a conv layer or a dense one (or its Jacobian)."""
        shape = self.shapes[number]
        math = self.spec.layers[number - 1].math
        zs, a_names = self.names[("z", number)], self.names[("a", number)]
        gradients = self.names[("dL/da", number)]
        spatial = self.kinds[number - 1] == "conv2d"
        if not math.elementwise:  # softmax in a dense layer, its output not fused with the loss
            self._jacobian_deltas(number, math, list(a_names), list(gradients))
            return
        local = self._table(
            "f'",
            number,
            shape,
            lambda index: Applied(math.symbol, sym_map("z", number, index), True),
        )
        for index in np.ndindex(*shape):
            self._add(
                Applied(math.symbol, sym_map("z", number, _one(index)), prime=True),
                "f'",
                number,
                _one(index),
                [zs[index], a_names[index]],
                self._local(math, zs[index], a_names[index]),
                math=math,
                spatial=spatial,
            )
        self._table("δ", number, shape, lambda index: sym_map("δ", number, index))
        for index in np.ndindex(*shape):
            self._add(
                sym_map("δ", number, _one(index)),
                "δ",
                number,
                _one(index),
                [gradients[index], local[index]],
                self._product(gradients[index], local[index]),
                local=local[index],
                gradient=gradients[index],
                spatial=spatial,
            )

    def _jacobian_deltas(self, number: int, math, a_names: list[str], gradients: list[str]) -> None:
        width = len(a_names)
        jacobian = [[""] * width for _ in range(width)]
        for i in range(width):
            for j in range(width):
                symbol = Deriv(sym_map("a", number, (i + 1,)), sym_map("z", number, (j + 1,)))
                jacobian[i][j] = name_of(symbol)
                self._add(
                    symbol,
                    "J",
                    number,
                    (i + 1, j + 1),
                    [a_names[i], a_names[j]],
                    self._jacobian(math, a_names[i], a_names[j], i == j),
                )
        self._table("δ", number, (width,), lambda index: sym_map("δ", number, index))
        for j in range(width):
            column = [jacobian[i][j] for i in range(width)]
            self._add(
                sym_map("δ", number, (j + 1,)),
                "δ",
                number,
                (j + 1,),
                gradients + column,
                self._row_delta(gradients, column),
            )

    # -- gradients ----------------------------------------------------------------------------
    def _gradients(self) -> None:
        for number in range(self.spec.n_layers, 0, -1):
            kind = self.kinds[number - 1]
            if kind == "conv2d":
                self._conv_gradients(number)
            elif kind == "dense":
                self._dense_gradients(number)

    def _dense_gradients(self, number: int) -> None:
        deltas = self.names[("δ", number)]
        previous = self.input_names(number)
        for j in range(len(deltas)):
            for k in range(len(previous)):
                self._add(
                    Deriv(LOSS, sym_map("W", number, (j + 1, k + 1))),
                    "dL/dW",
                    number,
                    (j + 1, k + 1),
                    [deltas[j], previous[k]],
                    self._weight_gradient(number, deltas[j], k),
                )
        for j in range(len(deltas)):
            self._add(
                Deriv(LOSS, sym_map("b", number, (j + 1,))),
                "dL/db",
                number,
                (j + 1,),
                [deltas[j]],
                self._copy(deltas[j]),
            )

    def _conv_gradients(self, number: int) -> None:
        geometry = self.geometry[number]
        deltas = self.names[("δ", number)]
        below = self.names.get(("a", number - 1))
        shape = self.spec.weights()[number - 1].shape

        def dW(values, p):
            delta = self.tensor(values, "δ", number)
            return conv_math.weight_gradient(delta, self.tensor(values, "a", number - 1), geometry)

        def db(values, p):
            return self.tensor(values, "δ", number).sum(axis=(1, 2))

        inputs = list(deltas.flat) + self.input_names(number)
        kernel_gradient = self._memo(inputs, dW)
        bias_gradient = self._memo(list(deltas.flat), db)
        for index in np.ndindex(*shape):
            o, c = index[:2]
            reads = list(deltas[o].flat) + ([] if below is None else list(below[c].flat))

            def weight(values, p, index=index) -> float:
                return float(kernel_gradient(values, p)[index])

            self._add(
                Deriv(LOSS, sym_map("W", number, _one(index))),
                "dL/dW",
                number,
                _one(index),
                reads,
                weight,
                spatial=True,
                conv=number,
            )
        for o in range(shape[0]):

            def bias(values, p, o=o) -> float:
                return float(bias_gradient(values, p)[o])

            self._add(
                Deriv(LOSS, sym_map("b", number, (o + 1,))),
                "dL/db",
                number,
                (o + 1,),
                list(deltas[o].flat),
                bias,
                spatial=True,
            )


def chain_for(spec) -> Chain:
    """The chain of a dense spec (``Chain``) or of a convolutional one (``ConvChain``)."""
    return ConvChain(spec) if isinstance(spec, ConvSpec) else Chain(spec)


__all__ = ["Compute", "ConvChain", "chain_for"]
