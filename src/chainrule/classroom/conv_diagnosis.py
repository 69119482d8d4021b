"""The usual convolution mistakes, each recomputed from the student's own earlier numbers (and
from the right ones) with ``conv_math``'s formulas and one switch turned:

=========================================  =========================================================
``kernel not flipped in dx``               dL/dx (dL/da below a conv) as the full convolution of δ
                                           with the kernel as it is, not rot180(W)
``kernel flipped in the forward pass``     z a true convolution (rot180(W) slid over the input)
                                           instead of the cross-correlation every framework computes
``kernel flipped in dW``                   dL/dW rot180 of the correlation of the input with δ
``stride ignored in the backward pass``    dL/dx with δ not spread out by the stride, or dL/dW with
                                           δ slid over the input at stride 1
``padding cropped wrongly``                the full convolution's padding cropped at the wrong
                                           offset (or not at all: its top-left corner kept)
``δ routed to the wrong pooling position`` a max window's gradient sent to an entry that is not its
                                           first maximum (or to its minimum, or its top-left entry)
``δ spread evenly for max pooling``        every entry of a max window given dL/da/P (the average
                                           pool's rule) or the whole dL/da
=========================================  =========================================================

A pooling mistake is named only where the student's other answers in the same windows agree
with it: one entry alone cannot tell "routed to this entry" from "copied to every entry".
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from chainrule.classroom import conv_math
from chainrule.classroom.answers import agrees
from chainrule.classroom.conv_quantities import ConvChain
from chainrule.classroom.mistakes import Candidate, Context
from chainrule.classroom.mistakes import contexts as _contexts
from chainrule.classroom.quantities import Quantity


def _conv_chain(context: Context) -> ConvChain | None:
    chain = context.chain
    return chain if isinstance(chain, ConvChain) else None


def _map_names(chain: ConvChain, q: Quantity) -> np.ndarray:
    """The names of the whole map ``q`` (a dL/da or dL/dx entry) belongs to."""
    return chain.names[("dL/dx", 0) if q.kind == "dL/dx" else ("dL/da", q.layer)]


def _zero(index: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(i - 1 for i in index)


def _input_gradient(q: Quantity, context: Context, **mistake) -> Iterator[tuple[float, dict]]:
    """dL/da_{l-1}[q] from δ_l under ``mistake`` (conv_math.input_gradient's switches)."""
    chain = _conv_chain(context)
    if chain is None or q.facts.get("source") != "conv2d":
        return
    conv = q.facts["conv"]
    geometry, shape = chain.geometry[conv], chain.shapes[conv - 1]
    W = chain.parameters.W[conv - 1]
    names = _map_names(chain, q)
    for values in _contexts(context):
        delta = chain.tensor(values, "δ", conv)
        gradient = conv_math.input_gradient(delta, W, geometry, shape, **mistake)
        yield float(gradient[_zero(q.index)]), (names, gradient)


def kernel_not_flipped(q: Quantity, context: Context) -> Iterator[Candidate]:
    for value, tensor in _input_gradient(q, context, flip=False):
        yield (
            value,
            "kernel not flipped in dx",
            "the full convolution of δ with the kernel as it is gives this; the input gradient "
            "takes the kernel flipped, rot180(W)[p,q] = W[kh+1-p,kw+1-q]",
            tensor,
        )


def stride_ignored(q: Quantity, context: Context) -> Iterator[Candidate]:
    chain = _conv_chain(context)
    if chain is None:
        return
    if q.kind == "dL/dW" and q.facts.get("conv"):
        conv = q.facts["conv"]
        geometry = chain.geometry[conv]
        if geometry.stride == (1, 1):
            return
        for values in _contexts(context):
            delta = chain.tensor(values, "δ", conv)
            a = chain.tensor(values, "a", conv - 1)
            gradient = conv_math.weight_gradient(delta, a, geometry, (1, 1))
            value = float(gradient[_zero(q.index)])
            yield (
                value,
                "stride ignored in the backward pass",
                "δ slid over the input one pixel at a time gives this; with stride "
                f"{geometry.stride[0]} δ[i,j] meets the input at {geometry.stride[0]}(i-1)+p",
                (_kernel_names(conv, gradient.shape), gradient),
            )
        return
    if q.facts.get("source") != "conv2d" or chain.geometry[q.facts["conv"]].stride == (1, 1):
        return
    stride = chain.geometry[q.facts["conv"]].stride
    for value, tensor in _input_gradient(q, context, stride=(1, 1)):
        yield (
            value,
            "stride ignored in the backward pass",
            f"δ taken as it is gives this; with stride {stride[0]} δ is spread out "
            f"({_count(stride[0] - 1, 'zero')} between entries) before the full convolution",
            tensor,
        )


def padding_cropped_wrongly(q: Quantity, context: Context) -> Iterator[Candidate]:
    chain = _conv_chain(context)
    if chain is None or q.facts.get("source") != "conv2d":
        return
    geometry = chain.geometry[q.facts["conv"]]
    if not geometry.padded:
        return
    right = (geometry.top, geometry.left)
    for top in range(geometry.top + geometry.bottom + 1):
        for left in range(geometry.left + geometry.right + 1):
            if (top, left) == right:
                continue
            for value, tensor in _input_gradient(q, context, crop=(top, left)):
                yield (
                    value,
                    "padding cropped wrongly",
                    f"the full convolution read {_count(top, 'row')} and "
                    f"{_count(left, 'column')} from its top-left corner gives this; the padding "
                    f"to crop off is {_count(geometry.top, 'row')} above and "
                    f"{_count(geometry.left, 'column')} left",
                    tensor,
                )


def kernel_flipped_forward(q: Quantity, context: Context) -> Iterator[Candidate]:
    chain = _conv_chain(context)
    if chain is None or not q.facts.get("spatial"):
        return
    if q.kind == "z" and chain.kinds[q.layer - 1] == "conv2d":
        geometry = chain.geometry[q.layer]
        W, b = chain.parameters.W[q.layer - 1], chain.parameters.b[q.layer - 1]
        for values in _contexts(context):
            a = chain.tensor(values, "a", q.layer - 1)
            z = conv_math.correlate(a, W, b, geometry, flip=True)
            value = float(z[_zero(q.index)])
            yield (
                value,
                "kernel flipped in the forward pass",
                "the kernel slid flipped (a true convolution) gives this; the layer computes "
                "the cross-correlation: W[o,c,p,q] meets a[c, s(i-1)+p, s(j-1)+q]",
                (chain.names[("z", q.layer)], z),
            )
    elif q.kind == "dL/dW" and q.facts.get("conv"):
        geometry = chain.geometry[q.layer]
        o, c, p, r = _zero(q.index)
        for values in _contexts(context):
            delta = chain.tensor(values, "δ", q.layer)
            a = chain.tensor(values, "a", q.layer - 1)
            gradient = conv_math.weight_gradient(delta, a, geometry)[:, :, ::-1, ::-1]
            value = float(gradient[o, c, p, r])
            yield (
                value,
                "kernel flipped in dW",
                "this is the entry of the flipped kernel's gradient; "
                "dL/dW[o,c,p,q] = Σ δ[o,i,j] a[c, s(i-1)+p, s(j-1)+q], unflipped",
                (_kernel_names(q.layer, gradient.shape), gradient),
            )


# -- max pooling ---------------------------------------------------------------------------------
def _pooled(q: Quantity, context: Context):
    """For a dL/da entry below a max pool, per set of values (the student's, the right
    ones): (chain, the pool's geometry, the map's names, dL/d(pool output), the pool's input,
    the windows holding the entry); nothing for any other quantity."""
    chain = _conv_chain(context)
    if chain is None or q.facts.get("source") != "max_pool2d":
        return
    pool = q.facts["pool"]
    geometry, names = chain.geometry[pool], _map_names(chain, q)
    _, y, x = _zero(q.index)
    for values in _contexts(context):
        upstream = chain.tensor(values, "dL/da", pool)
        a = chain.tensor(values, "a", pool - 1)
        held = [(i, j) for i, j, _, _ in geometry.windows_holding(y, x, upstream.shape[1:])]
        yield chain, geometry, names, upstream, a, held


def _consistent(q: Quantity, context: Context, mistaken: np.ndarray, windows) -> bool:
    """Whether every answer the student gave in ``windows`` of q's channel agrees with the
    map ``mistaken`` (the one that would make the mistake)."""
    chain = context.chain
    names = _map_names(chain, q)
    c = q.index[0] - 1
    geometry = chain.geometry[q.facts["pool"]]
    ph, pw = geometry.window
    for i, j in windows:
        rows, columns = geometry.position(i, j, 0, 0)
        for y in range(rows, rows + ph):
            for x in range(columns, columns + pw):
                answer = context.answers.get(names[c, y, x])
                if answer is not None and not agrees(answer, mistaken[c, y, x], context.rtol, 2.0):
                    return False
    return True


def routed_wrong(q: Quantity, context: Context) -> Iterator[Candidate]:
    for _, geometry, names, upstream, a, held in _pooled(q, context):
        c, y, x = _zero(q.index)
        ph, pw = geometry.window
        right = conv_math.routes(a, geometry)
        choices = []
        for i, j in held:
            if tuple(right[c, i, j]) == (y, x):  # this entry's window sent elsewhere
                rows, columns = geometry.position(i, j, 0, 0)
                others = [
                    (u, v)
                    for u in range(rows, rows + ph)
                    for v in range(columns, columns + pw)
                    if (u, v) != (y, x)
                ]
                choices += [((i, j), other) for other in others]
            else:
                choices.append(((i, j), (y, x)))
        for (i, j), target in choices:
            chosen = right.copy()
            chosen[c, i, j] = target
            mistaken = conv_math.pool_backward(upstream, a, geometry, True, chosen=chosen)
            if not _consistent(q, context, mistaken, [(i, j)]):
                continue
            winner = tuple(int(v) + 1 for v in right[c, i, j])
            yield (
                float(mistaken[c, y, x]),
                "δ routed to the wrong pooling position",
                f"window [{c + 1},{i + 1},{j + 1}]'s gradient sent to "
                f"[{c + 1},{target[0] + 1},{target[1] + 1}], which is not its maximum, gives "
                f"this; it goes back to [{c + 1},{winner[0]},{winner[1]}] only",
                (names, mistaken),
            )
        windows = conv_math.windows(a, geometry)
        for rule, picks in (("minimum", np.argmin(windows, axis=-1)), ("top-left entry", None)):
            chosen = right.copy()
            ho, wo = upstream.shape[1:]
            offsets = np.zeros((a.shape[0], ho, wo), dtype=int) if picks is None else picks
            chosen[..., 0] = geometry.stride[0] * np.arange(ho)[None, :, None] + offsets // pw
            chosen[..., 1] = geometry.stride[1] * np.arange(wo)[None, None, :] + offsets % pw
            mistaken = conv_math.pool_backward(upstream, a, geometry, True, chosen=chosen)
            if _consistent(q, context, mistaken, held):
                yield (
                    float(mistaken[c, y, x]),
                    "δ routed to the wrong pooling position",
                    f"each window's gradient sent to its {rule} gives this; max pooling "
                    "sends it to the window's maximum",
                    (names, mistaken),
                )


def spread_evenly(q: Quantity, context: Context) -> Iterator[Candidate]:
    for _, geometry, names, upstream, a, held in _pooled(q, context):
        c, y, x = _zero(q.index)
        P = geometry.window[0] * geometry.window[1]
        for share, how in ((1.0 / P, f"1/{P} of each window's gradient"), (1.0, "the whole of it")):
            mistaken = conv_math.pool_backward(upstream, a, geometry, True, spread=share)
            if _consistent(q, context, mistaken, held):
                yield (
                    float(mistaken[c, y, x]),
                    "δ spread evenly for max pooling",
                    f"giving every entry of the window {how} (average pooling's rule) gives "
                    "this; max pooling routes it to the maximum alone",
                    (names, mistaken),
                )


def _count(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"


def _kernel_names(layer: int, shape: tuple[int, ...]) -> np.ndarray:
    names = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        names[index] = f"dL/dW{layer}[{','.join(str(i + 1) for i in index)}]"
    return names


def _support(context: Context, names: np.ndarray, mistaken: np.ndarray) -> int:
    """How many of the student's answers in the map the mistake reproduces."""
    count = 0
    for index in np.ndindex(*names.shape):
        answer = context.answers.get(names[index])
        if answer is not None and agrees(answer, float(mistaken[index]), context.rtol, 2.0):
            count += 1
    return count


#: Each yields (value, mistake, message, (the map's names, the whole map under the mistake)).
KINDS = (
    kernel_flipped_forward,
    kernel_not_flipped,
    stride_ignored,
    padding_cropped_wrongly,
    spread_evenly,
    routed_wrong,
)


def convolution_mistakes(q: Quantity, context: Context) -> Iterator[Candidate]:
    """Every convolution mistake's value of ``q``, the one that reproduces most of the
    student's answers in the same map first: an entry alone may fit two mistakes (a
    padding cropped wrongly and a stride ignored can agree on one pixel), a whole map seldom."""
    if _conv_chain(context) is None or not q.facts.get("spatial"):
        return
    found = []
    for mistake in KINDS:
        for value, name, message, (names, mistaken) in mistake(q, context):
            found.append((-_support(context, names, mistaken), len(found), value, name, message))
    for _, _, value, name, message in sorted(found):
        yield value, name, message


CONV_MISTAKES = (convolution_mistakes,)
