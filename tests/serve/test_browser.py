"""End to end in a real headless Chromium: draw a "1" with the mouse, watch the page answer.

Needs Debian's ``chromium`` (/usr/bin/chromium) and Playwright for Python, which drives that
browser as it is (``playwright install`` is never needed); skipped without either.
"""

from __future__ import annotations

import math
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright for Python is not installed"
)
uvicorn = pytest.importorskip("uvicorn", reason="uvicorn is not installed")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(served_model):
    """The app under uvicorn in a thread on 127.0.0.1 (two models, so the picker shows)."""
    from chainrule.serve.app import create_app

    app = create_app([served_model, served_model / "model.safetensors"])
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start within 10 s")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{config.port}/"
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def page(server_url):
    if not CHROMIUM.is_file() and not shutil.which("chromium"):
        pytest.skip(f"Chromium not found at {CHROMIUM} (Debian package 'chromium')")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM if CHROMIUM.is_file() else shutil.which("chromium")),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.set_default_timeout(10_000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(server_url)
            yield page
            assert not errors, f"JavaScript errors on the page: {errors}"
        finally:
            browser.close()


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
