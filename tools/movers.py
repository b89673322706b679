"""Movers: the accounts whose KPIs changed most between two weekly snapshots (tools/history.py),
within the caller's scope, each with the causes the data records in between.

    kpi_movers(session, scope, "churn_risk", weeks=4, direction="worse")

The comparison is one SQL statement per KPI: the two weeks' rows joined on the account,
restricted to the caller's accounts, ordered by the change and cut to the top N in the
database. Causes are looked up for the shown accounts only, over the days after the
earlier snapshot through the later one: churn warning signs that fired or cleared, NPS and
CSAT responses, opportunities won or lost, contracts that ended, serious tickets opened and
value factors re-scored.

Asked about no KPI in particular, `movers_view(..., top=8)` gives one list across KPIs, the
biggest moves first. A move's size is its change in tenths of its KPI's scale, so one step
weighs the same for every KPI (`STEP`): money by 10 % of the larger of its two values (a
fall and the rise that undoes it weigh the same, and a start from zero is no division by
zero); ratios (growth, profitability, share of wallet, CSAT) by 10 percentage points; NPS
(-100..100) by 20 points; scores (churn risk, strategic value, 0..100) by 10 points, the
smallest warning sign's weight; and a churn risk move counts one step more for every risk
band (low, medium, high) it crosses. Ties: the move for the worse first, then the KPI's
place in the history, then the account's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from sqlalchemy import Float, Select, Subquery, and_, case, cast, func, select
from sqlalchemy.orm import Session, aliased

from prompts import day_name, humanize
from store.access import AccessScope
from store.models import (
    Account,
    AccountScore,
    Activity,
    Contract,
    KpiSnapshot,
    Opportunity,
    Order,
    Survey,
    Ticket,
)
from tools.customer import DETRACTOR_MAX, PROMOTER_MIN
from tools.history import (
    TRACKED,
    SnapshotWeek,
    Tracked,
    latest_on_or_before,
    signs_of,
    weeks_on_record,
)
from tools.kpi_config import SIGNS, ChurnConfig, KpiConfig
from tools.kpi_types import KpiResult, KpiTrend, Unit
from tools.kpis import KpiEngine, spec
from tools.payload import (
    TEXT_NOTE,
    UNIT_LABELS,
    change,
    jsonable,
    kpi_value,
    money,
    money_text,
    period_text,
    units_note,
    words,
)
from tools.periods import Period, shift_years
from tools.portfolio import Portfolio
from tools.selection import AccountFilter, owner_names, scoped_accounts

Direction = Literal["worse", "better", "any"]
Ordering = Literal["change", "size"]
# One step of a move's size per unit (see the module doc): a tenth of the KPI's scale.
STEP: dict[Unit, float] = {"money": 0.10, "ratio": 0.10, "nps": 20.0, "score": 10.0}
PER_KPI = 5  # the movers of one KPI
TOP = 8  # the moves in one list across KPIs: what a Slack answer can show at a glance
RANKING = ("size: the change in tenths of the KPI's scale (money 10 % of the larger value, "
           "ratios 10 points, NPS 20 points, scores 10 points; +1 per churn risk band "
           "crossed); biggest first")
CSAT_LOW_MAX = 3
MONEY_KPIS = ("revenue", "revenue_growth", "gross_margin", "profitability", "share_of_wallet")
# Which recorded events can explain a move in which KPI, and the churn signs that bear on it.
EVENTS: dict[str, tuple[str, ...]] = {
    **{k: ("orders", "opportunities", "contracts") for k in MONEY_KPIS},
    "nps": ("nps",),
    "csat": ("csat",),
    "churn_risk": ("nps", "csat", "opportunities", "contracts", "tickets"),
    "strategic_value": ("scores",),
}
SIGNS_FOR: dict[str, tuple[str, ...]] = {
    **{k: ("spend_drop",) for k in MONEY_KPIS},
    "nps": ("detractors_or_low_csat",),
    "csat": ("detractors_or_low_csat",),
    "churn_risk": SIGNS,
    "strategic_value": (),
}


class NoHistory(LookupError):
    """Fewer than two snapshot weeks to compare."""


@dataclass
class Cause:
    """An event on record that can explain a move; `adverse` says which way it pushes."""

    kind: str
    on: date | None
    adverse: bool
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Mover:
    account_id: str
    name: str
    owner_user_id: str
    owner_name: str | None
    before: Any
    after: Any
    change: float
    worse: bool
    size: float
    causes: list[Cause]


@dataclass
class Movers:
    kpi: str
    unit: Unit
    direction: Direction
    base: SnapshotWeek
    current: SnapshotWeek
    accounts_compared: int
    accounts_moved: int
    items: list[Mover]
    note: str | None = None


def last_qbr(session: Session, scope: AccessScope, account_id: str, on_or_before: date
             ) -> date | None:
    """The day of the account's last QBR on record (an activity of kind qbr), if the caller
    may see the account: where "since the last QBR" starts."""
    return session.scalar(
        select(func.max(Activity.occurred_on))
        .join(Account, Account.account_id == Activity.account_id)
        .where(Activity.account_id == account_id, Activity.kind == "qbr",
               Activity.occurred_on <= on_or_before, scope.account_clause()))


def between(base: SnapshotWeek, current: SnapshotWeek) -> Period:
    """The days after the base snapshot through the current one: where causes are looked for."""
    return Period(base.as_of + timedelta(days=1), current.as_of)


def compared_weeks(
    session: Session, weeks: int = 1, since: date | None = None, until: date | None = None
) -> tuple[SnapshotWeek, SnapshotWeek, str | None]:
    """(base, current, note): the latest snapshot (as of `until` or earlier) and the one of the
    ISO week `weeks` weeks before its week (or the latest before that), or the latest as of
    `since` or earlier. Without history that far back, the earliest snapshot, said in the
    note."""
    record = weeks_on_record(session)
    current = latest_on_or_before(record, until) if until else (record[-1] if record else None)
    earlier = [w for w in record if current and w.week_start < current.week_start]
    if current is None or not earlier:
        raise NoHistory("fewer than two weeks of KPI history: run `kam snapshot` weekly "
                        "(`kam demo-data` fills a year of it)")
    if since is not None:
        base = latest_on_or_before(earlier, since)
    else:  # by ISO week: "last week" is the previous week's snapshot, whatever its weekday
        target = current.week_start - timedelta(weeks=weeks)
        found = [w for w in earlier if w.week_start <= target]
        base = found[-1] if found else None
    if base is None:
        base = earlier[0]
        return base, current, (f"history starts on {base.as_of.isoformat()}, so the change "
                               "is measured from there")
    return base, current, None


def _improvement(tracked: Tracked, before, after):
    change = after - before
    return change if tracked.higher_is_better else -change


def _size(tracked: Tracked, before, after, churn: ChurnConfig):
    """How big the move from `before` to `after` is, in steps of `STEP` (see the module doc),
    as a SQL expression."""
    moved = cast(func.abs(after - before), Float)
    if tracked.unit == "money":
        larger = case((func.abs(before) >= func.abs(after), func.abs(before)),
                      else_=func.abs(after))
        return func.coalesce(moved / func.nullif(cast(larger, Float), 0), 0.0) / STEP["money"]
    size = moved / STEP[tracked.unit]
    if tracked.kpi == "churn_risk":
        size = size + func.abs(_band(after, churn) - _band(before, churn))
    return size


def _band(score, churn: ChurnConfig):
    """The churn risk band of `score` as 0 (low), 1 (medium) or 2 (high), in SQL."""
    return case((score >= churn.high_from, 2), (score >= churn.medium_from, 1), else_=0)


def kpi_movers(
    session: Session,
    scope: AccessScope,
    kpi: str,
    *,
    weeks: int = 1,
    since: date | None = None,
    until: date | None = None,
    direction: Direction = "any",
    n: int = PER_KPI,
    flt: AccountFilter | None = None,
    by: Ordering = "change",
    churn: ChurnConfig | None = None,
) -> Movers:
    """The `n` accounts in scope whose `kpi` moved most (worse, better or either way) between
    two snapshots, by the change or by its size (see the module doc; `churn` gives the risk
    bands); accounts without a value in either week are left out."""
    tracked = TRACKED[kpi]
    base, current, note = compared_weeks(session, weeks, since, until)
    then, now = aliased(KpiSnapshot), aliased(KpiSnapshot)
    before, after = getattr(then, tracked.column), getattr(now, tracked.column)
    improvement = _improvement(tracked, before, after)
    size = _size(tracked, before, after, churn or ChurnConfig())
    if direction == "worse":
        order, moved = improvement.asc(), improvement < 0
    elif direction == "better":
        order, moved = improvement.desc(), improvement > 0
    else:
        order, moved = func.abs(improvement).desc(), improvement != 0
    orders = [order] if by == "change" else [
        case((moved, 0), else_=1), size.desc(), case((improvement < 0, 0), else_=1)]
    accounts = scoped_accounts(scope, flt).subquery()
    stmt = _both_weeks(
        select(accounts.c.account_id, accounts.c.name, accounts.c.owner_user_id,
               before.label("before"), after.label("after"),
               then.churn_signs.label("signs_before"), now.churn_signs.label("signs_after"),
               func.count().over().label("compared"),
               func.sum(case((moved, 1), else_=0)).over().label("moved"),
               moved.label("is_move"), size.label("size")),
        accounts, (then, base), (now, current),
    ).where(before.is_not(None), after.is_not(None)).order_by(*orders, accounts.c.name).limit(n)
    rows = session.execute(stmt).all()
    shown = [r for r in rows if r.is_move]
    owners = owner_names(session, {r.owner_user_id for r in shown})
    events = recorded_causes(session, kpi, [r.account_id for r in shown], between(base, current))
    items = []
    for r in shown:
        worse = _improvement(tracked, r.before, r.after) < 0
        causes = sign_causes(kpi, r.signs_before, r.signs_after) + events.get(r.account_id, [])
        items.append(Mover(r.account_id, r.name, r.owner_user_id, owners.get(r.owner_user_id),
                           r.before, r.after, r.after - r.before, worse, float(r.size),
                           [c for c in causes if c.adverse == worse]))
    compared = int(rows[0].compared) if rows else 0
    moved_count = int(rows[0].moved or 0) if rows else 0
    return Movers(kpi, tracked.unit, direction, base, current, compared, moved_count, items, note)


def _both_weeks(stmt: Select, accounts: Subquery, *weeks: tuple[Any, SnapshotWeek]) -> Select:
    """`stmt` over the caller's `accounts`, joined to each (snapshot alias, week) given."""
    stmt = stmt.select_from(accounts)
    for alias, week in weeks:
        stmt = stmt.join(alias, and_(alias.account_id == accounts.c.account_id,
                                     alias.week_start == week.week_start))
    return stmt


