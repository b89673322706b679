"""Import throughput of orders.csv at the scale data set (~2,000,000 rows), validation included.

Prints rows/s for a fresh import (inserts) and for a re-import of the same file
(idempotent upserts). Target: >= 50,000 rows/s on a 2-core machine.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale_data import ensure_csv  # noqa: E402

from store.db import make_engine, upgrade  # noqa: E402
from store.importer import import_paths  # noqa: E402

TARGET = 50_000


def timed_import(engine, paths: list[Path]) -> tuple[int, float]:
    started = time.perf_counter()
    report = import_paths(engine, paths)
    return report.total_rows, time.perf_counter() - started


def main() -> None:
    csv_dir = ensure_csv()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        # The tables orders refer to, first (not timed).
        import_paths(engine, [csv_dir / f"{t}.csv" for t in ("users", "accounts", "products")])
        size_mb = (csv_dir / "orders.csv").stat().st_size / 1e6
        print(f"orders.csv: {size_mb:.0f} MB")
        for label in ("fresh import", "re-import (upsert)"):
            rows, seconds = timed_import(engine, [csv_dir / "orders.csv"])
            rate = rows / seconds
            verdict = "meets" if rate >= TARGET else "misses"
            print(
                f"{label:20s} {rows:>10,} rows in {seconds:6.1f} s = {rate:>9,.0f} rows/s "
                f"({rate / TARGET:.2f}x the {TARGET:,} rows/s target: {verdict})"
            )
        engine.dispose()


if __name__ == "__main__":
    main()
