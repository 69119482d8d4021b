"""A small trained model and digits drawn like a user's, shared by the serve tests."""

from __future__ import annotations

import io
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
