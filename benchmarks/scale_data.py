"""Build (or reuse) the scale data set: 10,000 accounts, ~2,000,000 order lines.

CSV files go to data/bench/csv, the imported SQLite database to data/bench/kam.db.
Other benchmarks call `ensure_scale_data()`; run this file to build it on its own.
With `DATABASE_URL` set to a PostgreSQL server, the benchmarks also load the data set into
a database `kam_bench` (`kam_bench_currencies`) there, created when missing and kept.
`--currencies` builds the same business billed in EUR, USD, GBP and SGD (`kam demo-data
--currencies`) under data/bench/currencies/, every amount converted at import.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from store.db import make_engine, upgrade  # noqa: E402
from store.demo import generate  # noqa: E402
from store.importer import import_paths  # noqa: E402

BENCH_DIR = ROOT / "data" / "bench"
ACCOUNTS = 10_000


def bench_dir(currencies: bool = False) -> Path:
    return BENCH_DIR / "currencies" if currencies else BENCH_DIR


def ensure_csv(currencies: bool = False) -> Path:
    """Generate the scale CSVs unless they are already there."""
    csv_dir = bench_dir(currencies) / "csv"
    if not (csv_dir / "orders.csv").exists():
        started = time.perf_counter()
        summary = generate(csv_dir, accounts=ACCOUNTS, currencies=currencies)
        print(
            f"generated {summary.rows['orders']:,} order lines for {ACCOUNTS:,} accounts "
            f"in {time.perf_counter() - started:.1f} s"
        )
    return csv_dir


def ensure_scale_data(currencies: bool = False) -> Path:
    """The path of the imported scale database, building it if needed.

    A database built by an older version is migrated to the current schema first
    (migrations fill new tables from the data already there)."""
    db_path = bench_dir(currencies) / "kam.db"
    _load_once(f"sqlite:///{db_path}", ensure_csv(currencies), fresh=not db_path.exists())
    return db_path


def postgres_url() -> str | None:
    """DATABASE_URL when it names a PostgreSQL server (the benchmarks' second column)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        return None
    if make_url(url).get_backend_name() != "postgresql":
        sys.exit(f"DATABASE_URL must be a postgresql:// URL for the benchmarks, not {url}")
    return url


def ensure_postgres_scale_data(url: str, currencies: bool = False) -> str:
    """The URL of the scale data set on the PostgreSQL server of `url`, loaded if needed."""
    name = "kam_bench_currencies" if currencies else "kam_bench"
    created = _create_database(url, name, exist_ok=True)
    bench_url = _database_url(url, name)
    _load_once(bench_url, ensure_csv(currencies), fresh=created)
    return bench_url


@contextmanager
def scratch_postgres(url: str) -> Iterator[str]:
    """A new, empty database on the PostgreSQL server of `url`, dropped afterwards."""
    name = f"kam_bench_scratch_{os.getpid()}"
    _create_database(url, name)
    try:
        yield _database_url(url, name)
    finally:
        with _server(url) as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _load_once(url: str, csv_dir: Path, fresh: bool) -> None:
    started = time.perf_counter()
    engine = make_engine(url)
    upgrade(engine)
    if fresh:
        report = import_paths(engine, [csv_dir])
        print(f"imported {report.total_rows:,} rows in {time.perf_counter() - started:.1f} s "
              f"into {make_url(url).get_backend_name()}")
    engine.dispose()


def _database_url(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@contextmanager
def _server(url: str) -> Iterator:
    engine: Engine = make_engine(_database_url(url, "postgres"))
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield conn
    finally:
        engine.dispose()


def _create_database(url: str, name: str, exist_ok: bool = False) -> bool:
    """Create database `name` on the server of `url`; False when it was already there."""
    with _server(url) as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                             {"name": name}).first()
        if found and exist_ok:
            return False
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return True


if __name__ == "__main__":
    print(f"scale data set ready: {ensure_scale_data('--currencies' in sys.argv)}")
