"""Per-account SQL measures: scalar subqueries correlated to `accounts.account_id`.

A KPI query selects from `accounts` (filtered to the caller's scope) and adds the
measures it needs as columns, so one statement computes them for one account or
for ten thousand, each measure an index range scan per account, aggregated in the
database. Order sums read whole months from `account_monthly` (one row per account and
month, clustered by account on SQLite) and only the partial months at a period's edges
from `orders`, so they are exact for any `as_of`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from functools import reduce
from operator import add
from typing import Any, Literal, TypeVar

from sqlalchemy import (
    ColumnElement,
    Date,
    Float,
    Select,
    SQLColumnExpression,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session

from store.models import (
    Account,
    AccountMonthly,
    Activity,
    Contact,
    Contract,
    CostToServe,
    Opportunity,
    Order,
    Survey,
    Ticket,
)
from tools.periods import Period, month_plan

ACCOUNT = Account.account_id
# revenue_local: in the account's own currency (migration 0005; rows the importer wrote).
OrderColumn = Literal["revenue", "cost", "revenue_local"]
Number = TypeVar("Number", int, float)


def _zero(expr: ColumnElement[Number]) -> ColumnElement[Number]:
    return func.coalesce(expr, 0)


def order_sum(column: OrderColumn, period: Period) -> ColumnElement[int]:
    """Sum of orders.revenue or orders.cost (cents) for the account in `period`: whole months
    from account_monthly, partial months from order lines (see `month_plan`)."""
    plan = month_plan(period)
    monthly = getattr(AccountMonthly, f"{column}_cents")
    lines: ColumnElement[int] = getattr(Order, f"{column}_cents")
    if column == "revenue_local":  # NULL: never converted, the amount itself
        lines = func.coalesce(Order.revenue_local_cents, Order.revenue_cents)

    def from_lines(days: Period) -> ColumnElement[int]:
        return _zero(
            select(func.sum(lines))
            .where(Order.account_id == ACCOUNT, Order.order_date.between(days.start, days.end))
            .scalar_subquery()
        )

    parts: list[ColumnElement[int]] = []
    if plan.first_month is not None:
        parts.append(_zero(
            select(func.sum(monthly))
            .where(
                AccountMonthly.account_id == ACCOUNT,
                AccountMonthly.month.between(plan.first_month, plan.last_month),
            )
            .scalar_subquery()
        ))
    parts += [from_lines(days) for days in plan.add]
    total = reduce(add, parts)  # a period has whole months or edges, so `parts` is never empty
    for days in plan.subtract:
        total = total - from_lines(days)
    return total


def _day_number(value: SQLColumnExpression[date], dialect: str) -> ColumnElement[Any]:
    if dialect == "sqlite":
        return func.julianday(value)
    return value - literal("1970-01-01").cast(Date)


def cost_to_serve(period: Period, dialect: str) -> ColumnElement[float]:
    """Cost to serve (cents, fractional) in `period`: each row prorated by the days it overlaps."""
    start = literal(period.start, Date)
    end = literal(period.end, Date)
    overlap_start = case((CostToServe.period_start > start, CostToServe.period_start), else_=start)
    overlap_end = case((CostToServe.period_end < end, CostToServe.period_end), else_=end)
    overlap = _day_number(overlap_end, dialect) - _day_number(overlap_start, dialect) + 1
    length = _day_number(CostToServe.period_end, dialect) - _day_number(
        CostToServe.period_start, dialect
    ) + 1
    share = cast(CostToServe.amount_cents, Float) * overlap / length
    return _zero(
        select(func.sum(share))
        .where(
            CostToServe.account_id == ACCOUNT,
            CostToServe.period_start <= period.end,
            CostToServe.period_end >= period.start,
        )
        .scalar_subquery()
    )


def _count(model, *where: ColumnElement[bool]) -> ColumnElement[int]:
    return _zero(select(func.count()).select_from(model).where(*where).scalar_subquery())


def survey_count(
    period: Period, kind: str, *, subject: str | None = None, low: int = 0, high: int = 10
) -> ColumnElement[int]:
    """Survey responses of `kind` in `period` scoring low..high (inclusive)."""
    where = [
        Survey.account_id == ACCOUNT,
        Survey.responded_on.between(period.start, period.end),
        Survey.kind == kind,
    ]
    if subject is not None:
        where.append(Survey.subject == subject)
    if (low, high) != (0, 10):
        where.append(Survey.score.between(low, high))
    return _count(Survey, *where)


def activity_count(period: Period) -> ColumnElement[int]:
    return _count(
        Activity,
        Activity.account_id == ACCOUNT,
        Activity.occurred_on.between(period.start, period.end),
    )


def last_activity_on(on_or_before) -> ColumnElement:
    return (
        select(func.max(Activity.occurred_on))
        .where(Activity.account_id == ACCOUNT, Activity.occurred_on <= on_or_before)
        .scalar_subquery()
    )


def open_on(
    opened: SQLColumnExpression[date], closed: SQLColumnExpression[date | None], day: date
) -> ColumnElement[bool]:
    """Open on `day`: opened on or before it and not closed by it."""
    return and_(opened <= day, or_(closed.is_(None), closed > day))


def open_tickets(day, severities: tuple[str, ...]) -> ColumnElement[int]:
    return _count(
        Ticket,
        Ticket.account_id == ACCOUNT,
        open_on(Ticket.opened_on, Ticket.closed_on, day),
        Ticket.severity.in_(severities),
    )


def opportunity_open_on(day) -> ColumnElement[bool]:
    """An opportunity was open on `day`: created by then, and not closed by then."""
    return and_(
        Opportunity.created_on <= day,
        or_(
            and_(Opportunity.closed_on.is_(None), Opportunity.stage == "open"),
            Opportunity.closed_on > day,
        ),
    )


def open_opportunities(day, kinds: tuple[str, ...]) -> ColumnElement[int]:
    return _count(
        Opportunity,
        Opportunity.account_id == ACCOUNT,
        Opportunity.kind.in_(kinds),
        opportunity_open_on(day),
    )


def won_opportunities(period: Period, kinds: tuple[str, ...], what: str) -> ColumnElement[int]:
    """Count ('count') or amount in cents ('amount') of opportunities won in `period`."""
    measure = func.count() if what == "count" else func.sum(Opportunity.amount_cents)
    return _zero(
        select(measure)
        .where(
            Opportunity.account_id == ACCOUNT,
            Opportunity.kind.in_(kinds),
            Opportunity.stage == "won",
            Opportunity.closed_on.between(period.start, period.end),
        )
        .scalar_subquery()
    )


def contracts_ending(period: Period) -> ColumnElement[int]:
    """Contracts ending in `period` that no later-ending contract of the account supersedes."""
    return _count(Contract, Contract.account_id == ACCOUNT, renewal_due(period))


def renewal_due(period: Period) -> ColumnElement[bool]:
    """A contract ends in `period` and is the account's last-ending contract (not yet renewed)."""
    later = Contract.__table__.alias("later")
    return and_(
        Contract.end_date.between(period.start, period.end),
        ~select(later.c.contract_id)
        .where(
            later.c.account_id == Contract.account_id,
            later.c.end_date > Contract.end_date,
        )
        .exists(),
    )


