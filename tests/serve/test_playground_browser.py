"""End to end in a real headless Chromium: the playground learns XOR while you watch, and a
photo uploaded on the digit page is predicted with its preprocessing stages.

The browser (Debian's Chromium, driven by Playwright) and the server come from
``conftest.py``'s ``browser_page`` and ``live_server``; skipped without Playwright or Chromium.
"""

from __future__ import annotations

import time

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")


@pytest.fixture(scope="module")
def server_url(served_model, live_server):
    from chainrule.serve.app import create_app

    with live_server(create_app([served_model])) as url:
        yield url


# (The pages' Content-Security-Policy forbids eval, so Playwright's wait_for_function, which
# polls by evaluating a string, cannot run there: waits are for selectors, or polled here.)


def boundary_image(page) -> str:
    return page.evaluate("document.getElementById('boundary').toDataURL('image/png')")


def number(page, selector: str, attribute: str) -> float:
    return float(page.get_attribute(selector, attribute) or "nan")


def test_the_playground_trains_xor_to_95_percent_within_10_seconds(
    server_url, browser_page, tmp_path
):
    with browser_page(server_url + "playground", {"width": 1360, "height": 900}) as page:
        page.wait_for_selector('#status[data-state="paused"]')
        assert page.get_attribute('#datasets [data-dataset="xor"]', "aria-checked") == "true"
        assert page.locator("#hidden-layers canvas.unit").count() == 16  # 2 layers of 8
        before = boundary_image(page)

        page.click("#run")
        started = time.monotonic()
        while number(page, "#stats", "data-test-accuracy") < 0.95:
            assert time.monotonic() - started < 10, "XOR did not reach 95% within 10 s"
            time.sleep(0.05)
        assert page.get_attribute("#status", "data-state") == "running"
        page.click("#run")  # pause
        page.wait_for_selector('#status[data-state="paused"]')
        after = boundary_image(page)
        assert after != before  # the boundary moved
        trained = number(page, "#stats", "data-step")
        assert trained > 0
        shown = number(page, "#stats", "data-test-accuracy")
        assert page.text_content("#stat-test-accuracy") == f"{100 * shown:.1f}%"
        page.screenshot(path=str(tmp_path / "playground-xor.png"), full_page=True)

        page.click("#step")  # one step, exactly
        page.wait_for_selector(f'#stats[data-step="{trained + 1:g}"]')

        page.hover("#hidden-layers canvas.unit >> nth=0")  # a unit's map, large
        page.wait_for_selector("#view-label:has-text('unit 1')")
        page.mouse.move(5, 5)
        page.wait_for_selector("#view-label:has-text('decision boundary')")

        page.click('#datasets [data-dataset="spirals"]')  # new data: a new, untrained network
        page.wait_for_selector('#datasets [data-dataset="spirals"][aria-checked="true"]')
        page.wait_for_selector('#stats[data-step="0"]')
        page.click("#add-layer")
        page.wait_for_selector("#hidden-layers .hidden-layer >> nth=2")

        points = tmp_path / "my points.csv"
        rows = [f"{x / 10},{y / 10},{'a' if x * y > 0 else 'b'}" for x in range(-9, 10, 2)
                for y in range(-9, 10, 2)]  # fmt: skip
        points.write_text("x1,x2,label\n" + "\n".join(rows) + "\n")
        page.set_input_files("#csv", str(points))
        page.wait_for_selector('#datasets [data-dataset="csv"][aria-checked="true"]')
        assert page.text_content('#datasets [data-dataset="csv"]') == "my-points.csv"
        assert "class a" in page.text_content("#class-legend")

        bad = tmp_path / "bad.csv"
        bad.write_text("x1,x2,label\n1,2,a\n1,two,b\n")
        page.set_input_files("#csv", str(bad))
        page.wait_for_selector("#csv-error:not([hidden])")
        assert "line 3, column 2 ('x2'): 'two' is not a finite number" in page.text_content(
            "#csv-error"
        )
        recipe = page.get_attribute("#export-recipe", "href")
        assert page.request.get(server_url.rstrip("/") + recipe).text().count("my-points.csv")


def test_an_uploaded_photo_gets_a_prediction_and_its_stages(
    server_url, browser_page, mnist, served_model, phone_photo, tmp_path
):
    from chainrule.app.predict import Predictor
    from chainrule.data.images import STEP_TITLES

    images, labels = mnist
    probabilities = Predictor(served_model / "model.safetensors").probabilities(images[:50])
    index = int(next(i for i in range(50) if probabilities[i].max() > 0.99
                     and probabilities[i].argmax() == labels[i]))  # fmt: skip
    photo = tmp_path / "phone-photo.jpg"
    photo.write_bytes(phone_photo(images[index]))

    with browser_page(server_url, {"width": 1200, "height": 900}) as page:
        page.wait_for_selector("#model option", state="attached")
        assert page.is_hidden("#stages-panel")
        page.set_input_files("#photo", str(photo))
        page.wait_for_selector('#prediction[data-source="photo"]')
        assert page.text_content("#prediction .digit") == str(labels[index])
        assert page.locator("#bars .bar").count() == 10
        assert page.locator("#layers figure.layer").count() == 2
        assert page.is_visible("#stages-panel")
        titles = page.locator("#stages figcaption").all_text_contents()
        assert titles == list(STEP_TITLES.values())
        loaded = page.evaluate(
            "Array.from(document.querySelectorAll('#stages img')).every(i => i.naturalWidth > 0)"
        )
        assert loaded
        assert "phone-photo.jpg" in page.text_content("#photo-name")
        page.screenshot(path=str(tmp_path / "digit-upload.png"), full_page=True)

        junk = tmp_path / "not-a-photo.jpg"
        junk.write_bytes(b"this is not a picture")
        page.set_input_files("#photo", str(junk))
        page.wait_for_selector('#prediction[data-state="error"]')
        assert "not an image Pillow can read" in page.text_content("#prediction")

        page.click("#clear")  # drawing again works as before
        assert page.get_attribute("#prediction", "data-state") == "empty"
