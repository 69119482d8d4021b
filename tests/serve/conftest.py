"""A small trained model, digits drawn or photographed like a user's, and a live server in a
real headless Chromium, shared by the serve tests."""

from __future__ import annotations

import contextlib
import io
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="session")
def mnist():
    from chainrule.data import load_split

    if not SHARED_DATA.is_dir():
        pytest.skip(f"offline datasets not found at {SHARED_DATA}")
    return load_split("mnist", "test", data_dir=SHARED_DATA, download=False)


@pytest.fixture(scope="session")
def served_model(mnist, tmp_path_factory) -> Path:
    """A run directory holding a 784-64-32-10 ReLU model trained on 3,000 MNIST digits."""
    from chainrule.data.preprocessing import Preprocessing
    from chainrule.nn.layers import Dense, ReLU, Softmax
    from chainrule.nn.model import Sequential, save_model
    from chainrule.nn.optim import get_optimizer
    from chainrule.training.trainer import Trainer

    images, labels = mnist
    preprocessing = Preprocessing("scale").fit(images[:3000])
    model = Sequential(
        [Dense(64), ReLU(), Dense(32), ReLU(), Dense(10), Softmax()],
        loss="categorical_crossentropy",
        input_shape=(784,),
        seed=0,
    )
    trainer = Trainer(model, get_optimizer("adam"), epochs=6, batch_size=64, progress=False)
    trainer.fit(preprocessing.transform(images[:3000]), labels[:3000])
    run = tmp_path_factory.mktemp("runs") / "mlp-64-32"
    run.mkdir()
    extra = {"preprocessing": preprocessing.to_dict(), "class_names": [str(d) for d in range(10)]}
    save_model(model, run / "model.safetensors", extra)
    return run


@pytest.fixture(scope="session")
def drawing_png():
    """digit → PNG bytes, as the page's pad would send it: dark on white, off-centre."""
    return _drawing_png


def _drawing_png(digit: np.ndarray, size: int = 280) -> bytes:
    side = size * 5 // 8
    ink = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC))
    page = np.full((size, size), 255.0)
    page[20 : 20 + side, 60 : 60 + side] -= ink.astype(np.float64) * (240 / 255)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(page, 0, 255).astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="session")
def phone_photo():
    """digit → JPEG bytes, as a phone would photograph it written on paper."""
    return _phone_photo


def _phone_photo(digit: np.ndarray, size: tuple[int, int] = (1512, 2016)) -> bytes:
    """Pen on off-white paper (3 megapixels, larger than any screen), a lighting gradient
    and sensor noise."""
    width, height = size
    side = width // 2
    ink = np.zeros((height, width), np.float32)
    big = Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC)
    top, left = height // 3, width // 4
    ink[top : top + side, left : left + side] = np.asarray(big, np.float32) / 255
    rows = np.arange(height, dtype=np.float32)[:, None] / height
    cols = np.arange(width, dtype=np.float32)[None, :] / width
    noise = np.random.default_rng(0).standard_normal((height, width), np.float32) * 3
    grey = (225 - 25 * cols - 15 * rows) * (1 - 0.8 * ink) + noise
    rgb = np.stack([grey, grey * 0.97, grey * 0.9], axis=-1)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: The textbook spec the step-through page opens on.
CLASSIC = EXAMPLES / "relu-tanh-sigmoid-mse.yaml"


@pytest.fixture(scope="session")
def classic_numbers() -> tuple[dict[str, float], dict[str, float]]:
    """(given, computed): step 1 of the classic spec from explain's own record, by the names
    explain prints. Given: x, y and the W and b the step starts from; computed: every z, a,
    f'(z), dL/da, δ, the loss, each gradient and each updated weight."""
    from chainrule.explain import compute, load_spec

    spec = load_spec(CLASSIC)
    step = compute(spec).steps[0]
    example = step.examples[0]
    given = {f"x[{k + 1}]": v for k, v in enumerate(example.x)}
    given |= {f"y[{j + 1}]": v for j, v in enumerate(example.y)}
    computed: dict[str, float] = {"L": step.loss}
    for n in range(1, spec.n_layers + 1):
        symbol = spec.layers[n - 1].math.symbol.text
        for j in range(spec.widths[n]):
            given[f"b{n}[{j + 1}]"] = step.b[n - 1][j]
            computed[f"z{n}[{j + 1}]"] = example.z[n - 1][j]
            computed[f"a{n}[{j + 1}]"] = example.a[n - 1][j]
            computed[f"{symbol}'(z{n}[{j + 1}])"] = example.local[n - 1][j]
            computed[f"dL/da{n}[{j + 1}]"] = example.dL_da[n - 1][j]
            computed[f"δ{n}[{j + 1}]"] = example.delta[n - 1][j]
            computed[f"dL/db{n}[{j + 1}]"] = step.db[n - 1][j]
            for k in range(spec.widths[n - 1]):
                given[f"W{n}[{j + 1},{k + 1}]"] = step.W[n - 1][j, k]
                computed[f"dL/dW{n}[{j + 1},{k + 1}]"] = step.dW[n - 1][j, k]
                computed[f"W{n}[{j + 1},{k + 1}]"] = step.W_new[n - 1][j, k]
    return given, computed


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


@pytest.fixture(scope="session")
def live_server():
    """``with live_server(app) as url``: the app served by uvicorn on 127.0.0.1 meanwhile."""
    return _serving


@pytest.fixture(scope="session")
def browser_page():
    """``with browser_page(url, viewport) as page``: a headless Chromium page at ``url``."""
    return _chromium_page


@contextlib.contextmanager
def _serving(app) -> Iterator[str]:
    """``app`` under uvicorn in a thread on 127.0.0.1; yields its URL."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start within 10 s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=5)


@contextlib.contextmanager
def _chromium_page(url: str, viewport: dict[str, int]) -> Iterator:
    """A page of headless Chromium (Debian's, driven by Playwright) opened at ``url``; fails
    the test if the page raised a JavaScript error. Skips without Playwright or Chromium."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    executable = CHROMIUM if CHROMIUM.is_file() else shutil.which("chromium")
    if not executable:
        pytest.skip(f"Chromium not found at {CHROMIUM} (Debian package 'chromium')")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport=viewport)
            page.set_default_timeout(10_000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(url)
            yield page
            assert not errors, f"JavaScript errors on the page: {errors}"
        finally:
            browser.close()
