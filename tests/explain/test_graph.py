"""Computation graphs (DOT, Graphviz, matplotlib) and the classic network diagram."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from convolutional_models import every_layer_kind, with_a_new_layer

from chainrule.explain import graph
from chainrule.explain.graph import (
    graph_dot,
    network_diagram,
    network_edges,
    network_figure,
    render_graph,
)
from chainrule.nn.layers import (
    Dense,
    Identity,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from chainrule.nn.model import Sequential

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def mnist_sigmoid_softmax() -> Sequential:
    return Sequential(
        [Dense(64), Sigmoid(), Dense(10), Softmax()],
        loss="categorical_crossentropy",
        input_shape=(784,),
    )


def parse_dot(text: str) -> tuple[dict[str, str], list[tuple[str, str, str, bool]]]:
    """Nodes {id: label} and edges (source, target, label, backward) of graph_dot's output."""
    assert text.startswith("digraph") and text.rstrip().endswith("}")
    nodes, edges = {}, []
    for line in text.splitlines():
        edge = re.fullmatch(r'\s*"([^"]+)" -> "([^"]+)"(?: \[(.*)\])?;', line)
        node = re.fullmatch(r'\s*"([^"]+)" \[label="((?:[^"\\]|\\.)*)".*\];', line)
        if edge:
            attributes = edge.group(3) or ""
            label = re.search(r'label="((?:[^"\\]|\\.)*)"', attributes)
            edges.append(
                (
                    edge.group(1),
                    edge.group(2),
                    label.group(1) if label else "",
                    "c0392b" in attributes,
                )
            )
        elif node:
            nodes[node.group(1)] = node.group(2)
    return nodes, edges


# --------------------------------------------------------------------------- DOT


def test_forward_dot_has_one_node_per_matrix_and_only_declared_endpoints():
    nodes, edges = parse_dot(graph_dot(mnist_sigmoid_softmax()))
    assert set(nodes) == {"x", "W1", "b1", "z1", "a1", "W2", "b2", "z2", "a2", "y", "loss"}
    for source, target, _, _ in edges:
        assert source in nodes and target in nodes
    pairs = {(s, t) for s, t, _, _ in edges}
    assert pairs == {
        ("x", "z1"), ("W1", "z1"), ("b1", "z1"), ("z1", "a1"),
        ("a1", "z2"), ("W2", "z2"), ("b2", "z2"), ("z2", "a2"),
        ("a2", "loss"), ("y", "loss"),
    }  # fmt: skip
    assert "z₁ = xW₁ + b₁" in nodes["z1"] and "(m×64)" in nodes["z1"]
    assert "(784×64)" in nodes["W1"]
    assert not any(backward for *_, backward in edges)


def test_backward_dot_labels_each_edge_with_its_local_derivative():
    nodes, edges = parse_dot(graph_dot(mnist_sigmoid_softmax(), backward=True))
    for source, target, _, _ in edges:
        assert source in nodes and target in nodes
    backward = {(s, t): label for s, t, label, is_backward in edges if is_backward}
    assert backward == {
        ("loss", "z2"): "(a₂ − y)/m\\n(softmax + CE fused)",  # one fused edge, past a₂
        ("z2", "W2"): "a₁ᵀ ·",
        ("z2", "b2"): "1ᵀ ·",
        ("z2", "a1"): "· W₂ᵀ",
        ("a1", "z1"): "⊙ f'(z₁)\\n= a₁ ⊙ (1 − a₁)",
        ("z1", "W1"): "xᵀ ·",
        ("z1", "b1"): "1ᵀ ·",
    }
    assert "δ₁ = ∂L/∂z₁" in nodes["z1"]
    assert "∂L/∂W₁ = xᵀδ₁" in nodes["W1"]


