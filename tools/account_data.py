"""One account's data for the caller: summary, stakeholder map, activity timeline, open
opportunities and tickets, customer-defined KPIs. Plain functions returning plain data
(money in cents, ratios as fractions); tools/accounts.py turns them into tool results.

Every function takes a `KpiEngine` (the session, the caller's scope and `as_of`) and
raises `AccountNotFound` for an account that does not exist or is not the caller's.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, func, select

from store.models import (
    Account,
    Activity,
    Contact,
    Contract,
    CustomerKpi,
    Opportunity,
    Order,
    Product,
    Ticket,
    User,
)
from tools import measures as m
from tools.churn import churn_details
from tools.customer import achievement
from tools.financials import billed_abroad, constant_currency_growth
from tools.kpi_types import KpiTrend
from tools.kpis import KpiEngine
from tools.periods import Period, current_period, quarter, quarter_label, quarters_up_to
from tools.selection import ACCOUNT_ID, AccountFilter, AccountSet, scoped_accounts

SUMMARY_KPIS = (
    "revenue", "revenue_growth", "gross_margin", "profitability", "share_of_wallet", "nps",
    "kam_nps", "csat", "upsell_cross_sell", "churn_risk", "penetration", "strategic_value",
    "selection_matrix", "customer_kpis",
)
TREND_KPIS = (
    "revenue", "revenue_growth", "gross_margin", "profitability", "share_of_wallet", "nps",
    "kam_nps", "csat", "upsell_cross_sell",
)
CONTRACT_HORIZON_DAYS = 365
# An account that bought in the prior year and has ordered nothing for this long is lost,
# whatever its churn score says (no orders also means no "spend drop" against last quarter).
LOST_AFTER_DAYS = 180


# The statements of the functions below are built once per shape (see AccountSet) and take
# the account as a bound parameter (ACCOUNT_ID).


@lru_cache(maxsize=64)
def _last_order(as_of: date) -> Select:
    return select(func.max(Order.order_date)).where(
        Order.account_id == ACCOUNT_ID, Order.order_date <= as_of)


def order_status(engine: KpiEngine, account_id: str, prior_revenue: float | None) -> dict[str, Any]:
    """The last order date up to as-of, and whether the account is lost."""
    last = engine.session.scalar(_last_order(engine.as_of), {"account_id": account_id})
    silent = last is None or (engine.as_of - last).days > LOST_AFTER_DAYS
    return {"last_order_date": last, "lost": bool(prior_revenue) and silent}


ROLE_ORDER = ("decision_maker", "economic_buyer", "champion", "influencer", "user", "blocker")


def profile(engine: KpiEngine, account: Account) -> dict[str, Any]:
    owner = engine.session.get(User, account.owner_user_id)
    return {
        "account_id": account.account_id,
        "name": account.name,
        "owner": {"user_id": account.owner_user_id, "name": owner.name if owner else None},
        "tier": account.tier,
        "kam_category": account.kam_category,
        "industry": account.industry,
        "region": account.region,
        "wallet_estimate_cents": account.wallet_estimate_cents,
        "parent_account_id": account.parent_account_id,
        "customer_since": account.created_on,
    }


def account_summary(engine: KpiEngine, account_id: str, items: int = 5) -> dict[str, Any]:
    """Profile, KPIs with the prior-period value, open opportunities, contract ends, open
    tickets, the churn evidence and the latest activities of one account."""
    account = engine.checked_account(account_id)
    now_ctx = engine.context()
    now = engine.account(account_id, SUMMARY_KPIS, now_ctx)
    then = engine.account(account_id, TREND_KPIS, engine.context(current=now_ctx.prior))
    kpis: dict[str, Any] = {
        name: KpiTrend(now[name], then[name]) if name in then else now[name]
        for name in SUMMARY_KPIS
    }
    return {
        "account": profile(engine, account),
        **order_status(engine, account_id, then["revenue"].value),
        "as_of": engine.as_of,
        "period": now_ctx.current,
        "prior_period": now_ctx.prior,
        "kpis": kpis,
        "billed": billed(engine, account, now_ctx.current, now_ctx.prior),
        "churn_evidence": churn_details(now_ctx, [account_id])[account_id],
        "open_opportunities": open_opportunities(engine, account_id, limit=items)["items"],
        "contracts_ending": contracts_ending(engine, account_id),
        "open_tickets": open_tickets(engine, account_id, limit=items)["items"],
        "recent_activities": activity_timeline(engine, account_id, days=365, limit=items)["items"],
    }


def billed(
    engine: KpiEngine, account: Account, current: Period, prior: Period
) -> dict[str, Any] | None:
    """Revenue in the account's own currency, when it bills in another one than the reporting
    currency: the two periods and the growth at constant currency (no exchange-rate effect),
    beside the reported growth. None for an account in the reporting currency."""
    if account.currency is None:
        return None
    _, rows = engine.rows(["revenue_growth"], AccountFilter(account_ids=(account.account_id,)),
                          engine.context(current, prior))
    row = rows[account.account_id]
    if not billed_abroad(row):
        return None  # billed in the reporting currency: nothing converted
    return {"currency": account.currency, "revenue_cents": int(row["rev_local_cur"]),
            "prior_revenue_cents": int(row["rev_local_prior"]),
            "constant_currency_growth_ratio": constant_currency_growth([row])}


@lru_cache(maxsize=64)
def _contracts_ending(as_of: date) -> Select:
    horizon = as_of + timedelta(days=CONTRACT_HORIZON_DAYS)
    return (
        select(Contract)
        .where(Contract.account_id == ACCOUNT_ID, Contract.end_date.between(as_of, horizon))
        .order_by(Contract.end_date)
    )


def contracts_ending(engine: KpiEngine, account_id: str) -> list[dict[str, Any]]:
    """Contracts ending within a year of as_of (already in scope)."""
    rows = engine.session.execute(
        _contracts_ending(engine.as_of), {"account_id": account_id}).scalars()
    return [
        {"contract_id": c.contract_id, "start_date": c.start_date, "end_date": c.end_date,
         "days_left": (c.end_date - engine.as_of).days, "annual_value_cents": c.annual_value_cents,
         "auto_renew": c.auto_renew}
        for c in rows
    ]


def _account_set(
    engine: KpiEngine, account_id: str | None, flt: AccountFilter | None
) -> tuple[AccountSet, dict[str, Any]]:
    """One account (checked, whatever `flt` says) or the caller's accounts in `flt`."""
    if account_id is not None:
        engine.checked_account(account_id)
        flt = AccountFilter(account_ids=(account_id,))
    return AccountSet.of(engine.scope, flt)