@dataclass
class BookMove:
    """How one KAM's book moved: its 12-month revenue in both snapshots, and how many of its
    accounts' churn risk rose or fell."""

    owner_user_id: str
    owner_name: str | None
    accounts: int
    revenue_before_cents: int
    revenue_after_cents: int
    riskier: int
    safer: int


def book_moves(
    session: Session, scope: AccessScope, base: SnapshotWeek, current: SnapshotWeek
) -> list[BookMove]:
    """Per KAM of the caller's accounts, in one grouped statement: the biggest revenue move
    (either way) first, then the most accounts whose churn risk changed."""
    then, now = aliased(KpiSnapshot), aliased(KpiSnapshot)
    accounts = scoped_accounts(scope).subquery()
    before, after = func.sum(then.revenue_cents), func.sum(now.revenue_cents)
    riskier = func.sum(case((now.churn_risk > then.churn_risk, 1), else_=0))
    safer = func.sum(case((now.churn_risk < then.churn_risk, 1), else_=0))
    owner = accounts.c.owner_user_id
    rows = session.execute(
        _both_weeks(select(owner, func.count(), before, after, riskier, safer),
                    accounts, (then, base), (now, current))
        .group_by(owner)
        .order_by(func.abs(after - before).desc(), (riskier + safer).desc(), owner)
    ).all()
    names = owner_names(session, {r[0] for r in rows})
    return [BookMove(o, names.get(o), int(n), int(b or 0), int(a or 0), int(up), int(down))
            for o, n, b, a, up, down in rows]