def test_an_unfused_loss_starts_at_the_output_with_dL_da():
    model = Sequential(
        [Dense(4), ReLU(), Dense(3), Sigmoid()], loss="mse", input_shape=(2,)
    )  # mean over k = 3 outputs
    _, edges = parse_dot(graph_dot(model, backward=True))
    backward = {(s, t): label for s, t, label, is_backward in edges if is_backward}
    assert backward[("loss", "a2")] == "∂L/∂a₂ = 2(a₂ − y)/(3m)"
    assert backward[("a2", "z2")] == "⊙ f'(z₂)\\n= a₂ ⊙ (1 − a₂)"
    assert backward[("a1", "z1")] == "⊙ f'(z₁)\\n= [z₁ > 0]"


def test_the_backward_graph_needs_a_loss():
    with pytest.raises(ValueError, match="needs a model with a loss"):
        graph_dot(Sequential([Dense(2), Tanh()], input_shape=(3,)), backward=True)


# --------------------------------------------------------------------------- rendering


def test_without_dot_the_matplotlib_fallback_writes_png_and_svg(tmp_path, monkeypatch):
    monkeypatch.setattr(graph.shutil, "which", lambda name: None)
    written = render_graph(mnist_sigmoid_softmax(), tmp_path / "graph", backward=True)
    assert written == [tmp_path / "graph.svg", tmp_path / "graph.png"]
    assert (tmp_path / "graph.png").read_bytes().startswith(PNG_SIGNATURE)
    svg = (tmp_path / "graph.svg").read_text()
    assert "<svg" in svg and svg.rstrip().endswith("</svg>")
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_engine_graphviz_without_dot_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(graph.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="engine='matplotlib'"):
        render_graph(mnist_sigmoid_softmax(), tmp_path / "graph", engine="graphviz")


def test_the_dot_format_writes_the_dot_text(tmp_path):
    model = mnist_sigmoid_softmax()
    [path] = render_graph(model, tmp_path / "graph", formats=("dot",), engine="matplotlib")
    assert path.read_text(encoding="utf-8") == graph_dot(model)


def _fake_dot(tmp_path, body: str):
    script = tmp_path / "dot"
    script.write_text(f"#!{sys.executable}\nimport sys\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_the_graphviz_path_pipes_dot_text_to_the_dot_program(tmp_path, monkeypatch):
    fake = _fake_dot(
        tmp_path,
        "args = sys.argv[1:]\nsource = sys.stdin.read()\n"
        "open(args[args.index('-o') + 1], 'w').write("
        "'<svg>' + args[0] + ' ' + str(source.count('->')) + '</svg>')",
    )
    monkeypatch.setattr(graph.shutil, "which", lambda name: fake)
    [path] = render_graph(mnist_sigmoid_softmax(), tmp_path / "out" / "graph", formats=("svg",))
    assert path.read_text() == "<svg>-Tsvg 10</svg>"  # ten forward edges went in


def test_a_failing_dot_raises_with_its_message_and_leaves_no_file(tmp_path, monkeypatch):
    fake = _fake_dot(tmp_path, "sys.stderr.write('Error: syntax error in line 3')\nsys.exit(1)")
    monkeypatch.setattr(graph.shutil, "which", lambda name: fake)
    with pytest.raises(RuntimeError, match="syntax error in line 3"):
        render_graph(mnist_sigmoid_softmax(), tmp_path / "graph", formats=("png",))
    assert not list(tmp_path.glob("graph*")) and not list(tmp_path.glob(".graph*"))


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graphviz_writes_a_valid_svg(tmp_path):
    [path] = render_graph(
        mnist_sigmoid_softmax(), tmp_path / "graph", backward=True, formats=("svg",),
        engine="graphviz",
    )  # fmt: skip
    svg = path.read_text(encoding="utf-8")
    assert "<svg" in svg and "</svg>" in svg and "z₁" in svg


def test_bad_engine_or_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="auto, graphviz, matplotlib"):
        render_graph(mnist_sigmoid_softmax(), tmp_path / "g", engine="neato")
    with pytest.raises(ValueError, match="svg, png, pdf, dot"):
        render_graph(mnist_sigmoid_softmax(), tmp_path / "g", formats=("jpg",))


