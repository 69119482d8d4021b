"""The convolution's and pooling's hand formulas (classroom.conv_math) equal the engine's."""

import numpy as np
import pytest

from chainrule.classroom import conv_math
from chainrule.explain.conv_steps import Geometry
from chainrule.explain.spec import parse_spec
from chainrule.explain.worked import compute

POOLED = {
    "input": [[0.2, 0.5, 0.1, 0.0, 0.3], [0.4, 0.9, 0.6, 0.2, 0.0], [0.0, 0.3, 0.8, 0.7, 0.2],
              [0.1, 0.2, 0.4, 0.9, 0.5], [0.6, 0.1, 0.0, 0.3, 0.8]],
    "target": [0, 1],
    "layers": [
        {"type": "conv2d", "activation": "relu", "b": [0.1, -0.3],
         "W": [[[0.5, -0.3], [0.2, 0.4]], [[-0.2, 0.6], [0.7, -0.1]]]},
        {"type": "max_pool2d", "pool_size": 2},
        "flatten",
        {"activation": "softmax", "b": [0.0, 0.1],
         "W": [[0.3, -0.2, 0.5, 0.1, -0.4, 0.2, 0.1, -0.3],
               [-0.1, 0.4, -0.3, 0.2, 0.3, -0.2, 0.5, 0.1]]},
    ],
    "loss": "categorical_crossentropy",
    "optimizer": {"name": "gd", "learning_rate": 0.1},
}  # fmt: skip

STRIDED = {
    "input": [[0.1, 0.4, 0.0, 0.3, 0.2], [0.5, 0.2, 0.7, 0.1, 0.0], [0.3, 0.8, 0.6, 0.4, 0.9],
              [0.0, 0.1, 0.5, 0.2, 0.6], [0.7, 0.3, 0.2, 0.8, 0.4]],
    "target": [0.5, -0.2],
    "layers": [
        {"type": "conv2d", "stride": 2, "padding": 1, "activation": "tanh", "b": [0.05],
         "W": [[0.2, -0.1, 0.3], [0.4, 0.1, -0.2], [-0.3, 0.5, 0.1]]},
        {"type": "avg_pool2d", "pool_size": 2, "stride": 1},
        "flatten",
        {"activation": "identity", "b": [0.1, 0.0],
         "W": [[0.6, -0.4, 0.3, 0.2], [-0.2, 0.5, 0.1, -0.3]]},
    ],
    "loss": {"name": "mse", "reduction": "mean"},
    "optimizer": {"name": "gd", "learning_rate": 0.1},
}  # fmt: skip


@pytest.mark.parametrize("raw", [POOLED, STRIDED], ids=["max-pooled", "strided-padded"])
def test_the_formulas_give_the_engines_numbers(raw):
    spec = parse_spec(raw)
    step = compute(spec).steps[0]
    example = step.examples[0]
    conv, pool = spec.engine_layers()[:2]
    geometry, pooling = Geometry(conv), Geometry(pool)
    W, b = spec.weights()[0], spec.biases()[0]
    z = conv_math.correlate(example.x, W, b, geometry)
    np.testing.assert_allclose(z, example.z[0], atol=1e-12)
    is_max = spec.layers[1].is_max
    pooled = conv_math.pool_forward(example.a[0], pooling, is_max)
    np.testing.assert_allclose(pooled, example.a[1], atol=1e-12)
    if is_max:
        np.testing.assert_array_equal(conv_math.routes(example.a[0], pooling), example.routes[2])
    back = conv_math.pool_backward(example.dL_da[1], example.a[0], pooling, is_max)
    np.testing.assert_allclose(back, example.dL_da[0], atol=1e-12)
    delta = example.delta[0]
    dx = conv_math.input_gradient(delta, W, geometry, example.x.shape)
    np.testing.assert_allclose(dx, example.dL_dx, atol=1e-12)
    dW = conv_math.weight_gradient(delta, example.x, geometry)
    np.testing.assert_allclose(dW, step.dW[0], atol=1e-12)


def test_the_mistakes_switches_change_what_they_name():
    spec = parse_spec(STRIDED)
    example = compute(spec).steps[0].examples[0]
    geometry = Geometry(spec.engine_layers()[0])
    W, delta, shape = spec.weights()[0], example.delta[0], example.x.shape
    right = conv_math.input_gradient(delta, W, geometry, shape)
    # the full convolution with the kernel unflipped is the right rule with rot180(W)
    unflipped = conv_math.input_gradient(delta, W, geometry, shape, flip=False)
    flipped_kernel = W[:, :, ::-1, ::-1]
    np.testing.assert_allclose(
        unflipped, conv_math.input_gradient(delta, flipped_kernel, geometry, shape)
    )
    assert not np.allclose(unflipped, right)
    # stride 1 in the backward pass: δ lands on the top-left block only
    undilated = conv_math.input_gradient(delta, W, geometry, shape, stride=(1, 1))
    assert not np.allclose(undilated, right)
    # cropping at the padding's own offset is the right rule
    np.testing.assert_allclose(
        conv_math.input_gradient(delta, W, geometry, shape, crop=(1, 1)), right
    )