def sign_causes(kpi: str, before: str, after: str) -> list[Cause]:
    """Churn warning signs bearing on `kpi` that fired or cleared between the two snapshots."""
    was, now = set(signs_of(before)), set(signs_of(after))
    relevant = SIGNS_FOR[kpi]
    return [Cause("sign_fired", None, True, {"sign": s}) for s in relevant if s in now - was] + [
        Cause("sign_cleared", None, False, {"sign": s}) for s in relevant if s in was - now]


def recorded_causes(
    session: Session, kpi: str, account_ids: Iterable[str], window: Period
) -> dict[str, list[Cause]]:
    """Events in `window` that can explain a move in `kpi`, per account, oldest first."""
    ids = list(account_ids)
    out: dict[str, list[Cause]] = {a: [] for a in ids}
    if not ids:
        return out
    for kind in EVENTS[kpi]:
        for account_id, cause in FINDERS[kind](session, ids, window, kpi):
            out[account_id].append(cause)
    for causes in out.values():
        causes.sort(key=lambda c: (c.on or window.end, c.kind))
    return out


def year_before(window: Period) -> Period:
    """The same days a year earlier: what a 12-month figure drops as it gains `window`."""
    return Period(shift_years(window.start, -1), shift_years(window.end, -1))


def _surveys(session: Session, ids: list[str], window: Period, kind: str,
             subject: str | None = None):
    stmt = select(Survey).where(
        Survey.account_id.in_(ids), Survey.kind == kind,
        Survey.responded_on.between(window.start, window.end),
    ).order_by(Survey.responded_on, Survey.response_id)
    if subject:
        stmt = stmt.where(Survey.subject == subject)
    return session.execute(stmt).scalars()


