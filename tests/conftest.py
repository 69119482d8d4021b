"""Shared fixtures: where the offline datasets live, and small seeded generators."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The offline datasets (``../shared/data``); tests that need them skip without them."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"offline datasets not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory) -> Path:
    """Real MNIST digits as a small custom dataset: 2,000 'train' and 1,000 'test' images.

    Only MNIST's test split is available offline, so part of it stands in for a training set
    (a folder of IDX files, as a user would bring their own data).
    """
    from chainrule.data import load_split, write_idx

    if not SHARED_DATA.is_dir():
        pytest.skip(f"offline datasets not found at {SHARED_DATA}")
    images, labels = load_split("mnist", "test", data_dir=SHARED_DATA, download=False)
    directory = tmp_path_factory.mktemp("digits")
    write_idx(directory / "train-images-idx3-ubyte.gz", images[:2000])
    write_idx(directory / "train-labels-idx1-ubyte.gz", labels[:2000].astype(np.uint8))
    write_idx(directory / "t10k-images-idx3-ubyte.gz", images[2000:3000])
    write_idx(directory / "t10k-labels-idx1-ubyte.gz", labels[2000:3000].astype(np.uint8))
    return directory


class _WellFormed(HTMLParser):
    """Every tag closed in order (void elements excepted); the text shown collected."""

    VOID = frozenset({"area", "br", "col", "hr", "img", "input", "link", "meta", "source", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data):
        if not self.stack or self.stack[-1] not in ("style", "script"):  # shown text only
            self.text.append(data)


@pytest.fixture
def html_text():
    """``html_text(markup)``: checks that ``markup`` (a page or a notebook's ``_repr_html_``
    fragment) is well-formed — every tag closed, in order — and returns its text content,
    each piece of text one word apart, to look for what it shows."""

    def check(markup: str) -> str:
        assert isinstance(markup, str) and markup.strip(), f"no HTML: {markup!r}"
        parser = _WellFormed()
        parser.feed(markup)
        parser.close()
        assert parser.stack == [], f"unclosed tags: {parser.stack}"
        return " ".join(" ".join(parser.text).split())

    return check
