"""Database helpers for tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def copy_database(demo_engine, path: Path) -> Path:
    """A private copy of the shared, read-only demo database (SQLite's backup API)."""
    source, target = sqlite3.connect(demo_engine.url.database), sqlite3.connect(path)
    source.backup(target)
    source.close()
    target.close()
    return path


def database_url(backend: str, request, folder: Path) -> str:
    """A new, empty database on `backend` ("sqlite": a file in `folder`; "postgresql": a
    database of its own on the test run's server, the `postgres` fixture)."""
    if backend == "postgresql":
        return request.getfixturevalue("postgres").new_database()
    return f"sqlite:///{folder / 'kam.db'}"
