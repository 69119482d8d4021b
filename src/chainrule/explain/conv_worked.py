"""A convolutional worked example: every number of a CNN on one image, with its arithmetic.

The table of contents, per step: the forward pass (each convolution pixel as its sum of
products, each pooling window's max or mean, the flatten, the dense layers), the loss, the
backward pass (δ at every layer, routed back through the pooling, the gradient for each
conv layer's input as a full convolution of δ with the flipped kernel), the gradients (dW
as the correlation of the input with δ, one sum per kernel entry), the chain-rule paths, the
update, and the verification against the engine's backward pass and finite differences.
The numbers are the engine's (``conv_numbers``); ``conv_steps`` writes out their arithmetic.
"""

from __future__ import annotations

import numpy as np

from chainrule.explain.backward import dense_backward_block, dense_gradient_block
from chainrule.explain.conv_numbers import conv_example_state
from chainrule.explain.conv_paths import (
    conv_paths_section,
    enumerate_conv_paths,
    parse_conv_parameter,
)
from chainrule.explain.conv_steps import (
    Arithmetic,
    channel_maps,
    conv_backward_blocks,
    conv_forward_blocks,
    conv_gradient_block,
    flatten_backward_block,
    flatten_forward_block,
    kernel_maps,
    pool_backward_block,
    pool_forward_block,
)
from chainrule.explain.forward import dense_forward_block
from chainrule.explain.loss import loss_values
from chainrule.explain.record import (
    Block,
    ConvExampleState,
    Section,
    StepRecord,
    Verification,
    WorkedExample,
)
from chainrule.explain.spec import ConvSpec
from chainrule.explain.summary import summary_block, training_notes
from chainrule.explain.update import Updater, update_blocks, update_formulas
from chainrule.explain.verify import (
    KINK_TOLERANCE,
    KINKED,
    check_gradients,
    verification_block,
)
from chainrule.reporting.expr import Raw

Params = list[np.ndarray | None]


def compute_conv(spec: ConvSpec, paths: list[str] | None = None, source: str = "") -> WorkedExample:
    """Run ``spec.steps`` steps on the image and record every number; ``paths`` as in
    ``--paths W1[1,1,2,1]``."""
    targets = [parse_conv_parameter(text, spec) for text in (paths or [])]
    W, b = spec.weights(), spec.biases()
    updater = Updater(spec, W, b)  # type: ignore[arg-type]
    steps = []
    for number in range(1, spec.steps + 1):
        example, grads = conv_example_state(spec, W, b)
        dW = [grads.get(f"W{n}") for n in range(1, spec.n_layers + 1)]
        db = [grads.get(f"b{n}") for n in range(1, spec.n_layers + 1)]
        arithmetic = Arithmetic()
        sections = _step_sections(spec, W, b, example, dW, db, arithmetic)
        W_new, b_new, update = _update(spec, updater, number, W, b, dW, db)
        verification = verify_conv(spec, W, b, example, grads, arithmetic)
        record = StepRecord(
            number, W, b, [example], example.loss, dW, db, W_new, b_new, sections, verification
        )
        if number == 1 and targets:
            record.paths = [enumerate_conv_paths(spec, record, target) for target in targets]
            sections.append(conv_paths_section(spec, record.paths))
        sections.append(update)
        sections.append(Section("Verification", [conv_verification_block(verification)]))
        steps.append(record)
        W, b = W_new, b_new
    final, _ = conv_example_state(spec, W, b)
    summary = Section("Summary", [summary_block(steps, final.loss)])
    return WorkedExample(spec, source, _overview(spec), steps, final.loss, W, b, summary)


def _step_sections(
    spec: ConvSpec,
    W: Params,
    b: Params,
    example: ConvExampleState,
    dW: Params,
    db: Params,
    arithmetic: Arithmetic,
) -> list[Section]:
    engines = spec.engine_layers()
    forward, backward, gradients = (
        Section("Forward pass"),
        Section("Backward pass"),
        Section("Gradients"),
    )
    for number, kind in enumerate(spec.kinds, start=1):
        engine = engines[number - 1]
        if kind == "conv2d":
            forward.blocks += conv_forward_blocks(
                spec, engine, W[number - 1], b[number - 1], example, number, arithmetic
            )
        elif kind == "flatten":
            forward.blocks.append(flatten_forward_block(example, number))
        elif kind == "dense":
            forward.blocks.append(dense_forward_block(spec, W, b, example, number))
        else:
            forward.blocks.append(pool_forward_block(spec, engine, example, number, arithmetic))
    for number in range(spec.n_layers, 0, -1):
        kind, engine = spec.kinds[number - 1], engines[number - 1]
        if kind == "dense":
            backward.blocks.append(dense_backward_block(spec, W, example, number))
            gradients.blocks.append(dense_gradient_block(spec, [example], dW, db, number))
        elif kind == "flatten":
            backward.blocks.append(flatten_backward_block(W, example, number))
        elif kind == "conv2d":
            backward.blocks += conv_backward_blocks(
                spec, engine, W[number - 1], example, number, arithmetic
            )
            gradients.blocks.append(
                conv_gradient_block(
                    spec, engine, example, dW[number - 1], db[number - 1], number, arithmetic
                )
            )
        else:
            backward.blocks.append(pool_backward_block(spec, engine, example, number, arithmetic))
    return [forward, loss_values(spec, [example]), backward, gradients]


