"""KPI engine latency on the scale data set (10,000 accounts, ~2,000,000 order lines).

Prints p50/p95 for: one account's summary, one account's churn risk, ranking every
account by churn risk and by revenue growth, renewals due in 90 days; and the same
revenue-growth ranking in DuckDB over the same CSVs, as a yardstick. Then the KPI history:
one weekly snapshot of every account, and the movers between two snapshots.
With `DATABASE_URL` set to a PostgreSQL server, every measure also on the data set loaded
there (database `kam_bench`), side by side with SQLite.
Targets: account summary p50 < 20 ms; a full-portfolio ranking < 1 s; the growth
ranking within 3x of DuckDB's time; a snapshot < 30 s; movers p50 < 200 ms.

`--currencies`: the same on the data set billed in four currencies (amounts converted at
import; DuckDB converts in its query, joining the monthly rates).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale_data import (  # noqa: E402
    ensure_csv,
    ensure_postgres_scale_data,
    ensure_scale_data,
    postgres_url,
)

from store.access import resolve_scope  # noqa: E402
from store.db import make_engine, make_session_factory  # noqa: E402
from tools.account_data import account_summary  # noqa: E402
from tools.history import take_snapshot  # noqa: E402
from tools.kpis import KpiEngine  # noqa: E402
from tools.movers import kpi_movers  # noqa: E402
from tools.periods import current_period, prior_period  # noqa: E402
from tools.portfolio import rank_accounts, renewals_due  # noqa: E402
from tools.views import summary_view  # noqa: E402

SUMMARY_TARGET_S = 0.020
RANKING_TARGET_S = 1.0
DUCKDB_RATIO_TARGET = 3.0
SNAPSHOT_TARGET_S = 30.0
MOVERS_TARGET_S = 0.200
TOP_N = 10


def timings(fn: Callable[[int], object], runs: int, warmup: int = 2) -> list[float]:
    for i in range(warmup):
        fn(i)
    out = []
    for i in range(runs):
        started = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - started)
    return out


def p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


@dataclass
class Samples:
    """The runs of each measure on one database (seconds), and the measures' p50 targets."""

    as_of: date
    runs: dict[str, list[float]] = field(default_factory=dict)
    targets: dict[str, float] = field(default_factory=dict)

    def add(self, label: str, runs: list[float], target: float | None = None) -> None:
        self.runs[label] = runs
        if target is not None:
            self.targets[label] = target


def print_table(columns: dict[str, Samples]) -> None:
    """p50 (p95) of each measure, one column per database, with the target's verdict."""
    first = next(iter(columns.values()))
    print(f"{'':42s}" + "".join(f"{n + ' p50 (p95) ms':>26s}" for n in columns) + "  target p50")
    for label in first.runs:
        cells, verdicts = [], []
        target = first.targets.get(label)
        for name, samples in columns.items():
            p50, p95 = p50_p95(samples.runs[label])
            cells.append(f"{p50 * 1000:>14,.1f} ({p95 * 1000:>8,.1f})")
            if target is not None:
                verdicts.append(f"{name}: " + ("meets" if p50 < target else "MISSES"))
        limit = f"  < {target * 1000:,.0f} ms " + ", ".join(verdicts) if target else ""
        print(f"{label:42s}" + "".join(f"{c:>26s}" for c in cells) + limit)


