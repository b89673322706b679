"""Churn risk: seven warning signs, each worth points when it fires (ChurnConfig), summed
to 0-100 and banded low / medium / high. Every fired sign carries its evidence."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, and_, or_, select

from store.models import Contact, Contract, Ticket
from tools import measures as m
from tools.kpi_config import BANDS, SIGNS, ChurnConfig
from tools.kpi_types import Basis, Ctx, KpiResult, KpiSpec, Row, ratio
from tools.periods import Period, days_before, days_ending
from tools.selection import ACCOUNT_ID_LIST, ACCOUNT_IDS

__all__ = ["BANDS", "SIGNS", "ChurnConfig", "Sign", "assess", "churn_details", "fired", "score"]


@dataclass
class Sign:
    name: str
    points: int
    fired: bool
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Windows:
    recent: Period
    before: Period
    spend: Period
    spend_before: Period
    gap: Period
    sentiment: Period
    renewal: Period


@lru_cache(maxsize=64)
def _windows(cfg: ChurnConfig, as_of: date) -> Windows:
    return windows(cfg, as_of)


def windows(cfg: ChurnConfig, as_of: date) -> Windows:
    recent = days_ending(as_of, cfg.engagement_window_days)
    spend = days_ending(as_of, cfg.spend_window_days)
    return Windows(
        recent=recent,
        before=days_before(recent, cfg.engagement_window_days),
        spend=spend,
        spend_before=days_before(spend, cfg.spend_window_days),
        gap=days_ending(as_of, cfg.contact_gap_days),
        sentiment=days_ending(as_of, cfg.sentiment_window_days),
        renewal=Period(as_of, as_of + timedelta(days=cfg.renewal_window_days)),
    )


def churn_measures(b: Basis) -> dict:
    cfg, w = b.churn, windows(b.churn, b.as_of)
    return {
        "ch_act_recent": m.activity_count(w.recent),
        "ch_act_before": m.activity_count(w.before),
        "ch_act_gap": m.activity_count(w.gap),
        "ch_last_activity": m.last_activity_on(b.as_of),
        "ch_rev_recent": m.order_sum("revenue", w.spend),
        "ch_rev_before": m.order_sum("revenue", w.spend_before),
        "ch_detractors": m.survey_count(w.sentiment, "nps", high=cfg.detractor_max_score),
        "ch_csat_n": m.survey_count(w.sentiment, "csat"),
        "ch_csat_good": m.survey_count(w.sentiment, "csat", low=4),
        "ch_tickets": m.open_tickets(b.as_of, cfg.ticket_severities),
        "ch_renewals": m.contracts_ending(w.renewal),
        "ch_renewal_opps": m.open_opportunities(b.as_of, ("renewal",)),
        "ch_key_left": m.contacts_left_without_cover(cfg.key_roles),
    }


# Each sign: a test (does it fire?) and its evidence (the numbers, for fired signs).


def _engagement_fires(cfg: ChurnConfig, row: Row) -> bool:
    recent, before = row["ch_act_recent"], row["ch_act_before"]
    return before >= cfg.engagement_min_before and recent < cfg.engagement_drop_below * before


def _engagement(cfg: ChurnConfig, row: Row, w: Windows, as_of: date) -> dict:
    return {"activities_recent": row["ch_act_recent"], "recent_period": w.recent,
            "activities_before": row["ch_act_before"], "before_period": w.before,
            "rule": f"recent < {cfg.engagement_drop_below:.0%} of before, with at least "
                    f"{cfg.engagement_min_before} before"}


def _spend_change(row: Row) -> float | None:
    recent, before = row["ch_rev_recent"], row["ch_rev_before"]
    return (recent - before) / before if before > 0 else None


def _spend_fires(cfg: ChurnConfig, row: Row) -> bool:
    change = _spend_change(row)
    return change is not None and change <= -cfg.spend_drop_at_least


def _spend(cfg: ChurnConfig, row: Row, w: Windows, as_of: date) -> dict:
    return {"revenue_recent_cents": row["ch_rev_recent"], "recent_period": w.spend,
            "revenue_before_cents": row["ch_rev_before"], "before_period": w.spend_before,
            "change_ratio": _spend_change(row),
            "rule": f"revenue down at least {cfg.spend_drop_at_least:.0%}"}


def _contact_fires(cfg: ChurnConfig, row: Row) -> bool:
    return row["ch_act_gap"] == 0


def _contact(cfg: ChurnConfig, row: Row, w: Windows, as_of: date) -> dict:
    last = row["ch_last_activity"]
    return {"last_activity_on": last, "days_since_last_activity": (as_of - last).days if last
            else None, "rule": f"no activity in the last {cfg.contact_gap_days} days"}


def _sentiment_fires(cfg: ChurnConfig, row: Row) -> bool:
    share = ratio(row["ch_csat_good"], row["ch_csat_n"])
    return row["ch_detractors"] > 0 or (share is not None and share < cfg.csat_good_min_share)


def _sentiment(cfg: ChurnConfig, row: Row, w: Windows, as_of: date) -> dict:
    return {"nps_detractor_responses": row["ch_detractors"], "csat_responses": row["ch_csat_n"],
            "csat_4_or_5_ratio": ratio(row["ch_csat_good"], row["ch_csat_n"]),
            "period": w.sentiment,
            "rule": f"an NPS of 0-{cfg.detractor_max_score}, or under "
                    f"{cfg.csat_good_min_share:.0%} of CSAT responses scoring 4-5"}


def _tickets_fire(cfg: ChurnConfig, row: Row) -> bool:
    return row["ch_tickets"] > 0


def _tickets(cfg: ChurnConfig, row: Row, w: Windows, as_of: date) -> dict:
    return {"open_tickets": row["ch_tickets"], "severities": list(cfg.ticket_severities)}


def _renewal_fires(cfg: ChurnConfig, row: Row) -> bool:
    return row["ch_renewals"] > 0 and row["ch_renewal_opps"] == 0


def _renewal(cfg: ChurnConfig, row: Row, w: Windows, as_of: date) -> dict:
    return {"contracts_ending": row["ch_renewals"], "window": w.renewal,
            "open_renewal_opportunities": row["ch_renewal_opps"]}


def _key_contacts_fire(cfg: ChurnConfig, row: Row) -> bool:
    return row["ch_key_left"] > 0


def _key_contacts(cfg: ChurnConfig, row: Row, w: Windows, as_of: date) -> dict:
    return {"left_without_replacement": row["ch_key_left"], "roles": list(cfg.key_roles)}


RULES = {  # sign -> (fires, evidence), in the order of SIGNS
    "engagement_drop": (_engagement_fires, _engagement),
    "spend_drop": (_spend_fires, _spend),
    "no_recent_contact": (_contact_fires, _contact),
    "detractors_or_low_csat": (_sentiment_fires, _sentiment),
    "open_critical_tickets": (_tickets_fire, _tickets),
    "renewal_without_opportunity": (_renewal_fires, _renewal),
    "key_contact_left": (_key_contacts_fire, _key_contacts),
}
assert tuple(RULES) == SIGNS


def fired(cfg: ChurnConfig, row: Row) -> list[str]:
    """The names of the signs that fire (no evidence), in the order of SIGNS."""
    return [name for name, (fires, _) in RULES.items() if fires(cfg, row)]


def score(cfg: ChurnConfig, row: Row) -> int:
    """The churn risk score alone (no evidence): fast enough for 10,000 accounts."""
    weights = cfg.weights()
    return sum(weights[name] for name in fired(cfg, row))


def assess(cfg: ChurnConfig, row: Row, as_of: date) -> tuple[int, str, list[Sign]]:
    """(score 0-100, band, all seven signs with evidence) for one account's churn measures."""
    w = _windows(cfg, as_of)
    weights = cfg.weights()
    signs = [
        Sign(name, weights[name], fires(cfg, row), evidence(cfg, row, w, as_of))
        for name, (fires, evidence) in RULES.items()
    ]
    total = sum(s.points for s in signs if s.fired)
    return total, cfg.band(total), signs