def _update(
    spec: ConvSpec,
    updater: Updater,
    number: int,
    W: Params,
    b: Params,
    dW: Params,
    db: Params,
) -> tuple[Params, Params, Section]:
    """One optimizer step (the engine's): new W and b, and the section printing it."""
    before = updater.state()
    updater.step(dW, db)  # type: ignore[arg-type]
    after = updater.state()
    layers = range(1, spec.n_layers + 1)
    old = {f"W{n}": W[n - 1] for n in layers} | {f"b{n}": b[n - 1] for n in layers}
    grads = {f"W{n}": dW[n - 1] for n in layers} | {f"b{n}": db[n - 1] for n in layers}

    def new(name: str, value: np.ndarray | None) -> np.ndarray | None:
        if value is None:
            return None
        return updater.tensor(name) if name in updater else value.copy()

    W_new = [new(f"W{n}", W[n - 1]) for n in layers]
    b_new = [new(f"b{n}", b[n - 1]) for n in layers]
    rule = Block("Rule", formulas=update_formulas(spec))  # type: ignore[arg-type]
    frozen = [name for name in spec.parameter_names() if not spec.trainable(name)]
    if frozen:
        rule.notes.append((f"Frozen (not updated): {', '.join(frozen)}.",))
    blocks = update_blocks(spec, updater, before, after, old, grads)  # type: ignore[arg-type]
    update = Section("Update", [rule, *blocks])
    update.blocks += parameter_blocks(spec, W_new, b_new, f"Parameters after step {number}", W, b)
    return W_new, b_new, update


def parameter_blocks(
    spec: ConvSpec,
    W: Params,
    b: Params,
    title: str,
    W_before: Params | None = None,
    b_before: Params | None = None,
) -> list[Block]:
    """One block per layer with parameters, in layer order: a conv layer's kernels (one
    matrix per filter and channel, with its bias), a dense layer's W and b (textbook
    layout); with the values before an update, each shown with enough digits to change."""
    blocks = []
    for n in range(1, spec.n_layers + 1):
        if W[n - 1] is None:
            continue
        W_ref = None if W_before is None else W_before[n - 1]
        b_ref = None if b_before is None else b_before[n - 1]
        if W[n - 1].ndim == 4:
            block = Block(f"{title}: layer {n} (convolution)")
            groups = kernel_maps(n, W[n - 1], b[n - 1])
            if W_ref is not None:
                before = kernel_maps(n, W_ref, b_ref)
                groups = [
                    [(*entry, old[1]) for entry, old in zip(group, previous, strict=True)]
                    for group, previous in zip(groups, before, strict=True)
                ]
            block.maps += groups
        else:
            block = Block(f"{title}: layer {n} (dense, one row per output neuron)")
            block.matrices.append(
                [
                    (Raw(f"W{n}", f"W^{{({n})}}"), W[n - 1], W_ref),
                    (Raw(f"b{n}", f"b^{{({n})}}"), b[n - 1], b_ref),
                ]
            )
        blocks.append(block)
    return blocks


def _overview(spec: ConvSpec) -> Section:
    shapes = spec.shapes
    pieces = [f"image {'×'.join(map(str, shapes[0]))}"]
    for number, (layer, kind) in enumerate(zip(spec.layers, spec.kinds, strict=True), start=1):
        size = "×".join(map(str, shapes[number]))
        name = {"conv2d": "conv", "max_pool2d": "max pool", "avg_pool2d": "avg pool"}.get(
            kind, kind
        )
        activation = getattr(layer, "activation_name", "identity")
        suffix = "" if activation == "identity" else f" {layer.math.symbol.text}"
        pieces.append(f"{size} ({name}{suffix})")
    network = Block("Architecture")
    network.notes.append((f"Layers: {' -> '.join(pieces)}.",))
    network.notes.append(
        (
            "Indices count from 1. A feature map entry is a_l[c,i,j] (channel, row, column), a "
            "kernel entry W_l[o,c,p,q] (filter, input channel, row, column), as the engine "
            "(chainrule.nn.layers.Conv2D) stores W, shape (filters, channels, kh, kw). A dense "
            "layer's W_l has one row per output neuron (z_l = W_l a_(l-1) + b_l; the engine "
            "stores the transpose).",
        )
    )
    network.notes += training_notes(spec)
    data = Block("Data")
    data.maps.append(channel_maps("a", 0, spec.x()[0]))
    data.maps.append([(Raw("y", "y"), spec.y()[0])])
    params = parameter_blocks(spec, spec.weights(), spec.biases(), "Initial parameters")
    return Section("Network", [network, data, *params])


