"""Drafts for a KAM: account plans, QBR agendas and QBR prep notes (DESIGN §7).

Numbers come from the KPI engine through the account views (tools/views.py), advice
from the guidance index (cited exactly as `search` returns it), and the words from the
templates prompts/account_plan.md.j2, qbr_agenda.md.j2 and qbr_prep_note.md.j2. Python
decides what goes in (which goals, milestones, risks, agenda items and minutes); the
templates say it.

    drafter = Drafter(sessions, guidance_index, Prompts(), out_dir)
    drafter.account_plan(context, "Globex")      # JSON-ready dict; the plan saved as a version

`gather` and the builders below it are plain functions over one account's facts;
`Drafter` runs them for a caller (the CLI uses it directly); `make_drafting_tools`
wraps it for the agent.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

from langchain.tools import BaseTool, ToolRuntime, tool
from pydantic import Field
from sqlalchemy import CompoundSelect, Select, func, or_, select, union
from sqlalchemy.orm import Session, sessionmaker

from prompts import Prompts
from store.models import Account, Order, OrderMonthly, Product
from tools import views
from tools.account_data import quarterly_revenue
from tools.accounts import AccountArgs, run_view
from tools.args import tidy
from tools.context import CallerContext
from tools.find import resolve_account
from tools.guidance import GuidanceSearch
from tools.kpi_config import KpiConfig
from tools.kpis import KpiEngine
from tools.payload import dumps, pct
from tools.periods import ONE_DAY, Period, current_period, month_split, quarter, quarter_label
from tools.plans import save_plan
from tools.selection import AccountNotFound

Kind = Literal["account_plan", "qbr_agenda", "qbr_prep_note"]

OPPORTUNITY_LIMIT = 10
TICKET_LIMIT = 10
TIMELINE_QUARTERS = 4
MAX_GOALS = 5
# A share over fewer similar accounts than this could describe one identifiable customer.
MIN_SIMILAR_ACCOUNTS = 5
RENEWAL_LEAD_DAYS = 120  # when renewal work starts, and how far ahead a QBR looks for one
STALE_CONTACT_DAYS = 90
KEY_ROLES = ("decision_maker", "economic_buyer", "champion", "influencer")
EXPANSION_KINDS = ("new", "upsell", "cross_sell")
SEVERE = ("high", "critical")
RESULT_KPIS = ("revenue", "revenue_growth", "gross_margin", "profitability", "share_of_wallet",
               "nps", "kam_nps", "csat")
TRACKED_KPIS = (*RESULT_KPIS, "upsell_cross_sell", "churn_risk", "penetration", "customer_kpis")
QUARTER_KPIS = ("revenue", "gross_margin")

# Agenda: (item, minutes); optional items are added when the account's state calls for them.
AGENDA_LIMIT = 90
AGENDA_TRIM = ("value", "opportunities", "results")  # shortened first when over the limit
MIN_ITEM = 5
BLANK_LINES = re.compile(r"\n{3,}")

# (section, query, topic): one guidance search each; the topic narrows to the right document
# when the shipped corpus is there and is dropped when it matches nothing.
PLAN_GUIDANCE = (
    ("goals", "measurable account plan goals tied to customer outcomes", "account planning"),
    ("timeline", "account plan timeline milestones renewal budget cycle", "account planning"),
    ("risks", "churn warning signs save plan for an at-risk account", "churn risk"),
    ("growth", "white space analysis by product line cross-sell", "white space"),
    ("stakeholders", "stakeholder actions: relationship strength, target and owner",
     "account planning"),
)
AGENDA_GUIDANCE = (("agenda", "timed agenda for a 90-minute quarterly business review",
                    "QBR agenda"),)
RISK_GUIDANCE = (("risk", "churn warning signs save plan for an at-risk account", "churn risk"),)
RENEWAL_GUIDANCE = (("renewal", "renewal timeline 120 90 and 60 days out", "renewals"),)
PREP_GUIDANCE = (
    ("data", "data to gather: results against the last period, customer-defined KPIs, value "
     "delivered, service and tickets", "preparation"),
    ("value", "documenting value delivered to the customer", "value delivered"),
    ("attendees", "who should attend the QBR: decision maker, economic buyer, executive sponsor",
     "preparation"),
    ("questions", "questions to prepare for the customer", "preparation"),
)


# --- facts ------------------------------------------------------------------------------------


def gather(engine: KpiEngine, ref: str) -> dict[str, Any]:
    """One account's facts for a draft, JSON-ready, from the same views the account tools use.
    Raises AccountNotFound / AmbiguousAccount for a reference outside the caller's scope."""
    account_id = resolve_account(engine.session, engine.scope, ref).account_id
    summary = views.summary_view(engine, account_id)
    kpis = summary["kpis"]
    churn = kpis["churn_risk"]
    return {
        "account": summary["account"],
        "as_of": summary["as_of"],
        "period": summary["period"],
        "prior_period": summary["prior_period"],
        "kpis": kpis,
        "churn": {"score": churn["value"], "band": churn["inputs"]["band"],
                  "signs": churn["inputs"]["signs_fired"],
                  "not_fired": churn["inputs"]["signs_not_fired"],
                  "evidence": summary["churn_evidence"]},
        "contracts": summary["contracts_ending"],
        "opportunities": views.opportunities_view(engine, account_id, None, OPPORTUNITY_LIMIT),
        "tickets": views.tickets_view(engine, account_id, None, TICKET_LIMIT),
        "customer_kpis": views.customer_kpis_view(engine, account_id)["kpis"],
        "stakeholders": views.stakeholders_view(engine, account_id),
        "white_space": white_space(
            engine, account_id, kpis["penetration"]["inputs"]["product_lines_bought"]),
        "recent_activities": summary["recent_activities"],
    }