@lru_cache(maxsize=256)
def _open_opportunities(accounts: AccountSet, as_of: date) -> Select:
    return (
        select(Opportunity, Account.name, Product.name.label("product"))
        .join(Account, Account.account_id == Opportunity.account_id)
        .outerjoin(Product, Product.product_id == Opportunity.product_id)
        .where(Opportunity.account_id.in_(accounts.ids()), m.opportunity_open_on(as_of))
        .order_by(Opportunity.expected_close.is_(None), Opportunity.expected_close,
                  Opportunity.opportunity_id)
    )


def open_opportunities(
    engine: KpiEngine,
    account_id: str | None = None,
    flt: AccountFilter | None = None,
    limit: int = 20,
) -> dict[str, Any]:
    """Opportunities open on as_of for one account or the caller's accounts, by expected close."""
    accounts, params = _account_set(engine, account_id, flt)
    rows = engine.session.execute(_open_opportunities(accounts, engine.as_of), params).all()
    items = [
        {"opportunity_id": o.opportunity_id, "account_id": o.account_id, "account": name,
         "kind": o.kind, "product": product, "amount_cents": o.amount_cents,
         "created_on": o.created_on, "expected_close": o.expected_close}
        for o, name, product in rows[:limit]
    ]
    return {"as_of": engine.as_of, "count": len(rows),
            "total_amount_cents": sum(o.amount_cents for o, _, _ in rows), "items": items}


@lru_cache(maxsize=256)
def _open_tickets(accounts: AccountSet, as_of: date) -> Select:
    return (
        select(Ticket, Account.name)
        .join(Account, Account.account_id == Ticket.account_id)
        .where(Ticket.account_id.in_(accounts.ids()),
               m.open_on(Ticket.opened_on, Ticket.closed_on, as_of))
    )


