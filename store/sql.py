"""Small SQL helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import (
    ColumnExpressionArgument,
    Connection,
    Date,
    Insert,
    Table,
    and_,
    cast,
    column,
    exists,
    func,
    select,
    table,
    tuple_,
    update,
)
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


def copy_upsert(conn: Connection, target: Table, key: Sequence[str], rows: Sequence[dict]) -> int:
    """Upsert many rows into a PostgreSQL table through COPY.

    The rows are streamed with COPY into a temporary staging table shaped like `target`,
    then merged in two set-based statements, in the caller's transaction (an error anywhere
    still writes nothing): an UPDATE of the stored rows that differ, and an INSERT of the new
    ones. Rows that did not change are not written again, so a re-import of an unchanged
    export costs a comparison, not a new version of every row with its index entries and
    foreign-key checks. The rows must not repeat a key (the importer checks this first).
    Returns the number of rows written (changed or new).
    """
    if not rows:
        return 0
    names = [c.name for c in target.columns if c.name in rows[0]]
    stage = table(f"kam_stage_{target.name}", *(column(n) for n in names))
    conn.exec_driver_sql(
        f'CREATE TEMPORARY TABLE "{stage.name}" (LIKE "{target.name}" INCLUDING DEFAULTS)'
    )
    quoted = ", ".join(f'"{n}"' for n in names)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f'COPY "{stage.name}" ({quoted}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([row[n] for n in names])
    conn.exec_driver_sql(f'ANALYZE "{stage.name}"')  # plan the joins for its real size
    same_key = and_(*(target.c[k] == stage.c[k] for k in key))
    others = [n for n in names if n not in key]
    written = 0
    if others:
        stored = tuple_(*(target.c[n] for n in others))
        written += conn.execute(
            update(target)
            .values({n: stage.c[n] for n in others})
            .where(same_key, stored.is_distinct_from(tuple_(*(stage.c[n] for n in others))))
        ).rowcount
    new = select(*stage.c).where(~exists().where(same_key))
    insert = upsert(target, key, "postgresql").from_select(names, new)
    written += conn.execute(insert.execution_options(preserve_rowcount=True)).rowcount
    conn.exec_driver_sql(f'DROP TABLE "{stage.name}"')
    return written
