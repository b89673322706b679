"""JSON-ready views of the account queries: one function per question, shared by the
LangChain tools, the `kam` CLI and (later) the Slack App Home.

Each view resolves the account reference within the caller's scope (raising
AccountNotFound or AmbiguousAccount), runs the one implementation of the query in
tools/, and returns plain JSON types via `payload.jsonable`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from store.models import Account
from tools import account_data, payload
from tools.churn import churn_details
from tools.find import find_accounts, resolve_account
from tools.kpi_types import Ctx, KpiResult, KpiTrend
from tools.kpis import SPECS, KpiEngine, spec
from tools.payload import TEXT_NOTE, jsonable, kpi_value, period_named, units_note
from tools.periods import FiscalCalendar, Period, UnknownPeriod, fiscal_period, shift_years
from tools.portfolio import (
    DEFAULT_COMPARE,
    CompareKind,
    GroupBy,
    Order,
    Portfolio,
    Ranking,
    compare,
    portfolio_rollup,
    rank_accounts,
    renewals_due,
)
from tools.selection import NOT_FOUND_MESSAGE, AccountFilter

AMBIGUOUS_MESSAGE = "Several of your accounts match; ask which one is meant."


def period_context(
    engine: KpiEngine, start: date | None, end: date | None, period: str | None = None
) -> Ctx | None:
    """The context for an explicit period, by dates or by its fiscal name ('Q3 FY26', 'fiscal
    YTD': `periods.fiscal_period`), compared with the same dates a year earlier; None for
    the default: the 12 months ending on as-of against the 12 before. With only an end, the
    period starts on the first day of that fiscal year."""
    fiscal = FiscalCalendar(engine.config.fiscal_year_start)
    label = None
    if period is not None:
        if start is not None or end is not None:
            raise UnknownPeriod(period, f"give either the period {period!r} or start and end "
                                        "dates, not both")
        named = fiscal_period(period, engine.as_of, fiscal)
        start, end, label = named.period.start, named.period.end, named.name
    if start is None and end is None:
        return None
    end = min(end or engine.as_of, engine.as_of)
    start = start or fiscal.year(fiscal.year_of(end)).start
    current = Period(start, end)
    return engine.context(current, Period(shift_years(start, -1), shift_years(end, -1)), label)


def _named(engine: KpiEngine, period: Period, ctx: Ctx | None = None) -> dict[str, str]:
    return period_named(period, engine.config, ctx.label if ctx else None)


def _account_id(engine: KpiEngine, ref: str) -> str:
    return resolve_account(engine.session, engine.scope, ref).account_id


def _units(engine: KpiEngine) -> str:
    return units_note(engine.config.reporting_currency)


def find_view(engine: KpiEngine, query: str, limit: int = 5) -> dict[str, Any]:
    found = find_accounts(engine.session, engine.scope, query, limit)
    status = "match" if found.match else ("ambiguous" if found.candidates else "not_found")
    out: dict[str, Any] = {"query": query, "status": status,
                           "candidates": jsonable(found.candidates)}
    if status == "not_found":
        out["message"] = NOT_FOUND_MESSAGE
    return out


def summary_view(engine: KpiEngine, ref: str) -> dict[str, Any]:
    summary = account_data.account_summary(engine, _account_id(engine, ref))
    period = summary["period"]
    kpis = {}
    for name, item in summary.pop("kpis").items():
        shown = jsonable(item)
        if shown.get("period") == period.as_dict():
            del shown["period"]  # the summary states the period once
        kpis[name] = shown
    return {"units": _units(engine), "data_note": TEXT_NOTE, **jsonable(summary), "kpis": kpis}


def kpi_view(
    engine: KpiEngine,
    kpi: str,
    ref: str | None = None,
    portfolio: Portfolio | None = None,
    group_by: GroupBy | None = None,
    ctx: Ctx | None = None,
) -> dict[str, Any]:
    """One KPI for an account (when `ref` is given) or rolled up over a portfolio, for the
    period of `ctx` (default: the 12 months ending on as-of)."""
    kpi_spec = spec(kpi)
    head = {"kpi": kpi, "definition": kpi_spec.description, "as_of": engine.as_of.isoformat(),
            "units": _units(engine)}
    if ref is not None:
        account_id = _account_id(engine, ref)
        result = engine.account(account_id, [kpi], ctx)[kpi]
        name = engine.session.scalar(select(Account.name).where(Account.account_id == account_id))
        out = {**head, "account": {"account_id": account_id, "name": name},
               **payload.kpi(result)}
        if result.period is not None:
            out["period"] = _named(engine, result.period, ctx)
        if kpi == "churn_risk":
            prior = engine.account(account_id, ["revenue"], engine.context(
                current=(ctx or engine.context()).prior))["revenue"].value
            out.update(jsonable(account_data.order_status(engine, account_id, prior)))
            out["evidence_items"] = jsonable(churn_details(ctx or engine.context(), [account_id])[
                account_id])
            out["data_note"] = TEXT_NOTE
        return out
    rollup = portfolio_rollup(engine, [kpi], portfolio or Portfolio(), group_by, ctx)
    total = rollup.total[kpi]
    out = {**head, "portfolio": rollup.portfolio, "accounts": rollup.accounts,
           **payload.kpi(total)}
    if total.period is not None:
        out["period"] = _named(engine, total.period, ctx)
    if group_by:
        out["group_by"] = group_by
        out["groups"] = [
            {"key": g.key, "label": g.label, "accounts": g.accounts,
             **payload.kpi(g.kpis[kpi], inputs=False), **_constant_currency(g.kpis[kpi])}
            for g in rollup.groups
        ]
    return out


def _constant_currency(result: KpiResult) -> dict[str, Any]:
    """A growth's constant-currency figure beside it, where the working is not shown."""
    ratio = result.inputs.get("constant_currency_growth_ratio")
    if "constant_currency_growth_ratio" not in result.inputs:
        return {}
    return {"constant_currency_growth_pct": payload.pct(ratio)}


def ranking_view(ranking: Ranking, engine: KpiEngine, ctx: Ctx | None = None) -> dict[str, Any]:
    items = []
    for item in ranking.items:
        entry = {"rank": item.rank, "account_id": item.account_id, "name": item.name,
                 "owner": item.owner_name, "tier": item.tier,
                 "value": kpi_value(item.result)}
        if ranking.kpi == "churn_risk":
            entry["band"] = item.result.inputs["band"]
            entry["signs_fired"] = jsonable(item.result.inputs["signs_fired"])
            entry["evidence_items"] = jsonable(item.details or {})
        else:
            entry["inputs"] = jsonable(item.result.inputs)
        items.append(entry)
    unit = payload.UNIT_LABELS[ranking.items[0].result.unit] if ranking.items else (
        payload.UNIT_LABELS[SPECS[ranking.kpi].unit])
    out = {"kpi": ranking.kpi, "order": ranking.order, "unit": unit,
           "as_of": ranking.as_of.isoformat(), "portfolio": ranking.portfolio,
           "accounts_ranked": ranking.accounts_ranked,
           "accounts_without_a_value": ranking.accounts_undefined, "items": items}
    if ranking.period is not None:
        out["period"] = _named(engine, ranking.period, ctx)
    if ranking.kpi == "churn_risk":
        out["data_note"] = TEXT_NOTE
    return out


def rank_view(
    engine: KpiEngine, kpi: str, portfolio: Portfolio, n: int = 10, order: Order = "highest",
    ctx: Ctx | None = None, bounds: tuple[float | None, float | None] = (None, None),
) -> dict[str, Any]:
    out = ranking_view(rank_accounts(engine, kpi, portfolio, n, order, ctx=ctx, bounds=bounds),
                       engine, ctx)
    if bounds != (None, None):
        out["bounds"] = {"min": bounds[0], "max": bounds[1]}
    return out


def at_risk_view(
    engine: KpiEngine, portfolio: Portfolio, n: int = 10, min_band: str = "medium"
) -> dict[str, Any]:
    ranking = rank_accounts(engine, "churn_risk", portfolio, n, "highest", min_band=min_band)
    return {**ranking_view(ranking, engine), "min_band": min_band,
            "accounts_below_min_band": ranking.accounts_below_band}


def renewals_view(engine: KpiEngine, portfolio: Portfolio, days: int = 90) -> dict[str, Any]:
    window, renewals = renewals_due(engine, portfolio, days)
    items = [
        {"contract_id": r.contract_id, "account_id": r.account_id, "name": r.name,
         "owner": r.owner_name, "end_date": r.end_date.isoformat(), "days_left": r.days_left,
         "annual_value": payload.money(r.annual_value_cents), "auto_renew": r.auto_renew,
         "open_renewal_opportunity": r.open_renewal_opportunity,
         "churn_risk": r.risk.value, "risk_band": r.risk.inputs["band"],
         "signs_fired": [s["sign"] for s in r.risk.inputs["signs_fired"]]}
        for r in renewals
    ]
    return {"as_of": engine.as_of.isoformat(), "window": window.as_dict(), "days": days,
            "portfolio": portfolio.describe(), "units": _units(engine), "count": len(items),
            "total_annual_value": payload.money(sum(r.annual_value_cents for r in renewals)),
            "items": items}


def stakeholders_view(engine: KpiEngine, ref: str) -> dict[str, Any]:
    data = account_data.stakeholder_map(engine, _account_id(engine, ref))
    return {"data_note": TEXT_NOTE, **jsonable(data)}


def timeline_view(engine: KpiEngine, ref: str, days: int = 90, limit: int = 20) -> dict:
    data = account_data.activity_timeline(engine, _account_id(engine, ref), days, limit)
    return {"data_note": TEXT_NOTE, **jsonable(data)}


def opportunities_view(
    engine: KpiEngine, ref: str | None, flt: AccountFilter | None, limit: int = 20
) -> dict[str, Any]:
    account_id = _account_id(engine, ref) if ref else None
    data = account_data.open_opportunities(engine, account_id, flt, limit)
    return {"units": _units(engine), "account_id": account_id, **jsonable(data)}


def tickets_view(
    engine: KpiEngine, ref: str | None, flt: AccountFilter | None, limit: int = 20
) -> dict[str, Any]:
    account_id = _account_id(engine, ref) if ref else None
    data = account_data.open_tickets(engine, account_id, flt, limit)
    return {"data_note": TEXT_NOTE, "account_id": account_id, **jsonable(data)}


def customer_kpis_view(engine: KpiEngine, ref: str) -> dict[str, Any]:
    data = account_data.customer_kpi_history(engine, _account_id(engine, ref))
    return {"note": "achievement_pct = actual/target (target/actual when lower is better)",
            **jsonable(data)}


def compare_view(
    engine: KpiEngine,
    kind: CompareKind = "year",
    kpis: tuple[str, ...] = DEFAULT_COMPARE,
    ref: str | None = None,
    portfolio: Portfolio | None = None,
) -> dict[str, Any]:
    account_id = _account_id(engine, ref) if ref else None
    result = compare(engine, kind, kpis, portfolio, account_id)
    rows = {}
    for name, (now, then) in result.kpis.items():
        trend = payload.trend(KpiTrend(now, then), inputs=False)
        rows[name] = {"value": trend.pop("value"), "base_value": trend.pop("prior_value"),
                      **{k: v for k, v in trend.items() if k != "period"},
                      **_constant_currency(now)}
    return {"kind": kind, "current_period": _named(engine, result.current),
            "base_period": _named(engine, result.base), "account_id": account_id,
            "portfolio": result.portfolio, "accounts": result.accounts,
            "units": _units(engine), "kpis": rows}
