"""The worked example: every number of forward, loss, backward and update, with its formula.

Notation (textbook layout, 1-based indices as in lecture notes): layer l computes

    z_l = W_l a_{l-1} + b_l,    a_l = f_l(z_l),    a_0 = x,

W_l[j, k] connects input k to neuron j (rows = output neurons); δ_l = dL/dz_l. With a batch
of m examples, L is the mean of the per-example losses L_i (as in the engine), δ is each
example's dL_i/dz, and each gradient is the mean of the per-example gradients.

Everything is float64 and computed by the engine's own parts: activation layers, loss classes
and optimizers (``numbers``, ``update``). Every formula printed comes from the component's own
math description (``layer.math``, ``loss.math``, ``optimizer.math``). ``compute`` is the table
of contents: per step, the forward pass (``forward``), the loss (``loss``), the backward pass
and gradients (``backward``), the chain-rule paths (``paths``), the update (``update``) and the
check against the engine and finite differences (``verify``), into one record (``record``) that
``render`` prints.
"""

from __future__ import annotations

import numpy as np

from chainrule.explain.backward import backward_blocks, gradient_blocks
from chainrule.explain.conv_worked import compute_conv
from chainrule.explain.forward import forward_blocks
from chainrule.explain.loss import loss_values
from chainrule.explain.numbers import example_state
from chainrule.explain.paths import enumerate_paths, parse_parameter, paths_section
from chainrule.explain.record import (
    Block,
    Equation,
    ExampleState,
    Section,
    StepRecord,
    WorkedExample,
)
from chainrule.explain.spec import ConvSpec, ExplainSpec
from chainrule.explain.summary import summary_block, training_notes
from chainrule.explain.symbols import LOSS
from chainrule.explain.update import Updater, update_blocks, update_formulas
from chainrule.explain.verify import verification_block, verify
from chainrule.reporting.expr import Add, Frac, Mul, Num, Raw, Sym


def compute(
    spec: ExplainSpec | ConvSpec, paths: list[str] | None = None, source: str = ""
) -> WorkedExample:
    """Run ``spec.steps`` steps and record every number; ``paths`` as in ``--paths W1[1,1]``.
    A convolutional spec is worked by ``conv_worked.compute_conv``."""
    if isinstance(spec, ConvSpec):
        return compute_conv(spec, paths, source)
    targets = [parse_parameter(text, spec) for text in (paths or [])]
    W, b = spec.weights(), spec.biases()
    updater = Updater(spec, W, b)
    x, y = spec.x(), spec.y()
    steps = []
    for number in range(1, spec.steps + 1):
        examples = [example_state(spec, W, b, x[i], y[i]) for i in range(spec.n_examples)]
        loss = float(np.mean([e.loss for e in examples]))
        dW = [
            np.mean([np.outer(e.delta[i], e.activation_input(i + 1)) for e in examples], axis=0)
            for i in range(spec.n_layers)
        ]
        db = [np.mean([e.delta[i] for e in examples], axis=0) for i in range(spec.n_layers)]
        sections = _step_sections(spec, W, b, examples, loss, dW, db)
        W_new, b_new, update = _update(spec, updater, number, W, b, dW, db)
        verification = verify(spec, W, b, loss, dW, db)
        record = StepRecord(
            number, W, b, examples, loss, dW, db, W_new, b_new, sections, verification
        )
        if number == 1 and targets:
            record.paths = [enumerate_paths(spec, record, target) for target in targets]
            sections.append(paths_section(spec, record.paths))
        sections.append(update)
        sections.append(Section("Verification", [verification_block(verification)]))
        steps.append(record)
        W, b = W_new, b_new
    final = [example_state(spec, W, b, x[i], y[i]) for i in range(spec.n_examples)]
    final_loss = float(np.mean([e.loss for e in final]))
    summary = Section("Summary", [summary_block(steps, final_loss)])
    return WorkedExample(spec, source, _overview(spec), steps, final_loss, W, b, summary)


