"""Build (or reuse) the scale data set: 10,000 accounts, ~2,000,000 order lines.

CSV files go to data/bench/csv, the imported SQLite database to data/bench/kam.db.
Other benchmarks call `ensure_scale_data()`; run this file to build it on its own.
`--currencies` builds the same business billed in EUR, USD, GBP and SGD (`kam demo-data
--currencies`) under data/bench/currencies/, every amount converted at import.
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
    csv_dir = ensure_csv(currencies)
    db_path = bench_dir(currencies) / "kam.db"
    exists = db_path.exists()
    started = time.perf_counter()
    engine = make_engine(f"sqlite:///{db_path}")
    upgrade(engine)
    if not exists:
        report = import_paths(engine, [csv_dir])
        print(f"imported {report.total_rows:,} rows in {time.perf_counter() - started:.1f} s")
    engine.dispose()
    return db_path


if __name__ == "__main__":
    print(f"scale data set ready: {ensure_scale_data('--currencies' in sys.argv)}")
