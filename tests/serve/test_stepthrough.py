"""The step-through page's API: explain's own record as JSON, its paths, check's verdicts, and
a clear 4xx (never a 500) for anything a client can send."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from starlette.applications import Starlette

from chainrule.classroom import check
from chainrule.explain import compute, explain, load_spec, parse_spec
from chainrule.explain.paths import enumerate_paths, parse_parameter
from chainrule.reporting.expr import format_number
from chainrule.serve import stepthrough
from chainrule.serve.limits import EXCEPTION_HANDLERS
from chainrule.utils.yamlfile import parse_yaml_mapping

try:  # Starlette's TestClient needs httpx2 (Starlette >= 1.0) or httpx (older releases)
    from starlette.testclient import TestClient
except RuntimeError as error:
    pytest.skip(str(error), allow_module_level=True)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CLASSIC = EXAMPLES / "relu-tanh-sigmoid-mse.yaml"
MOMENTUM = EXAMPLES / "sigmoid-binary-crossentropy.yaml"


@pytest.fixture(scope="module")
def client():
    app = Starlette(routes=stepthrough.routes(), exception_handlers=EXCEPTION_HANDLERS)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def classic(client):
    response = client.post("/api/step", json={"example": "relu-tanh-sigmoid-mse"})
    assert response.status_code == 200, response.text
    return response.json()


def squeeze(text: str) -> str:
    """Whitespace as one space: explain's terminal text aligns and wraps its equations."""
    return " ".join(text.split())


def by_name(record: dict, step: int = 1, example: int | None = None) -> dict[str, dict]:
    return {
        v["name"]: v
        for v in record["values"]
        if v["step"] == step
        and v["phase"] is not None
        and (example is None or v["example"] == example)
    }


def test_the_shipped_examples_are_listed_by_name_and_the_conv_ones_are_not_drawable(client):
    listing = client.get("/api/step/examples").json()["examples"]
    assert [entry["name"] for entry in listing] == sorted(p.stem for p in EXAMPLES.glob("*.yaml"))
    titles = {entry["name"]: entry["title"] for entry in listing}
    assert titles["relu-tanh-sigmoid-mse"] == load_spec(CLASSIC).title
    for entry in listing:
        raw = parse_yaml_mapping(
            (EXAMPLES / f"{entry['name']}.yaml").read_text(), entry["name"], "a spec"
        )
        dense = not any(isinstance(layer, dict) and "type" in layer for layer in raw["layers"])
        assert entry["drawable"] == dense, entry
        if not dense:
            assert "chainrule explain" in entry["reason"]


def test_without_an_examples_folder_the_page_gets_a_starter_spec_it_can_work_out(tmp_path):
    # an installed wheel has no examples/: the listing is empty and the starter works
    app = Starlette(routes=stepthrough.routes(examples_dir=tmp_path / "none"))
    with TestClient(app) as bare:
        answer = bare.get("/api/step/examples").json()
        assert answer["examples"] == []
        record = bare.post("/api/step", json={"yaml": answer["starter"]})
        assert record.status_code == 200, record.text
        assert record.json()["network"]["widths"] == [2, 2, 1]
        assert bare.post("/api/step", json={"example": "relu-tanh-sigmoid-mse"}).status_code == 404


def test_every_value_of_the_classic_spec_is_explains_number_and_line(classic, classic_numbers):
    printed = squeeze(explain(CLASSIC))
    values = by_name(classic)
    _, expected = classic_numbers  # biases frozen: the updated W only
    assert set(values) == set(expected)
    for name, value in values.items():
        assert value["value"] == pytest.approx(expected[name], rel=1e-12, abs=1e-15), name
        assert squeeze(value["line"]) in printed, value["line"]
        if value["kind"] == "z":  # explain shows z inside its a's line: ReLU(0.49)
            assert value["shown_in"] == f"a{name[1:]}"
            assert f"({value['text']})" in value["line"]
        else:
            assert value["line"].endswith(f" {value['text']}"), value["line"]
    # the given numbers: x, y, and W, b as the step starts, each editable where it sits
    given = {v["name"]: v for v in classic["values"] if v["id"].startswith("given:")}
    assert given["x[3]"]["value"] == 0.8 and given["x[3]"]["path"] == ["input", 2]
    assert given["W2[2,1]"]["value"] == 0.4 and given["W2[2,1]"]["path"] == ["layers", 1, "W", 1, 0]
    assert given["b3[2]"]["text"] == format_number(0.3, 4) and not given["b3[2]"]["trainable"]
    assert len({v["id"] for v in classic["values"]}) == len(classic["values"])


