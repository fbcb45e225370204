"""Fixtures of the command tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def duckdb_threads(monkeypatch) -> list[tuple[str, int]]:
    """Every DuckDB connection opened while the test runs, as (database file name, the
    ``threads`` setting DuckDB reports on it: ``SELECT current_setting('threads')``)."""
    import duckdb

    opened: list[tuple[str, int]] = []
    real = duckdb.connect

    def spy(*args, **kwargs):
        con = real(*args, **kwargs)
        database = args[0] if args else kwargs.get("database", ":memory:")
        opened.append((Path(str(database)).name, int(con.execute("SELECT current_setting('threads')").fetchone()[0])))
        return con

    monkeypatch.setattr(duckdb, "connect", spy)
    return opened