def open_tickets(
    engine: KpiEngine,
    account_id: str | None = None,
    flt: AccountFilter | None = None,
    limit: int = 20,
) -> dict[str, Any]:
    """Support tickets open on as_of, most severe and oldest first."""
    accounts, params = _account_set(engine, account_id, flt)
    severity_rank = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    rows = sorted(
        engine.session.execute(_open_tickets(accounts, engine.as_of), params).all(),
        key=lambda r: (severity_rank.get(r[0].severity, 9), r[0].opened_on, r[0].ticket_id),
    )
    by_severity: dict[str, int] = {}
    for t, _ in rows:
        by_severity[t.severity] = by_severity.get(t.severity, 0) + 1
    items = [
        {"ticket_id": t.ticket_id, "account_id": t.account_id, "account": name,
         "severity": t.severity, "opened_on": t.opened_on,
         "age_days": (engine.as_of - t.opened_on).days, "subject": t.subject}
        for t, name in rows[:limit]
    ]
    return {"as_of": engine.as_of, "count": len(rows), "by_severity": by_severity,
            "items": items}


@lru_cache(maxsize=64)
def _activities(period: Period, limit: int) -> tuple[Select, Select]:
    """The account's activities in `period`: counted by kind, and the `limit` latest with the
    contact and the colleague."""
    in_period = (Activity.account_id == ACCOUNT_ID,
                 Activity.occurred_on.between(period.start, period.end))
    count_kinds = (
        select(Activity.kind, func.count()).where(*in_period).group_by(Activity.kind)
        .order_by(func.count().desc(), Activity.kind)
    )
    latest_first = (
        select(Activity, Contact.name, Contact.buying_role, User.name)
        .outerjoin(Contact, Contact.contact_id == Activity.contact_id)
        .outerjoin(User, User.user_id == Activity.user_id)
        .where(*in_period)
        .order_by(Activity.occurred_on.desc(), Activity.activity_id.desc())
        .limit(limit)
    )
    return count_kinds, latest_first


def activity_timeline(
    engine: KpiEngine, account_id: str, days: int = 90, limit: int = 20
) -> dict[str, Any]:
    """Activities with the account in the `days` up to as_of, newest first."""
    engine.checked_account(account_id)
    period = Period(engine.as_of - timedelta(days=days - 1), engine.as_of)
    count_kinds, latest_first = _activities(period, limit)
    params = {"account_id": account_id}
    kinds = engine.session.execute(count_kinds, params).all()
    latest = engine.session.execute(latest_first, params).all()
    items = [
        {"activity_id": a.activity_id, "occurred_on": a.occurred_on, "kind": a.kind,
         "contact": contact, "contact_role": role, "by": user, "notes": a.notes}
        for a, contact, role, user in latest
    ]
    by_kind = dict(kinds)
    return {"account_id": account_id, "period": period, "count": sum(by_kind.values()),
            "by_kind": by_kind, "items": items}


def stakeholder_map(engine: KpiEngine, account_id: str) -> dict[str, Any]:
    """Contacts by buying role with strength, status and last contact; and the gaps."""
    engine.checked_account(account_id)
    twelve_months = current_period(engine.as_of)
    rows = _contacts_with_last_activity(engine, account_id)
    roles: dict[str, list[dict[str, Any]]] = {}
    for c, last in rows:
        roles.setdefault(c.buying_role or "unknown", []).append({
            "contact_id": c.contact_id, "name": c.name, "title": c.title,
            "department": c.department, "relationship_strength_1_to_5": c.relationship_strength,
            "status": c.status, "last_activity_on": last,
            "engaged_last_12_months": bool(last and last >= twelve_months.start),
        })
    ordered = {r: roles[r] for r in (*ROLE_ORDER, "unknown") if r in roles}
    active = [p for people in ordered.values() for p in people if p["status"] == "active"]
    strengths = [p["relationship_strength_1_to_5"] for p in active
                 if p["relationship_strength_1_to_5"] is not None]
    return {
        "account_id": account_id,
        "as_of": engine.as_of,
        "active_contacts": len(active),
        "departments_covered": sorted({p["department"] for p in active if p["department"]}),
        "mean_relationship_strength_1_to_5": round(sum(strengths) / len(strengths), 2)
        if strengths else None,
        "roles": ordered,
        "gaps": stakeholder_gaps(ordered),
    }


