"""Reporting periods (DESIGN §5): the year ending on `as_of`, the year before, the quarters,
halves and years of the fiscal year (`FiscalCalendar`), and the fiscal periods a tool may
be asked for by name ("Q3 FY26", "fiscal YTD": `fiscal_period`).

Every period is a closed date range, both ends inclusive. KPI queries read whole
calendar months of a period from the monthly aggregates (`account_monthly`, or
`order_monthly` where the product line matters) and only the partial months at its
edges from `orders`; `month_split` and `month_plan` say which is which.
"""

from __future__ import annotations

import calendar
import re
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
    fiscal = FiscalCalendar(fiscal_start)
    return fiscal.part(*fiscal.part_of(day, 3), months=3)


def quarter_label(period: Period, fiscal_start: int = 1) -> str:
    """A quarter's short name: '2026-Q3' for calendar quarters, 'Q3 FY26' for fiscal ones."""
    if fiscal_start == 1:
        return f"{period.start.year}-Q{(period.start.month - 1) // 3 + 1}"
    fiscal = FiscalCalendar(fiscal_start)
    fiscal_year, index = fiscal.part_of(period.start, 3)
    return fiscal.name(fiscal_year, 3, index)


def last_complete_quarter(as_of: date, fiscal_start: int = 1) -> Period:
    """The latest (fiscal) quarter that ends on or before `as_of`."""
    q = quarter(as_of, fiscal_start)
    return q if q.end == as_of else quarter(q.start - ONE_DAY, fiscal_start)


def previous_quarter(q: Period, fiscal_start: int = 1) -> Period:
    return quarter(q.start - ONE_DAY, fiscal_start)


def quarters_up_to(as_of: date, count: int, fiscal_start: int = 1) -> list[Period]:
    """The last `count` (fiscal) quarters, oldest first; the last one ends at `as_of`
    (and is partial unless `as_of` is a quarter's last day)."""
    q = quarter(as_of, fiscal_start)
    periods = [Period(q.start, as_of)]
    while len(periods) < count:
        q = previous_quarter(q, fiscal_start)
        periods.append(q)
    return periods[::-1]