def _update(
    spec: ExplainSpec,
    updater: Updater,
    number: int,
    W: list[np.ndarray],
    b: list[np.ndarray],
    dW: list[np.ndarray],
    db: list[np.ndarray],
) -> tuple[list[np.ndarray], list[np.ndarray], Section]:
    """One optimizer step: the new W and b (frozen ones unchanged) and the section printing it."""
    before = updater.state()
    updater.step(dW, db)
    after = updater.state()
    layers = range(1, spec.n_layers + 1)
    old = {f"W{n}": W[n - 1] for n in layers} | {f"b{n}": b[n - 1] for n in layers}
    grads = {f"W{n}": dW[n - 1] for n in layers} | {f"b{n}": db[n - 1] for n in layers}
    W_new = [updater.tensor(f"W{n}") if f"W{n}" in updater else W[n - 1].copy() for n in layers]
    b_new = [updater.tensor(f"b{n}") if f"b{n}" in updater else b[n - 1].copy() for n in layers]
    rule = Block("Rule", formulas=update_formulas(spec))
    frozen = [name for name in spec.parameter_names() if not spec.trainable(name)]
    if frozen:
        rule.notes.append((f"Frozen (not updated): {', '.join(frozen)}.",))
    update = Section("Update", [rule, *update_blocks(spec, updater, before, after, old, grads)])
    update.blocks.append(
        Block(
            f"Parameters after step {number}", matrices=parameter_matrices(spec, W_new, b_new, W, b)
        )
    )
    return W_new, b_new, update


def _step_sections(
    spec: ExplainSpec,
    W: list[np.ndarray],
    b: list[np.ndarray],
    examples: list[ExampleState],
    loss: float,
    dW: list[np.ndarray],
    db: list[np.ndarray],
) -> list[Section]:
    m = len(examples)
    forward = Section("Forward pass")
    backward = Section("Backward pass")
    for index, example in enumerate(examples, start=1):
        label = f"example {index} of {m}: " if m > 1 else ""
        blocks = forward_blocks(spec, W, b, example)
        back = backward_blocks(spec, W, example)
        if m > 1:
            for block in blocks + back:
                block.title = label + block.title
        forward.blocks += blocks
        backward.blocks += back
    loss_section = loss_values(spec, examples)
    if m > 1:
        loss_section.blocks.append(
            Block(
                "Batch",
                equations=[
                    Equation(
                        LOSS,
                        [
                            Mul(Frac(1, m), Add(*[Sym("L", None, (i,)) for i in range(1, m + 1)])),
                            Mul(Frac(1, m), Add(*[Num(e.loss) for e in examples])),
                        ],
                        loss,
                    )
                ],
            )
        )
    gradients = Section("Gradients", gradient_blocks(spec, examples, dW, db))
    return [forward, loss_section, backward, gradients]


def _overview(spec: ExplainSpec) -> Section:
    widths = spec.widths
    names = [layer.math.symbol.text for layer in spec.layers]
    shape = " -> ".join(
        [f"{widths[0]} inputs"] + [f"{w} ({n})" for w, n in zip(widths[1:], names, strict=True)]
    )
    network = Block("Architecture")
    network.notes.append((f"Layers: {shape}.",))
    network.notes.append(
        (
            "Layout: textbook. W_l has one row per output neuron, W_l[j,k] connects input k "
            "to neuron j, and z_l = W_l a_(l-1) + b_l (a_0 = x). The engine "
            "(chainrule.nn.layers.Dense) stores the transpose, shape (n_in, n_out), and computes "
            "z = x @ W + b on rows.",
        )
    )
    network.notes += training_notes(spec)
    if spec.n_examples > 1:
        network.notes.append(
            (f"Batch of {spec.n_examples} examples: the loss and the gradients are means.",)
        )
    x, y = spec.x(), spec.y()
    vectors = Block("Data")
    for i in range(spec.n_examples):
        suffix = f" (example {i + 1})" if spec.n_examples > 1 else ""
        vectors.matrices.append(
            [(Raw(f"x{suffix}", f"x{suffix}"), x[i]), (Raw(f"y{suffix}", f"y{suffix}"), y[i])]
        )
    params = Block(
        "Initial parameters (textbook layout: one row per output neuron)",
        matrices=parameter_matrices(spec, spec.weights(), spec.biases()),
    )
    return Section("Network", [network, vectors, params])


def parameter_matrices(
    spec: ExplainSpec,
    W: list[np.ndarray],
    b: list[np.ndarray],
    W_before: list[np.ndarray] | None = None,
    b_before: list[np.ndarray] | None = None,
) -> list[list[tuple]]:
    """[(W1, b1), (W2, b2), ...], each pair printed side by side; with the values before an
    update, each number is printed with enough digits to show its change."""
    groups = []
    for n in range(1, spec.n_layers + 1):
        W_ref = None if W_before is None else W_before[n - 1]
        b_ref = None if b_before is None else b_before[n - 1]
        groups.append(
            [
                (Raw(f"W{n}", f"W^{{({n})}}"), W[n - 1], W_ref),
                (Raw(f"b{n}", f"b^{{({n})}}"), b[n - 1], b_ref),
            ]
        )
    return groups