def test_the_stops_are_each_layer_forward_the_loss_each_delta_back_gradients_update(classic):
    stops = "forward:1 forward:2 forward:3 loss backward:3 backward:2 backward:1 gradients update"
    assert [p["id"] for p in classic["phases"]] == [f"1:{stop}" for stop in stops.split()]
    by_id = {p["id"]: p for p in classic["phases"]}
    assert "δ3[j] = dL/da3[j]*sigmoid'(z3[j])" in by_id["1:backward:3"]["formulas"]
    assert by_id["1:update"]["formulas"] == ["θ ← θ - η*dL/dθ,   η = 0.01"]
    values = by_name(classic)
    assert values["δ2[1]"]["phase"] == "1:backward:2" and values["a1[2]"]["phase"] == "1:forward:1"
    assert values["L"]["phase"] == "1:loss" and values["W1[1,1]"]["phase"] == "1:update"
    assert classic["network"]["widths"] == [3, 3, 2, 2]
    assert [layer["symbol"] for layer in classic["network"]["layers"]] == [
        "ReLU",
        "tanh",
        "sigmoid",
    ]
    assert classic["steps"][0]["passed"]


def test_several_steps_start_from_the_weights_the_last_update_left(client):
    record = client.post("/api/step", json={"example": "sigmoid-binary-crossentropy"}).json()
    spec = load_spec(MOMENTUM)
    worked = compute(spec)
    assert len(record["phases"]) == 2 * (2 * spec.n_layers + 3)
    second = by_name(record, step=2)
    assert second["a2[1]"]["value"] == pytest.approx(worked.steps[1].examples[0].a[1][0], rel=1e-12)
    starts = {v["name"]: v for v in record["values"] if v["id"].startswith("given:2:")}
    for name, value in by_name(record, step=1).items():
        if value["kind"] == "θ":
            assert starts[name]["value"] == value["value"]
    assert "v(W1[1,1])" in by_name(record, step=2)  # momentum's velocity, as explain prints it


def test_a_batch_gives_each_example_its_numbers_and_the_batch_its_mean(client):
    text = CLASSIC.read_text().replace(
        "input: [0.3, 0.5, 0.8]\ntarget: [0.5, 0.8]",
        "input: [[0.3, 0.5, 0.8], [0.1, -0.2, 0.4]]\ntarget: [[0.5, 0.8], [0.1, 0.9]]",
    )
    record = client.post("/api/step", json={"yaml": text}).json()
    worked = compute(parse_spec(parse_yaml_mapping(text, "t", "a spec")))
    for e in (1, 2):
        values = by_name(record, example=e)
        assert values["δ1[1]"]["value"] == pytest.approx(
            worked.steps[0].examples[e - 1].delta[0][0]
        )
        assert values[f"L[{e}]"]["value"] == pytest.approx(worked.steps[0].examples[e - 1].loss)
    batch = by_name(record, example=0)
    assert batch["L"]["value"] == pytest.approx(worked.steps[0].loss)
    assert batch["dL/dW1[1,1]"]["value"] == pytest.approx(worked.steps[0].dW[0][0, 0])
    assert record["practice"].startswith("practice checks one example")
    assert record["spec"]["input"] == [[0.3, 0.5, 0.8], [0.1, -0.2, 0.4]]


def test_an_edit_posted_back_as_json_is_worked_out_by_explain(client, classic):
    spec = copy.deepcopy(classic["spec"])
    spec["layers"][1]["activation"] = "sigmoid"
    spec["layers"][0]["W"][0][0] = -2.0  # z1[1] < 0: ReLU passes nothing back
    spec["optimizer"]["learning_rate"] = 0.5
    response = client.post("/api/step", json={"spec": spec})
    assert response.status_code == 200, response.text
    record = response.json()
    worked = compute(parse_spec(spec))
    values = by_name(record)
    assert values["a2[1]"]["value"] == pytest.approx(worked.steps[0].examples[0].a[1][0], rel=1e-12)
    assert values["δ1[1]"]["value"] == 0.0
    assert values["W1[2,1]"]["value"] == pytest.approx(worked.steps[0].W_new[0][1, 0], rel=1e-12)
    assert "η = 0.5" in record["phases"][-1]["formulas"][0]
    # the page's YAML of the edit is a spec of its own: it gives the same numbers
    again = client.post("/api/step", json={"yaml": record["yaml"]}).json()
    assert by_name(again) == by_name(record)


