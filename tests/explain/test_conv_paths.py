"""Chain-rule paths in convolutional specs: a shared kernel weight reaches the loss through
every output pixel of its filter; the paths' sum is the backward pass's gradient."""

from __future__ import annotations

import pytest
from worked_reference import CONV_MAXPOOL, CONV_STRIDED

from chainrule.explain import compute, explain
from chainrule.explain.conv_paths import parse_conv_parameter
from chainrule.explain.spec import load_spec


@pytest.mark.parametrize("path", [CONV_MAXPOOL, CONV_STRIDED], ids=lambda p: p.name)
@pytest.mark.parametrize("parameter", ["W1[1,1,2,1]", "W1[1,1,1,2]", "b1[1]", "W4[2,3]", "b4[1]"])
def test_the_paths_sum_to_the_gradient(path, parameter):
    record = compute(load_spec(path), paths=[parameter])
    (path_set,) = record.steps[0].paths
    products = [p.product for _, paths in path_set.groups for p in paths]
    assert sum(products) == pytest.approx(path_set.gradient, abs=1e-13)
    assert path_set.agrees


def test_a_kernel_weight_touches_every_pixel_of_its_filter():
    spec = load_spec(CONV_MAXPOOL)
    record = compute(spec, paths=["W1[2,1,1,2]"])
    (path_set,) = record.steps[0].paths
    example = record.steps[0].examples[0]
    # 16 pixels of filter 2: 4 chosen by the max pooling, 12 blocked (a factor 0)
    assert len(path_set.groups) + len(path_set.blocked) == 16
    assert len(path_set.groups) == 4
    for pixel, paths in path_set.groups:
        assert len(paths) == 2  # one through each softmax output's δ
        last = paths[0].factors[-1]
        _, i, j = (int(v) - 1 for v in pixel.index)
        assert last.value == example.x[0, i, j + 1]  # dz1[2,i,j]/dW1[2,1,1,2] = x[1,i,j+1]


def test_paths_through_overlapping_average_windows_carry_one_quarter():
    record = compute(load_spec(CONV_STRIDED), paths=["W1[1,1,2,2]"])
    (path_set,) = record.steps[0].paths
    quarters = {f.value for _, paths in path_set.groups for p in paths for f in p.factors}
    assert 0.25 in quarters
    # the centre pixel of the 3x3 map is in all four 2x2 windows: 4 windows x 2 outputs
    centre = next(paths for pixel, paths in path_set.groups if pixel.index == (1, 2, 2))
    assert len(centre) == 8


def test_parameter_errors_name_the_tensor_and_its_shape():
    spec = load_spec(CONV_MAXPOOL)
    assert parse_conv_parameter("W1[2,1,1,2]", spec).index == (2, 1, 1, 2)
    with pytest.raises(ValueError, match=r"W1 is 2×1×2×2 \(filters, channels, rows, columns\)"):
        parse_conv_parameter("W1[1,1]", spec)
    with pytest.raises(ValueError, match=r"W4 is 2×8 \(rows = output neurons"):
        parse_conv_parameter("W4[3,1]", spec)
    with pytest.raises(ValueError, match="layer 2 has no parameters in this network; its "):
        parse_conv_parameter("W2[1,1]", spec)
    with pytest.raises(ValueError, match="write a kernel weight as W<layer>"):
        parse_conv_parameter("W1(1)", spec)


def test_paths_print_grouped_by_pixel_with_their_sum():
    text = explain(CONV_MAXPOOL, paths=["W1[1,1,2,1]"])
    assert "Through z1[1,2,2]" in text
    assert "no path counts, each crosses a max pooling" in text
    assert "the sum of the paths agrees with it" in text
    assert "DISAGREE" not in text


def test_a_bias_is_said_to_be_shared_as_a_bias():
    assert "The kernel is shared: W1[1,1,2,1]" in explain(CONV_MAXPOOL, paths=["W1[1,1,2,1]"])
    assert "The bias is shared: b1[2]" in explain(CONV_MAXPOOL, paths=["b1[2]"])
