"""The account-data tools the agent calls: thin LangChain wrappers over tools/views.py.

Who is asking comes only from the runtime context (`runtime.context.scope`), never
from arguments; every argument schema forbids extra fields, so a model that adds
`role="admin"` gets a validation error and no data. Results are compact JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

from langchain.tools import BaseTool, ToolRuntime, tool
from pydantic import Field
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from store.models import TIERS, User
from tools import views
from tools.args import ToolArgs, tidy
from tools.context import CallerContext
from tools.find import AmbiguousAccount, resolve_account
from tools.history import TRACKED_KPIS
from tools.kpi_config import BANDS, KpiConfig
from tools.kpis import KPI_NAMES, KpiEngine, UnknownKpi
from tools.movers import PER_KPI, TOP, Direction, NoHistory, movers_view
from tools.payload import jsonable
from tools.periods import UnknownPeriod
from tools.portfolio import (
    QUADRANTS,
    RANKABLE,
    CompareKind,
    GroupBy,
    NotRankable,
    Order,
    Portfolio,
)
from tools.selection import NOT_FOUND_MESSAGE, AccountFilter, AccountNotFound

AccountRef = Annotated[
    str, Field(min_length=1, max_length=200, description="Account name or id; typos are fine.")
]
KpiName = Literal[KPI_NAMES]  # type: ignore[valid-type]
TrackedKpi = Literal[TRACKED_KPIS]  # type: ignore[valid-type]
RankableKpi = Literal[RANKABLE]  # type: ignore[valid-type]

# The model reads every schema on every call, so descriptions are terse and the rarer
# filters (team, region, industry, quadrant, risk band) sit on rank_accounts only.


class DatedArgs(ToolArgs):
    as_of: date | None = None  # the model knows dates; every token of every schema counts


class PortfolioArgs(DatedArgs):
    """Optional filters over the caller's accounts (they combine with AND)."""

    owner: str | None = Field(None, max_length=100, description="KAM id or name")
    tier: Literal[TIERS] | None = None  # type: ignore[valid-type]


class GroupArgs(PortfolioArgs):
    """The rarer filters, on the tools that roll up or rank."""

    team: str | None = Field(None, max_length=100)
    region: str | None = Field(None, max_length=100)
    industry: str | None = Field(None, max_length=100)


class PeriodArgs(GroupArgs):
    period: str | None = Field(None, max_length=40, description="Fiscal period: FY26, Q3 FY26, "
                               "H1, last fiscal quarter, fiscal YTD; or start/end")
    start: date | None = Field(None, description="YYYY-MM-DD; default: 12 months to as_of")
    end: date | None = None


class FindArgs(ToolArgs):
    query: str = Field(min_length=1, max_length=200)
    limit: int = Field(5, ge=1, le=20)


class AccountArgs(DatedArgs):
    account: AccountRef


class KpiArgs(PeriodArgs):
    kpi: KpiName
    account: AccountRef | None = Field(None, description="Omit for the portfolio")
    group_by: Literal["owner", "team", "tier", "region", "industry"] | None = None


class RankArgs(PeriodArgs):
    kpi: RankableKpi
    order: Literal["highest", "lowest"] = "highest"
    n: int = Field(10, ge=1, le=50)
    quadrant: Literal[QUADRANTS] | None = None  # type: ignore[valid-type]
    risk_band: Literal[BANDS] | None = None  # type: ignore[valid-type]
    min_value: float | None = Field(None, description="Keep values above (KPI's unit)")
    max_value: float | None = Field(None, description="Keep values below")


class RiskArgs(GroupArgs):
    n: int = Field(10, ge=1, le=50)
    min_band: Literal["medium", "high"] = "medium"


class RenewalArgs(GroupArgs):
    days: int = Field(90, ge=1, le=730)


class TimelineArgs(AccountArgs):
    days: int = Field(90, ge=1, le=1095)
    limit: int = Field(20, ge=1, le=100)


class ListArgs(GroupArgs):
    account: AccountRef | None = Field(None, description="Omit for all accounts")
    limit: int = Field(20, ge=1, le=100)


class CompareArgs(PortfolioArgs):
    kind: Literal["year", "quarter", "quarter_yoy"] = Field(
        "year", description="year: 12 months vs 12 before; quarter: last full quarter vs the "
        "one before; quarter_yoy: vs a year earlier"
    )
    account: AccountRef | None = Field(None, description="Omit for the portfolio")


class MoversArgs(GroupArgs):
    account: AccountRef | None = Field(None, description="Omit for the portfolio")
    kpi: TrackedKpi | None = Field(None, description="Omit for the biggest moves of all of them")
    direction: Literal["worse", "better", "any"] = "any"
    weeks: int = Field(1, ge=1, le=104, description="Compare with N weeks earlier")
    since: date | None = Field(None, description="Or with the snapshot on/before this date")
    n: int | None = Field(None, ge=1, le=20, description="Per KPI (5), or in all without kpi (8)")


