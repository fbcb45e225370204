"""Fixtures for the report tests: run folders of engine-shaped journals (``journals.py``),
a signing-key directory per test (never the user's ~/.config), and rendered runs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable

import pytest

from tests.drills.reports import journals


@pytest.fixture(autouse=True)
def key_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Per-folder signing keys go to a temporary directory; no signing key from the environment."""
    path = tmp_path_factory.mktemp("keys")
    monkeypatch.setenv("DRKIT_KEY_DIR", str(path))
    monkeypatch.delenv("DRKIT_SIGNING_KEY", raising=False)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "runs"
    path.mkdir()
    return path


@pytest.fixture
def passing() -> dict:
    return journals.passing_journal()


@pytest.fixture
def failing() -> dict:
    return journals.failing_journal()


@pytest.fixture
def write_run(folder: Path) -> Callable[[dict], Path]:
    def write(journal: dict) -> Path:
        return journals.write_run(folder, copy.deepcopy(journal))
    return write
