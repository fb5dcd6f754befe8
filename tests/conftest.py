"""Shared fixtures. Tests never touch the network: HF_HUB_OFFLINE is set before transformers is imported."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture
def in_tmp_repo(tmp_path, monkeypatch) -> Path:
    """Run a test from an empty folder, as the runner runs from the repository root."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