# --------------------------------------------------------------------------- network diagram


def textbook_3_3_2_2() -> tuple[Sequential, list[np.ndarray]]:
    """The 3-3-2-2 exercise network; weights given textbook-style (row j = neuron j)."""
    textbook = [
        np.array([[0.1, 0.2, 0.2], [0.4, 0.1, 0.2], [0.2, 0.3, 0.1]]),
        np.array([[0.1, 0.2, 0.2], [0.4, -0.1, 0.2]]),
        np.array([[0.5, -0.1], [0.5, 0.5]]),
    ]
    model = Sequential(
        [Dense(3), ReLU(), Dense(2), Tanh(), Dense(2), Sigmoid()],
        loss="mse",
        input_shape=(3,),
        dtype="float64",
    )
    for number, W in enumerate(textbook, start=1):
        model.params[f"dense_{number}.W"] = W.T  # the engine's layout is the transpose
    return model, textbook


def test_network_edges_use_textbook_indexing():
    model, textbook = textbook_3_3_2_2()
    edges = network_edges(model)
    assert len(edges) == 9 + 6 + 4
    for edge in edges:
        assert edge.weight == textbook[edge.layer - 1][edge.to - 1, edge.source - 1]
    w21 = next(e for e in edges if (e.layer, e.to, e.source) == (1, 2, 1))
    assert w21.weight == 0.4 and w21.label() == "$w_{21}$ = 0.40"


def test_the_diagram_labels_every_connection_with_its_weight(tmp_path):
    model, textbook = textbook_3_3_2_2()
    texts = {t.get_text() for t in network_figure(model, digits=2).axes[0].texts}
    for W in textbook:
        for j, row in enumerate(W, start=1):
            for i, weight in enumerate(row, start=1):
                assert f"$w_{{{j}{i}}}$ = {weight:.2f}" in texts
    written = network_diagram(model, tmp_path / "net")
    assert written == [tmp_path / "net.svg", tmp_path / "net.png"]
    assert written[1].read_bytes().startswith(PNG_SIGNATURE)
    assert "<svg" in written[0].read_text()


def test_a_network_too_large_to_draw_suggests_the_computation_graph(tmp_path):
    with pytest.raises(ValueError, match=r"at most 16 units.*784.*computation graph"):
        network_diagram(mnist_sigmoid_softmax(), tmp_path / "net")
    wide = Sequential([Dense(17), Identity()], loss="mse", input_shape=(2,))
    with pytest.raises(ValueError, match="'dense_1' has 17"):
        network_figure(wide)


# --------------------------------------------------------------------------- convolutional networks

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def cnn_small() -> Sequential:
    from chainrule.app.recipes import load_recipe

    return load_recipe(RECIPES / "cnn-small.yaml").build_model()


def test_a_cnn_forward_graph_runs_through_im2col_pooling_and_flatten():
    nodes, edges = parse_dot(graph_dot(cnn_small()))
    pairs = {(s, t): label for s, t, label, _ in edges}
    assert set(pairs) == {
        ("x", "cols1"), ("cols1", "z1"), ("W1", "z1"), ("b1", "z1"), ("z1", "a1"),
        ("a1", "p1"), ("p1", "f1"), ("f1", "z2"), ("W2", "z2"), ("b2", "z2"), ("z2", "a2"),
        ("a2", "loss"), ("y", "loss"),
    }  # fmt: skip
    assert pairs[("x", "cols1")] == "im2col" and pairs[("a1", "p1")] == "max pooling 2×2"
    assert pairs[("p1", "f1")] == "reshape"
    assert nodes["cols1"] == "x̂₁ = im2col(x)\\n(m×9×676)"
    assert nodes["z1"] == "z₁ = Ŵ₁x̂₁ + b₁\\n(m×8×26×26)"
    assert nodes["W1"] == "W₁\\n(8×1×3×3)\\nas Ŵ₁: 8×9"
    assert nodes["p1"] == "p₁ = maxpool(a₁)\\n(m×8×13×13)"
    assert "Wh1" not in nodes  # Ŵ is a view of W, shown in W's node


