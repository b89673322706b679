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

    def glance(self, scope: AccessScope) -> PortfolioGlance:
        with self.sessions() as session:
            engine = KpiEngine(session, scope, as_of=self.as_of)
            risks = at_risk_accounts(engine, n=500)
            _, renewals = renewals_due(engine, days=self.renewal_days)
            growth = rank_accounts(engine, "revenue_growth", n=self.top, order="highest")
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
        )


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
