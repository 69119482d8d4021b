"""``check`` names each convolution mistake from an answer file that makes it.

Every wrong answer here is made in the test itself, with plain loops over the right numbers
(the record's), never with the code under test."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from chainrule.classroom import Grader
from chainrule.explain import load_spec
from chainrule.explain.worked import compute

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
POOLED = EXAMPLES / "conv-maxpool-dense-softmax.yaml"  # 2x2 kernels, stride 1, max pool
STRIDED = EXAMPLES / "conv-stride2-padded.yaml"  # a 3x3 kernel, stride 2, padding 1


@pytest.fixture(scope="module", params=[POOLED, STRIDED], ids=["pooled", "strided"])
def case(request):
    spec = load_spec(request.param)
    step = compute(spec).steps[0]
    return request.param, spec, step, Grader(request.param)


def name(base, index):
    return f"{base}[{','.join(str(i + 1) for i in index)}]"


def geometry(spec):
    layer = spec.layers[0]
    W = spec.weights()[0]
    stride = layer.stride if isinstance(layer.stride, int) else layer.stride[0]
    pad = layer.padding if isinstance(layer.padding, int) else 0
    return W, stride, pad


def full_convolution(delta, W, stride, pad, shape, *, flip=True, dilate=True, crop=None):
    """dL/dx by the textbook recipe: dilate δ by the stride, pad it by k-1, slide the
    (flipped) kernel over it, then crop the convolution's own padding off."""
    filters, C, kh, kw = W.shape
    _, ho, wo = delta.shape
    s = stride if dilate else 1
    dilated = np.zeros((filters, s * (ho - 1) + 1, s * (wo - 1) + 1))
    dilated[:, ::s, ::s] = delta
    framed = np.pad(dilated, ((0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    rows, columns = framed.shape[1] - kh + 1, framed.shape[2] - kw + 1
    out = np.zeros((C, max(rows, shape[1] + 2 * pad), max(columns, shape[2] + 2 * pad)))
    for c in range(C):
        for y in range(rows):
            for x in range(columns):
                total = 0.0
                for o in range(filters):
                    kernel = W[o, c, ::-1, ::-1] if flip else W[o, c]
                    total += np.sum(framed[o, y : y + kh, x : x + kw] * kernel)
                out[c, y, x] = total
    top, left = (pad, pad) if crop is None else crop
    return out[:, top : top + shape[1], left : left + shape[2]]


def answer_file(tmp_path, values, student="s"):
    path = tmp_path / f"{student}.yaml"
    answers = {key: f"{value:.4f}" for key, value in values.items()}
    path.write_text(yaml.safe_dump({"student": student, "answers": answers}, allow_unicode=True))
    return path


def right_values(grader, prefix):
    return {k: v for k, v in grader.expected.items() if k.startswith(prefix)}


def assert_named(result, wrong, right, mistake):
    """Every entry the mistake moves is wrong with that mistake; the rest are right."""
    moved = 0
    for key, value in wrong.items():
        if abs(value - right[key]) < 2e-4:
            assert result[key].verdict == "right", key
            continue
        moved += 1
        assert result[key].verdict == "wrong", key
        assert result[key].diagnosis is not None, key
        assert result[key].diagnosis.mistake == mistake, (key, result[key].diagnosis)
        # the note reads "name = value: <message>", so the message does not repeat the name
        assert key not in result[key].diagnosis.message, result[key].diagnosis.message
    assert moved >= 2


def test_kernel_not_flipped_in_dx(case, tmp_path):
    _, spec, step, grader = case
    W, stride, pad = geometry(spec)
    example = step.examples[0]
    wrong = full_convolution(example.delta[0], W, stride, pad, example.x.shape, flip=False)
    right = full_convolution(example.delta[0], W, stride, pad, example.x.shape)
    np.testing.assert_allclose(right, example.dL_dx, atol=1e-12)  # the recipe itself is right
    given = {name("dL/dx", i): wrong[i] for i in np.ndindex(*wrong.shape)}
    result = grader.check(answer_file(tmp_path, right_values(grader, "δ1") | given))
    truth = {name("dL/dx", i): example.dL_dx[i] for i in np.ndindex(*wrong.shape)}
    assert_named(result, given, truth, "kernel not flipped in dx")


def test_kernel_flipped_in_the_forward_pass(case, tmp_path):
    _, spec, step, grader = case
    W, stride, pad = geometry(spec)
    b = spec.biases()[0]
    x = np.pad(step.examples[0].x, ((0, 0), (pad, pad), (pad, pad)))
    z = step.examples[0].z[0]
    kh, kw = W.shape[2:]
    given, truth = {}, {}
    for o, i, j in np.ndindex(*z.shape):
        window = x[:, stride * i : stride * i + kh, stride * j : stride * j + kw]
        given[name("z1", (o, i, j))] = np.sum(window * W[o][:, ::-1, ::-1]) + b[o]
        truth[name("z1", (o, i, j))] = z[o, i, j]
    result = grader.check(answer_file(tmp_path, given))
    assert_named(result, given, truth, "kernel flipped in the forward pass")


def test_stride_ignored_in_the_backward_pass(tmp_path):
    spec = load_spec(STRIDED)
    step, grader = compute(spec).steps[0], Grader(STRIDED)
    W, stride, pad = geometry(spec)
    example = step.examples[0]
    wrong = full_convolution(example.delta[0], W, stride, pad, example.x.shape, dilate=False)
    given = {name("dL/dx", i): wrong[i] for i in np.ndindex(*wrong.shape)}
    truth = {name("dL/dx", i): example.dL_dx[i] for i in np.ndindex(*wrong.shape)}
    result = grader.check(answer_file(tmp_path, right_values(grader, "δ1") | given))
    assert_named(result, given, truth, "stride ignored in the backward pass")
    # and the kernel gradient with δ slid over the padded input one pixel at a time
    x = np.pad(example.x, ((0, 0), (pad, pad), (pad, pad)))
    delta = example.delta[0]
    _, ho, wo = delta.shape
    kernel = {}
    for o, c, p, q in np.ndindex(*W.shape):
        kernel[name("dL/dW1", (o, c, p, q))] = np.sum(delta[o] * x[c, p : p + ho, q : q + wo])
    truth = {key: grader.expected[key] for key in kernel}
    result = grader.check(answer_file(tmp_path, right_values(grader, "δ1") | kernel, "t"))
    assert_named(result, kernel, truth, "stride ignored in the backward pass")


def test_padding_cropped_wrongly(tmp_path):
    spec = load_spec(STRIDED)
    step, grader = compute(spec).steps[0], Grader(STRIDED)
    W, stride, pad = geometry(spec)
    example = step.examples[0]
    for crop in ((0, 0), (2, 2), (0, 1)):
        wrong = full_convolution(example.delta[0], W, stride, pad, example.x.shape, crop=crop)
        given = {name("dL/dx", i): wrong[i] for i in np.ndindex(*wrong.shape)}
        truth = {name("dL/dx", i): example.dL_dx[i] for i in np.ndindex(*wrong.shape)}
        result = grader.check(answer_file(tmp_path, right_values(grader, "δ1") | given))
        assert_named(result, given, truth, "padding cropped wrongly")


def pooled_case():
    spec = load_spec(POOLED)
    example = compute(spec).steps[0].examples[0]
    return spec, example, Grader(POOLED)


def test_delta_spread_evenly_for_max_pooling(tmp_path):
    _, example, grader = pooled_case()
    upstream, a = example.dL_da[1], example.a[0]
    spread = np.kron(upstream, np.ones((1, 2, 2))) / 4  # 2x2 windows, stride 2: no overlap
    given = {name("dL/da1", i): spread[i] for i in np.ndindex(*a.shape)}
    truth = {name("dL/da1", i): example.dL_da[0][i] for i in np.ndindex(*a.shape)}
    answers = right_values(grader, "dL/da2") | given
    result = grader.check(answer_file(tmp_path, answers))
    assert_named(result, given, truth, "δ spread evenly for max pooling")
    # what follows from the spread δ is carried forward, not marked wrong again
    later = [r for r in result.results if r.name.startswith("δ1") and r.given is not None]
    assert not later  # δ1 not answered here; now answer it from the student's own dL/da1
    local = (example.z[0] > 0).astype(float)
    follows = {name("δ1", i): spread[i] * local[i] for i in np.ndindex(*a.shape)}
    result = grader.check(answer_file(tmp_path, answers | follows, "u"))
    verdicts = Counter(result[key].verdict for key in follows)
    assert verdicts["follows"] >= 4 and verdicts["wrong"] == 0


def test_delta_routed_to_the_wrong_pooling_position(tmp_path):
    _, example, grader = pooled_case()
    upstream, a = example.dL_da[1], example.a[0]
    # every window's gradient to its smallest entry instead of its largest
    wrong = np.zeros_like(a)
    for c, i, j in np.ndindex(*upstream.shape):
        window = a[c, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
        p, q = np.unravel_index(np.argmin(window), window.shape)
        wrong[c, 2 * i + p, 2 * j + q] += upstream[c, i, j]
    given = {name("dL/da1", idx): wrong[idx] for idx in np.ndindex(*a.shape)}
    truth = {name("dL/da1", idx): example.dL_da[0][idx] for idx in np.ndindex(*a.shape)}
    result = grader.check(answer_file(tmp_path, right_values(grader, "dL/da2") | given))
    assert_named(result, given, truth, "δ routed to the wrong pooling position")
    # one window's gradient moved to its second largest entry, the rest right
    c, i, j = 0, 0, 0
    window = a[c, 0:2, 0:2]
    second = np.argsort(window.ravel())[-2]
    p, q = divmod(int(second), 2)
    one = example.dL_da[0].copy()
    one[c, 0:2, 0:2] = 0.0
    one[c, p, q] = upstream[c, i, j]
    given = {name("dL/da1", idx): one[idx] for idx in np.ndindex(*a.shape)}
    result = grader.check(answer_file(tmp_path, given, "v"))
    assert_named(result, given, truth, "δ routed to the wrong pooling position")
    assert "not its maximum" in result[name("dL/da1", (c, p, q))].diagnosis.message


def test_kernel_flipped_in_dw(case, tmp_path):
    _, _, step, grader = case
    dW = step.dW[0]
    flipped = dW[:, :, ::-1, ::-1]  # the kernel gradient written in the flipped kernel's order
    given = {name("dL/dW1", i): flipped[i] for i in np.ndindex(*dW.shape)}
    truth = {name("dL/dW1", i): dW[i] for i in np.ndindex(*dW.shape)}
    result = grader.check(answer_file(tmp_path, right_values(grader, "δ1") | given))
    assert_named(result, given, truth, "kernel flipped in dW")