def _nps_responses(session: Session, ids: list[str], window: Period, kpi: str):
    # Company NPS counts responses about the company; the churn sign counts every detractor.
    subject = "company" if kpi == "nps" else None
    for s in _surveys(session, ids, window, "nps", subject):
        if s.score <= DETRACTOR_MAX or s.score >= PROMOTER_MIN:
            kind = "detractor_response" if s.score <= DETRACTOR_MAX else "promoter_response"
            yield s.account_id, Cause(kind, s.responded_on, s.score <= DETRACTOR_MAX,
                                      {"score": s.score, "subject": s.subject,
                                       "comment": s.comment})
    if kpi == "nps":  # the 12-month NPS also drops the responses of a year earlier
        for s in _surveys(session, ids, year_before(window), "nps", subject):
            if s.score <= DETRACTOR_MAX or s.score >= PROMOTER_MIN:
                promoter = s.score >= PROMOTER_MIN
                yield s.account_id, Cause("response_dropped_out", s.responded_on, promoter,
                                          {"survey": "NPS", "score": s.score, "of": 10})


def _csat_responses(session: Session, ids: list[str], window: Period, kpi: str):
    for s in _surveys(session, ids, window, "csat"):
        low = s.score <= CSAT_LOW_MAX
        yield s.account_id, Cause("low_csat_response" if low else "good_csat_response",
                                  s.responded_on, low, {"score": s.score, "comment": s.comment})
    if kpi == "csat":
        for s in _surveys(session, ids, year_before(window), "csat"):
            yield s.account_id, Cause("response_dropped_out", s.responded_on,
                                      s.score > CSAT_LOW_MAX,
                                      {"survey": "CSAT", "score": s.score, "of": 5})


def _orders(session: Session, ids: list[str], window: Period, kpi: str):
    # A 12-month revenue figure moves by exactly the orders of the days it gained minus those
    # of the same days a year earlier, which it dropped.
    sums = {}
    for days in (window, year_before(window)):
        stmt = select(Order.account_id, func.sum(Order.revenue_cents)).where(
            Order.account_id.in_(ids), Order.order_date.between(days.start, days.end),
        ).group_by(Order.account_id)
        sums[days] = {a: total for a, total in session.execute(stmt)}
    for account_id in ids:
        now, then = int(sums[window].get(account_id) or 0), int(
            sums[year_before(window)].get(account_id) or 0)
        if now != then:
            yield account_id, Cause("orders_vs_year_before", None, now < then,
                                    {"period": window, "revenue_cents": now,
                                     "year_before_revenue_cents": then})


def _opportunities(session: Session, ids: list[str], window: Period, kpi: str):
    stmt = select(Opportunity).where(
        Opportunity.account_id.in_(ids), Opportunity.stage.in_(("won", "lost")),
        Opportunity.closed_on.between(window.start, window.end),
    ).order_by(Opportunity.closed_on, Opportunity.opportunity_id)
    for o in session.execute(stmt).scalars():
        lost = o.stage == "lost"
        yield o.account_id, Cause("lost_opportunity" if lost else "won_opportunity",
                                  o.closed_on, lost, {"opportunity_id": o.opportunity_id,
                                                      "opportunity_kind": o.kind,
                                                      "amount_cents": o.amount_cents})


