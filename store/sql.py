"""Small SQL helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import ColumnExpressionArgument, Connection, Date, Insert, Table, cast, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement


def month_start(column: ColumnExpressionArgument[date], dialect: str) -> ColumnElement[date]:
    """The first day of the month of a date column."""
    if dialect == "sqlite":
        return func.date(column, "start of month")
    return cast(func.date_trunc("month", column), Date)


def upsert(table: Table, key: Sequence[str], dialect: str) -> Insert:
    """INSERT ... ON CONFLICT (key) DO UPDATE SET every other column."""
    insert = sqlite.insert(table) if dialect == "sqlite" else postgresql.insert(table)
    updates = {c.name: insert.excluded[c.name] for c in table.columns if c.name not in key}
    if not updates:
        return insert.on_conflict_do_nothing(index_elements=list(key))
    return insert.on_conflict_do_update(index_elements=list(key), set_=updates)


def chunked(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def execute_many(conn: Connection, statement, rows: Sequence[dict], batch: int = 20_000) -> None:
    """Execute a statement for many parameter sets in bounded batches."""
    for part in chunked(rows, batch):
        conn.execute(statement, list(part))