def contacts_left_without_cover(roles: tuple[str, ...]) -> ColumnElement[int]:
    """Contacts in `roles` who left, where no active contact holds the same role."""
    active = Contact.__table__.alias("active_contact")
    return _count(
        Contact,
        Contact.account_id == ACCOUNT,
        Contact.buying_role.in_(roles),
        Contact.status == "left",
        ~select(active.c.contact_id)
        .where(
            active.c.account_id == Contact.account_id,
            active.c.buying_role == Contact.buying_role,
            active.c.status == "active",
        )
        .exists(),
    )


def active_contact_strength() -> ColumnElement[float]:
    """Mean relationship strength (1-5) of the account's active contacts (NULL if none)."""
    return (
        select(func.avg(Contact.relationship_strength))
        .where(
            Contact.account_id == ACCOUNT,
            Contact.status == "active",
            Contact.relationship_strength.is_not(None),
        )
        .scalar_subquery()
    )


def with_measures(accounts: Select, measures: Mapping[str, ColumnElement]) -> Select:
    """`accounts` (a select of account columns, already scoped) with `measures` added as
    labelled columns."""
    return accounts.add_columns(*(expr.label(name) for name, expr in measures.items()))


def fetch(
    session: Session, stmt: Select, params: Mapping[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """Run a `with_measures` statement; {account_id: {column or measure name: value}}."""
    # Core execution on the session's connection: no ORM row processing for 10,000 rows.
    result = session.connection().execute(stmt, params)
    keys = list(result.keys())
    rows = (dict(zip(keys, map(plain_number, row), strict=True)) for row in result)
    return {row["account_id"]: row for row in rows}


def plain_number(value: Any) -> Any:
    """A value as SQLite gives it: PostgreSQL's numeric sums and ratios arrive as Decimal,
    which the KPI formulas (floats) and JSON do not take."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def as_int(value: Any) -> int:
    """A SQL sum as integer cents (prorated sums arrive as floats)."""
    return int(round(value or 0))

