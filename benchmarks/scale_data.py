"""Build (or reuse) the scale data set: 10,000 accounts, ~2,000,000 order lines.

CSV files go to data/bench/csv, the imported SQLite database to data/bench/kam.db.
Other benchmarks call `ensure_scale_data()`; run this file to build it on its own.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from store.db import make_engine, upgrade  # noqa: E402
from store.demo import generate  # noqa: E402
from store.importer import import_paths  # noqa: E402

BENCH_DIR = ROOT / "data" / "bench"
CSV_DIR = BENCH_DIR / "csv"
DB_PATH = BENCH_DIR / "kam.db"
ACCOUNTS = 10_000


def ensure_csv() -> Path:
    """Generate the scale CSVs unless they are already there."""
    if not (CSV_DIR / "orders.csv").exists():
        started = time.perf_counter()
        summary = generate(CSV_DIR, accounts=ACCOUNTS)
        print(
            f"generated {summary.rows['orders']:,} order lines for {ACCOUNTS:,} accounts "
            f"in {time.perf_counter() - started:.1f} s"
        )
    return CSV_DIR


def ensure_scale_data() -> Path:
    """The path of the imported scale database, building it if needed.

    A database built by an older version is migrated to the current schema first
    (migrations fill new tables from the data already there)."""
    ensure_csv()
    exists = DB_PATH.exists()
    started = time.perf_counter()
    engine = make_engine(f"sqlite:///{DB_PATH}")
    upgrade(engine)
    if not exists:
        report = import_paths(engine, [CSV_DIR])
        print(f"imported {report.total_rows:,} rows in {time.perf_counter() - started:.1f} s")
    engine.dispose()
    return DB_PATH


if __name__ == "__main__":
    print(f"scale data set ready: {ensure_scale_data()}")
