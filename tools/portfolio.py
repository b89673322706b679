"""Portfolio views over the caller's accounts: roll-ups (optionally per KAM, team, tier,
region or industry), rankings by any KPI, renewals due, and period comparisons."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from sqlalchemy import select

from store.models import Contract, User
from tools import churn
from tools import measures as m
from tools.kpi_config import BANDS
from tools.kpi_types import Ctx, KpiResult
from tools.kpis import SPECS, KpiEngine, rollup, spec
from tools.periods import (
    Period,
    current_period,
    last_complete_quarter,
    previous_quarter,
    prior_period,
    quarter,
    shift_years,
)
from tools.selection import AccountFilter, AccountNotFound, owner_names, scoped_accounts

Order = Literal["highest", "lowest"]
GroupBy = Literal["owner", "team", "tier", "region", "industry"]
CompareKind = Literal["year", "quarter", "quarter_yoy"]
QUADRANTS = ("strategic", "develop", "maintain", "opportunistic")
RANKABLE = tuple(name for name, s in SPECS.items() if s.unit != "label")
PERIODIC = tuple(name for name, s in SPECS.items() if s.periodic)
DEFAULT_COMPARE = ("revenue", "revenue_growth", "gross_margin", "profitability", "nps", "csat",
                   "upsell_cross_sell")


@dataclass(frozen=True)
class Portfolio:
    """Which accounts: the caller's, narrowed by `accounts` and by computed quadrant/risk band."""

    accounts: AccountFilter = field(default_factory=AccountFilter)
    quadrant: str | None = None
    risk_band: str | None = None

    def describe(self) -> dict[str, Any]:
        out = self.accounts.describe()
        if self.quadrant:
            out["quadrant"] = self.quadrant
        if self.risk_band:
            out["risk_band"] = self.risk_band
        return out or {"all": "every account you can see"}


def portfolio_rows(
    engine: KpiEngine, kpis: Sequence[str], portfolio: Portfolio, ctx: Ctx | None = None
) -> tuple[Ctx, list[dict[str, Any]]]:
    """Rows with the measures `kpis` need, after the quadrant and risk-band filters."""
    needed = list(kpis)
    if portfolio.quadrant:
        needed.append("selection_matrix")
    if portfolio.risk_band:
        needed.append("churn_risk")
    ctx, by_id = engine.rows(needed, portfolio.accounts, ctx)
    rows = list(by_id.values())
    if portfolio.quadrant:
        want = portfolio.quadrant.lower()
        rows = [r for r in rows if SPECS["selection_matrix"].account(ctx, r).value == want]
    if portfolio.risk_band:
        cfg, want = ctx.config.churn, portfolio.risk_band.lower()
        rows = [r for r in rows if cfg.band(churn.score(cfg, r)) == want]
    return ctx, rows


# -- roll-ups ---------------------------------------------------------------------------------


@dataclass
class Group:
    key: str | None
    label: str | None
    accounts: int
    kpis: dict[str, KpiResult]


@dataclass
class Rollup:
    as_of: date
    period: Period
    portfolio: dict[str, Any]
    accounts: int
    total: dict[str, KpiResult]
    groups: list[Group]


def _group_keys(engine: KpiEngine, rows: list[dict], by: GroupBy) -> dict[str, tuple[str, str]]:
    """account_id -> (group key, label)."""
    if by in ("tier", "region", "industry"):
        return {r["account_id"]: (r[by], r[by]) for r in rows}
    owners = {r["owner_user_id"] for r in rows}
    users = engine.session.execute(
        select(User.user_id, User.name, User.team).where(User.user_id.in_(owners))
    ).all()
    info = {u.user_id: (u.name, u.team) for u in users}
    if by == "owner":
        return {r["account_id"]: (r["owner_user_id"], info[r["owner_user_id"]][0]) for r in rows}
    return {r["account_id"]: (info[r["owner_user_id"]][1],) * 2 for r in rows}