def duckdb_growth_ranking(csv_dir: Path, as_of, currencies: bool) -> Callable[[int], object]:
    """The revenue-growth ranking in DuckDB over the CSVs (loaded once, not timed); with
    `currencies`, each order line converted at its month's rate in the query."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"CREATE TABLE orders AS SELECT * FROM read_csv('{csv_dir / 'orders.csv'}')")
    con.execute(f"CREATE TABLE accounts AS SELECT * FROM read_csv('{csv_dir / 'accounts.csv'}')")
    if currencies:
        con.execute(f"CREATE TABLE fx AS SELECT * FROM read_csv('{csv_dir / 'fx_rates.csv'}', "
                    "types={'month': 'VARCHAR'})")
    cur = current_period(as_of)
    pri = prior_period(cur)
    revenue = "revenue"
    source = "orders o"
    if currencies:
        revenue = "round(revenue * coalesce(fx.rate, 1), 2)"
        source = ("orders o JOIN accounts a USING (account_id) LEFT JOIN fx "
                  "ON fx.currency = a.currency AND fx.month = strftime(o.order_date, '%Y-%m')")
    sql = f"""
        WITH r AS (
            SELECT o.account_id,
                   sum({revenue}) FILTER (WHERE order_date >= $cur_start) AS cur,
                   sum({revenue}) FILTER (WHERE order_date < $cur_start) AS pri
            FROM {source} WHERE order_date BETWEEN $pri_start AND $cur_end
            GROUP BY o.account_id)
        SELECT a.account_id, a.name, r.cur, r.pri, (r.cur - r.pri) / r.pri AS growth
        FROM accounts a JOIN r USING (account_id)
        WHERE r.pri > 0
        ORDER BY growth DESC, a.name LIMIT $n
    """
    params = {"cur_start": cur.start, "pri_start": pri.start, "cur_end": cur.end, "n": TOP_N}
    return lambda _i: con.execute(sql, params).fetchall()


def main() -> None:
    currencies = "--currencies" in sys.argv
    urls = {"SQLite": f"sqlite:///{ensure_scale_data(currencies)}"}
    server = postgres_url()
    if server:
        urls["PostgreSQL"] = ensure_postgres_scale_data(server, currencies)
    else:
        print("(set DATABASE_URL=postgresql+psycopg://... for a PostgreSQL column)")
    columns = {name: kpi_samples(url) for name, url in urls.items()}
    as_of = columns["SQLite"].as_of
    duck = timings(duckdb_growth_ranking(ensure_csv(currencies), as_of, currencies), 15, 2)
    print()
    print_table(columns)
    print(f"{'DuckDB: revenue growth ranking (same CSVs)':42s}"
          f"{p50_p95(duck)[0] * 1000:>14,.1f} ({p50_p95(duck)[1] * 1000:>8,.1f})")
    for name, samples in columns.items():
        ratio = p50_p95(samples.runs[GROWTH_RANKING])[0] / p50_p95(duck)[0]
        verdict = "meets" if ratio <= DUCKDB_RATIO_TARGET else "MISSES"
        print(f"revenue growth ranking, {name} / DuckDB = {ratio:.1f}x "
              f"(target <= {DUCKDB_RATIO_TARGET:.0f}x: {verdict})")


GROWTH_RANKING = "rank all accounts by revenue growth"


def kpi_samples(url: str) -> Samples:
    """Every measure on the scale data set at `url` (benchmarks inform, they do not fail)."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with sessions() as session:
        admin = resolve_scope(session, user_id="u_admin")
        kpis = KpiEngine(session, admin)
        samples = Samples(kpis.as_of)
        ids = [f"A{n:05d}" for n in range(1, 10_001, 97)]
        print(f"{engine.dialect.name}: as of {kpis.as_of}, {len(ids)} sample accounts")
        samples.add("account summary (engine)",
                timings(lambda i: account_summary(kpis, ids[i % len(ids)]), 50), SUMMARY_TARGET_S)
        samples.add("account summary (tool JSON view, by id)",
                timings(lambda i: summary_view(kpis, ids[i % len(ids)]), 50))
        samples.add("churn risk, one account",
                timings(lambda i: kpis.account(ids[i % len(ids)], ["churn_risk"]), 50))
        samples.add("rank all accounts by churn risk",
                timings(lambda _i: rank_accounts(kpis, "churn_risk", n=TOP_N), 7, 1),
                RANKING_TARGET_S)
        samples.add(GROWTH_RANKING,
                timings(lambda _i: rank_accounts(kpis, "revenue_growth", n=TOP_N), 9, 1),
                RANKING_TARGET_S)
        samples.add("renewals due in 90 days (all accounts)",
                timings(lambda _i: renewals_due(kpis, days=90), 9, 1), RANKING_TARGET_S)
    history(sessions, samples)
    engine.dispose()
    return samples


def history(sessions, samples: Samples) -> None:
    """A snapshot of every account for this week and the week before (the bench database
    keeps them; taking a week again replaces it), then movers between the two."""
    as_of = samples.as_of
    with sessions() as session:
        samples.add("KPI snapshot, every account (one week)",
                [take_snapshot(session, day).seconds
                 for day in (as_of - timedelta(days=7), as_of)], SNAPSHOT_TARGET_S)
        for user in ("u_admin", "u_mgr_north", "u_kam_anna"):
            scope = resolve_scope(session, user_id=user)
            samples.add(f"movers, churn risk worse ({user})",
                    timings(lambda _i, s=scope: kpi_movers(session, s, "churn_risk",
                                                           direction="worse"), 15),
                    MOVERS_TARGET_S)
        admin = resolve_scope(session, user_id="u_admin")
        samples.add("movers, revenue either way (u_admin)",
                timings(lambda _i: kpi_movers(session, admin, "revenue"), 15), MOVERS_TARGET_S)


if __name__ == "__main__":
    main()
