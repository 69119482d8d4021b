"""The usual backprop mistakes, each tried on a wrong value: the one that reproduces it is named.

Each mistake recomputes the quantity the wrong way, from the student's own earlier numbers
(and from the right ones), with the same components ``Chain`` uses:

====================================  ==============================================================
``activation derivative omitted``     δ_l[j] = dL/da_l[j], the factor f'(z_l[j]) left out
``derivative from z``                 f' fed z where its formula wants the output a (z(1 − z) for
                                      a(1 − a)), or applied to a again: σ'(a) instead of a(1 − a)
``loss convention factor``            L or dL/da_L off by the convention's factor: 1/k of a mean
                                      over k outputs, a ½ missing or counted twice
``transposed index``                  dL/dW[j,k] computed as δ[k]·a[j]; W[j,k] for W[k,j]
``sign error in the update``          θ + ηg for θ − ηg: the step taken the wrong way
``updated weight in backward``        the backward pass run with the weights after the update
``ReLU'(0)``                          at a kink, the other one-sided derivative than the engine's
``copied from a neighbour``           the value of the neighbouring neuron (index ± 1)
``forward value copied wrong``        an earlier forward value miscopied (one digit changed,
                                      two swapped, one dropped), or the numbers the work shows
====================================  ==============================================================

A convolutional spec adds the convolution's and pooling's own (``conv_diagnosis``): kernel
not flipped in dx, kernel flipped in the forward pass (or in dW), stride ignored in the
backward pass, padding cropped wrongly, δ routed to the wrong pooling position, δ spread
evenly for max pooling; they are tried after ``ReLU'(0)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from chainrule.classroom.answers import Answer, agrees, work_numbers
from chainrule.classroom.conv_diagnosis import CONV_MISTAKES
from chainrule.classroom.mistakes import Candidate, Context, Mistake
from chainrule.classroom.mistakes import contexts as _contexts
from chainrule.classroom.mistakes import shown as _g
from chainrule.classroom.quantities import Parameters, Quantity
from chainrule.explain.symbolic import Term


@dataclass(frozen=True)
class Diagnosis:
    """The mistake that reproduces a wrong value, in words, and the value it gives."""

    mistake: str
    message: str
    value: float


def diagnose(q: Quantity, answer: Answer, context: Context) -> Diagnosis | None:
    """The first of :data:`MISTAKES` that reproduces ``answer`` (at its precision), or None.
    A "mistake" that changes nothing here (a frozen weight's update) reproduces nothing."""
    carried = _recompute(q, context.used, context)
    right = context.expected[q.name]
    for mistake in MISTAKES:
        for value, name, message in mistake(q, context):
            if not np.isfinite(value) or np.isclose(value, carried, rtol=1e-6, atol=1e-15):
                continue
            if np.isclose(value, right, rtol=1e-6, atol=1e-15):
                continue
            if agrees(answer, value, context.rtol, slack=2.0):
                return Diagnosis(name, message, float(value))
    return None


def _recompute(q: Quantity, values: dict[str, float], context: Context, **changed) -> float:
    return q.compute(values | changed, context.chain.parameters)


def loss_convention_factor(q: Quantity, context: Context) -> Iterator[Candidate]:
    chain = context.chain
    output_delta = q.kind == "δ" and q.facts.get("fused")
    if not (
        q.kind == "L" or (q.kind == "dL/da" and q.layer == chain.spec.n_layers) or output_delta
    ):
        return
    k = chain.spec.widths[-1]
    mean = chain.spec.loss.engine_config().get("reduction") == "mean"
    for values in _contexts(context):
        right = _recompute(q, values, context)
        if k > 1:
            reason = (
                f"the factor 1/{k} of the mean over the {k} outputs is missing"
                if mean
                else f"multiplied by the {k} outputs"
            )
            yield (
                right * k,
                "loss convention factor",
                (
                    f"{reason}: {_g(right * k)} = {k} × {_g(right)}; the convention gives {_g(right)}"
                ),
            )
            reason = (
                f"divided by the {k} outputs, which this convention does not"
                if not mean
                else f"divided by the {k} outputs twice"
            )
            yield right / k, "loss convention factor", f"{reason}: the convention gives {_g(right)}"
        yield (
            right * 2,
            "loss convention factor",
            (f"a factor 2 too many (a ½ of ½·Σ(a − y)² missing): the convention gives {_g(right)}"),
        )
        yield (
            right / 2,
            "loss convention factor",
            (
                f"a factor ½ too few (the 2 of the square's derivative dropped): the convention gives "
                f"{_g(right)}"
            ),
        )


def activation_derivative_omitted(q: Quantity, context: Context) -> Iterator[Candidate]:
    if q.kind != "δ" or "local" not in q.facts:
        return
    if np.isclose(context.expected[q.facts["local"]], 1.0):
        return  # leaving out a derivative of 1 changes nothing
    for values in _contexts(context):
        gradient = values[q.facts["gradient"]]
        yield (
            gradient,
            "activation derivative omitted",
            (
                f"δ = dL/da = {_g(gradient)}: the factor {q.facts['local']} = "
                f"{_g(values[q.facts['local']])} is left out"
            ),
        )


def _local_variants(q: Quantity, context: Context) -> Iterator[tuple[float, str, dict]]:
    """For f'(z) (or the δ that uses it): the derivative fed z for a, and σ'(a)."""
    chain = context.chain
    local = chain.by_name[q.facts["local"]] if q.kind == "δ" and "local" in q.facts else q
    if local.kind != "f'":
        return
    math = local.facts["math"]
    z_name, a_name = local.inputs
    for values in _contexts(context):
        z, a = values[z_name], values[a_name]
        right = _local_value(math, z, a)
        fed_z = _local_value(math, z, z)
        twice = _local_value(math, a, float(chain.activate(local.layer, np.array([a]))[0]))
        name = math.symbol.text
        for value, words in (
            (fed_z, f"{name}'(z) computed from z = {_g(z)} where its formula takes the output a"),
            (
                twice,
                f"{name}' applied to the output: {name}'(a) = {name}'({_g(a)}) instead of "
                f"the derivative from the output a",
            ),
        ):
            if not np.isclose(value, right, rtol=1e-9, atol=1e-15):
                yield value, words, values


def _local_value(math, z: float, a: float) -> float:
    result = math.derivative(Term.number(z), Term.number(a))
    return float(result.value if isinstance(result, Term) else result)


def derivative_from_z(q: Quantity, context: Context) -> Iterator[Candidate]:
    if q.kind not in ("f'", "δ"):
        return
    for local, words, values in _local_variants(q, context):
        value = local if q.kind == "f'" else values[q.facts["gradient"]] * local
        yield value, "derivative from z", f"{words} (gives {_g(local)})"


def relu_kink(q: Quantity, context: Context) -> Iterator[Candidate]:
    chain = context.chain
    local = chain.by_name.get(q.facts.get("local", "")) if q.kind == "δ" else q
    if local is None or local.kind != "f'":
        return
    math = local.facts["math"]
    z_name, _ = local.inputs
    for values in _contexts(context):
        if abs(values[z_name]) > 1e-12:
            continue
        engine = values[local.name]
        for side, z in (("left", -1e-9), ("right", 1e-9)):
            a = float(chain.activate(local.layer, np.array([z]))[0])
            one_sided = _local_value(math, z, a)
            if np.isclose(one_sided, engine):
                continue
            value = one_sided if q.kind == "f'" else values[q.facts["gradient"]] * one_sided
            name = math.symbol.text
            yield (
                value,
                "ReLU'(0)",
                (
                    f"{local.name} at the kink z = 0 taken as {_g(one_sided)} (the {side}-hand "
                    f"derivative); the engine's convention, used here, is {name}'(0) = {_g(engine)}"
                ),
            )


def transposed_index(q: Quantity, context: Context) -> Iterator[Candidate]:
    chain = context.chain
    if q.facts.get("spatial"):
        return  # a feature map's indices: the convolution's own mistakes (conv_diagnosis)
    if q.kind == "dL/dW":
        j, k = q.index
        delta = f"δ{q.layer}[{k}]"
        previous = f"a{q.layer - 1}[{j}]" if q.layer > 1 else None
        if delta not in chain.by_name or (previous and previous not in chain.by_name):
            return
        if previous is None and j > len(chain.x):
            return
        for values in _contexts(context):
            a_prev = chain.x[j - 1] if previous is None else values[previous]
            value = values[delta] * a_prev
            a_name = previous or f"x[{j}]"
            yield (
                value,
                "transposed index",
                (f"{delta}·{a_name} = {_g(value)}: the indices swapped (dL/dW[j,k] = δ[j]·a[k])"),
            )
    elif q.kind == "z" or (q.kind == "dL/da" and q.layer < chain.spec.n_layers):
        W = chain.parameters.W[q.layer - 1 if q.kind == "z" else q.layer]
        if W is None or W.ndim != 2 or W.shape[0] != W.shape[1]:
            return
        transposed = Parameters(
            [w if w is None or w.ndim != 2 else w.T.copy() for w in chain.parameters.W],
            chain.parameters.b,
        )
        for values in _contexts(context):
            value = q.compute(values, transposed)
            yield (
                value,
                "transposed index",
                (f"computed with W[j,k] where W[k,j] belongs (gives {_g(value)})"),
            )


def update_sign(q: Quantity, context: Context) -> Iterator[Candidate]:
    if q.kind != "θ":
        return
    old = q.facts["old"]
    for values in _contexts(context):
        new = _recompute(q, values, context)
        value = 2 * old - new
        yield (
            value,
            "sign error in the update",
            (
                f"the step taken the wrong way: {_g(value)} = {_g(old)} + {_g(old - new)} instead "
                f"of {_g(old)} − {_g(old - new)} = {_g(new)}"
            ),
        )


def updated_weight_in_backward(q: Quantity, context: Context) -> Iterator[Candidate]:
    if not q.backward or q.kind == "f'":
        return
    chain = context.chain
    overrides = {name: a.value for name, a in context.answers.items()}
    for given in (overrides, {}):
        computed, _ = chain.evaluate(given, backward_parameters=context.updated, until=q.name)
        value = computed[q.name]
        yield (
            value,
            "updated weight used in backward",
            (
                f"computed with the weights after the update (gives {_g(value)}); the backward "
                "pass uses the weights of the forward pass"
            ),
        )


def copied_from_neighbour(q: Quantity, context: Context) -> Iterator[Candidate]:
    chain = context.chain
    for other in chain.by_name.values():
        if other.kind != q.kind or other.layer != q.layer or other is q or not q.index:
            continue
        steps = [abs(i - j) for i, j in zip(other.index, q.index, strict=True)]
        if sum(steps) != 1:
            continue
        # the neighbour's value as it should be (not the student's own, perhaps as wrong)
        for values in (context.carried, context.expected):
            value = values[other.name]
            yield (
                value,
                "copied from a neighbour",
                f"equals {other.name} = {_g(value)}: copied from the neighbouring neuron",
            )


def _miscopies(text: str) -> Iterator[str]:
    """The number with one digit changed, two neighbouring digits swapped, or one dropped."""
    digits = [i for i, c in enumerate(text) if c.isdigit()]
    for i in digits:
        for d in "0123456789":
            if d != text[i]:
                yield text[:i] + d + text[i + 1 :]
        yield text[:i] + text[i + 1 :]
    for i, j in pairwise(digits):
        if j == i + 1 and text[i] != text[j]:
            yield text[:i] + text[j] + text[i] + text[j + 1 :]


def forward_value_copied_wrong(q: Quantity, context: Context) -> Iterator[Candidate]:
    chain = context.chain
    inputs = [name for name in q.inputs if chain.by_name[name].kind in ("z", "a")]
    if not inputs:
        return
    values = context.used
    answer = context.answers.get(q.name)
    if answer is not None and answer.work:
        yield from _from_work(q, answer.work, inputs, context)
    for name in inputs:
        written = context.answers.get(name)
        text = written.text if written is not None else f"{values[name]:.3g}"
        for miscopy in _miscopies(text):
            try:
                number = float(miscopy)
            except ValueError:
                continue
            value = _recompute(q, values, context, **{name: number})
            yield (
                value,
                "forward value copied wrong",
                (
                    f"equals {q.name} computed with {name} = {miscopy} instead of {text}: a "
                    "forward value copied wrong"
                ),
            )


def _from_work(q: Quantity, work: str, inputs: list[str], context: Context) -> Iterator[Candidate]:
    """The work's numbers that are none of the known ones stand for the inputs it leaves out."""
    chain = context.chain
    constants = [chain.x, chain.y, *chain.parameters.W, *chain.parameters.b]
    known = [float(v) for array in constants if array is not None for v in np.ravel(array)]
    known += [1.0, 2.0, float(chain.spec.widths[-1])]
    known += list(chain.spec.optimizer.hyperparameters.values())
    numbers = work_numbers(work)

    def written(number: str, value: float) -> bool:
        places = len(number.split(".")[1]) if "." in number else 0
        return abs(float(number) - value) <= 0.5 * 10.0**-places + 1e-12

    left_out = [name for name in inputs if not any(written(n, context.used[name]) for n in numbers)]
    foreign = [n for n in numbers if not any(written(n, v) for v in known)]
    foreign = [n for n in foreign if not any(written(n, context.used[name]) for name in inputs)]
    if not left_out or len(foreign) != len(left_out):
        return
    used = {name: float(number) for name, number in zip(left_out, foreign, strict=True)}
    value = _recompute(q, context.used, context, **used)
    instead = ", ".join(
        f"{name} = {number}" for name, number in zip(left_out, foreign, strict=True)
    )
    yours = ", ".join(f"{_g(context.used[name])}" for name in left_out)
    what = "the loss of outputs" if q.kind == "L" else f"{q.name} computed from"
    yield (
        value,
        "forward value copied wrong",
        (f"equals {what} {instead} (your values: {yours}): forward values copied wrong"),
    )


#: In the order they are tried: the narrowest first, a miscopied number (the broadest) last.
MISTAKES: tuple[Mistake, ...] = (
    loss_convention_factor,
    activation_derivative_omitted,
    derivative_from_z,
    relu_kink,
    *CONV_MISTAKES,
    transposed_index,
    update_sign,
    updated_weight_in_backward,
    copied_from_neighbour,
    forward_value_copied_wrong,
)
