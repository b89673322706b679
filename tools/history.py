"""KPI history: every account's main KPIs as they stood at the end of each ISO week.

    take_snapshot(session)                 # this week (as of the latest order date), all accounts
    backfill(sessions, weeks=52)           # the 52 weeks up to as_of, one snapshot each

A snapshot is the KPI engine's own account query (`KpiEngine.rows`: one SELECT with the
measures as correlated subqueries, aggregated in the database) over every account, its
values taken by the engine's KPI specs, and one bulk INSERT. Taking a week again replaces
that week's rows, so the weekly job is idempotent. The movers (tools/movers.py) compare
two weeks of this table.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from store.access import AccessScope
from store.db import SNAPSHOT_LOCK, serialize_on_postgresql
from store.models import KpiSnapshot
from tools import churn
from tools.kpi_config import KpiConfig
from tools.kpi_types import Ctx, Row, Unit
from tools.kpis import KpiEngine, spec
from tools.periods import resolve_as_of

# Snapshots cover every account whoever owns it; reading them back is scoped (tools/movers.py).
EVERY_ACCOUNT = AccessScope(user_id="system:kpi-history", name="KPI history", role="admin",
                            team=None)


@dataclass(frozen=True)
class Tracked:
    """A KPI kept in the history: the snapshot column holding its value, and which way is up."""

    kpi: str
    column: str
    unit: Unit
    higher_is_better: bool = True


TRACKED: dict[str, Tracked] = {t.kpi: t for t in (
    Tracked("revenue", "revenue_cents", "money"),
    Tracked("revenue_growth", "revenue_growth", "ratio"),
    Tracked("gross_margin", "gross_margin_cents", "money"),
    Tracked("profitability", "profitability", "ratio"),
    Tracked("share_of_wallet", "share_of_wallet", "ratio"),
    Tracked("nps", "nps", "nps"),
    Tracked("csat", "csat", "ratio"),
    Tracked("churn_risk", "churn_risk", "score", higher_is_better=False),
    Tracked("strategic_value", "strategic_value", "score"),
)}
TRACKED_KPIS = tuple(TRACKED)
SIGN_SEPARATOR = ","


@dataclass(frozen=True)
class SnapshotReport:
    """What one snapshot wrote."""

    week_start: date
    as_of: date
    accounts: int
    replaced: int
    seconds: float


def week_start(day: date) -> date:
    """The Monday of the ISO week holding `day`."""
    return day - timedelta(days=day.weekday())


def week_end(day: date) -> date:
    """The Sunday of the ISO week holding `day`."""
    return week_start(day) + timedelta(days=6)


def signs_of(text: str) -> list[str]:
    """The churn signs stored in a snapshot's `churn_signs`."""
    return [s for s in text.split(SIGN_SEPARATOR) if s]


def _number(value: Any) -> Any:
    # PostgreSQL sums arrive as Decimal; the snapshot stores plain ints and floats.
    return value if value is None or isinstance(value, int | float) else float(value)


def snapshot_row(ctx: Ctx, row: Row, week: date, taken_at: datetime) -> dict[str, Any]:
    """One account's snapshot values, from the engine's measures for it."""
    growth = spec("revenue_growth").account(ctx, row)
    nps = spec("nps").account(ctx, row)
    csat = spec("csat").account(ctx, row)
    out: dict[str, Any] = {
        "week_start": week, "account_id": row["account_id"], "as_of": ctx.as_of,
        "owner_user_id": row["owner_user_id"], "taken_at": taken_at,
        "prior_revenue_cents": int(growth.inputs["prior_revenue_cents"]),
        "nps_responses": int(nps.inputs["responses"]),
        "csat_responses": int(csat.inputs["responses"]),
        "churn_signs": SIGN_SEPARATOR.join(churn.fired(ctx.config.churn, row)),
    }
    for tracked in TRACKED.values():
        out[tracked.column] = _number(spec(tracked.kpi).value_of(ctx, row))
    return out


def take_snapshot(
    session: Session,
    as_of: date | None = None,
    config: KpiConfig | None = None,
    now: datetime | None = None,
) -> SnapshotReport:
    """Snapshot every account as of `as_of` (default: the latest order date) into the ISO week
    holding it, replacing that week's rows; commits. `now` stamps `taken_at` (tests)."""
    started = time.perf_counter()
    engine = KpiEngine(session, EVERY_ACCOUNT, as_of=as_of, config=config)
    ctx, rows = engine.rows(TRACKED_KPIS)
    week = week_start(ctx.as_of)
    taken_at = now or datetime.now()
    values = [snapshot_row(ctx, row, week, taken_at) for row in rows.values()]
    this_week = KpiSnapshot.week_start == week
    serialize_on_postgresql(session, SNAPSHOT_LOCK)  # cron on every replica
    replaced = session.scalar(select(func.count()).select_from(KpiSnapshot).where(this_week))
    session.execute(delete(KpiSnapshot).where(this_week))
    if values:
        session.execute(insert(KpiSnapshot), values)
    session.commit()
    return SnapshotReport(week, ctx.as_of, len(values), replaced or 0,
                          time.perf_counter() - started)


def history_dates(as_of: date, weeks: int) -> list[date]:
    """The as-of dates of `weeks` weekly snapshots ending with `as_of`, oldest first: the
    Sunday of each earlier week, and `as_of` itself for its own week."""
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    last = week_end(as_of)
    return [last - timedelta(weeks=back) for back in range(weeks - 1, 0, -1)] + [as_of]


def backfill(
    sessions: sessionmaker[Session],
    weeks: int,
    as_of: date | None = None,
    config: KpiConfig | None = None,
) -> list[SnapshotReport]:
    """Weekly snapshots of the `weeks` weeks up to `as_of` (default: the latest order date),
    oldest first; weeks already taken are replaced."""
    with sessions() as session:
        as_of = resolve_as_of(session, as_of)
        reports = []
        for day in history_dates(as_of, weeks):
            reports.append(take_snapshot(session, day, config))
        return reports


@dataclass(frozen=True)
class SnapshotWeek:
    """A week on record: its Monday and the date its KPIs were computed as of."""

    week_start: date
    as_of: date


def weeks_on_record(session: Session) -> list[SnapshotWeek]:
    """Every snapshot week, oldest first."""
    rows = session.execute(
        select(KpiSnapshot.week_start, func.max(KpiSnapshot.as_of))
        .group_by(KpiSnapshot.week_start)
        .order_by(KpiSnapshot.week_start)
    )
    return [SnapshotWeek(week, day) for week, day in rows]


def latest_on_or_before(weeks: Sequence[SnapshotWeek], day: date) -> SnapshotWeek | None:
    """The latest week on record whose snapshot was taken as of `day` or earlier."""
    found = [w for w in weeks if w.as_of <= day]
    return found[-1] if found else None
