"""What the assistant depends on, checked: the account database, the thread store, the
guidance index and the embedding model. `/readyz` of `kam serve` and `kam doctor` run these
checks; `describe_failure` is the one line a user reads when one of them fails mid-answer.

Each check returns a `Check` with one line for an operator: what is wrong and what to do.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, func, insert, inspect, select, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from knowledge.embeddings import EmbeddingModelError, check_model_dir, default_model_dir
from knowledge.index import COLLECTION_NAME
from store.db import begin_briefly, sqlite_path
from store.models import SlackEvent, User

THREADS_FILE = "threads.db"
CHROMA_FILE = "chroma.sqlite3"

DATABASE_DOWN = (
    "Sorry, I can't read the account database right now, so I can't answer. "
    "The problem is logged for the admin."
)
DATABASE_READ_ONLY = (
    "Sorry, I can't save anything right now: the account database is read-only. "
    "The problem is logged for the admin."
)
DATABASE_BUSY = "Sorry, the account database is busy (an import is running). Please try again soon."
MEMORY_DAMAGED = (
    "Sorry, my conversation memory is damaged, so I can't answer right now. "
    "The problem is logged for the admin."
)
INDEX_DAMAGED = (
    "Sorry, I can't read my guidance index right now, so I can't answer. "
    "The problem is logged for the admin."
)


@dataclass(frozen=True)
class Check:
    """One dependency: `ok`, and a line saying what was found or what to do."""

    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "detail": self.detail}


@dataclass(frozen=True)
class FileIdentity:
    """The file a SQLite engine opened at start (device and inode): a file deleted or put
    in its place while the bot runs is noticed."""

    path: Path
    device: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        stat = path.stat()
        return cls(path, stat.st_dev, stat.st_ino)

    def problem(self) -> str | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return (f"the database file {self.path} is gone (deleted while running): restore "
                    "it from a backup and restart; `kam db init` starts an empty one")
        if (stat.st_dev, stat.st_ino) != (self.device, self.inode):
            return f"the database file {self.path} was replaced while running: restart to use it"
        return None


def database_identity(url: str) -> FileIdentity | None:
    """The identity of a SQLite database file now (None for other databases)."""
    path = sqlite_path(url)
    return FileIdentity.of(path) if path is not None and path.is_file() else None


def check_database(
    engine: Engine, *, identity: FileIdentity | None = None, write: bool = True
) -> Check:
    """Readable (schema and users there), the same file as at start, and writable."""
    name = "database"
    if identity is not None and (problem := identity.problem()):
        return Check(name, False, problem)
    try:
        if not inspect(engine).has_table("users"):
            return Check(name, False, "no tables: run `kam db init`, then `kam import`, or "
                                      "restore the database from a backup")
        with engine.connect() as conn:
            users = conn.execute(select(func.count()).select_from(User)).scalar_one()
    except SQLAlchemyError as error:
        return Check(name, False, f"cannot read it: {_reason(error)}")
    if not users:
        return Check(name, False, "no users yet: import users.csv with `kam import`")
    if write:
        try:
            with begin_briefly(engine, wait_s=1.0) as conn:
                # A write that is rolled back: it needs the same permission as a real one.
                conn.execute(insert(SlackEvent).values(
                    event_id="kam-health-probe", received_at=datetime.now(UTC).replace(tzinfo=None)
                ))
                conn.rollback()
        except DBAPIError as error:
            if "locked" in str(error.orig):
                return Check(name, True, f"{users} users; busy: an import holds the write lock")
            return Check(name, False, f"cannot write to it: {_reason(error)}")
    return Check(name, True, f"{users} users; readable" + (" and writable" if write else ""))


def check_thread_store(data_dir: Path, engine: Engine | None = None) -> Check:
    """The conversation memory (threads.db, or its tables in PostgreSQL when `engine` is
    PostgreSQL's) opens and its checkpoints can be read."""
    if engine is not None and engine.dialect.name == "postgresql":
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT thread_id FROM checkpoints LIMIT 1")).all()
        except DBAPIError as error:
            return Check("thread store", False, f"the checkpoints table in PostgreSQL cannot "
                         f"be read: {_reason(error)}")
        return Check("thread store", True, "in PostgreSQL, readable")
    path = data_dir / THREADS_FILE
    if not path.exists():
        return Check("thread store", True, f"{path} not created yet (made on the first question)")
    try:
        _read_only_query(path, "SELECT name FROM sqlite_master LIMIT 1")
        tables = _read_only_query(path, "SELECT name FROM sqlite_master WHERE type = 'table'")
        if ("checkpoints",) in tables:
            _read_only_query(path, "SELECT thread_id FROM checkpoints LIMIT 1")
    except sqlite3.Error as error:
        return Check("thread store", False, f"{path} is damaged ({error}): stop the bot and "
                     "move it aside; the next start begins a new one (conversations lose their "
                     "earlier context)")
    return Check("thread store", True, f"{path} readable")


def check_index(
    chroma_dir: Path, server_url: str | None = None, collection: str = COLLECTION_NAME
) -> Check:
    """The guidance index (Chroma's SQLite file, or the Chroma server) answers and holds
    chunks."""
    if server_url:
        return _check_index_server(server_url, collection)
    path = chroma_dir / CHROMA_FILE
    if not path.exists():
        return Check("knowledge index", False, f"{path} is missing: `kam knowledge index` or a "
                     "restart of `kam serve` builds it")
    try:
        (count,) = _read_only_query(path, "SELECT count(*) FROM embeddings")[0]
    except sqlite3.Error as error:
        return Check("knowledge index", False, f"{chroma_dir} is damaged ({error}): restart "
                     "`kam serve`, which rebuilds it from the guidance files")
    if not count:
        return Check("knowledge index", False, "empty: run `kam knowledge index`")
    return Check("knowledge index", True, f"{count} chunks")


def _check_index_server(url: str, collection: str) -> Check:
    """The server answers, and its guidance collection is there and holds chunks (a server
    that answers but lost its data, or was never filled, is not ready)."""
    collections = (url.rstrip("/") + "/api/v2/tenants/default_tenant/databases/"
                   "default_database/collections/")
    try:
        found = _get_json(collections + quote(collection))
        count = _get_json(collections + quote(str(found["id"])) + "/count")
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return Check("knowledge index", False, f"the Chroma server at {url} has no guidance "
                         f"collection '{collection}': run `kam knowledge index`")
        return Check("knowledge index", False, f"the Chroma server at {url} answered HTTP "
                     f"{error.code} ({error.reason}): check the server's log")
    except (OSError, ValueError, KeyError) as error:
        return Check("knowledge index", False, f"the Chroma server at {url} does not answer "
                     f"({getattr(error, 'reason', error)}): start it, or check KAM_CHROMA_URL")
    if not count:
        return Check("knowledge index", False, f"the Chroma server at {url} holds no guidance "
                     "(empty collection): run `kam knowledge index`")
    return Check("knowledge index", True, f"{count} chunks on the Chroma server at {url}")


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def check_embedding_model(configured: Path | None) -> Check:
    """The sentence-transformers model files are where the settings say."""
    try:
        model_dir = default_model_dir(configured)
        check_model_dir(model_dir)
    except EmbeddingModelError as error:
        return Check("embedding model", False, str(error))
    return Check("embedding model", True, str(model_dir))


def _read_only_query(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _reason(error: BaseException) -> str:
    """The database's own words, without the SQL and parameters SQLAlchemy appends."""
    orig = getattr(error, "orig", None)
    return str(orig if orig is not None else error).splitlines()[0]


def describe_failure(exc: BaseException) -> str | None:
    """The one line a user reads when a dependency failed during an answer (None if the
    failure is not one of a dependency)."""
    origin = _origin(exc)
    if origin == "chromadb":
        return INDEX_DAMAGED
    if isinstance(exc, DBAPIError):
        reason = str(exc.orig).lower()
        if "readonly" in reason or "read-only" in reason:
            return DATABASE_READ_ONLY
        if "locked" in reason:
            return DATABASE_BUSY
        return DATABASE_DOWN
    if isinstance(exc, sqlite3.Error):
        # Raw sqlite3 errors come from the thread store's checkpointer (SQLAlchemy wraps
        # the account database's).
        return MEMORY_DAMAGED if origin != "chromadb" else INDEX_DAMAGED
    return None


def _origin(exc: BaseException) -> str | None:
    """The top-level package of the innermost library frame the error passed through."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        parts = Path(frame.filename).parts
        for package in ("chromadb", "langgraph"):
            if package in parts:
                return package
    return None



class Readiness:
    """Runs `checks` for `/readyz`: ready when every one is ok. Results are kept for
    `cache_s`, so that probes from several places never pile up on the database."""

    def __init__(self, checks: list[Callable[[], Check]], *, cache_s: float = 2.0):
        self.checks = checks
        self.cache_s = cache_s
        self._last: tuple[float, tuple[bool, dict[str, dict]]] | None = None
        self._lock = threading.Lock()

    def __call__(self) -> tuple[bool, dict[str, dict]]:
        with self._lock:
            if self._last is not None and time.monotonic() - self._last[0] < self.cache_s:
                return self._last[1]
            results = [check() for check in self.checks]
            outcome = (all(r.ok for r in results), {r.name: r.as_dict() for r in results})
            self._last = (time.monotonic(), outcome)
            return outcome
