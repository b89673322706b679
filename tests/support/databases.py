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
