"""Planning for the offline model: the tool calls that answer a `Request`.

One request may need several calls: a KPI for two accounts, two KPIs for one, a ranking
and the renewals of the accounts in it, a summary and the open tickets. Accounts are
passed by id: the reader has already resolved them within the caller's scope, so a tool
can never substitute a similarly named account.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.agent.offline.request import Period, Request

RANK_DEFAULT_N = 10
THRESHOLD_N = 50  # "which accounts have NPS below 0": all of them, up to the tool's cap
# The KPI a request that names none is about.
DEFAULT_KPI = {"kpi": "revenue", "rank": "revenue"}
LISTS = {"opportunities": "open_opportunities", "tickets": "open_tickets"}
ACCOUNT_TOOLS = {
    "account_summary": "account_summary", "stakeholders": "stakeholder_map",
    "customer_kpis": "customer_kpis", "draft_plan": "draft_account_plan",
    "draft_agenda": "draft_qbr_agenda", "draft_prep": "draft_qbr_prep_note",
}


def call(name: str, **args: Any) -> dict[str, Any]:
    """A tool call with the arguments that are set (None means the tool's default)."""
    return {"name": name, "args": {k: v for k, v in args.items() if v is not None}}


def filters(request: Request, rare: bool = True) -> dict[str, Any]:
    """The portfolio filters; the lists and comparisons take owner and tier only."""
    common = {"owner": request.owner, "tier": request.tier}
    if not rare:
        return common
    return {**common, "team": request.team, "region": request.region,
            "industry": request.industry}


def period(request: Request, span: Period | None = None) -> dict[str, Any]:
    span = span or request.period
    if span is None:
        return {}
    return {"start": span.start.isoformat(), "end": span.end.isoformat()}


def plan(request: Request) -> list[dict[str, Any]]:
    """Every tool call `request` needs, in the order the answer shows them."""
    calls = _plan_intent(request.intent, request)
    for extra in request.also:
        calls += [c for c in _plan_intent(extra, request) if c not in calls]
    return calls


def _plan_intent(intent: str, r: Request) -> list[dict[str, Any]]:
    if intent in ACCOUNT_TOOLS:
        # A summary of "last year" is the summary as of the end of last year.
        as_of = r.period.end.isoformat() if r.period and intent == "account_summary" else None
        meeting = r.meeting.isoformat() if r.meeting and intent == "draft_agenda" else None
        return [call(ACCOUNT_TOOLS[intent], account=a, as_of=as_of, date=meeting)
                for a in r.accounts]
    if intent == "kpi":
        return _kpis(r)
    if intent == "rank":
        return _rank(r)
    if intent == "at_risk":
        band = "high" if r.risk_band == "high" else None
        return [call("at_risk_accounts", n=r.n, min_band=band, **filters(r))]
    if intent == "renewals":
        return [call("renewals_due", days=r.days, **filters(r))]
    if intent == "activities":
        return [call("activity_timeline", account=a, days=r.lookback) for a in r.accounts]
    if intent in LISTS:
        if r.accounts:
            return [call(LISTS[intent], account=a) for a in r.accounts]
        return [call(LISTS[intent], **filters(r))]
    if intent == "compare_periods":
        kind = None if r.compare in (None, "year") else r.compare
        if r.accounts:
            return [call("compare_periods", kind=kind, account=a) for a in r.accounts]
        return [call("compare_periods", kind=kind, **filters(r, rare=False))]
    if intent == "risk_advice":
        return [*[call("get_kpi", kpi="churn_risk", account=a) for a in r.accounts],
                call("search_guidance", query=f"{r.question} churn warning signs save plan",
                     k=3)]
    if intent == "guidance":
        return [call("search_guidance", query=r.question, k=3)]
    if intent == "movers":
        # A KPI the weekly history does not keep: its value now is the nearest answer.
        nearest = _kpis(r.model_copy(update={"kpis": r.untracked, "period": None,
                                             "more_periods": []})) if r.untracked else []
        if r.untracked and not r.kpis:
            return nearest
        return ([_movers(r, a) for a in r.accounts] or [_movers(r, None)]) + nearest
    if intent == "portfolio":
        f = filters(r)
        return [call("get_kpi", kpi="revenue", group_by="owner", **f, **period(r)),
                call("get_kpi", kpi="nrr", **f, **period(r)),
                call("at_risk_accounts", n=5, **f),
                call("renewals_due", days=90, **f),
                call("get_kpi", kpi="revenue_growth", **f, **period(r))]
    return []


def _kpis(r: Request) -> list[dict[str, Any]]:
    kpis = r.kpis or (["revenue", "revenue_growth"] if r.owner_name and not r.accounts
                      else ["revenue"])
    spans = [r.period, *r.more_periods]
    if r.accounts:
        return [call("get_kpi", kpi=k, account=a, **period(r, s))
                for a in r.accounts for k in kpis for s in spans]
    return [call("get_kpi", kpi=k, group_by=r.group_by, **filters(r), **period(r, s))
            for k in kpis for s in spans]


def _rank(r: Request) -> list[dict[str, Any]]:
    kpi = next((k for k in r.kpis if k != "selection_matrix"), None) or (
        "strategic_value" if r.kpis else "revenue")
    bounds: dict[str, Any] = {}
    n = r.n
    if r.threshold is not None:
        key = "max_value" if r.threshold.op == "below" else "min_value"
        bounds[key] = r.threshold.value
        n = n or THRESHOLD_N
        order = "lowest" if r.threshold.op == "below" else None  # worst first
    else:
        order = "lowest" if r.order == "lowest" else None
    calls = [call("rank_accounts", kpi=kpi, order=order, n=n, quadrant=r.quadrant,
                  risk_band=r.risk_band if r.risk_band != "low" or r.quadrant else r.risk_band,
                  **filters(r), **period(r), **bounds)]
    if r.with_renewals:
        calls.append(call("renewals_due", days=r.days or 365, **filters(r)))
    return calls


def _movers(r: Request, account: str | None) -> dict[str, Any]:
    """Movers of one account or of the portfolio, since the snapshot of the day before the
    period starts, or `weeks` back (the tool's default: one)."""
    since = as_of = None
    if r.period is not None:
        since, as_of = (r.period.start - timedelta(days=1)).isoformat(), r.period.end.isoformat()
    direction = None if r.movement == "any" else r.movement
    return call("kpi_movers", account=account, kpi=next(iter(r.kpis), None),
                direction=direction, weeks=r.weeks, since=since, as_of=as_of, n=r.n,
                **({} if account else filters(r)))
