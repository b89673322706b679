"""KPI history: weekly snapshots hold what the KPI engine computes, one row per account and
ISO week, and taking a week again replaces it."""

from __future__ import annotations

import threading
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from store.access import AccessScope
from store.db import make_engine, make_session_factory, upgrade
from store.importer import import_paths
from store.models import Account, KpiSnapshot
from tests.history.conftest import HISTORY_WEEKS
from tools.history import history_dates, take_snapshot, week_start
from tools.kpis import KpiEngine

ADMIN = AccessScope("u_admin", "Ada Admin", "admin", None)
DEMO_AS_OF = date(2026, 9, 30)  # a Wednesday: the latest order of the demo data
COLUMNS = {  # KPI -> the snapshot column that holds it (money in cents, ratios as fractions)
    "revenue": "revenue_cents", "revenue_growth": "revenue_growth",
    "gross_margin": "gross_margin_cents", "profitability": "profitability",
    "share_of_wallet": "share_of_wallet", "nps": "nps", "csat": "csat",
    "churn_risk": "churn_risk", "strategic_value": "strategic_value",
}


def test_weekly_history_ends_on_sundays_and_on_as_of_itself():
    assert history_dates(DEMO_AS_OF, 3) == [date(2026, 9, 20), date(2026, 9, 27), DEMO_AS_OF]
    assert history_dates(date(2026, 9, 27), 2) == [date(2026, 9, 20), date(2026, 9, 27)]
    assert week_start(DEMO_AS_OF) == week_start(date(2026, 10, 4)) == date(2026, 9, 28)


def test_backfill_keeps_one_snapshot_of_every_account_per_iso_week(history_sessions):
    with history_sessions() as session:
        accounts = session.scalar(select(func.count()).select_from(Account))
        weeks = session.execute(
            select(KpiSnapshot.week_start, KpiSnapshot.as_of, func.count())
            .group_by(KpiSnapshot.week_start, KpiSnapshot.as_of)
            .order_by(KpiSnapshot.week_start)
        ).all()

    assert len(weeks) == HISTORY_WEEKS
    assert all(count == accounts == 60 for _, _, count in weeks)
    assert all(week.weekday() == 0 and week_start(day) == week for week, day, _ in weeks)
    assert weeks[-1][1] == DEMO_AS_OF and weeks[-2][1] == date(2026, 9, 27)


@pytest.mark.parametrize("as_of", [DEMO_AS_OF, date(2026, 8, 30)])
def test_every_snapshot_value_is_what_the_kpi_engine_computes(history_sessions, as_of):
    with history_sessions() as session:
        rows = {s.account_id: s for s in session.scalars(
            select(KpiSnapshot).where(KpiSnapshot.week_start == week_start(as_of)))}
        engine = KpiEngine(session, ADMIN, as_of=as_of)
        expected = engine.accounts(list(COLUMNS))

    assert set(rows) == set(expected) and len(rows) == 60
    for account_id, results in expected.items():
        row = rows[account_id]
        assert row.as_of == as_of
        for kpi, column in COLUMNS.items():
            assert getattr(row, column) == pytest.approx(results[kpi].value), (account_id, kpi)
        fired = [s["sign"] for s in results["churn_risk"].inputs["signs_fired"]]
        assert (row.churn_signs.split(",") if row.churn_signs else []) == fired
        assert row.prior_revenue_cents == results["revenue_growth"].inputs["prior_revenue_cents"]
        assert row.nps_responses == results["nps"].inputs["responses"]
        assert row.csat_responses == results["csat"].inputs["responses"]


def test_taking_the_same_week_again_replaces_it(demo_dir, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'kam.db'}")
    upgrade(engine)
    import_paths(engine, [demo_dir])
    sessions = make_session_factory(engine)

    def table():
        with sessions() as session:
            return sorted(
                (s.week_start, s.account_id, s.as_of, s.revenue_cents, s.churn_risk, s.nps)
                for s in session.scalars(select(KpiSnapshot)))

    with sessions() as session:
        first = take_snapshot(session, date(2026, 9, 29), now=datetime(2026, 9, 29, 8))
    before = table()
    with sessions() as session:
        again = take_snapshot(session, date(2026, 9, 29), now=datetime(2026, 9, 29, 9))
    with sessions() as session:
        later = take_snapshot(session, DEMO_AS_OF)

    assert (first.accounts, first.replaced, again.replaced) == (60, 0, 60)
    assert table() != before and len(table()) == 60  # the week now holds Wednesday's figures
    assert later.week_start == first.week_start == date(2026, 9, 28)
    with sessions() as session:
        take_snapshot(session, date(2026, 9, 29))
    assert table() == before
    engine.dispose()


def test_replicas_taking_the_week_at_once_each_succeed_and_leave_one_set(demo_dir, postgres):
    # The scheduler runs `kam snapshot` on every replica: on PostgreSQL the writes take an
    # advisory lock one after the other; without it, the second insert of a week whose rows
    # the first has not committed yet fails on the primary key.
    engine = make_engine(postgres.new_database())
    upgrade(engine)
    import_paths(engine, [demo_dir])
    sessions = make_session_factory(engine)
    start = threading.Barrier(4)
    reports, errors = [], []

    def replica() -> None:
        with sessions() as session:
            start.wait()
            try:
                reports.append(take_snapshot(session, DEMO_AS_OF))
            except Exception as error:  # noqa: BLE001 - the test reports what failed
                errors.append(error)

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == [] and len(reports) == 4
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(KpiSnapshot)) == 60
    engine.dispose()