class UnknownOwner(ValueError):
    def __init__(self, owner: str) -> None:
        super().__init__(f"no user {owner!r}; give a KAM's user id or full name")


def resolve_owner(session: Session, owner: str) -> str:
    """A user id from an id or a (case-insensitive) full or first name."""
    text = owner.strip().lower()
    ids = list(session.scalars(
        select(User.user_id).where(
            or_(func.lower(User.user_id) == text, func.lower(User.name) == text)
        )
    ))
    if len(ids) != 1:
        ids = [user_id for user_id, name in session.execute(select(User.user_id, User.name))
               if name.lower().split()[0] == text]
    if len(ids) != 1:
        raise UnknownOwner(owner)
    return ids[0]


def portfolio_from(session: Session, filters: dict[str, Any]) -> Portfolio:
    owner = filters.get("owner")
    flt = AccountFilter(
        owner_user_id=resolve_owner(session, owner) if owner else None,
        team=filters.get("team"),
        region=filters.get("region"),
        tier=filters.get("tier"),
        industry=filters.get("industry"),
    )
    return Portfolio(flt, filters.get("quadrant"), filters.get("risk_band"))


def error(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": kind, "message": message, **extra}


def run_view(
    sessions: sessionmaker[Session],
    context: CallerContext,
    as_of: date | None,
    view: Callable[[KpiEngine], dict[str, Any]],
    config: KpiConfig | None = None,
) -> dict[str, Any]:
    """Run one view for the caller; the errors a user can act on become short JSON errors."""
    with sessions() as session:
        engine = KpiEngine(session, context.scope, as_of=as_of or context.as_of, config=config)
        try:
            return view(engine)
        except AccountNotFound:
            return error("not_found_or_not_yours", NOT_FOUND_MESSAGE)
        except AmbiguousAccount as exc:
            return error("ambiguous", views.AMBIGUOUS_MESSAGE,
                         candidates=jsonable(exc.found.candidates))
        except (UnknownKpi, NotRankable, UnknownOwner, UnknownPeriod) as exc:
            return error("invalid_request", str(exc))
        except NoHistory as exc:
            return error("no_history", str(exc))


def _json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def make_account_tools(
    session_factory: sessionmaker[Session], *, config: KpiConfig | None = None
) -> list[BaseTool]:
    """The account-data tools, bound to a session factory (and optional KPI settings)."""

    def answer(runtime: ToolRuntime[CallerContext], as_of: date | None, view) -> str:
        return _json(run_view(session_factory, runtime.context, as_of, view, config))

    def pf(engine: KpiEngine, filters: dict[str, Any]) -> Portfolio:
        return portfolio_from(engine.session, filters)

    @tool("find_accounts", args_schema=FindArgs)
    def find_accounts(query: str, runtime: ToolRuntime[CallerContext], limit: int = 5) -> str:
        """Find the caller's accounts by name or id. Status: match, ambiguous (ask which
        candidate) or not_found."""
        return answer(runtime, None, lambda e: views.find_view(e, query, limit))

    @tool("account_summary", args_schema=AccountArgs)
    def account_summary(
        account: str, runtime: ToolRuntime[CallerContext], as_of: date | None = None
    ) -> str:
        """Overview of one account: profile, last-12-month KPIs vs the prior year (revenue,
        growth, margin, profitability, wallet share, NPS, CSAT, churn risk and signs),
        open opportunities, contract ends, open tickets, recent activities."""
        return answer(runtime, as_of, lambda e: views.summary_view(e, account))

    @tool("get_kpi", args_schema=KpiArgs)
    def get_kpi(
        kpi: str, runtime: ToolRuntime[CallerContext], account: str | None = None,
        group_by: GroupBy | None = None, as_of: date | None = None, period: str | None = None,
        start: date | None = None, end: date | None = None, **filters: Any,
    ) -> str:
        """One KPI with its working, for one account or rolled up over the caller's
        accounts (optionally grouped), for a period (vs the same dates a year earlier).
        Revenue growth adds the growth at constant currency."""
        return answer(runtime, as_of, lambda e: views.kpi_view(
            e, kpi, account, None if account else pf(e, filters), group_by,
            views.period_context(e, start, end, period)))

    @tool("rank_accounts", args_schema=RankArgs)
    def rank_accounts(
        kpi: str, runtime: ToolRuntime[CallerContext], order: Order = "highest", n: int = 10,
        as_of: date | None = None, period: str | None = None, start: date | None = None,
        end: date | None = None, min_value: float | None = None, max_value: float | None = None,
        **filters: Any,
    ) -> str:
        """Top or bottom N of the caller's accounts by a KPI, optionally filtered, for a
        period; accounts without a value are counted, not ranked."""
        return answer(runtime, as_of, lambda e: views.rank_view(
            e, kpi, pf(e, filters), n, order, views.period_context(e, start, end, period),
            (min_value, max_value)))

    @tool("at_risk_accounts", args_schema=RiskArgs)
    def at_risk_accounts(
        runtime: ToolRuntime[CallerContext], n: int = 10, min_band: str = "medium",
        as_of: date | None = None, **filters: Any,
    ) -> str:
        """The caller's accounts at medium or high churn risk, riskiest first, with the
        warning signs that fired and their evidence."""
        return answer(runtime, as_of, lambda e: views.at_risk_view(e, pf(e, filters), n, min_band))

    @tool("renewals_due", args_schema=RenewalArgs)
    def renewals_due(
        runtime: ToolRuntime[CallerContext], days: int = 90, as_of: date | None = None,
        **filters: Any,
    ) -> str:
        """Contracts ending within N days, soonest first, with annual value, open renewal
        opportunity and churn risk band."""
        return answer(runtime, as_of, lambda e: views.renewals_view(e, pf(e, filters), days))

    @tool("stakeholder_map", args_schema=AccountArgs)
    def stakeholder_map(
        account: str, runtime: ToolRuntime[CallerContext], as_of: date | None = None
    ) -> str:
        """Contacts of one account by buying role with relationship strength, status and last
        contact, and the gaps (no economic buyer engaged, champion left, single-threaded)."""
        return answer(runtime, as_of, lambda e: views.stakeholders_view(e, account))

    @tool("activity_timeline", args_schema=TimelineArgs)
    def activity_timeline(
        account: str, runtime: ToolRuntime[CallerContext], days: int = 90, limit: int = 20,
        as_of: date | None = None,
    ) -> str:
        """Meetings, calls, emails, QBRs and visits with one account in the last N days,
        newest first, with the contact and the stored notes."""
        return answer(runtime, as_of, lambda e: views.timeline_view(e, account, days, limit))

    @tool("open_opportunities", args_schema=ListArgs)
    def open_opportunities(
        runtime: ToolRuntime[CallerContext], account: str | None = None, limit: int = 20,
        as_of: date | None = None, **filters: Any,
    ) -> str:
        """Open opportunities of one account or of the caller's accounts, by expected close
        date, with amounts."""
        return answer(runtime, as_of, lambda e: views.opportunities_view(
            e, account, None if account else pf(e, filters).accounts, limit))

    @tool("open_tickets", args_schema=ListArgs)
    def open_tickets(
        runtime: ToolRuntime[CallerContext], account: str | None = None, limit: int = 20,
        as_of: date | None = None, **filters: Any,
    ) -> str:
        """Open support tickets of one account or of the caller's accounts, most severe and
        oldest first."""
        return answer(runtime, as_of, lambda e: views.tickets_view(
            e, account, None if account else pf(e, filters).accounts, limit))

    @tool("customer_kpis", args_schema=AccountArgs)
    def customer_kpis(
        account: str, runtime: ToolRuntime[CallerContext], as_of: date | None = None
    ) -> str:
        """The KPIs the customer itself tracks (targets, actuals, achievement) for one account,
        latest four periods each."""
        return answer(runtime, as_of, lambda e: views.customer_kpis_view(e, account))

    @tool("compare_periods", args_schema=CompareArgs)
    def compare_periods(
        runtime: ToolRuntime[CallerContext], kind: CompareKind = "year", account: str | None = None,
        as_of: date | None = None, **filters: Any,
    ) -> str:
        """Compare the main KPIs between periods (this vs last year, last quarter vs the one
        before or vs a year earlier) for one account or the caller's accounts."""
        return answer(runtime, as_of, lambda e: views.compare_view(
            e, kind, views.DEFAULT_COMPARE, account, None if account else pf(e, filters)))

    @tool("kpi_movers", args_schema=MoversArgs)
    def kpi_movers(
        runtime: ToolRuntime[CallerContext], account: str | None = None, kpi: str | None = None,
        direction: Direction = "any", weeks: int = 1, since: date | None = None,
        n: int | None = None, as_of: date | None = None, **filters: Any,
    ) -> str:
        """Use for "what changed / moved / got worse or better" questions: the caller's accounts
        (or one account) whose KPIs moved most between weekly snapshots (last week by default;
        weeks=4 for a month, since=a date such as the last QBR), with the causes on record.
        Without kpi: the biggest moves across KPIs (`ranked`, by size) and how many
        `other_moves` were left out. Only the KPIs of `kpi` are kept weekly; for others (NRR,
        GRR, CLV...) use get_kpi. Not for a KPI's current value or year-on-year growth."""
        kpis = (kpi,) if kpi else TRACKED_KPIS

        def which(engine: KpiEngine) -> Portfolio:
            if account is None:
                return pf(engine, filters)
            found = resolve_account(engine.session, engine.scope, account)
            return Portfolio(AccountFilter(account_ids=(found.account_id,)))

        return answer(runtime, as_of, lambda e: movers_view(
            e, kpis, which(e), weeks=weeks, since=since, direction=direction, n=n or PER_KPI,
            top=None if kpi else n or TOP))

    return tidy([
        find_accounts, account_summary, get_kpi, rank_accounts, at_risk_accounts, renewals_due,
        stakeholder_map, activity_timeline, open_opportunities, open_tickets, customer_kpis,
        compare_periods, kpi_movers,
    ])
