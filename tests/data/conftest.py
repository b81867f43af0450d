"""Fixtures of the data tests: a data cache of their own, never the user's ~/.cache/vaesweep."""

from __future__ import annotations

import pytest


@pytest.fixture
def data_cache(tmp_path, monkeypatch):
    """An empty cache root, set as $VAESWEEP_DATA (what runs and the registry read)."""
    root = tmp_path / "cache"
    monkeypatch.setenv("VAESWEEP_DATA", str(root))
    return root
