"""End to end in a real headless Chromium: draw a "1" with the mouse, watch the page answer.

The browser (Debian's Chromium, driven by Playwright) and the server come from
``conftest.py``'s ``browser_page`` and ``live_server``; skipped without Playwright or Chromium.
"""

from __future__ import annotations

import math

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")


@pytest.fixture(scope="module")
def server_url(served_model, live_server):
    """The app under uvicorn in a thread on 127.0.0.1 (two models, so the picker shows)."""
    from chainrule.serve.app import create_app

    with live_server(create_app([served_model, served_model / "model.safetensors"])) as url:
        yield url


@pytest.fixture(scope="module")
def page(server_url, browser_page):
    with browser_page(server_url, {"width": 1100, "height": 800}) as page:
        yield page


def draw(page, points: list[tuple[float, float]], steps: int = 6) -> None:
    """One stroke with the mouse through ``points`` given as fractions of the pad; returns
    once the page shows the answer for the finished drawing (not for part of the stroke)."""
    box = page.locator("#pad").bounding_box()

    def at(x: float, y: float) -> tuple[float, float]:
        return box["x"] + x * box["width"], box["y"] + y * box["height"]

    page.mouse.move(*at(*points[0]))
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*at(*point), steps=steps)
    page.mouse.up()
    drawn = page.get_attribute("#pad", "data-version")
    page.wait_for_selector(f'#prediction[data-version="{drawn}"]')


def test_drawing_a_one_shows_the_prediction_the_input_and_the_layers(page, tmp_path):
    page.wait_for_function("document.querySelectorAll('#model option').length === 2")
    assert page.is_visible("#model-picker")
    assert page.get_attribute("#prediction", "data-state") == "empty"

    draw(page, [(0.52, 0.15), (0.50, 0.85)], steps=20)  # a vertical line: "1"
    assert page.get_attribute("#prediction", "data-state") == "done"
    assert page.text_content("#prediction .digit") == "1"
    assert page.locator("#bars .bar").count() == 10
    assert page.text_content("#bars .bar.best .label") == "1"
    assert page.locator("#layers figure.layer").count() == 2
    assert "relu_1 · 64" in page.text_content("#layers figure.layer >> nth=0")
    lit = page.evaluate(
        "Array.from(document.getElementById('input28').getContext('2d')"
        ".getImageData(0, 0, 28, 28).data).filter((v, i) => i % 4 === 0 && v > 0).length"
    )
    assert 20 < lit < 200  # the 28×28 input shows a thin stroke
    page.screenshot(path=str(tmp_path / "serve-one.png"), full_page=True)

    page.select_option("#model", "1")  # picking the other model predicts again
    page.wait_for_function(
        "document.getElementById('model-info').textContent.startsWith('mlp-64-32 (2)')"
    )
    page.wait_for_selector('#prediction[data-state="done"]')

    page.click("#clear")
    assert page.get_attribute("#prediction", "data-state") == "empty"
    assert page.locator("#bars .bar").count() == 0


def test_a_zero_after_clearing(page, tmp_path):
    page.click("#clear")
    ring = [
        (0.5 + 0.22 * math.sin(t / 20 * 2 * math.pi), 0.5 - 0.32 * math.cos(t / 20 * 2 * math.pi))
        for t in range(21)
    ]
    draw(page, ring, steps=2)
    assert page.text_content("#prediction .digit") == "0"
    page.screenshot(path=str(tmp_path / "serve-zero.png"), full_page=True)