def churn_risk(ctx: Ctx, row: Row) -> KpiResult:
    total, band, signs = assess(ctx.config.churn, row, ctx.as_of)
    inputs = {
        "band": band,
        "as_of": ctx.as_of.isoformat(),
        "signs_fired": [
            {"sign": s.name, "points": s.points, "evidence": s.evidence} for s in signs if s.fired
        ],
        "signs_not_fired": [s.name for s in signs if not s.fired],
    }
    return KpiResult("churn_risk", total, "score", None, inputs,
                     f"{band} risk: {len(inputs['signs_fired'])} of {len(signs)} warning signs")


def churn_portfolio(ctx: Ctx, rows: Sequence[Row]) -> KpiResult:
    cfg = ctx.config.churn
    scores = [score(cfg, r) for r in rows]
    bands = dict.fromkeys(BANDS, 0)
    for points in scores:
        bands[cfg.band(points)] += 1
    value = sum(scores) / len(scores) if scores else None
    inputs = {"accounts": len(rows), "accounts_by_band": bands, "as_of": ctx.as_of.isoformat()}
    return KpiResult("churn_risk", value, "score", None, inputs, "mean churn risk score")


@lru_cache(maxsize=64)
def _evidence(cfg: ChurnConfig, as_of: date) -> tuple[Select, Select, Select]:
    """The statements behind churn_details, the accounts bound to ACCOUNT_IDS: open tickets
    of the configured severities, renewals due, and the contacts that tell whether a key
    person left without cover (the active ones and the key people who left)."""
    tickets = select(Ticket).where(
        Ticket.account_id.in_(ACCOUNT_ID_LIST),
        Ticket.severity.in_(cfg.ticket_severities),
        m.open_on(Ticket.opened_on, Ticket.closed_on, as_of),
    ).order_by(Ticket.opened_on)
    contracts = select(Contract).where(
        Contract.account_id.in_(ACCOUNT_ID_LIST), m.renewal_due(windows(cfg, as_of).renewal)
    ).order_by(Contract.end_date)
    contacts = select(Contact).where(
        Contact.account_id.in_(ACCOUNT_ID_LIST),
        or_(Contact.status == "active",
            and_(Contact.status == "left", Contact.buying_role.in_(cfg.key_roles))),
    ).order_by(Contact.contact_id)
    return tickets, contracts, contacts


