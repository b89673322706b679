"""Engine, sessions and schema migrations."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MMAP_SIZE = 256 * 1024 * 1024
BUSY_TIMEOUT_S = 30


class DatabaseMissing(RuntimeError):
    """The SQLite database file is not there (and was not to be created)."""


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and for an in-memory one)."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        return None
    if parsed.query.get("uri") == "true" and database.startswith("file:"):
        return Path(database.removeprefix("file:"))  # the URI form: sqlite:///file:PATH?…
    return Path(database)


def make_engine(
    url: str, *, echo: bool = False, create: bool = True, read_only: bool = False
) -> Engine:
    """Create an engine; SQLite gets foreign keys on, WAL, a busy timeout and a memory map.

    With `create=False` a SQLite file that is not there is never created: connecting fails
    instead (DatabaseMissing at once, "unable to open database file" later). A server must
    not answer from an empty database made on the spot after its file was lost.

    With `read_only=True` every connection refuses to write (SQLite's `query_only`,
    PostgreSQL's `default_transaction_read_only`): the engine the agent's tools read through.
    """
    path = sqlite_path(url)
    if path is not None:
        if not create and not path.is_file():
            raise DatabaseMissing(f"the database file {path} does not exist")
        options: dict = {"connect_args": {"timeout": BUSY_TIMEOUT_S}}
        if not create and make_url(url).query.get("uri") != "true":
            # SQLite's URI form with mode=rw opens an existing file only.
            uri = f"file:{quote(str(path.resolve()))}?mode=rw"
            options = {"creator": lambda: sqlite3.connect(
                uri, uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False)}
        engine = create_engine(url, echo=echo, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        if read_only:
            event.listen(engine, "connect", _sqlite_query_only)
        return engine
    if make_url(url).get_backend_name() == "sqlite":
        raise ValueError("an in-memory SQLite database cannot be shared: use a file")
    # JIT compilation is for long analytic queries; our KPI queries are short, but their
    # correlated subqueries over 10,000 accounts look costly to the planner, which then spent
    # 0.96 s of a 1.9 s ranking compiling them (bench-kpi). Off for our sessions only.
    session = "-c jit=off" + (" -c default_transaction_read_only=on" if read_only else "")
    return create_engine(url, echo=echo, pool_pre_ping=True, connect_args={"options": session})


@contextmanager
def begin_briefly(engine: Engine, wait_s: float = 2.0) -> Iterator[Connection]:
    """A transaction that waits at most `wait_s` for SQLite's write lock (default: 30 s).

    For small bookkeeping writes (rate buckets, channel pacing) that may give up during a
    long import rather than hold an answer back: the caller handles OperationalError.
    """
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(wait_s * 1000)}")
            conn.commit()
        try:
            with conn.begin():
                yield conn
        finally:
            if sqlite:
                conn.rollback()
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
                conn.commit()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA cache_size=-65536")
    # Read the first 256 MB of the file through a memory map instead of read() calls into
    # the page cache: portfolio churn and renewal rankings on the scale data set ~20 % faster.
    cursor.execute(f"PRAGMA mmap_size={MMAP_SIZE}")
    cursor.close()


def _sqlite_query_only(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def head_revision(engine: Engine) -> str | None:
    """The newest migration, as Alembic finds it among the migration scripts (~4 ms)."""
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


MIGRATION_LOCK = 7_310_002  # the advisory lock PostgreSQL replicas migrate under
SNAPSHOT_LOCK = 7_310_003  # the advisory lock a weekly KPI snapshot is written under


def serialize_on_postgresql(session: Session, key: int) -> None:
    """Wait for, then hold until the transaction ends, PostgreSQL's advisory lock `key`:
    replicas running the same scheduled job write one after the other. A no-op on SQLite,
    whose one writer at a time already does this."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def ensure_schema(engine: Engine) -> None:
    """Migrate to the newest schema unless the database is already there (cheap at start-up).

    On PostgreSQL, replicas starting together on an older schema migrate one at a time
    (an advisory lock): the first brings it up to date, the others find it there.
    """
    head = head_revision(engine)
    if current_revision(engine) == head:
        return
    if engine.dialect.name != "postgresql":
        upgrade(engine)
        return
    with engine.connect() as lock:
        lock.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
        try:
            if current_revision(engine) != head:
                upgrade(engine)
        finally:
            lock.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
            lock.commit()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (creates every table on an empty database)."""
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_initialised(engine: Engine) -> bool:
    return inspect(engine).has_table("accounts")