# -- verification ----------------------------------------------------------------------------
def verify_conv(
    spec: ConvSpec,
    W: Params,
    b: Params,
    example: ConvExampleState,
    grads: dict[str, np.ndarray],
    arithmetic: Arithmetic,
) -> Verification:
    """The record's gradients against a fresh engine model's ``backward`` (its own pass over
    the whole network, loss fused as it fuses it), and against central differences of the
    engine's loss in every parameter and in the image."""
    ours = {}
    for name, value in grads.items():
        key = f"{spec.engine_name(int(name[1:]))}.{name[0]}"
        ours[key] = value if value.ndim != 2 else value.T  # dense W: the engine's transpose
    result = check_gradients(
        spec.to_model(W, b),
        spec.x(),  # a copy, perturbed in place for dL/dx
        spec.y(),
        ours,
        example.loss,
        conv_kinks(spec, example),
        input_gradient=example.dL_dx,
    )
    result.arithmetic_max_difference = arithmetic.max_difference
    result.engine_passed &= arithmetic.max_difference <= ARITHMETIC_TOLERANCE
    return result


#: A printed sum, added up in the printed order, against the engine's (differently ordered)
#: float64 computation.
ARITHMETIC_TOLERANCE = 1e-12


def conv_kinks(spec: ConvSpec, example: ConvExampleState) -> list[str]:
    """Where the derivative is one-sided: a ReLU input at 0, or a max-pooling window whose
    two largest entries (nearly) tie, so a small change moves the chosen position."""
    hits = []
    for number, kind in enumerate(spec.kinds, start=1):
        layer = spec.layers[number - 1]
        z = example.z[number - 1]
        if z is not None and layer.activation_name in KINKED:
            for index in zip(*np.nonzero(np.abs(z) <= KINK_TOLERANCE), strict=True):
                printed = ",".join(str(i + 1) for i in index)
                hits.append(f"z{number}[{printed}] = 0 ({layer.math.name})")
        if kind == "max_pool2d":
            a_prev = example.activation_input(number)
            engine = spec.engine_layers()[number - 1]
            ph, pw = engine.pool_size
            sh, sw = engine.stride
            for c, i, j in np.ndindex(*example.a[number - 1].shape):
                window = np.sort(a_prev[c, sh * i : sh * i + ph, sw * j : sw * j + pw].ravel())
                if window.size > 1 and window[-1] - window[-2] <= KINK_TOLERANCE:
                    hits.append(f"a{number}[{c + 1},{i + 1},{j + 1}] (a tie in its window)")
    return hits


def conv_verification_block(result: Verification) -> Block:
    """The dense verification's notes, for the conv network, plus dL/dx and the written sums."""
    block = verification_block(result)
    first = block.notes[0][0].replace(
        "a float64 chainrule.nn.model.Sequential with Dense layers holding W^T",
        "a fresh float64 chainrule.nn.model.Sequential (Conv2D, pooling, Flatten and Dense "
        "layers, dense W stored transposed)",
    )
    block.notes[0] = (first,)
    block.notes.insert(
        1,
        (
            "Written-out arithmetic: every sum of products printed above (convolution pixels, "
            "pooled values, δ routed back, dW, db and dL/dx entries), added up as printed, "
            f"equals the engine's value: max |difference| = {result.arithmetic_max_difference:.1e}"
            f" (tolerance {ARITHMETIC_TOLERANCE:.0e}).",
        ),
    )
    block.notes.insert(
        3,
        (
            "The gradient for the image, dL/dx, against central differences of the loss in each "
            f"pixel: max |difference| = {result.input_fd_max_difference:.1e}.",
        ),
    )
    if result.kinks and not any("ReLU" in kink for kink in result.kinks):
        block.notes[-1] = (
            f"Near a kink: {', '.join(result.kinks)}. A tie in a max-pooling window makes the "
            "derivative one-sided (the engine routes to the first maximum); move the values "
            "apart for a well-defined exercise.",
        )
    return block
