"""Import throughput of orders.csv at the scale data set (~2,000,000 rows), validation included.

Prints rows/s for a fresh import (inserts) and for a re-import of the same file
(idempotent upserts), in all and for the writing transaction alone (the rest reads and
checks the CSV). With `DATABASE_URL` set to a PostgreSQL server, the same on a scratch
database there (loaded through COPY), side by side with SQLite.
Targets on a 2-core machine: >= 50,000 rows/s in all on SQLite; >= 100,000 rows/s written
through COPY on PostgreSQL.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale_data import ensure_csv, postgres_url, scratch_postgres  # noqa: E402

from store.db import make_engine, upgrade  # noqa: E402
from store.importer import import_paths  # noqa: E402

TARGET = 50_000
COPY_TARGET = 100_000
RUNS = ("fresh import", "re-import (upsert)")


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


def measure(url: str, csv_dir: Path) -> dict[str, tuple[int, float, float]]:
    """{run: (rows, seconds in all, seconds writing)} for each of RUNS."""
    engine = make_engine(url)
    upgrade(engine)
    # The tables orders refer to, first (not timed).
    import_paths(engine, [csv_dir / f"{t}.csv" for t in ("users", "accounts", "products")])
    results = {}
    for label in RUNS:
        started = time.perf_counter()
        report = import_paths(engine, [csv_dir / "orders.csv"])
        results[label] = (report.total_rows, time.perf_counter() - started, report.write_seconds)
    engine.dispose()
    return results


def main() -> None:
    csv_dir = ensure_csv()
    print(f"orders.csv: {(csv_dir / 'orders.csv').stat().st_size / 1e6:.0f} MB")
    columns = {}
    with sqlite_database() as url:
        columns["SQLite"] = measure(url, csv_dir)
    server = postgres_url()
    if server:
        with scratch_postgres(server) as url:
            columns["PostgreSQL"] = measure(url, csv_dir)
    else:
        print("(set DATABASE_URL=postgresql+psycopg://... for a PostgreSQL column)")
    print(f"\n{'':36s}" + "".join(f"{name:>24s}" for name in columns))
    for label in RUNS:
        rows = next(iter(columns.values()))[label][0]
        print(f"{label} ({rows:,} rows)")
        for part, index in (("in all", 1), ("writing transaction", 2)):
            cells = "".join(f"{r[label][0] / r[label][index]:>13,.0f} rows/s"
                            f" {r[label][index]:>5.1f}s" for r in columns.values())
            print(f"  {part:34s}{cells}")
    sqlite_rate = min(rows / total for rows, total, _ in columns["SQLite"].values())
    print(f"\nSQLite in all: {sqlite_rate:,.0f} rows/s, {sqlite_rate / TARGET:.2f}x the "
          f"{TARGET:,} rows/s target ({'meets' if sqlite_rate >= TARGET else 'MISSES'})")
    if "PostgreSQL" in columns:
        copy_rate = min(rows / write for rows, _, write in columns["PostgreSQL"].values())
        print(f"PostgreSQL writing through COPY: {copy_rate:,.0f} rows/s, "
              f"{copy_rate / COPY_TARGET:.2f}x the {COPY_TARGET:,} rows/s target "
              f"({'meets' if copy_rate >= COPY_TARGET else 'MISSES'})")


if __name__ == "__main__":
    main()
