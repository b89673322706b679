"""The portfolio at a glance for one person: top risks, renewals due, growing accounts, and a
line per KAM for managers. Read by the App Home and the weekly digest, under the person's
own access scope."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from store.access import AccessScope
from tools.kpis import KpiEngine
from tools.movers import BookMove, Mover, NoHistory, book_moves, cause_text, kpi_movers
from tools.payload import money_text, words
from tools.portfolio import Renewal, at_risk_accounts, rank_accounts, renewals_due


@dataclass(frozen=True)
class HomeItem:
    """One line of the App Home or the digest: an account and what to know about it."""

    account_id: str
    name: str
    detail: str  # markdown


@dataclass
class PortfolioGlance:
    """What the App Home and the digest show for one person."""

    title: str
    risks: list[HomeItem]
    renewals: list[HomeItem]
    growth: list[HomeItem]
    as_of: date | None = None
    renewal_days: int = 90
    by_owner: list[str] = field(default_factory=list)  # managers: a line per KAM
    changes: Changes | None = None  # the digest: what changed since the week before


@dataclass
class Changes:
    """What changed between two weekly KPI snapshots: the accounts whose churn risk moved most
    and, for managers, the KAMs whose book moved most. `note` when there is no history."""

    since: date | None
    movers: list[HomeItem] = field(default_factory=list)
    books: list[str] = field(default_factory=list)
    note: str | None = None


def _owner(scope: AccessScope, owner_name: str | None) -> str:
    return f" ({owner_name})" if owner_name and scope.role != "kam" else ""


class KpiPortfolio:
    """Top risks, renewals due and growing accounts for one person, from the KPI engine."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        as_of: date | None = None,
        top: int = 5,
        renewal_days: int = 90,
    ):
        self.sessions = sessions
        self.as_of = as_of
        self.top = top
        self.renewal_days = renewal_days

    def glance(self, scope: AccessScope, *, changes: bool = False) -> PortfolioGlance:
        """The glance; with `changes` (the digest) also what changed since the week before."""
        with self.sessions() as session:
            engine = KpiEngine(session, scope, as_of=self.as_of)
            risks = at_risk_accounts(engine, n=500)
            _, renewals = renewals_due(engine, days=self.renewal_days)
            growth = rank_accounts(engine, "revenue_growth", n=self.top, order="highest")
            changed = self._changes(session, scope, engine.as_of) if changes else None
        return PortfolioGlance(
            title=_title(scope),
            risks=[
                HomeItem(
                    r.account_id,
                    r.name + _owner(scope, r.owner_name),
                    f"{r.result.inputs['band']} risk ({r.result.value}/100): "
                    + ", ".join(words(s["sign"]) for s in r.result.inputs["signs_fired"]),
                )
                for r in risks.items[: self.top]
            ],
            renewals=[_renewal_item(scope, r) for r in renewals[: self.top]],
            growth=[
                HomeItem(
                    g.account_id,
                    g.name + _owner(scope, g.owner_name),
                    f"revenue {g.result.value:+.0%} on the year before",
                )
                for g in growth.items
                if g.result.value is not None and g.result.value > 0
            ],
            as_of=engine.as_of,
            renewal_days=self.renewal_days,
            by_owner=_per_owner(
                scope, [r.owner_name for r in risks.items], [r.owner_name for r in renewals]
            ),
            changes=changed,
        )

    def _changes(self, session: Session, scope: AccessScope, as_of: date) -> Changes:
        # Churn risk sums every warning sign, so its movers are the accounts whose standing
        # changed most, whatever the reason; their causes say which.
        try:
            moved = kpi_movers(session, scope, "churn_risk", until=as_of, n=self.top)
        except NoHistory as missing:
            return Changes(None, note=str(missing))
        books = book_moves(session, scope, moved.base, moved.current) if (
            scope.role != "kam") else []
        return Changes(
            moved.base.as_of,
            [HomeItem(m.account_id, m.name + _owner(scope, m.owner_name), _mover_detail(m))
             for m in moved.items],
            [_book_line(b) for b in books[: self.top]],
        )


def _mover_detail(m: Mover) -> str:
    causes = "; ".join(cause_text(c) for c in m.causes) or "no cause on record"
    return f"churn risk {m.before} → {m.after} ({m.after - m.before:+d} points): {causes}"


def _book_line(b: BookMove) -> str:
    change = b.revenue_after_cents - b.revenue_before_cents
    relative = f" ({change / b.revenue_before_cents:+.1%})" if b.revenue_before_cents > 0 else ""
    return (f"{b.owner_name or b.owner_user_id}: 12-month revenue {'+' if change >= 0 else '-'}"
            f"{money_text(abs(change))}{relative}; {b.riskier} of {b.accounts} accounts riskier, "
            f"{b.safer} safer")


def _title(scope: AccessScope) -> str:
    if scope.role == "manager":
        return f"{scope.name}: your team's portfolio"
    if scope.role == "admin":
        return f"{scope.name}: all accounts"
    return f"{scope.name}: your portfolio"


def _renewal_item(scope: AccessScope, r: Renewal) -> HomeItem:
    detail = (
        f"ends {r.end_date.isoformat()} (in {r.days_left} days), "
        f"{money_text(r.annual_value_cents)} a year, {r.risk.inputs['band']} risk"
    )
    if not r.open_renewal_opportunity and not r.auto_renew:
        detail += ", no renewal opportunity open"
    return HomeItem(r.account_id, r.name + _owner(scope, r.owner_name), detail)


def _per_owner(scope: AccessScope, risk_owners: list, renewal_owners: list) -> list[str]:
    if scope.role == "kam":
        return []
    risks, renewals = Counter(risk_owners), Counter(renewal_owners)
    owners = sorted({*risks, *renewals} - {None})
    return [
        f"{o}: {risks[o]} at risk, {renewals[o]} renewal{'' if renewals[o] == 1 else 's'} due"
        for o in owners
    ]