def test_the_paths_to_w1_1_1_are_explains_with_their_sum(client, classic):
    response = client.post(
        "/api/step/paths", json={"example": "relu-tanh-sigmoid-mse", "parameter": "W1[1,1]"}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    spec = load_spec(CLASSIC)
    worked = compute(spec)
    path_set = enumerate_paths(spec, worked.steps[0], parse_parameter("W1[1,1]", spec))
    paths = answer["examples"][0]["paths"]
    assert len(paths) == answer["count"] == len(path_set.per_example[0]) == 4
    assert [p["product"] for p in paths] == pytest.approx(
        [p.product for p in path_set.per_example[0]]
    )
    assert answer["total"] == pytest.approx(worked.steps[0].dW[0][0, 0], rel=1e-12)
    assert answer["agrees"]
    printed = squeeze(explain(CLASSIC, paths=["W1[1,1]"]))
    lines = [line for block in answer["blocks"] for line in block["equations"]]
    assert len(lines) == 5  # four paths and their sum
    for line in lines:
        assert squeeze(line) in printed, line
    for path in paths:  # the drawing lights the weights each factor dz/da names
        crossed = [
            f"W{m[1]}[{m[2]},{m[4]}]"
            for f in path["factors"]
            if (m := re.fullmatch(r"dz(\d+)\[(\d+)\]/d(a\d+|x)\[(\d+)\]", f))
        ]
        assert path["weights"] == [*crossed, "W1[1,1]"]
        assert path["neurons"][0].startswith("3:") and path["neurons"][-1] == "1:1"


def test_check_judges_a_forgotten_derivative_and_a_slip_carried_forward(client, classic):
    values = by_name(classic)
    answers = {
        "a1[1]": values["a1[1]"]["text"],
        "δ3[1]": values["dL/da3[1]"]["text"],  # sigmoid' left out
        "dL/da3[2]": "-0.2",  # a slip
        "δ3[2]": format_number(-0.2 * values["sigmoid'(z3[2])"]["value"], 4),  # from that slip
    }
    response = client.post(
        "/api/step/check", json={"example": "relu-tanh-sigmoid-mse", "answers": answers}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    verdicts = {q["name"]: q for q in answer["quantities"]}
    direct = check(CLASSIC, answers)
    for name in answers:
        assert verdicts[name]["verdict"] == direct[name].verdict
        assert verdicts[name]["verdict_text"] == direct[name].verdict_text
    assert verdicts["a1[1]"]["verdict"] == "right"
    assert verdicts["δ3[1]"]["mistake"] == "activation derivative omitted"
    assert verdicts["δ3[2]"]["verdict"] == "follows"
    assert verdicts["δ3[2]"]["follows_from"] == ["dL/da3[2]"]
    assert answer["first_wrong"] == direct.first_wrong.name == "dL/da3[2]"
    assert set(classic["practice_names"]) == set(values)


BAD_STEP_BODIES = [
    (b"not json", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b"{}", "name the spec one way"),
    (b'{"example": "x", "yaml": "y"}', "name the spec one way"),
    (b'{"example": "../../etc/passwd"}', "unknown example"),
    (b'{"example": 3}', "unknown example"),
    (b'{"example": "conv-stride2-padded"}', "dense networks"),
    (b'{"yaml": 5}', "as a string"),
    (b'{"yaml": "input: [1, 2"}', "not valid YAML"),
    (b'{"yaml": "- 1"}', "mapping"),
    (b'{"yaml": "a: &a [*a]"}', "the edited spec"),
    (b'{"spec": [1]}', "JSON object"),
    (b'{"spec": {"input": "x"}}', "input"),
    (b'{"example": "relu-tanh-sigmoid-mse", "digits": "many"}', "digits"),
]


@pytest.mark.parametrize(("body", "words"), BAD_STEP_BODIES)
def test_a_bad_request_is_a_4xx_with_a_message(client, body, words):
    response = client.post("/api/step", content=body, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert words in response.json()["error"]


def test_specs_the_page_cannot_draw_are_refused_with_the_limit(client, classic):
    wide = copy.deepcopy(dict(classic["spec"], input=[0.1] * 9))
    wide["layers"] = [dict(classic["spec"]["layers"][0], W=[[0.1] * 9] * 3), *wide["layers"][1:]]
    deep = copy.deepcopy(classic["spec"])
    deep["layers"] = [*[classic["spec"]["layers"][0]] * 5, *classic["spec"]["layers"][1:]]
    for spec, words in [
        (wide, "a layer of 9"),
        (deep, "7 layers"),
        (dict(classic["spec"], steps=11), "11 steps"),
        (
            dict(
                classic["spec"],
                steps=10,
                input=[0.1] * 8,
                layers=[
                    {"activation": "relu", "W": [[0.1] * 8] * 8},
                    {"activation": "sigmoid", "W": [[0.1] * 8] * 2},
                ],
            ),
            "90 weights and biases × 10 steps = 900 updates",
        ),
    ]:
        response = client.post("/api/step", json={"spec": spec})
        assert response.status_code == 400, response.text
        assert words in response.json()["error"] and "chainrule explain" in response.json()["error"]
    too_big = {"yaml": "#" * (stepthrough.MAX_YAML_CHARACTERS + 1)}
    assert client.post("/api/step", json=too_big).status_code == 413


def test_numbers_that_overflow_are_sent_as_null_or_refused_never_a_500(client):
    saturated = (
        "input: [1e300, 1e300]\ntarget: [1]\nlayers:\n  - {activation: relu, W: [[1e300, 1e300]]}"
        "\nloss: mse\noptimizer: {name: gd, learning_rate: 0.1}\n"
    )
    response = client.post("/api/step", json={"yaml": saturated})
    assert response.status_code == 200, response.text
    assert any(v["value"] is None for v in response.json()["values"])
    divided = (
        "input: [1, 2]\ntarget: [1]\nlayers:\n  - {activation: sigmoid, W: [[100, 100]]}\n"
        "loss: binary_crossentropy\noptimizer: {name: gd, learning_rate: 0.1}\nfuse: false\n"
    )
    response = client.post("/api/step", json={"yaml": divided})
    assert response.status_code in (200, 400), response.text


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"parameter": "W9[1,1]"}, "3 layers"),
        ({"parameter": "W1[5,5]"}, "out of range"),
        ({"parameter": "x"}, "write a weight"),
        ({"parameter": 7}, "as text"),
        ({}, "as text"),
        ({"parameter": "W1[1,1]", "step": 2}, "step"),
        ({"parameter": "W1[1,1]", "step": "one"}, "step"),
    ],
)
def test_bad_paths_requests_name_the_problem(client, extra, words):
    body = {"example": "relu-tanh-sigmoid-mse", **extra}
    response = client.post("/api/step/paths", json=body)
    assert response.status_code == 400, response.text
    assert words in response.json()["error"]


