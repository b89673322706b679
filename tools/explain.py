"""Show the math: one account's KPI with its formula, the inputs it was computed from, the
period and as-of date, and the source tables with the number of rows read from each.

The figure and its inputs are the KPI engine's own result, as the `get_kpi` tool returns
it (`views.kpi_view`); this adds only the formula (written over the input names) and the
row counts, counted in SQL over the same windows the KPI's measures read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, sessionmaker

from store.access import AccessScope
from store.models import (
    AccountScore,
    Activity,
    Contact,
    Contract,
    CostToServe,
    CustomerKpi,
    Opportunity,
    Order,
    Product,
    Survey,
    Ticket,
    ValueFactor,
)
from tools import churn
from tools import measures as m
from tools.account_data import SUMMARY_KPIS
from tools.kpi_config import KpiConfig
from tools.kpi_types import Ctx
from tools.kpis import SPECS, KpiEngine
from tools.periods import Period
from tools.selection import AccountNotFound
from tools.views import kpi_view

# Each KPI's formula over the names of its inputs (as the payload shows them).
FORMULAS: dict[str, str] = {
    "revenue": "revenue = sum of order revenue in the period",
    "revenue_growth": "(revenue - prior_revenue) / prior_revenue",
    "gross_margin": "revenue - cost",
    "profitability": "(gross_margin - cost_to_serve) / revenue",
    "share_of_wallet": "revenue / wallet_estimate",
    "logo_retention": "retained if revenue > 0 and prior_revenue > 0; lost if only "
                      "prior_revenue > 0; new if only revenue > 0",
    "grr": "retained_revenue / prior_revenue, retained_revenue = min(revenue, prior_revenue)",
    "nrr": "current_revenue / prior_revenue",
    "upsell_cross_sell": "won_opportunities (upsell and cross-sell, closed won in the period)",
    "clv": "sum for t = 0..horizon_years-1 of gross_margin_12m x retention^t / "
           "(1 + discount_rate)^t",
    "nps": "100 x (promoters - detractors) / responses",
    "kam_nps": "100 x (promoters - detractors) / responses",
    "csat": "scoring_4_or_5 / responses",
    "customer_kpis": "mean of achievement over kpis; achievement = actual / target "
                     "(target / actual when lower is better)",
    "churn_risk": "sum of points over signs_fired",
    "penetration": "number of product_lines_bought / product_lines_offered",
    "strategic_value": "100 x sum of weight x (score - 1) / 4 over factors / sum of weights",
    "selection_matrix": "strategic if attractiveness >= 50 and relative_strength >= 50 %; "
                        "develop if only attractiveness; maintain if only strength; else "
                        "opportunistic",
}


@dataclass(frozen=True)
class Source:
    """A table a KPI reads, the rows of the account it reads, and over which dates."""

    table: str
    rows: ColumnElement[int]
    period: Period | None = None


def _count(model, *where: ColumnElement[bool]) -> ColumnElement[int]:
    return select(func.count()).select_from(model).where(*where).scalar_subquery()


def _orders(account_id: str, period: Period) -> Source:
    return Source("orders", _count(Order, Order.account_id == account_id,
                                   Order.order_date.between(period.start, period.end)), period)


def _surveys(account_id: str, period: Period, kind: str, subject: str | None = None) -> Source:
    where = [Survey.account_id == account_id, Survey.kind == kind,
             Survey.responded_on.between(period.start, period.end)]
    if subject:
        where.append(Survey.subject == subject)
    return Source("surveys", _count(Survey, *where), period)


def _both(ctx: Ctx) -> Period:
    return Period(ctx.prior.start, ctx.current.end)


def _cost_to_serve(account_id: str, period: Period) -> Source:
    return Source("cost_to_serve", _count(
        CostToServe, CostToServe.account_id == account_id,
        CostToServe.period_start <= period.end, CostToServe.period_end >= period.start), period)


def _scores(account_id: str, as_of: date) -> list[Source]:
    return [Source("account_scores", _count(AccountScore, AccountScore.account_id == account_id,
                                            AccountScore.scored_on <= as_of)),
            Source("value_factors", _count(ValueFactor))]


def _active_contacts(account_id: str) -> Source:
    return Source("contacts", _count(Contact, Contact.account_id == account_id,
                                     Contact.status == "active"))


def _churn(ctx: Ctx, a: str) -> list[Source]:
    cfg, w = ctx.config.churn, churn.windows(ctx.config.churn, ctx.as_of)
    engagement = Period(w.before.start, ctx.as_of)
    return [
        Source("activities", _count(Activity, Activity.account_id == a, Activity.occurred_on
                                    .between(engagement.start, engagement.end)), engagement),
        _orders(a, Period(w.spend_before.start, ctx.as_of)),
        Source("surveys", _count(Survey, Survey.account_id == a, Survey.responded_on.between(
            w.sentiment.start, w.sentiment.end)), w.sentiment),
        Source("tickets", _count(Ticket, Ticket.account_id == a, m.open_on(
            Ticket.opened_on, Ticket.closed_on, ctx.as_of),
            Ticket.severity.in_(cfg.ticket_severities))),
        Source("contracts", _count(Contract, Contract.account_id == a,
                                   m.renewal_due(w.renewal)), w.renewal),
        Source("opportunities", _count(Opportunity, Opportunity.account_id == a,
                                       Opportunity.kind == "renewal",
                                       m.opportunity_open_on(ctx.as_of))),
        Source("contacts", _count(Contact, Contact.account_id == a,
                                  Contact.buying_role.in_(cfg.key_roles))),
    ]


SOURCES: dict[str, Callable[[Ctx, str], list[Source]]] = {
    "revenue": lambda c, a: [_orders(a, c.current)],
    "revenue_growth": lambda c, a: [_orders(a, _both(c))],
    "gross_margin": lambda c, a: [_orders(a, c.current)],
    "profitability": lambda c, a: [_orders(a, c.current), _cost_to_serve(a, c.current)],
    "share_of_wallet": lambda c, a: [_orders(a, c.current)],
    "logo_retention": lambda c, a: [_orders(a, _both(c))],
    "grr": lambda c, a: [_orders(a, _both(c))],
    "nrr": lambda c, a: [_orders(a, _both(c))],
    "upsell_cross_sell": lambda c, a: [Source("opportunities", _count(
        Opportunity, Opportunity.account_id == a, Opportunity.stage == "won",
        Opportunity.kind.in_(("upsell", "cross_sell")),
        Opportunity.closed_on.between(c.current.start, c.current.end)), c.current)],
    "clv": lambda c, a: [_orders(a, c.current)],
    "nps": lambda c, a: [_surveys(a, c.current, "nps", "company")],
    "kam_nps": lambda c, a: [_surveys(a, c.current, "nps", "kam")],
    "csat": lambda c, a: [_surveys(a, c.current, "csat")],
    "customer_kpis": lambda c, a: [Source("customer_kpis", _count(
        CustomerKpi, CustomerKpi.account_id == a, CustomerKpi.period_end <= c.as_of))],
    "churn_risk": _churn,
    "penetration": lambda c, a: [_orders(a, c.current), Source("products", _count(Product)),
                                 _active_contacts(a)],
    "strategic_value": lambda c, a: _scores(a, c.as_of),
    "selection_matrix": lambda c, a: [*_scores(a, c.as_of), _orders(a, c.current),
                                      _active_contacts(a)],
}
assert set(FORMULAS) == set(SOURCES) == set(SPECS)


def explain_view(engine: KpiEngine, kpi: str, ref: str) -> dict[str, Any]:
    """The `get_kpi` result for one account, with the formula and the rows read per table."""
    shown = kpi_view(engine, kpi, ref)
    ctx = engine.context()
    sources = SOURCES[kpi](ctx, shown["account"]["account_id"])
    counts = engine.session.execute(select(*(s.rows for s in sources))).one()
    shown["formula"] = FORMULAS[kpi]
    shown["sources"] = [
        {"table": s.table, "rows": int(n), **({"period": s.period.as_dict()} if s.period else {})}
        for s, n in zip(sources, counts, strict=True)
    ]
    return shown


@dataclass(frozen=True)
class Figure:
    """A KPI of one account that a tool result showed for the default period (the 12 months
    ending on `as_of`): what `explain_view` can show the math of."""

    kpi: str
    account_id: str
    account_name: str
    as_of: date


# Arguments after which a result's figures are not the default period's, or not one account's.
OTHER_PERIOD = ("start", "end", "group_by")


def figures_of(tool: str, args: dict[str, Any], result: Any) -> list[Figure]:
    """The figures one tool call's result showed: `get_kpi` of an account, and the KPIs of
    `account_summary`; none for errors, portfolios, other periods and other tools."""
    if not isinstance(result, dict) or "error" in result:
        return []
    account, as_of = result.get("account"), result.get("as_of")
    if not isinstance(account, dict) or not isinstance(as_of, str) or not account.get(
            "account_id"):
        return []
    if tool == "get_kpi" and not any(args.get(k) for k in OTHER_PERIOD):
        kpis = [result.get("kpi")]
    elif tool == "account_summary":
        kpis = [k for k in SUMMARY_KPIS if k in (result.get("kpis") or {})]
    else:
        return []
    return [Figure(kpi, str(account["account_id"]), str(account.get("name") or ""),
                   date.fromisoformat(as_of)) for kpi in kpis if kpi in SPECS]


def explain_figure(sessions: sessionmaker[Session], scope: AccessScope, figure: Figure,
                   config: KpiConfig | None = None) -> dict[str, Any] | None:
    """`explain_view` of `figure` as of its own date, under `scope`; None when the caller may
    not see the account (the same answer as for one that does not exist)."""
    with sessions() as session:
        engine = KpiEngine(session, scope, as_of=figure.as_of, config=config)
        try:
            shown = explain_view(engine, figure.kpi, figure.account_id)
        except AccountNotFound:
            return None
    # The id is looked up like a name (typos tolerated): only that very account will do.
    return shown if shown["account"]["account_id"] == figure.account_id else None