def add_months(day: date, months: int) -> date:
    """`day` moved by whole months, the day of month clamped (31 Mar - 1 month = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


@dataclass(frozen=True)
class FiscalCalendar:
    """Fiscal years starting on the 1st of `start_month` (KAM_FISCAL_YEAR_START), named by the
    calendar year they end in: with a July start FY26 runs from 1 July 2025 to 30 June 2026.
    With January (the default) they are calendar years, named '2026'."""

    start_month: int = 1

    def year_of(self, day: date) -> int:
        """The fiscal year `day` falls in."""
        if self.start_month == 1:
            return day.year
        return day.year + 1 if day.month >= self.start_month else day.year

    def year_name(self, fiscal_year: int) -> str:
        return str(fiscal_year) if self.start_month == 1 else f"FY{fiscal_year % 100:02d}"

    def year(self, fiscal_year: int) -> Period:
        start = date(fiscal_year - (self.start_month != 1), self.start_month, 1)
        return Period(start, add_months(start, 12) - ONE_DAY)

    def part(self, fiscal_year: int, index: int, months: int) -> Period:
        """Quarter (`months` 3), half (6) or the whole year (12) number `index` (1-based) of
        a fiscal year."""
        start = add_months(self.year(fiscal_year).start, months * (index - 1))
        return Period(start, add_months(start, months) - ONE_DAY)

    def part_of(self, day: date, months: int) -> tuple[int, int]:
        """(fiscal year, index) of the quarter (`months` 3) or half (6) holding `day`."""
        fiscal_year = self.year_of(day)
        into = (day.month - self.start_month) % 12
        return fiscal_year, into // months + 1

    def name(self, fiscal_year: int, months: int = 12, index: int = 1) -> str:
        """'FY26', 'Q3 FY26', 'H1 FY26' ('2026', 'Q3 2026' for calendar years)."""
        prefix = {3: f"Q{index} ", 6: f"H{index} "}.get(months, "")
        return prefix + self.year_name(fiscal_year)


@dataclass(frozen=True)
class NamedPeriod:
    """A period and what to call it ('Q3 FY26', 'FY27 to date')."""

    period: Period
    name: str


class UnknownPeriod(ValueError):
    def __init__(self, text: str, why: str | None = None) -> None:
        super().__init__(why or (
            f"unknown period {text!r}; use FY26, Q3 FY26, Q3, H1 FY26, H1, last fiscal quarter, "
            "this quarter, fiscal YTD, last fiscal year, or start and end dates"))


_FY = r"(?:fy\s*'?|fiscal\s+(?:year\s+)?)(\d{2}|\d{4})"
_PART = r"([qh])([1-4])"
_NAMED = {
    "last fiscal quarter": (3, "last"), "last quarter": (3, "last"),
    "previous quarter": (3, "last"), "previous fiscal quarter": (3, "last"),
    "last fiscal half": (6, "last"), "last half": (6, "last"),
    "last fiscal year": (12, "last"), "last fy": (12, "last"), "last year": (12, "last"),
    "previous fiscal year": (12, "last"),
    "this quarter": (3, "this"), "this fiscal quarter": (3, "this"), "fiscal qtd": (3, "this"),
    "qtd": (3, "this"), "quarter to date": (3, "this"),
    "this half": (6, "this"), "this fiscal half": (6, "this"),
    "fiscal ytd": (12, "this"), "ytd": (12, "this"), "this fiscal year": (12, "this"),
    "this fy": (12, "this"), "fiscal year to date": (12, "this"), "year to date": (12, "this"),
}


def fiscal_period(text: str, as_of: date, fiscal: FiscalCalendar) -> NamedPeriod:
    """A fiscal period named in words, in dates: 'FY26', 'Q3 FY26', 'FY26 Q3', 'Q3' (the latest
    Q3 that has begun), 'H1' / 'H1 FY26', 'last fiscal quarter' (the last complete one),
    'this quarter', 'fiscal YTD', 'last fiscal year'. A period still running on `as_of` ends
    there ('FY27 to date'); one that has not begun is an error, as is anything else."""
    words = " ".join(text.lower().replace("-", " ").split())
    if words in _NAMED:
        months, which = _NAMED[words]
        fiscal_year, index = fiscal.part_of(as_of, months)
        if which == "last":
            span = fiscal.part(fiscal_year, index, months)
            if span.end != as_of:  # not complete yet: the one before
                fiscal_year, index = fiscal.part_of(span.start - ONE_DAY, months)
        return _named(fiscal, fiscal_year, months, index, as_of, text)
    fy = re.fullmatch(_FY, words)
    if fy:
        return _named(fiscal, _year(fy.group(1)), 12, 1, as_of, text)
    part = re.fullmatch(f"{_PART}(?:\\s+(?:{_FY}|(\\d{{4}})))?", words) or re.fullmatch(
        f"{_FY}\\s+{_PART}", words)
    if part is None:
        raise UnknownPeriod(text)
    groups = [g for g in part.groups() if g is not None]
    if groups[0] not in "qh":  # 'FY26 Q3': the year first
        groups = [*groups[1:], groups[0]]
    months, index = (3, int(groups[1])) if groups[0] == "q" else (6, int(groups[1]))
    if months == 6 and index > 2:
        raise UnknownPeriod(text, f"unknown period {text!r}: a fiscal year has halves H1 and H2")
    if len(groups) == 3:
        fiscal_year = _year(groups[2])
    else:  # the latest one that has begun
        fiscal_year = fiscal.year_of(as_of)
        if fiscal.part(fiscal_year, index, months).start > as_of:
            fiscal_year -= 1
    return _named(fiscal, fiscal_year, months, index, as_of, text)


def _year(digits: str) -> int:
    return 2000 + int(digits) if len(digits) == 2 else int(digits)


def _named(fiscal: FiscalCalendar, fiscal_year: int, months: int, index: int, as_of: date,
           text: str) -> NamedPeriod:
    span = fiscal.part(fiscal_year, index, months)
    name = fiscal.name(fiscal_year, months, index)
    if span.start > as_of:
        raise UnknownPeriod(text, f"{name} ({text!r}) starts on {span.start.isoformat()}, after "
                                  f"the data's as-of date {as_of.isoformat()}")
    if span.end > as_of:
        return NamedPeriod(Period(span.start, as_of), f"{name} to date")
    return NamedPeriod(span, name)


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