def portfolio_rollup(
    engine: KpiEngine,
    kpis: Sequence[str],
    portfolio: Portfolio = Portfolio(),
    group_by: GroupBy | None = None,
    ctx: Ctx | None = None,
) -> Rollup:
    """KPIs rolled up over the portfolio, and per group when `group_by` is given."""
    for name in kpis:
        spec(name)
    ctx, rows = portfolio_rows(engine, kpis, portfolio, ctx)
    groups: list[Group] = []
    if group_by:
        keys = _group_keys(engine, rows, group_by)
        buckets: dict[tuple, list[dict]] = {}
        for row in rows:
            buckets.setdefault(keys[row["account_id"]], []).append(row)
        for (key, label), members in sorted(buckets.items(), key=lambda kv: str(kv[0][1])):
            groups.append(Group(key, label, len(members), rollup(ctx, kpis, members)))
    return Rollup(ctx.as_of, ctx.current, portfolio.describe(), len(rows),
                  rollup(ctx, kpis, rows), groups)


# -- rankings ---------------------------------------------------------------------------------


@dataclass
class Ranked:
    rank: int
    account_id: str
    name: str
    owner_user_id: str
    owner_name: str | None
    tier: str | None
    result: KpiResult
    details: dict[str, list] | None = None


@dataclass
class Ranking:
    kpi: str
    order: Order
    as_of: date
    period: Period | None
    portfolio: dict[str, Any]
    accounts_ranked: int
    accounts_undefined: int
    items: list[Ranked]
    accounts_below_band: int = 0


class NotRankable(ValueError):
    def __init__(self, kpi: str) -> None:
        super().__init__(f"{kpi} is a label, not a number; rank by one of: {', '.join(RANKABLE)}")


def rank_accounts(
    engine: KpiEngine,
    kpi: str,
    portfolio: Portfolio = Portfolio(),
    n: int = 10,
    order: Order = "highest",
    min_band: str | None = None,
    ctx: Ctx | None = None,
    bounds: tuple[float | None, float | None] = (None, None),
) -> Ranking:
    """The `n` accounts with the highest (or lowest) value of `kpi`, strictly between `bounds`
    (min, max; either may be None); undefined values are counted, not ranked. Churn rankings
    carry the evidence items of the shown accounts."""
    kpi_spec = spec(kpi)
    if kpi_spec.unit == "label":
        raise NotRankable(kpi)
    ctx, rows = portfolio_rows(engine, [kpi], portfolio, ctx)
    # Values for every account, the full result (with its working) for the shown ones only.
    values = [(row, kpi_spec.value_of(ctx, row)) for row in rows]
    low, high = bounds
    defined = [(row, v) for row, v in values if v is not None
               and (low is None or v > low) and (high is None or v < high)]
    undefined = len(values) - len(defined)
    if min_band:
        if kpi != "churn_risk":
            raise ValueError("min_band applies to churn_risk rankings only")
        floor = BANDS.index(min_band)
        defined = [(r, v) for r, v in defined if BANDS.index(ctx.config.churn.band(v)) >= floor]
    sign = -1 if order == "highest" else 1
    # The first n of the sorted list (nsmallest is stable too), without sorting 10,000 rows.
    top = heapq.nsmallest(n, defined, key=lambda pair: (sign * pair[1], pair[0]["name"]))
    shown = [(row, kpi_spec.account(ctx, row)) for row, _ in top]
    owners = owner_names(engine.session, {row["owner_user_id"] for row, _ in shown})
    details = churn.churn_details(ctx, [r["account_id"] for r, _ in shown]) if (
        kpi == "churn_risk" and shown) else {}
    items = [
        Ranked(i, row["account_id"], row["name"], row["owner_user_id"],
               owners.get(row["owner_user_id"]), row["tier"], res, details.get(row["account_id"]))
        for i, (row, res) in enumerate(shown, start=1)
    ]
    period = shown[0][1].period if shown else None
    below = len(values) - undefined - len(defined) if min_band else 0
    return Ranking(kpi, order, ctx.as_of, period, portfolio.describe(), len(defined),
                   undefined, items, below)


def at_risk_accounts(
    engine: KpiEngine, portfolio: Portfolio = Portfolio(), n: int = 10, min_band: str = "medium"
) -> Ranking:
    """Accounts at or above `min_band` churn risk, highest first, with the signs that fired."""
    return rank_accounts(engine, "churn_risk", portfolio, n, "highest", min_band=min_band)


# -- renewals ---------------------------------------------------------------------------------


@dataclass
class Renewal:
    contract_id: str
    account_id: str
    name: str
    owner_user_id: str
    owner_name: str | None
    end_date: date
    days_left: int
    annual_value_cents: int
    auto_renew: bool
    open_renewal_opportunity: bool
    risk: KpiResult