def churn_details(ctx: Ctx, account_ids: Iterable[str]) -> dict[str, dict[str, list]]:
    """The items behind the signs (open tickets, contracts due, key people who left) for a few
    accounts that the caller may already see; used for evidence in answers."""
    ids = list(account_ids)
    tickets, contracts, contacts = _evidence(ctx.config.churn, ctx.as_of)
    params = {ACCOUNT_IDS: ids}
    out: dict[str, dict[str, list]] = {a: {} for a in ids}
    for t in ctx.session.execute(tickets, params).scalars():
        out[t.account_id].setdefault("open_critical_tickets", []).append({
            "ticket_id": t.ticket_id, "severity": t.severity,
            "opened_on": t.opened_on.isoformat(), "subject": t.subject})
    for c in ctx.session.execute(contracts, params).scalars():
        out[c.account_id].setdefault("renewal_without_opportunity", []).append({
            "contract_id": c.contract_id, "end_date": c.end_date.isoformat(),
            "annual_value_cents": c.annual_value_cents, "auto_renew": c.auto_renew})
    people = ctx.session.execute(contacts, params).scalars().all()
    active_roles = {(p.account_id, p.buying_role) for p in people if p.status == "active"}
    for contact in (p for p in people if p.status == "left"):
        if (contact.account_id, contact.buying_role) not in active_roles:
            out[contact.account_id].setdefault("key_contact_left", []).append({
                "contact_id": contact.contact_id, "name": contact.name, "title": contact.title,
                "buying_role": contact.buying_role})
    return out


SPECS = [
    KpiSpec("churn_risk", "score",
            "Churn risk 0-100: points of the warning signs that fire; low < 30 <= medium < 60 "
            "<= high.", ("churn",), churn_risk, churn_portfolio,
            value=lambda ctx, row: score(ctx.config.churn, row)),
]
MEASURES = {"churn": churn_measures}