def test_a_cnn_backward_graph_labels_each_edge_with_the_layers_local_derivative():
    nodes, edges = parse_dot(graph_dot(cnn_small(), backward=True))
    backward = {(s, t): label for s, t, label, is_backward in edges if is_backward}
    assert backward == {
        ("loss", "z2"): "(a₂ − y)/m\\n(softmax + CE fused)",
        ("z2", "W2"): "f₁ᵀ ·",
        ("z2", "b2"): "1ᵀ ·",
        ("z2", "f1"): "· W₂ᵀ",
        ("f1", "p1"): "reshape",
        ("p1", "a1"): "routed to the argmax",
        ("a1", "z1"): "⊙ f'(z₁)\\n= [z₁ > 0]",
        ("z1", "W1"): "Σₙ · x̂₁ᵀ",
        ("z1", "b1"): "Σ_(n,i,j)",
    }  # the first convolution's X̂ and x get no gradient: the engine skips them
    assert "∂L/∂Ŵ₁ = Σₙ δ₁[n] x̂₁[n]ᵀ" in nodes["W1"]
    assert "∂L/∂b₁ = Σ_(n,i,j) δ₁[n, :, i, j]" in nodes["b1"]
    assert "δ₁ = ∂L/∂z₁" in nodes["z1"] and "∂L/∂p₁" in nodes["p1"]


def test_a_second_convolution_passes_the_gradient_down_through_col2im():
    nodes, edges = parse_dot(graph_dot(every_layer_kind(), backward=True))
    backward = {(s, t): label for s, t, label, is_backward in edges if is_backward}
    assert backward[("z2", "cols2")] == "Ŵ₂ᵀ ·"
    assert backward[("cols2", "p1")] == "col2im"
    assert backward[("p1", "a1")] == "· 1/4 to each"  # average pooling
    assert ("z2", "b2") not in backward  # a convolution without bias
    assert backward[("bn1", "gamma1")] == "Σ · ⊙ ẑ₁" and backward[("bn1", "beta1")] == "Σ"
    assert backward[("bn1", "z1")].startswith("(γ₁ ⊘ √(σ²₁ + ε))")
    assert "ẑ₁ = (z₁ − μ₁) ⊘ √(σ²₁ + ε)" in nodes["bn1"]
    assert "∂L/∂γ₁ = Σ_(n,h,w) ∂L/∂B₁ ⊙ ẑ₁" in nodes["gamma1"]
    for source, target, _, _ in edges:
        assert source in nodes and target in nodes


@pytest.mark.parametrize(
    ("recipe", "engine"),
    [("cnn-small", "graphviz"), ("cnn-lenet", "graphviz"), ("cnn-small", "matplotlib")],
)
def test_the_graphs_of_the_cnn_recipes_render(tmp_path, recipe, engine):
    from chainrule.app.recipes import load_recipe

    if engine == "graphviz" and shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    model = load_recipe(RECIPES / f"{recipe}.yaml").build_model()
    for backward in (False, True):
        svg, png = render_graph(model, tmp_path / f"g{backward}", backward=backward, engine=engine)
        assert png.read_bytes().startswith(PNG_SIGNATURE)
        text = svg.read_text(encoding="utf-8")
        assert "<svg" in text and "im2col" in text


def test_a_new_layers_graph_edges_come_from_its_own_math():
    nodes, edges = parse_dot(graph_dot(with_a_new_layer(), backward=True))
    backward = {(s, t): label for s, t, label, is_backward in edges if is_backward}
    assert backward[("h1", "gamma1")] == "Σ · ⊙ z₁" and backward[("h1", "z1")] == "γ₁ ⊙ ·"
    assert nodes["h1"].startswith("S₁ = γ₁ ⊙ z₁\\n(m×2×4×4)")
    assert "∂L/∂γ₁ = Σ_(n,h,w) ∂L/∂S₁ ⊙ z₁" in nodes["gamma1"]