def renewals_due(
    engine: KpiEngine, portfolio: Portfolio = Portfolio(), days: int = 90
) -> tuple[Period, list[Renewal]]:
    """Contracts ending within `days` of as_of (and not already superseded by a later
    contract), soonest first, each with the account's churn risk band."""
    as_of = engine.as_of
    window = Period(as_of, as_of + timedelta(days=days))
    accounts = scoped_accounts(engine.scope, portfolio.accounts).subquery()
    contracts = engine.session.execute(
        select(Contract)
        .join(accounts, accounts.c.account_id == Contract.account_id)
        .where(m.renewal_due(window))
        .order_by(Contract.end_date, Contract.contract_id)
    ).scalars().all()
    if not contracts:
        return window, []
    ids = tuple(sorted({c.account_id for c in contracts}))
    narrowed = Portfolio(
        AccountFilter(**{**portfolio.accounts.__dict__, "account_ids": ids}),
        portfolio.quadrant, portfolio.risk_band,
    )
    ctx, rows = portfolio_rows(engine, ["churn_risk"], narrowed)
    by_id = {r["account_id"]: r for r in rows}
    opps = {r["account_id"]: int(r["ch_renewal_opps"]) for r in rows}
    owners = owner_names(engine.session, {r["owner_user_id"] for r in rows})
    out = []
    for c in contracts:
        row = by_id.get(c.account_id)
        if row is None:  # dropped by the quadrant or risk-band filter
            continue
        out.append(Renewal(
            c.contract_id, c.account_id, row["name"], row["owner_user_id"],
            owners.get(row["owner_user_id"]), c.end_date, (c.end_date - as_of).days,
            c.annual_value_cents, c.auto_renew, opps[c.account_id] > 0,
            SPECS["churn_risk"].account(ctx, row),
        ))
    return window, out


# -- period comparison ------------------------------------------------------------------------


@dataclass
class Comparison:
    kind: CompareKind
    current: Period
    base: Period
    portfolio: dict[str, Any] | None
    account_id: str | None
    accounts: int
    kpis: dict[str, tuple[KpiResult, KpiResult]]


def compare_periods_for(
    as_of: date, kind: CompareKind, fiscal_start: int = 1
) -> tuple[Period, Period]:
    """(current, base): the year to as_of vs the year before; the last complete (fiscal)
    quarter vs the quarter before it ("quarter") or vs the same quarter a year earlier
    ("quarter_yoy"). Quarters are those of a fiscal year starting in month `fiscal_start`."""
    if kind == "year":
        current = current_period(as_of)
    else:
        current = last_complete_quarter(as_of, fiscal_start)
    return current, _base_of(current, kind, fiscal_start)


def _base_of(period: Period, kind: CompareKind, fiscal_start: int) -> Period:
    if kind == "year":
        return prior_period(period)
    if kind == "quarter":
        return previous_quarter(period, fiscal_start)
    return quarter(shift_years(period.start, -1), fiscal_start)


def compare(
    engine: KpiEngine,
    kind: CompareKind = "year",
    kpis: Sequence[str] = DEFAULT_COMPARE,
    portfolio: Portfolio | None = None,
    account_id: str | None = None,
) -> Comparison:
    """Period KPIs in the current period and the base period, for one account or a portfolio."""
    for name in kpis:
        if name not in PERIODIC:
            raise ValueError(f"{name} cannot be compared between periods; use one of: "
                             + ", ".join(PERIODIC))
    fiscal_start = engine.config.fiscal_year_start
    current, base = compare_periods_for(engine.as_of, kind, fiscal_start)
    flt = AccountFilter(account_ids=(account_id,)) if account_id else None
    portfolio = portfolio or Portfolio(flt or AccountFilter())
    results = []
    for period, before in ((current, base), (base, _base_of(base, kind, fiscal_start))):
        ctx = engine.context(current=period, prior=before)
        ctx, rows = portfolio_rows(engine, kpis, portfolio, ctx)
        if account_id:
            results.append(({k: spec(k).account(ctx, rows[0]) for k in kpis} if rows else None,
                             len(rows)))
        else:
            results.append((rollup(ctx, kpis, rows), len(rows)))
    (now, count), (then, _) = results
    if now is None or then is None:
        raise AccountNotFound()
    return Comparison(kind, current, base, None if account_id else portfolio.describe(),
                      account_id, count, {k: (now[k], then[k]) for k in kpis})
