"""The portfolio at a glance for one person: top risks, renewals due, growing accounts, and a
line per KAM for managers. Read by the App Home and the weekly digest, under the person's
own access scope. The App Home's growth is over the 12 months to as-of; the digest's period
figures are those of the last complete fiscal quarter against the same quarter a year
earlier. Money as answers write it (reporting currency, locale: `payload.money_text`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from prompts import day_name
from store.access import AccessScope
from tools.kpi_config import KpiConfig
from tools.kpi_types import Ctx, KpiResult
from tools.kpis import KpiEngine
from tools.movers import BookMove, Mover, NoHistory, book_moves, cause_text, kpi_movers
from tools.payload import money_text, period_text, words
from tools.portfolio import (
    Renewal,
    at_risk_accounts,
    compare_periods_for,
    rank_accounts,
    renewals_due,
)


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
    # The digest: the book's revenue in the last complete fiscal quarter, and the heading of
    # the growing accounts, which are that quarter's ("Q3 FY26 (Jan 1 – Mar 31, 2026)").
    quarter: str | None = None
    growth_heading: str = "Growing accounts"
    locale: str = "en"  # how its dates are written (KAM_LOCALE)


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
        config: KpiConfig | None = None,
    ):
        self.sessions = sessions
        self.as_of = as_of
        self.top = top
        self.renewal_days = renewal_days
        self.config = config or KpiConfig()

    def glance(self, scope: AccessScope, *, changes: bool = False) -> PortfolioGlance:
        """The glance; with `changes` (the digest) also what changed since the week before,
        and the growth of the last complete fiscal quarter instead of the last 12 months."""
        cfg = self.config
        with self.sessions() as session:
            engine = KpiEngine(session, scope, as_of=self.as_of, config=cfg)
            risks = at_risk_accounts(engine, n=500)
            _, renewals = renewals_due(engine, days=self.renewal_days)
            ctx = engine.context(*compare_periods_for(
                engine.as_of, "quarter_yoy", cfg.fiscal_year_start)) if changes else None
            growth = rank_accounts(engine, "revenue_growth", n=self.top, order="highest",
                                   ctx=ctx)
            book = engine.portfolio(["revenue_growth"], ctx=ctx)["revenue_growth"] if (
                ctx) else None
            changed = self._changes(session, scope, engine.as_of) if changes else None
        since = "on the same quarter a year earlier" if ctx else "on the year before"
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
            renewals=[_renewal_item(scope, r, cfg) for r in renewals[: self.top]],
            growth=[
                HomeItem(g.account_id, g.name + _owner(scope, g.owner_name),
                         f"revenue {_growth(g.result)} {since}")
                for g in growth.items
                if g.result.value is not None and g.result.value > 0
            ],
            as_of=engine.as_of,
            renewal_days=self.renewal_days,
            by_owner=_per_owner(
                scope, [r.owner_name for r in risks.items], [r.owner_name for r in renewals]
            ),
            changes=changed,
            quarter=_quarter_line(book, ctx, cfg) if book and ctx else None,
            growth_heading=f"Growing accounts in {period_text(ctx.current, cfg)}" if ctx else (
                "Growing accounts"),
            locale=cfg.locale,
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
            [HomeItem(m.account_id, m.name + _owner(scope, m.owner_name),
                      _mover_detail(m, self.config)) for m in moved.items],
            [_book_line(b, self.config) for b in books[: self.top]],
        )


def _growth(result: KpiResult) -> str:
    """'+12%', with the growth at constant currency beside it when any account bills abroad:
    '+12% (+9% at constant currency)'."""
    text = f"{result.value:+.0%}"
    if "constant_currency_growth_ratio" not in result.inputs:
        return text
    constant = result.inputs["constant_currency_growth_ratio"]
    return text + (f" ({constant:+.0%} at constant currency)" if constant is not None else "")


def _quarter_line(book: KpiResult, ctx: Ctx, cfg: KpiConfig) -> str:
    """'Q3 FY26 (Jan 1 – Mar 31, 2026): revenue €1,157,322, +4% on Q3 FY25 (…)'."""
    revenue = money_text(book.inputs["revenue_cents"], cfg)
    line = f"{period_text(ctx.current, cfg)}: revenue {revenue}"
    if book.value is None:
        return f"{line}, none in {period_text(ctx.prior, cfg)} to compare with"
    return f"{line}, {_growth(book)} on {period_text(ctx.prior, cfg)}"


def _mover_detail(m: Mover, cfg: KpiConfig) -> str:
    causes = "; ".join(cause_text(c, cfg) for c in m.causes) or "no cause on record"
    return f"churn risk {m.before} → {m.after} ({m.after - m.before:+d} points): {causes}"


def _book_line(b: BookMove, cfg: KpiConfig) -> str:
    change = b.revenue_after_cents - b.revenue_before_cents
    relative = f" ({change / b.revenue_before_cents:+.1%})" if b.revenue_before_cents > 0 else ""
    return (f"{b.owner_name or b.owner_user_id}: 12-month revenue {'+' if change >= 0 else '-'}"
            f"{money_text(abs(change), cfg)}{relative}; {b.riskier} of {b.accounts} accounts "
            f"riskier, {b.safer} safer")


def _title(scope: AccessScope) -> str:
    if scope.role == "manager":
        return f"{scope.name}: your team's portfolio"
    if scope.role == "admin":
        return f"{scope.name}: all accounts"
    return f"{scope.name}: your portfolio"


def _renewal_item(scope: AccessScope, r: Renewal, cfg: KpiConfig) -> HomeItem:
    detail = (
        f"ends {day_name(r.end_date, cfg.locale)} (in {r.days_left} days), "
        f"{money_text(r.annual_value_cents, cfg)} a year, {r.risk.inputs['band']} risk"
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