def _contracts(session: Session, ids: list[str], window: Period, kpi: str):
    stmt = select(Contract).where(
        Contract.account_id.in_(ids), Contract.end_date.between(window.start, window.end),
    ).order_by(Contract.end_date, Contract.contract_id)
    for c in session.execute(stmt).scalars():
        yield c.account_id, Cause("contract_ended", c.end_date, True,
                                  {"contract_id": c.contract_id,
                                   "annual_value_cents": c.annual_value_cents,
                                   "auto_renew": c.auto_renew})


def _tickets(session: Session, ids: list[str], window: Period, kpi: str):
    severities = ChurnConfig().ticket_severities
    stmt = select(Ticket).where(
        Ticket.account_id.in_(ids), Ticket.severity.in_(severities),
        Ticket.opened_on.between(window.start, window.end),
    ).order_by(Ticket.opened_on, Ticket.ticket_id)
    for t in session.execute(stmt).scalars():
        yield t.account_id, Cause("ticket_opened", t.opened_on, True,
                                  {"ticket_id": t.ticket_id, "severity": t.severity,
                                   "subject": t.subject})


def _scores(session: Session, ids: list[str], window: Period, kpi: str):
    previous = AccountScore.__table__.alias("previous")
    earlier = (
        select(previous.c.score)
        .where(previous.c.account_id == AccountScore.account_id,
               previous.c.factor == AccountScore.factor,
               previous.c.scored_on < AccountScore.scored_on)
        .order_by(previous.c.scored_on.desc())
        .limit(1)
        .scalar_subquery()
    )
    stmt = select(AccountScore, earlier.label("was")).where(
        AccountScore.account_id.in_(ids),
        AccountScore.scored_on.between(window.start, window.end),
    ).order_by(AccountScore.scored_on, AccountScore.factor)
    for score, was in session.execute(stmt):
        if was is not None and was != score.score:
            yield score.account_id, Cause("rescored", score.scored_on, score.score < was,
                                          {"factor": score.factor, "score": score.score,
                                           "previous_score": was})


FINDERS = {
    "orders": _orders, "nps": _nps_responses, "csat": _csat_responses,
    "opportunities": _opportunities, "contracts": _contracts, "tickets": _tickets,
    "scores": _scores,
}


# -- for people and for the model -------------------------------------------------------------


def cause_text(cause: Cause, config: KpiConfig) -> str:
    """One cause as a sentence fragment for people: warning signs by the names the churn
    answers give them, dates and money as answers write them (`config`: the reporting
    currency and locale), ticket subjects quoted."""
    d = cause.detail
    on = f" on {day_name(cause.on, config.locale)}" if cause.on else ""
    if cause.kind in ("sign_fired", "sign_cleared"):
        return (f"warning sign {'fired' if cause.kind == 'sign_fired' else 'cleared'}: "
                f"{humanize(d['sign'])}")
    if cause.kind == "orders_vs_year_before":
        return (f"orders of {period_text(d['period'], config)}: "
                f"{money_text(d['revenue_cents'], config)}, against "
                f"{money_text(d['year_before_revenue_cents'], config)} in the same days a year "
                "earlier")
    if cause.kind in ("detractor_response", "promoter_response"):
        who = "about the KAM" if d["subject"] == "kam" else "about the company"
        return f"NPS response {d['score']}/10 {who}{on}"
    if cause.kind == "response_dropped_out":
        day = f" of {day_name(cause.on, config.locale)}" if cause.on else ""
        return f"{d['survey']} response {d['score']}/{d['of']}{day} left the 12-month window"
    if cause.kind in ("low_csat_response", "good_csat_response"):
        return f"CSAT response {d['score']}/5{on}"
    if cause.kind in ("lost_opportunity", "won_opportunity"):
        outcome = "lost" if cause.kind == "lost_opportunity" else "won"
        amount = (f" ({money_text(d['amount_cents'], config)})"
                  if d["amount_cents"] is not None else "")
        return (f"{words(d['opportunity_kind'])} opportunity {d['opportunity_id']}{amount} "
                f"{outcome}{on}")
    if cause.kind == "contract_ended":
        renews = ", renews automatically" if d["auto_renew"] else ""
        return (f"contract {d['contract_id']} ended{on} "
                f"({money_text(d['annual_value_cents'], config)} a year{renews})")
    if cause.kind == "ticket_opened":
        return f'{d["severity"]}-severity ticket "{d["subject"]}" opened{on}'
    return (f"{humanize(d['factor'])} scored {d['score']}/5 (was {d['previous_score']}/5)"
            f"{on}")


