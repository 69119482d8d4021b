"""The step-through page in a real headless Chromium: step through the classic spec and read
every number off the drawing, click W1[1,1] for its paths, and make a mistake in practice.

The browser (Debian's Chromium, driven by Playwright) and the server come from
``conftest.py``'s ``browser_page`` and ``live_server``; skipped without Playwright or Chromium.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chainrule.explain import compute, explain
from chainrule.reporting.expr import format_number

pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")

CLASSIC = Path(__file__).resolve().parents[2] / "examples" / "relu-tanh-sigmoid-mse.yaml"


@pytest.fixture(scope="module")
def server_url(live_server):
    """The whole app (no model: the step page needs none) under uvicorn in a thread."""
    from chainrule.serve.app import create_app

    with live_server(create_app()) as url:
        yield url


@pytest.fixture
def page(server_url, browser_page):
    """A fresh page on the classic spec, once its first stop is drawn."""
    with browser_page(server_url + "step", {"width": 1440, "height": 1000}) as page:
        page.wait_for_selector('body[data-phase="1:forward:1"] svg.net')
        yield page


def shown(page) -> list[tuple[str, str, str]]:
    """(id, name, text) of every number on the drawing."""
    return page.evaluate(
        "Array.from(document.querySelectorAll('#drawing [data-id]'))"
        ".map(n => [n.dataset.id, n.dataset.name, n.textContent])"
    )


def squeeze(text: str) -> str:
    return " ".join(text.split())


def test_stepping_through_shows_explains_numbers_stop_by_stop(page, classic_numbers):
    given, computed = classic_numbers
    printed = squeeze(explain(CLASSIC))
    seen: dict[str, set[str]] = {}
    stops = []
    while True:
        stop = page.get_attribute("body", "data-phase")
        stops.append(stop)
        names = set()
        for identifier, name, text in shown(page):
            truth = given[name] if identifier.startswith("given:") else computed[name]
            assert float(text) == pytest.approx(truth, rel=6e-4, abs=1e-12), (stop, name, text)
            if not identifier.startswith("given:"):
                names.add(name)
        seen[stop] = names
        if page.is_disabled("#next"):
            break
        page.click("#next")
        page.wait_for_selector(f"body:not([data-phase='{stop}'])")
    order = "forward:1 forward:2 forward:3 loss backward:3 backward:2 backward:1 gradients update"
    assert stops == [f"1:{stop}" for stop in order.split()]
    # each stop adds its numbers: a layer's z and a, the loss, a layer's δ, ...
    assert seen["1:forward:1"] == {f"{q}1[{j}]" for q in "za" for j in (1, 2, 3)}
    assert "a2[1]" in seen["1:forward:2"] and "L" not in seen["1:forward:3"]
    assert seen["1:loss"] - seen["1:forward:3"] == {"L"}
    assert seen["1:backward:3"] - seen["1:loss"] == {"δ3[1]", "δ3[2]"}
    assert seen["1:backward:1"] - seen["1:backward:2"] == {"δ1[1]", "δ1[2]", "δ1[3]"}
    gradients = {name for name in computed if name.startswith("dL/dW") or name.startswith("dL/db")}
    assert gradients <= seen["1:gradients"]
    assert {name for name in computed if name.startswith("W")} <= seen["1:update"]
    # a click shows a number's line as explain prints it; hovering shows the same line
    page.click("#drawing [data-name='W2[1,3]']")
    update_line = page.text_content("#details .line:has-text('W2[1,3] ←')")
    assert update_line.startswith("W2[1,3] ← W2[1,3] - η*dL/dW2[1,3] = 0.2 - 0.01*")
    assert squeeze(update_line) in printed
    page.click("#first")
    page.click("[data-neuron='1:2'] .val.activation")
    line = page.text_content("#details .line.highlight")
    assert line.startswith("a1[2] = ReLU(") and squeeze(line) in printed
    page.hover("[data-neuron='1:2'] .val.activation")
    assert page.text_content("#tooltip") == line


def test_clicking_w1_1_1_lights_its_four_paths_and_shows_their_sum(page):
    page.click(".edge-label[data-weight='W1[1,1]']")
    page.wait_for_selector("#details .path-line")
    lines = [
        squeeze(t)
        for t in page.eval_on_selector_all(
            "#details .path-line", "ns => ns.map(n => n.textContent)"
        )
    ]
    printed = squeeze(explain(CLASSIC, paths=["W1[1,1]"]))
    assert len(lines) == 5 and all(line in printed for line in lines)
    total, *paths = lines  # the sum first, then each path
    assert [line.split(" = ")[0] for line in paths] == [f"path {i}" for i in (1, 2, 3, 4)]
    assert total.startswith("dL/dW1[1,1] = path 1 + path 2 + path 3 + path 4 = ")
    assert total.endswith(" = -0.0004705")
    lit = set(
        page.eval_on_selector_all(
            "line.edge.on-path[data-weight]", "ns => ns.map(n => n.dataset.weight)"
        )
    )
    # from W1[1,1] up: a1[1] feeds both tanh neurons, each feeds both outputs
    assert lit == {"W1[1,1]", "W2[1,1]", "W2[2,1]", "W3[1,1]", "W3[2,1]", "W3[1,2]", "W3[2,2]"}
    neurons = set(
        page.eval_on_selector_all(
            "circle.on-path", "ns => ns.map(n => n.parentNode.dataset.neuron)"
        )
    )
    assert neurons == {"1:1", "2:1", "2:2", "3:1", "3:2"}
    page.hover("#details .path-line[data-path='0']")  # one path alone
    lit = set(
        page.eval_on_selector_all(
            "line.edge.on-path[data-weight]", "ns => ns.map(n => n.dataset.weight)"
        )
    )
    assert lit == {"W1[1,1]", "W2[1,1]", "W3[1,1]"}


def test_practice_marks_a_wrong_delta_and_names_the_mistake(page, classic_numbers):
    _, computed = classic_numbers
    page.click("#mode-practice")
    assert page.text_content("[data-neuron='1:1'] .val.activation") == "?"
    page.click("#phases button:text('δ3')")
    page.wait_for_selector("body[data-phase='1:backward:3']")
    forgot = format_number(computed["dL/da3[1]"], 4)  # δ3[1] without sigmoid'(z3[1])
    page.fill("#practice-list input[data-name='dL/da3[1]']", forgot)
    page.fill("#practice-list input[data-name='δ3[1]']", forgot)
    page.press("#practice-list input[data-name='δ3[1]']", "Enter")
    page.wait_for_selector("#practice-list .answer.first-wrong")
    row = page.locator("#practice-list .answer[data-name='δ3[1]']")
    assert row.locator(".badge").text_content() == "wrong"
    assert "activation derivative omitted" in row.locator(".message").text_content()
    right = page.locator("#practice-list .answer[data-name='dL/da3[1]'] .badge")
    assert right.text_content() == "right"
    assert "First wrong step: δ3[1]" in page.text_content("#practice-summary")
    marked = page.locator("#drawing .val[data-name='δ3[1]']")
    assert marked.text_content() == forgot
    assert "verdict-wrong" in marked.get_attribute("class")
    assert "first-wrong" in marked.get_attribute("class")


def test_an_edited_input_and_activation_are_worked_out_again_by_the_server(page):
    from chainrule.explain import parse_spec
    from chainrule.utils.yamlfile import read_yaml_mapping

    raw = read_yaml_mapping(CLASSIC, "a spec")
    raw["input"][0] = 0.9
    raw["layers"][1]["activation"] = "sigmoid"
    example = compute(parse_spec(raw)).steps[0].examples[0]
    page.click("[data-neuron='0:1'] .val")  # x[1]
    page.fill("#details input.number", "0.9")
    page.click("#details .edit button")
    a1 = format_number(example.a[0][0], 4)
    page.wait_for_selector(f"[data-neuron='1:1'] .val.activation:text-is('{a1}')")
    page.select_option("#controls select[aria-label='layer 2 activation']", "sigmoid")
    page.click("#next")
    a2 = format_number(example.a[1][0], 4)
    page.wait_for_selector(f"[data-neuron='2:1'] .val.activation:text-is('{a2}')")
    assert page.text_content("#drawing svg .heading >> nth=2") == "layer 2 · sigmoid"
    assert "[0.9, 0.5, 0.8]" in page.input_value("#yaml")  # the editor holds the edited spec
