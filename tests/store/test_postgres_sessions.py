"""What our PostgreSQL engines set on every session they open."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import InternalError

from store.db import make_engine


def test_sessions_run_without_jit_and_the_tools_engine_cannot_write(postgres):
    url = postgres.new_database()
    writer, reader = make_engine(url), make_engine(url, read_only=True)
    try:
        for engine in (writer, reader):
            with engine.connect() as conn:
                assert conn.execute(text("SHOW jit")).scalar() == "off"
        with reader.connect() as conn, pytest.raises(InternalError, match="read-only"):
            conn.execute(text("CREATE TABLE scratch (id int)"))
        with writer.begin() as conn:
            conn.execute(text("CREATE TABLE scratch (id int)"))
    finally:
        writer.dispose()
        reader.dispose()