def _item(kpi: str, unit: Unit, m: Mover, config: KpiConfig) -> dict[str, Any]:
    """One mover as compact JSON: values in display units, the change labelled by kind."""
    now, then = KpiResult(kpi, m.after, unit, None), KpiResult(kpi, m.before, unit, None)
    entry: dict[str, Any] = {
        "account_id": m.account_id, "name": m.name, "owner": m.owner_name,
        "before": kpi_value(then), "after": kpi_value(now), "worse": m.worse,
        "size": round(m.size, 2),
    }
    if unit == "money":
        entry["change"] = money(m.change)
    entry.update(change(unit, KpiTrend(now, then).change()))
    entry["causes"] = [{"text": cause_text(c, config), **jsonable(c)} for c in m.causes]
    return entry


def movers_payload(
    movers: Movers, portfolio: dict[str, Any], config: KpiConfig
) -> dict[str, Any]:
    """The movers as compact JSON: values in display units, the change labelled by kind."""
    out: dict[str, Any] = {
        "kpi": movers.kpi, "definition": spec(movers.kpi).description,
        "unit": UNIT_LABELS[movers.unit], "direction": movers.direction,
        "from": movers.base.as_of.isoformat(), "to": movers.current.as_of.isoformat(),
        "portfolio": portfolio, "accounts_compared": movers.accounts_compared,
        "accounts_moved": movers.accounts_moved,
        "items": [_item(movers.kpi, movers.unit, m, config) for m in movers.items],
    }
    if movers.note:
        out["note"] = movers.note
    return out


def ranked(by_kpi: Sequence[Movers], top: int, config: KpiConfig) -> dict[str, Any]:
    """The `top` biggest moves across KPIs by size (ties: worse first, then the KPIs' order,
    then the account), how many moves each KPI has left out, and how many in all."""
    moves = sorted(((m, i, b) for i, b in enumerate(by_kpi) for m in b.items),
                   key=lambda x: (-x[0].size, not x[0].worse, x[1], x[0].name))[:top]
    items = [{"kpi": b.kpi, "unit": UNIT_LABELS[b.unit], **_item(b.kpi, b.unit, m, config)}
             for m, _, b in moves]
    blocks = []
    for b in by_kpi:
        shown = sum(1 for i in items if i["kpi"] == b.kpi)
        blocks.append({"kpi": b.kpi, "unit": UNIT_LABELS[b.unit], "direction": b.direction,
                       "accounts_compared": b.accounts_compared,
                       "accounts_moved": b.accounts_moved, "not_shown": b.accounts_moved - shown,
                       **({"note": b.note} if b.note else {})})
    return {"ranking": RANKING, "ranked": items,
            "other_moves": sum(b["not_shown"] for b in blocks), "movers": blocks}


def movers_view(
    engine: KpiEngine,
    kpis: Sequence[str],
    portfolio: Portfolio,
    *,
    weeks: int = 1,
    since: date | None = None,
    direction: Direction = "any",
    n: int = PER_KPI,
    top: int | None = None,
) -> dict[str, Any]:
    """The movers of each of `kpis` for the caller, between the snapshot as of the engine's
    as-of (or the latest before it) and the one `weeks` weeks (or `since`) earlier: the `n`
    biggest of each KPI, or with `top`, the `top` biggest moves across them (`ranked`)."""
    described = portfolio.describe()
    found = [kpi_movers(engine.session, engine.scope, kpi, weeks=weeks, since=since,
                        until=engine.as_of, direction=direction, n=top or n,
                        flt=portfolio.accounts, by="size" if top else "change",
                        churn=engine.config.churn)
             for kpi in kpis]
    first = found[0]
    head = {"from": first.base.as_of.isoformat(), "to": first.current.as_of.isoformat(),
            "portfolio": described, "units": units_note(engine.config.reporting_currency),
            "data_note": TEXT_NOTE}
    if top:
        return {**head, **ranked(found, top, engine.config)}
    by_kpi = [movers_payload(m, described, engine.config) for m in found]
    for item in by_kpi:
        for k in ("from", "to", "portfolio"):
            del item[k]
    return {**head, "movers": by_kpi}
