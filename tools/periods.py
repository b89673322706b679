"""Reporting periods (DESIGN §5): the year ending on `as_of`, the year before, calendar quarters.

Every period is a closed date range, both ends inclusive. KPI queries read whole
calendar months of a period from the monthly aggregates (`account_monthly`, or
`order_monthly` where the product line matters) and only the partial months at its
edges from `orders`; `month_split` and `month_plan` say which is which.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import Order

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, order=True)
class Period:
    """A closed date range [start, end]."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def label(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    def as_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def shift_years(day: date, years: int) -> date:
    """The same calendar day `years` later (or earlier); 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def year_ending(end: date) -> Period:
    """The year ending on `end`: from the day after `end` minus one year, through `end`."""
    return Period(shift_years(end, -1) + ONE_DAY, end)


def current_period(as_of: date) -> Period:
    """The KPI "current period" for `as_of` (as_of 2026-06-30 -> 2025-07-01..2026-06-30)."""
    return year_ending(as_of)


def prior_period(period: Period) -> Period:
    """The year that ends the day before `period` starts."""
    return year_ending(period.start - ONE_DAY)


def days_ending(as_of: date, days: int) -> Period:
    """The last `days` days up to and including `as_of`."""
    return Period(as_of - timedelta(days=days - 1), as_of)


def days_before(period: Period, days: int) -> Period:
    """The `days` days immediately before `period`."""
    return days_ending(period.start - ONE_DAY, days)


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def quarter(day: date, fiscal_start: int = 1) -> Period:
    """The quarter containing `day`: calendar quarters, or with `fiscal_start` (the month the
    fiscal year starts in) the fiscal year's quarters (fiscal_start 4: Apr-Jun, Jul-Sep, ...)."""
    back = (day.month - fiscal_start) % 3  # months since the quarter began
    start = date(day.year, day.month, 1)
    for _ in range(back):
        start = (start - ONE_DAY).replace(day=1)
    last = next_month(next_month(start))
    return Period(start, month_end(last))


def quarter_label(period: Period, fiscal_start: int = 1) -> str:
    """'2026-Q3' for a calendar quarter; 'FY27-Q2' for a quarter of a fiscal year starting in
    month `fiscal_start` (FY27 ends in 2027)."""
    if fiscal_start == 1:
        return f"{period.start.year}-Q{(period.start.month - 1) // 3 + 1}"
    offset = (period.start.month - fiscal_start) % 12
    year = period.start.year + (1 if period.start.month >= fiscal_start else 0)
    return f"FY{year % 100:02d}-Q{offset // 3 + 1}"


def last_complete_quarter(as_of: date, fiscal_start: int = 1) -> Period:
    """The latest (fiscal) quarter that ends on or before `as_of`."""
    q = quarter(as_of, fiscal_start)
    return q if q.end == as_of else quarter(q.start - ONE_DAY, fiscal_start)


def previous_quarter(q: Period, fiscal_start: int = 1) -> Period:
    return quarter(q.start - ONE_DAY, fiscal_start)


def quarters_up_to(as_of: date, count: int, fiscal_start: int = 1) -> list[Period]:
    """The last `count` quarters (calendar, or of a fiscal year starting in month
    `fiscal_start`), oldest first; the last one ends at `as_of` (and is partial unless
    `as_of` is a quarter's last day)."""
    q = quarter(as_of, fiscal_start)
    periods = [Period(q.start, as_of)]
    while len(periods) < count:
        q = previous_quarter(q, fiscal_start)
        periods.append(q)
    return periods[::-1]


@dataclass(frozen=True)
class MonthSplit:
    """A period cut into whole calendar months (first..last month start) and edge ranges."""

    first_month: date | None
    last_month: date | None
    edges: tuple[Period, ...]


def month_split(period: Period) -> MonthSplit:
    """Whole months inside `period` plus the partial-month ranges at its edges."""
    first = period.start if period.start.day == 1 else next_month(period.start.replace(day=1))
    last = period.end.replace(day=1)
    if month_end(period.end) != period.end:
        last = (last - ONE_DAY).replace(day=1)
    if first > last:
        return MonthSplit(None, None, (period,))
    edges = []
    if period.start < first:
        edges.append(Period(period.start, first - ONE_DAY))
    if month_end(last) < period.end:
        edges.append(Period(month_end(last) + ONE_DAY, period.end))
    return MonthSplit(first, last, tuple(edges))


@dataclass(frozen=True)
class MonthPlan:
    """How to sum a period exactly: whole months first..last, plus the `add` ranges, minus
    the `subtract` ranges (both read from order lines)."""

    first_month: date | None
    last_month: date | None
    add: tuple[Period, ...]
    subtract: tuple[Period, ...]


def month_plan(period: Period) -> MonthPlan:
    """Like `month_split`, but an edge covering more than half its month is read as the whole
    month minus the few days outside the period: fewer order lines to visit."""
    split = month_split(period)
    if split.first_month is None:
        return MonthPlan(None, None, split.edges, ())
    first, last = split.first_month, split.last_month
    add: list[Period] = []
    subtract: list[Period] = []
    for edge in split.edges:
        month = edge.start.replace(day=1)
        full = Period(month, month_end(month))
        if edge.days * 2 <= full.days:
            add.append(edge)
        elif edge.start == period.start:  # the first, partial month
            first = month
            subtract.append(Period(month, edge.start - ONE_DAY))
        else:  # the last, partial month
            last = month
            subtract.append(Period(edge.end + ONE_DAY, full.end))
    return MonthPlan(first, last, tuple(add), tuple(subtract))


def latest_order_date(session: Session, not_after: date | None = None) -> date | None:
    """The latest order date in the store (up to `not_after` if given), or None."""
    stmt = select(func.max(Order.order_date))
    if not_after is not None:
        stmt = stmt.where(Order.order_date <= not_after)
    return session.execute(stmt).scalar_one_or_none()


def resolve_as_of(session: Session, as_of: date | None, today: date | None = None) -> date:
    """`as_of` if given, else the latest order date not after today, else today.

    Orders dated in the future are ignored: one order mistyped as 2062 (or 9999-12-31) must
    not move every 12-month figure to an empty year, nor past the last date Python can add
    to. `today` is for tests; by default the system clock.
    """
    if as_of is not None:
        return as_of
    today = today or date.today()
    return latest_order_date(session, not_after=today) or today