@pytest.mark.parametrize(
    ("answers", "words"),
    [
        (None, "give your numbers by name"),
        ({}, "give your numbers by name"),
        ([1], "give your numbers by name"),
        ({"a9[1]": "1"}, "unknown quantity"),
        ({"a1[1]": "lots"}, "a1[1]"),
        ({"a1[1]": [1]}, "as text"),
    ],
)
def test_bad_answers_name_the_problem(client, answers, words):
    body = {"example": "relu-tanh-sigmoid-mse", "answers": answers}
    response = client.post("/api/step/check", json=body)
    assert response.status_code == 400, response.text
    assert words in response.json()["error"]


@pytest.mark.parametrize("fuse", [True, False])
@pytest.mark.parametrize("name", ["relu-tanh-sigmoid-mse", "softmax-categorical-crossentropy"])
def test_the_path_count_is_the_number_of_paths_explain_finds(name, fuse):
    raw = parse_yaml_mapping((EXAMPLES / f"{name}.yaml").read_text(), name, "a spec")
    spec = parse_spec(dict(raw, fuse=fuse))
    step = compute(spec).steps[0]
    for layer in range(1, spec.n_layers + 1):
        found = enumerate_paths(spec, step, parse_parameter(f"W{layer}[1,1]", spec))
        assert stepthrough.count_paths(spec, layer) == len(found.per_example[0])


def test_a_weight_with_too_many_paths_is_refused_before_they_are_listed(client):
    first = {"activation": "relu", "W": [[0.1, 0.2]] * 8}
    hidden = {"activation": "tanh", "W": [[0.1] * 8] * 8}
    output = {"activation": "sigmoid", "W": [[0.1] * 8] * 2}
    spec = {
        "input": [0.5, -0.5],
        "target": [0.2, 0.8],
        "layers": [first, hidden, hidden, hidden, output],  # 8 × 8 × 8 × 2 paths to W1
        "loss": "mse",
        "optimizer": {"name": "gd", "learning_rate": 0.1},
    }
    assert client.post("/api/step", json={"spec": spec}).status_code == 200
    response = client.post("/api/step/paths", json={"spec": spec, "parameter": "W1[1,1]"})
    assert response.status_code == 400
    assert "W1[1,1] has 1024 chain-rule paths" in response.json()["error"]
    nearer = client.post("/api/step/paths", json={"spec": spec, "parameter": "W4[1,1]"})
    assert nearer.status_code == 200 and nearer.json()["count"] == 2