def white_space(engine: KpiEngine, account_id: str, bought: Sequence[str]) -> dict[str, Any]:
    """Product lines the account did not buy in the last 12 months, each with the share of
    similar accounts (same industry or same tier) that did.

    Similar accounts are taken from the whole store, not only the caller's scope, so the
    result is an aggregate share and never names them; below MIN_SIMILAR_ACCOUNTS buying
    accounts no share is given."""
    account = engine.session.get(Account, account_id)
    if account is None:
        raise AccountNotFound()
    period = current_period(engine.as_of)
    similar = [column == value for column, value in ((Account.industry, account.industry),
                                                     (Account.tier, account.tier)) if value]
    out: dict[str, Any] = {"similar_by": {"industry": account.industry, "tier": account.tier},
                           "period": period.as_dict(), "similar_accounts": 0, "lines": []}
    if not similar:
        return out
    peers = select(Account.account_id).where(Account.account_id != account_id, or_(*similar))
    pairs = _lines_bought(peers, period).subquery()
    session = engine.session
    buyers = session.execute(select(func.count(func.distinct(pairs.c.account_id)))).scalar_one()
    by_line: dict[str, int] = dict(session.execute(
        select(pairs.c.product_line, func.count(func.distinct(pairs.c.account_id)))
        .group_by(pairs.c.product_line)).all())
    out["similar_accounts"] = buyers
    if buyers < MIN_SIMILAR_ACCOUNTS:
        return out
    offered = engine.context().product_lines
    lines = [{"product_line": line, "similar_accounts_buying": by_line.get(line, 0),
              "share_pct": pct(by_line.get(line, 0) / buyers)}
             for line in offered if line not in bought]
    out["lines"] = sorted(lines, key=lambda x: (-x["share_pct"], x["product_line"]))
    return out


