"""Fixtures for the dataset tests: a machine with no datasets on it but the ones a test writes."""

from __future__ import annotations

import pytest

from chainrule.data import lookup


@pytest.fixture
def isolated_locations(tmp_path, monkeypatch):
    """No test may see the real cache, $CHAINRULE_DATA or /usr/share/datasets.

    The user cache becomes ``tmp_path/xdg-cache/chainrule`` and the system folder
    ``tmp_path/usr-share-datasets``; both start empty.
    """
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setattr(lookup, "SYSTEM_DATA_ROOT", tmp_path / "usr-share-datasets")
