"""Planning for the offline model: the tool calls that answer a read question (intent + slots)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

QUARTER = re.compile(r"\bquarter\b", re.I)


def _call(name: str, **args: Any) -> dict:
    return {"name": name, "args": {k: v for k, v in args.items() if v is not None}}


TOOL_INTENT = {
    "account_summary": "account_summary",
    "get_kpi": "kpi",
    "rank_accounts": "ranking",
    "at_risk_accounts": "at_risk",
    "renewals_due": "renewals",
    "stakeholder_map": "stakeholders",
    "activity_timeline": "activities",
    "open_opportunities": "opportunities",
    "open_tickets": "tickets",
    "customer_kpis": "customer_kpis",
    "compare_periods": "comparison",
    "search_guidance": "guidance",
    "draft_account_plan": "draft_plan",
    "draft_qbr_agenda": "draft_agenda",
    "draft_qbr_prep_note": "draft_prep",
}


def intent_of(calls: Sequence[dict]) -> str:
    """The intent a set of earlier tool calls served (for re-rendering a follow-up)."""
    names = {c["name"] for c in calls}
    if {"get_kpi", "search_guidance"} <= names:
        return "risk_advice"
    if {"get_kpi", "at_risk_accounts", "renewals_due"} <= names:
        return "portfolio"
    return TOOL_INTENT[calls[0]["name"]]


def _filters(slots: dict) -> dict:
    return {"owner": slots.get("owner"), "tier": slots.get("tier")}


def plan_summary(question: str, slots: dict) -> list[dict]:
    return [_call("account_summary", account=slots["account"])]


def plan_kpi(question: str, slots: dict) -> list[dict]:
    kpi = slots.get("kpi") or "revenue"
    if kpi == "churn_risk" and slots.get("account"):
        return [_call("get_kpi", kpi=kpi, account=slots["account"])]
    return [_call("get_kpi", kpi=kpi, account=slots.get("account"), **_filters(slots))]


def plan_ranking(question: str, slots: dict) -> list[dict]:
    kpi = slots.get("kpi") or "revenue"
    if kpi == "selection_matrix":
        kpi = "strategic_value"
    order = "lowest" if slots.get("direction") == "asc" else "highest"
    return [_call("rank_accounts", kpi=kpi, order=order, n=slots.get("n") or 5, **_filters(slots))]


def plan_at_risk(question: str, slots: dict) -> list[dict]:
    return [_call("at_risk_accounts", n=slots.get("n") or 10, **_filters(slots))]


def plan_risk_advice(question: str, slots: dict) -> list[dict]:
    return [
        _call("get_kpi", kpi="churn_risk", account=slots["account"]),
        _call("search_guidance", query=f"{question} churn warning signs save plan", k=3),
    ]


def plan_renewals(question: str, slots: dict) -> list[dict]:
    return [_call("renewals_due", days=slots.get("days") or 90, **_filters(slots))]


def _account_tool(tool: str, intent: str) -> Callable[[str, dict], list[dict]]:
    def plan(question: str, slots: dict) -> list[dict]:
        return [_call(tool, account=slots["account"])]

    return plan


def _listing(tool: str, intent: str) -> Callable[[str, dict], list[dict]]:
    def plan(question: str, slots: dict) -> list[dict]:
        return [_call(tool, account=slots.get("account"), **_filters(slots))]

    return plan


def plan_comparison(question: str, slots: dict) -> list[dict]:
    kind = "quarter" if QUARTER.search(question) else "year"
    return [_call("compare_periods", kind=kind, account=slots.get("account"), **_filters(slots))]


def plan_portfolio(question: str, slots: dict) -> list[dict]:
    filters = _filters(slots)
    return [
        _call("get_kpi", kpi="revenue", group_by="owner", **filters),
        _call("get_kpi", kpi="nrr", **filters),
        _call("at_risk_accounts", n=5, **filters),
        _call("renewals_due", days=90, **filters),
    ]


def plan_guidance(question: str, slots: dict) -> list[dict]:
    return [_call("search_guidance", query=question, k=3)]


def plan_draft(tool: str, intent: str) -> Callable[[str, dict], list[dict]]:
    def plan(question: str, slots: dict) -> list[dict]:
        return [_call(tool, account=slots["account"])]

    return plan


PLANNERS: dict[str, Callable[[str, dict], list[dict]]] = {
    "account_summary": plan_summary,
    "kpi": plan_kpi,
    "ranking": plan_ranking,
    "at_risk": plan_at_risk,
    "risk_advice": plan_risk_advice,
    "renewals": plan_renewals,
    "stakeholders": _account_tool("stakeholder_map", "stakeholders"),
    "activities": _account_tool("activity_timeline", "activities"),
    "opportunities": _listing("open_opportunities", "opportunities"),
    "tickets": _listing("open_tickets", "tickets"),
    "customer_kpis": _account_tool("customer_kpis", "customer_kpis"),
    "comparison": plan_comparison,
    "portfolio": plan_portfolio,
    "guidance": plan_guidance,
    "draft_plan": plan_draft("draft_account_plan", "draft_plan"),
    "draft_agenda": plan_draft("draft_qbr_agenda", "draft_agenda"),
    "draft_prep": plan_draft("draft_qbr_prep_note", "draft_prep"),
}