def _lines_bought(
    accounts: Select[str], period: Period
) -> Select[str, str] | CompoundSelect[str, str]:
    """Distinct (account_id, product_line) bought in `period` by `accounts`: whole months from
    order_monthly, the partial months at the edges from order lines."""
    split = month_split(period)
    parts: list[Select[str, str]] = []
    if split.first_month is not None:
        parts.append(select(OrderMonthly.account_id, OrderMonthly.product_line).where(
            OrderMonthly.account_id.in_(accounts),
            OrderMonthly.month.between(split.first_month, split.last_month)))
    for edge in split.edges:
        parts.append(
            select(Order.account_id, Product.product_line)
            .join(Product, Product.product_id == Order.product_id)
            .where(Order.account_id.in_(accounts), Order.order_date.between(edge.start, edge.end)))
    return parts[0].distinct() if len(parts) == 1 else union(*parts)


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _below_target(facts: dict[str, Any]) -> list[dict[str, Any]]:
    return [k for k in facts["customer_kpis"] if not k["latest"]["on_target"]]


def _expansion(facts: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in facts["opportunities"]["items"] if o["kind"] in EXPANSION_KINDS]


def _severe_tickets(facts: dict[str, Any]) -> int:
    return sum(n for s, n in facts["tickets"]["by_severity"].items() if s in SEVERE)


# --- the account plan -------------------------------------------------------------------------