def _contacts_with_last_activity(engine: KpiEngine, account_id: str):
    contacts = engine.session.execute(
        select(Contact).where(Contact.account_id == account_id).order_by(Contact.contact_id)
    ).scalars().all()
    last = dict(
        engine.session.execute(
            select(Activity.contact_id, func.max(Activity.occurred_on))
            .where(Activity.account_id == account_id, Activity.occurred_on <= engine.as_of,
                   Activity.contact_id.is_not(None))
            .group_by(Activity.contact_id)
        ).all()
    )
    return [(c, last.get(c.contact_id)) for c in contacts]


def stakeholder_gaps(roles: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Plain-language gaps in the buying centre coverage."""
    def active(role: str) -> list[dict[str, Any]]:
        return [p for p in roles.get(role, []) if p["status"] == "active"]

    def left(role: str) -> list[dict[str, Any]]:
        return [p for p in roles.get(role, []) if p["status"] == "left"]

    gaps = []
    for role, label in (("economic_buyer", "economic buyer"), ("decision_maker",
                                                                 "decision maker")):
        people = active(role)
        if not people:
            gaps.append(f"no active {label}")
        elif not any(p["engaged_last_12_months"] for p in people):
            gaps.append(f"{label} not engaged in the last 12 months")
    if not active("champion"):
        gaps.append("champion left, no replacement" if left("champion") else "no champion")
    if left("decision_maker") and not active("decision_maker"):
        gaps.append("decision maker left, no replacement")
    everyone = [p for people in roles.values() for p in people if p["status"] == "active"]
    if len(everyone) <= 1:
        gaps.append("single-threaded: one active contact or none")
    weak = [p["name"] for p in everyone if (p["relationship_strength_1_to_5"] or 5) <= 2]
    if weak:
        gaps.append("weak relationships (strength <= 2): " + ", ".join(weak))
    if active("blocker"):
        gaps.append("active blocker: " + ", ".join(p["name"] for p in active("blocker")))
    return gaps


def customer_kpi_history(engine: KpiEngine, account_id: str, periods: int = 4) -> dict[str, Any]:
    """Each customer-defined KPI: its latest `periods` values up to as_of, with achievement."""
    engine.checked_account(account_id)
    rows = engine.session.execute(
        select(CustomerKpi)
        .where(CustomerKpi.account_id == account_id, CustomerKpi.period_end <= engine.as_of)
        .order_by(CustomerKpi.kpi_name, CustomerKpi.period_end.desc())
    ).scalars()
    kpis: dict[str, list[dict[str, Any]]] = {}
    higher: dict[str, bool] = {}
    for k in rows:
        history = kpis.setdefault(k.kpi_name, [])
        higher[k.kpi_name] = k.higher_is_better
        if len(history) < periods:
            score = achievement(k.target, k.actual, k.higher_is_better)
            history.append({
                "period_end": k.period_end, "target": k.target, "actual": k.actual,
                "achievement_ratio": score, "on_target": (score or 0) >= 1,
            })
    return {
        "account_id": account_id,
        "as_of": engine.as_of,
        "kpis": [
            {"kpi_name": name, "higher_is_better": higher[name], "latest": history[0],
             "history": history}
            for name, history in kpis.items()
        ],
    }


def quarterly_revenue(engine: KpiEngine, account_id: str, quarters: int = 8) -> dict[str, Any]:
    """Revenue and gross margin per (fiscal) quarter, oldest first; the last quarter ends at
    as_of (partial unless as_of is a quarter's last day)."""
    engine.checked_account(account_id)
    fiscal_start = engine.config.fiscal_year_start
    periods = quarters_up_to(engine.as_of, quarters, fiscal_start)
    exprs = {}
    for i, q in enumerate(periods):
        exprs[f"rev{i}"] = m.order_sum("revenue", q)
        exprs[f"cost{i}"] = m.order_sum("cost", q)
    accounts = scoped_accounts(engine.scope, AccountFilter(account_ids=(account_id,)))
    row = m.fetch(engine.session, m.with_measures(accounts, exprs))[account_id]
    return {
        "account_id": account_id,
        "name": row["name"],
        "quarters": [
            {"quarter": quarter_label(q, fiscal_start), "period": q,
             "partial": q != quarter(q.start, fiscal_start),
             "revenue_cents": int(row[f"rev{i}"]),
             "gross_margin_cents": int(row[f"rev{i}"]) - int(row[f"cost{i}"])}
            for i, q in enumerate(periods)
        ],
    }