def goals(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """Up to MAX_GOALS goals, most pressing first: keep the contract, meet the customer's own
    KPIs, grow revenue and share of wallet, open new lines, fix the buying-centre gaps."""
    out: list[dict[str, Any]] = []
    if facts["contracts"]:
        out.append({"goal": "renewal", **facts["contracts"][0]})
    for k in _below_target(facts)[: 1 if out else 2]:
        out.append({"goal": "customer_kpi", "kpi_name": k["kpi_name"], **k["latest"]})
    kpis = facts["kpis"]
    out.append({"goal": "revenue", "revenue": kpis["revenue"],
                "growth": kpis["revenue_growth"], "share_of_wallet": kpis["share_of_wallet"],
                "wallet_estimate": facts["account"]["wallet_estimate"]})
    lines, expansion = facts["white_space"]["lines"][:2], _expansion(facts)
    if lines or expansion:
        out.append({"goal": "growth", "lines": lines, "opportunities": len(expansion),
                    "amount": sum(o["amount"] for o in expansion)})
    if facts["stakeholders"]["gaps"]:
        out.append({"goal": "relationship", "gaps": facts["stakeholders"]["gaps"]})
    return out[:MAX_GOALS]


def next_quarters(as_of: date, count: int = TIMELINE_QUARTERS,
                  fiscal_start: int = 1) -> list[Period]:
    """The (fiscal) quarters from the day after as_of: the first one starts the day after
    as_of (so it is partial unless as_of ends a quarter)."""
    start = as_of + ONE_DAY
    out = [Period(start, quarter(start, fiscal_start).end)]
    while len(out) < count:
        out.append(quarter(out[-1].end + ONE_DAY, fiscal_start))
    return out


def timeline(facts: dict[str, Any], fiscal_start: int = 1) -> list[dict[str, Any]]:
    """Milestones by quarter for the four quarters after as_of, quarters of the fiscal year
    starting in month `fiscal_start`. Dated events (renewals, expected closes) sit in their
    quarter; actions without a date are due by a quarter's end."""
    as_of = date.fromisoformat(facts["as_of"])
    quarters = next_quarters(as_of, fiscal_start=fiscal_start)
    buckets: list[list[dict[str, Any]]] = [[] for _ in quarters]

    def place(day: date, item: dict[str, Any], exact: bool = True) -> None:
        index = next((i for i, q in enumerate(quarters) if day <= q.end), None)
        if index is not None:
            buckets[index].append({**item, "date": max(day, quarters[0].start).isoformat(),
                                   "exact": exact and day >= quarters[0].start})

    def by_end(index: int, item: dict[str, Any]) -> None:
        place(quarters[index].end, item, exact=False)

    renewal_open = any(o["kind"] == "renewal" for o in facts["opportunities"]["items"])
    for c in facts["contracts"]:
        end = date.fromisoformat(c["end_date"])
        place(end, {"milestone": "renewal", **c})
        place(end - timedelta(days=RENEWAL_LEAD_DAYS),
              {"milestone": "renewal_start", "contract_id": c["contract_id"],
               "renewal_opportunity_open": renewal_open}, exact=False)
    for o in facts["opportunities"]["items"]:
        if o["expected_close"] and o["kind"] != "renewal":
            place(date.fromisoformat(o["expected_close"]), {"milestone": "close", **o})
    if facts["churn"]["band"] != "low":
        by_end(0, {"milestone": "save_plan", "band": facts["churn"]["band"],
                   "signs": len(facts["churn"]["signs"])})
    if _severe_tickets(facts):
        by_end(0, {"milestone": "tickets", "count": _severe_tickets(facts)})
    if facts["stakeholders"]["gaps"]:
        by_end(0, {"milestone": "stakeholders", "count": len(facts["stakeholders"]["gaps"])})
    if facts["white_space"]["lines"]:
        by_end(1, {"milestone": "white_space", **facts["white_space"]["lines"][0]})
    for index in range(len(quarters)):
        by_end(index, {"milestone": "qbr"})
    by_end(len(quarters) - 1, {"milestone": "plan_refresh"})
    return [
        {"quarter": quarter_label(q, fiscal_start), "start": q.start.isoformat(),
         "end": q.end.isoformat(), "partial": q != quarter(q.start, fiscal_start),
         "milestones": sorted(items, key=lambda m: (m["date"], not m["exact"]))}
        for q, items in zip(quarters, buckets, strict=True)
    ]


def stakeholder_actions(facts: dict[str, Any]) -> dict[str, Any]:
    """The buying-centre gaps, and the key people with what each one needs next."""
    as_of = date.fromisoformat(facts["as_of"])
    roles = facts["stakeholders"]["roles"]
    people = []
    for role in (*KEY_ROLES, "blocker"):
        for p in roles.get(role, []):
            if p["status"] != "active":
                continue
            last = _day(p["last_activity_on"])
            people.append({**p, "role": role,
                           "days_since_contact": (as_of - last).days if last else None,
                           "stale": last is None or (as_of - last).days > STALE_CONTACT_DAYS,
                           "weak": (p["relationship_strength_1_to_5"] or 5) <= 2})
    left = [{**p, "role": role} for role in KEY_ROLES for p in roles.get(role, [])
            if p["status"] == "left"]
    return {"gaps": facts["stakeholders"]["gaps"], "people": people, "left": left}


# --- the QBR agenda ---------------------------------------------------------------------------


def agenda(facts: dict[str, Any], meeting: date | None = None) -> dict[str, Any]:
    """A timed QBR agenda (60-90 minutes) shaped by the account's state: a risk and recovery
    item at medium or high churn risk, a renewal item when a contract ends within
    RENEWAL_LEAD_DAYS of the meeting, more time for service and for opportunities when
    there are severe tickets or openings."""
    day = meeting or date.fromisoformat(facts["as_of"])
    renewals = [c for c in facts["contracts"]
                if date.fromisoformat(c["end_date"]) <= day + timedelta(days=RENEWAL_LEAD_DAYS)]
    band = facts["churn"]["band"]
    openings = facts["opportunities"]["count"] or facts["white_space"]["lines"]
    items = [("welcome", 5), ("results", 15), ("service", 10 if _severe_tickets(facts) else 5)]
    if band != "low":
        items.append(("risk", 15 if band == "high" else 10))
    items.append(("value", 10))
    if renewals:
        items.append(("renewal", 10))
    items += [("opportunities", 15 if openings else 10), ("actions", 10), ("close", 5)]
    minutes = dict(items)
    for key in AGENDA_TRIM:
        while sum(minutes.values()) > AGENDA_LIMIT and minutes.get(key, 0) > MIN_ITEM:
            minutes[key] -= 5
    start, timed = 0, []
    for key, _ in items:
        timed.append({"item": key, "minutes": minutes[key], "start": start,
                      "end": start + minutes[key]})
        start += minutes[key]
    return {"date": meeting.isoformat() if meeting else None, "total_minutes": start,
            "items": timed, "renewals": renewals}


# --- the QBR prep note ------------------------------------------------------------------------


def attendees(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """Who to invite from the customer: decision makers, economic buyers, champions and
    influencers who are active, plus the most recently engaged user; blockers are met
    before the meeting rather than invited."""
    roles = facts["stakeholders"]["roles"]
    out = [{**p, "role": role, "invite": role != "blocker"}
           for role in (*KEY_ROLES, "blocker") for p in roles.get(role, [])
           if p["status"] == "active"]
    users = [p for p in roles.get("user", []) if p["status"] == "active"]
    if users:
        latest = max(users, key=lambda p: (p["last_activity_on"] or "", p["name"]))
        out.append({**latest, "role": "user", "invite": True})
    return out


def value_delivered(facts: dict[str, Any]) -> dict[str, Any]:
    """Customer KPIs on target or improving since the period before, and won expansions."""
    met, improved = [], []
    for k in facts["customer_kpis"]:
        latest, history = k["latest"], k["history"]
        if latest["on_target"]:
            met.append({"kpi_name": k["kpi_name"], **latest})
        elif len(history) > 1 and (latest["achievement_pct"] or 0) > (
                history[1]["achievement_pct"] or 0):
            improved.append({"kpi_name": k["kpi_name"], **latest,
                             "previous_pct": history[1]["achievement_pct"]})
    return {"met": met, "improved": improved, "expansion": facts["kpis"]["upsell_cross_sell"]}


def questions(facts: dict[str, Any], plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Account-specific questions for the customer, from the data (the template adds the
    standing ones)."""
    out: list[dict[str, Any]] = []
    for k in _below_target(facts):
        out.append({"about": "customer_kpi", "kpi_name": k["kpi_name"], **k["latest"]})
    for c in plan["renewals"]:
        out.append({"about": "renewal", **c})
    signs = {s["sign"] for s in facts["churn"]["signs"]}
    for p in facts["churn"]["evidence"].get("key_contact_left", []):
        out.append({"about": "successor", **p})
    if "spend_drop" in signs:
        out.append({"about": "spend"})
    if "detractors_or_low_csat" in signs:
        out.append({"about": "sentiment"})
    for line in facts["white_space"]["lines"][:1]:
        out.append({"about": "white_space", **line})
    return out


# --- guidance ---------------------------------------------------------------------------------


def consult(guidance: GuidanceSearch, asks: Sequence[tuple[str, str, str]], k: int = 1
            ) -> dict[str, list[dict[str, str]]]:
    """section -> the passages found for it (citation as the index gives it, and the text)."""
    found = {}
    for section, query, topic in asks:
        hits = guidance.search(query, k=k, topic=topic) or guidance.search(query, k=k)
        found[section] = [{"citation": h.citation, "text": readable(h.text)} for h in hits]
    return found


def readable(text: str) -> str:
    """A passage as plain prose for a one-line quote: table rows and bold markers dropped, and
    a chunk that starts mid-sentence (the index splits long sections) starts at the next one."""
    prose = " ".join(line.strip() for line in text.splitlines() if "|" not in line)
    prose = prose.replace("**", "").strip()
    if prose[:1].islower():
        _, _, rest = prose.partition(". ")
        prose = rest
    return prose


def citations(found: dict[str, list[dict[str, str]]]) -> list[dict[str, str]]:
    """The distinct passages cited, in the order first used."""
    seen: dict[str, dict[str, str]] = {}
    for hits in found.values():
        for hit in hits:
            seen.setdefault(hit["citation"], hit)
    return list(seen.values())


# --- running a draft for a caller -------------------------------------------------------------


class Drafter:
    """Drafts for a caller; built once from the session factory, the guidance index, the
    templates and the output folder for charts."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        guidance: GuidanceSearch,
        prompts: Prompts,
        out_dir: Path,
        config: KpiConfig | None = None,
        *,
        plans: sessionmaker[Session] | None = None,
    ) -> None:
        self.sessions = sessions
        self.plans = plans or sessions  # the one write: a drafted plan saved as a version
        self.guidance = guidance
        self.prompts = prompts
        self.out_dir = Path(out_dir)
        self.config = config

    def _run(self, context: CallerContext, as_of: date | None, build) -> dict[str, Any]:
        return run_view(self.sessions, context, as_of, build, self.config)

    def _result(self, kind: Kind, facts: dict[str, Any], template: str,
                found: dict[str, list[dict[str, str]]], **extra: Any) -> dict[str, Any]:
        sources = citations(found)
        markdown = self.prompts.render(template, f=facts, g=found, sources=sources, **extra)
        markdown = BLANK_LINES.sub("\n\n", markdown)  # optional blocks leave gaps
        account = facts["account"]
        return {"account": {"account_id": account["account_id"], "name": account["name"],
                            "owner": account["owner"]["name"], "tier": account["tier"]},
                "as_of": facts["as_of"], "kind": kind, "markdown": markdown,
                "citations": [s["citation"] for s in sources], "charts": []}

    def account_plan(
        self, context: CallerContext, account: str, as_of: date | None = None
    ) -> dict[str, Any]:
        """Draft the account plan and save it as the account's next plan version."""
        def build(engine: KpiEngine) -> dict[str, Any]:
            facts = gather(engine, account)
            return self._result(
                "account_plan", facts, "account_plan.md.j2",
                consult(self.guidance, PLAN_GUIDANCE), goals=goals(facts),
                timeline=timeline(facts, engine.config.fiscal_year_start),
                stakeholders=stakeholder_actions(facts),
                kpi_names=TRACKED_KPIS)

        result = self._run(context, as_of, build)
        if "error" not in result:
            saved = save_plan(self.plans, context.scope, result["account"]["account_id"],
                              result["markdown"])
            result["plan"] = {"plan_id": saved["plan_id"], "version": saved["version"],
                              "status": saved["status"]}
        return result

    def _agenda_guidance(self, facts: dict[str, Any], plan: dict[str, Any]) -> list:
        asks = list(AGENDA_GUIDANCE)
        if facts["churn"]["band"] != "low":
            asks += RISK_GUIDANCE
        if plan["renewals"]:
            asks += RENEWAL_GUIDANCE
        return asks

    def qbr_agenda(
        self, context: CallerContext, account: str, meeting: date | None = None,
        as_of: date | None = None,
    ) -> dict[str, Any]:
        """Draft a timed QBR agenda for a meeting on `meeting` (default: date not set)."""
        def build(engine: KpiEngine) -> dict[str, Any]:
            facts = gather(engine, account)
            plan = agenda(facts, meeting)
            found = consult(self.guidance, self._agenda_guidance(facts, plan))
            result = self._result("qbr_agenda", facts, "qbr_agenda.md.j2", found, agenda=plan,
                                  value=value_delivered(facts))
            return {**result, "agenda": _agenda_summary(plan)}

        return self._run(context, as_of, build)

    def qbr_prep_note(
        self, context: CallerContext, account: str, meeting: date | None = None,
        as_of: date | None = None,
    ) -> dict[str, Any]:
        """Draft the QBR prep note, with the suggested agenda and a revenue chart (PNG)."""
        def build(engine: KpiEngine) -> dict[str, Any]:
            qbr = qbr_facts(engine, account, meeting)
            facts, plan = qbr["f"], qbr["agenda"]
            found = consult(self.guidance, [*PREP_GUIDANCE, *self._agenda_guidance(facts, plan)])
            chart = self.out_dir / f"{facts['account']['account_id']}-revenue.png"
            # Imported here: matplotlib adds ~0.4 s to every start, and only prep notes draw.
            from tools.charts import revenue_trend_chart

            revenue_trend_chart(qbr["revenue"], chart, self.prompts.currency)
            result = self._result("qbr_prep_note", facts, "qbr_prep_note.md.j2", found,
                                  **_without(qbr, "f", "revenue"), chart=str(chart))
            return {**result, "charts": [str(chart)], "agenda": _agenda_summary(plan)}

        return self._run(context, as_of, build)


def qbr_facts(engine: KpiEngine, account: str, meeting: date | None = None) -> dict[str, Any]:
    """Everything a QBR is prepared from, for the prep note and the deck alike: the account's
    facts (`f`), the agenda, the last complete quarter against the one before, who to invite,
    value delivered, questions, the KPIs to show and the revenue by quarter."""
    facts = gather(engine, account)
    account_id = facts["account"]["account_id"]
    plan = agenda(facts, meeting)
    return {"f": facts, "agenda": plan,
            "quarter": views.compare_view(engine, "quarter", QUARTER_KPIS, account_id),
            "attendees": attendees(facts), "value": value_delivered(facts),
            "questions": questions(facts, plan), "kpi_names": RESULT_KPIS,
            "revenue": quarterly_revenue(engine, account_id)}


def _without(values: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in keys}


def _agenda_summary(plan: dict[str, Any]) -> dict[str, Any]:
    return {"date": plan["date"], "total_minutes": plan["total_minutes"],
            "items": [{"item": i["item"], "minutes": i["minutes"]} for i in plan["items"]]}


# --- the tools --------------------------------------------------------------------------------


class AgendaArgs(AccountArgs):
    date: dt.date | None = Field(None, description="QBR date YYYY-MM-DD, if known")


def make_drafting_tools(
    sessions: sessionmaker[Session],
    guidance: GuidanceSearch,
    prompts: Prompts,
    out_dir: Path,
    *,
    config: KpiConfig | None = None,
    plans: sessionmaker[Session] | None = None,
) -> list[BaseTool]:
    """The drafting tools, bound to a session factory, a guidance index, the templates and
    the folder where charts are written; `plans`, if given, is where drafted plans are saved
    (the factory reads through a read-only engine and saves through the writing one)."""
    drafter = Drafter(sessions, guidance, prompts, out_dir, config, plans=plans)

    @tool("draft_account_plan", args_schema=AccountArgs)
    def draft_account_plan(
        account: str, runtime: ToolRuntime[CallerContext], as_of: dt.date | None = None
    ) -> str:
        """Draft an account plan (goals, quarterly timeline, risks, growth opportunities,
        stakeholder actions, KPIs to track, cited guidance) and save it as a new version."""
        return dumps(drafter.account_plan(runtime.context, account, as_of))

    @tool("draft_qbr_agenda", args_schema=AgendaArgs)
    def draft_qbr_agenda(
        account: str, runtime: ToolRuntime[CallerContext], date: dt.date | None = None,
        as_of: dt.date | None = None,
    ) -> str:
        """Draft a timed QBR agenda (60-90 min) tailored to the account's risks, renewal, KPIs
        and opportunities."""
        return dumps(drafter.qbr_agenda(runtime.context, account, date, as_of))

    @tool("draft_qbr_prep_note", args_schema=AccountArgs)
    def draft_qbr_prep_note(
        account: str, runtime: ToolRuntime[CallerContext], as_of: dt.date | None = None
    ) -> str:
        """Draft QBR prep notes: results vs last period and customer KPIs, value delivered,
        tickets, opportunities, who should attend, risks, questions, agenda, revenue chart."""
        return dumps(drafter.qbr_prep_note(runtime.context, account, as_of=as_of))

    return tidy([draft_account_plan, draft_qbr_agenda, draft_qbr_prep_note])
