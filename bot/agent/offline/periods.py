"""Period language in questions, read to explicit dates relative to the data's as-of date.

"this year", "ytd", "last year", "in 2025", "fy25", "last quarter", "q2", "h1", "last
month", "since march", "between march and june", "last 6 months" become a `Span` (start,
end, and the words to show). The default 12 months ("ltm", "past twelve months") is no
span at all: the tools' default period. Forward windows ("next 60 days", "next
quarter", "this year") become a number of days after as-of, for renewals; backward
windows in days ("last 2 weeks") for activity timelines; a meeting's day ("on jan 14") for
QBR agendas. Fiscal years start in the month
`fiscal_start` (1 = January); "Q3" and "FY26" are fiscal.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from tools.periods import FiscalCalendar, add_months, month_end, shift_years

MONTHS = {name: i for i, name in enumerate(calendar.month_name) if name} | {
    name: i for i, name in enumerate(calendar.month_abbr) if name} | {"sept": 9}
MONTHS = {k.lower(): v for k, v in MONTHS.items()}
_MONTH = "(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + ")"
NUMBERS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
           "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "eighteen": 18,
           "thirty": 30, "sixty": 60, "ninety": 90, "couple": 2, "few": 3}
_COUNT = r"(\d{1,3}|" + "|".join(NUMBERS) + ")"
_UNIT = r"(days?|d|weeks?|wks?|w|months?|mos?|mths?|m|quarters?|qtrs?|years?|yrs?|y)\b"
DEFAULT_12M = re.compile(
    r"\b(ltm|ttm|l12m|last 12 ?m|(?:past|last|trailing|previous|prior)\s+(?:12|twelve)\s*"
    r"(?:months?|mos?|mths?|m)\b|rolling 12|r12m|last year and a bit)"
)


@dataclass(frozen=True)
class Span:
    """A reporting period in dates (both ends inclusive) and how to name it."""

    start: date
    end: date
    label: str


def _count(word: str) -> int:
    return int(word) if word.isdigit() else NUMBERS[word]


class PeriodReader:
    """Reads period words against one as-of date and fiscal-year start month."""

    def __init__(self, as_of: date, fiscal_start: int = 1):
        self.as_of = as_of
        self.fiscal_start = fiscal_start
        self.fiscal = FiscalCalendar(fiscal_start)

    # -- calendar helpers ------------------------------------------------------------------

    def fiscal_year_of(self, day: date) -> int:
        """The fiscal year a day falls in, named by the calendar year it ends in."""
        return self.fiscal.year_of(day)

    def fiscal_year(self, fy: int) -> Span:
        span = self.fiscal.year(fy)
        return Span(span.start, span.end, self.fiscal.name(fy))

    def quarter(self, fy: int, q: int) -> Span:
        span = self.fiscal.part(fy, q, 3)
        return Span(span.start, span.end, self.fiscal.name(fy, 3, q))

    def _quarter_of(self, day: date) -> tuple[int, int]:
        return self.fiscal.part_of(day, 3)

    def _clip(self, span: Span) -> Span:
        """A span that runs past as-of ends at as-of (and says so)."""
        if span.end <= self.as_of:
            return span
        return Span(span.start, self.as_of, f"{span.label} to date")

    def _latest_quarter(self, q: int, fy: int | None) -> Span:
        if fy is not None:
            return self._clip(self.quarter(fy, q))
        this_fy, _ = self._quarter_of(self.as_of)
        span = self.quarter(this_fy, q)
        if span.start > self.as_of:
            span = self.quarter(this_fy - 1, q)
        return self._clip(span)

    def _last_complete_quarter(self) -> Span:
        fy, q = self._quarter_of(self.as_of)
        span = self.quarter(fy, q)
        if span.end == self.as_of:
            return span
        return self.quarter(fy - 1, 4) if q == 1 else self.quarter(fy, q - 1)

    def _latest_month(self, month: int) -> date:
        year = self.as_of.year if month <= self.as_of.month else self.as_of.year - 1
        return date(year, month, 1)

    @staticmethod
    def _year(text: str) -> int:
        value = int(text)
        return 2000 + value if value < 100 else value

    # -- reading -------------------------------------------------------------------------

    def period(self, text: str) -> Span | None:
        """The reporting period the (folded) text asks about; None for the default 12 months."""
        t = f" {text} "
        if DEFAULT_12M.search(t):
            return None
        if m := re.search(r"\bbetween\s+" + _MONTH + r"\s+and\s+" + _MONTH + r"\b", t) or \
                re.search(r"\bfrom\s+" + _MONTH + r"\s+(?:to|till|until|thru|through)\s+" + _MONTH
                          + r"\b", t) or re.search(r"\b" + _MONTH + r"\s*-\s*" + _MONTH + r"\b", t):
            first, last = MONTHS[m.group(1)], MONTHS[m.group(2)]
            end = self._latest_month(last)
            start = date(end.year if first <= last else end.year - 1, first, 1)
            return self._clip(Span(start, month_end(end), f"{start:%B} to {end:%B %Y}"))
        if m := re.search(r"\bsince\s+" + _MONTH + r"\b", t):
            start = self._latest_month(MONTHS[m.group(1)])
            return Span(start, self.as_of, f"since {start:%B %Y}")
        if m := re.search(r"\bq([1-4])\s*(?:fy\s*'?(\d{2,4})|'?(20\d{2}|\d{2})\b)?", t):
            year = m.group(2) or m.group(3)
            return self._latest_quarter(int(m.group(1)), self._year(year) if year else None)
        if m := re.search(r"\b(h[12]|first half|second half|1st half|2nd half)\b", t):
            half = 1 if m.group(1) in ("h1", "first half", "1st half") else 2
            fy = self.fiscal_year_of(self.as_of)
            start = add_months(self.fiscal_year(fy).start, 6 * (half - 1))
            if start > self.as_of:
                start = add_months(start, -12)
            end = add_months(start, 6) - timedelta(days=1)
            return self._clip(Span(start, end, f"H{half} {self.fiscal_year_of(start)}"))
        if m := re.search(r"\b(?:fy|fiscal(?: year)?)\s*'?(\d{2,4})\b", t):
            return self._clip(self.fiscal_year(self._year(m.group(1))))
        if m := re.search(r"\b(?:in|for|during|of|year)\s+(20\d{2})\b|\b(20\d{2})\b", t):
            return self._clip(self.fiscal_year(int(m.group(1) or m.group(2))))
        if re.search(r"\b(ytd|year to date|year-to-date|this year|so far this year|fiscal ytd|"
                     r"this fy|this fiscal year|current year|yr to date|this yr)\b", t):
            span = self.fiscal_year(self.fiscal_year_of(self.as_of))
            return Span(span.start, self.as_of, f"{span.label} to date")
        if re.search(r"\b(last|previous|prior) (year|yr|fiscal year|fy)\b|\blast years?\b", t):
            return self.fiscal_year(self.fiscal_year_of(self.as_of) - 1)
        if re.search(r"\b(last|previous|prior|past) (quarter|qtr|q)\b|\blast fiscal quarter\b", t):
            return self._last_complete_quarter()
        if re.search(r"\b(this|current) (quarter|qtr)\b|\bqtd\b|\bquarter to date\b", t):
            fy, q = self._quarter_of(self.as_of)
            return self._clip(self.quarter(fy, q))
        if re.search(r"\b(last|previous|prior|past) month\b", t):
            start = self.as_of.replace(day=1)
            if month_end(self.as_of) != self.as_of:
                start = add_months(start, -1)
            return Span(start, month_end(start), f"{start:%B %Y}")
        if re.search(r"\b(this month|mtd|month to date)\b", t):
            start = self.as_of.replace(day=1)
            return Span(start, self.as_of, f"{start:%B %Y} to date")
        if m := re.search(r"\b(?:last|past|previous|prior|trailing)\s+" + _COUNT + r"\s*" + _UNIT,
                          t):
            count, unit = _count(m.group(1)), m.group(2)[0]
            if unit in "my" and not (unit == "m" and count == 12):
                months = count * (12 if unit == "y" else 1)
                if unit == "y" and count == 1:
                    return None
                start = (add_months(self.as_of.replace(day=1), 1 - months)
                         if month_end(self.as_of) == self.as_of
                         else add_months(self.as_of, -months) + timedelta(days=1))
                noun = "years" if unit == "y" else "months"
                return Span(start, self.as_of, f"the last {count} {noun}")
            if unit in "dw":
                days = count * (7 if unit == "w" else 1)
                return Span(self.as_of - timedelta(days=days - 1), self.as_of,
                            f"the last {days} days")
            if unit == "q":
                start = add_months(self.as_of, -3 * count) + timedelta(days=1)
                return Span(start, self.as_of, f"the last {count} quarters")
        if m := re.search(r"\bin\s+" + _MONTH + r"\b", t):
            start = self._latest_month(MONTHS[m.group(1)])
            return self._clip(Span(start, month_end(start), f"{start:%B %Y}"))
        return None

    def day(self, text: str) -> date | None:
        """A calendar day named in the folded text, for a meeting: "2027-01-14", "jan 14th",
        "14 january 2027"; without a year, the next such day on or after as-of."""
        t = f" {text} "
        year: str | None
        if m := re.search(r"\b(20\d{2})-(\d{1,2})-(\d{1,2})\b", t):
            year, month, day = m.group(1), int(m.group(2)), int(m.group(3))
        elif m := re.search(r"\b" + _MONTH + r"\.? (\d{1,2})(?:st|nd|rd|th)?\b(?:,? (20\d{2})\b)?",
                            t):
            year, month, day = m.group(3), MONTHS[m.group(1)], int(m.group(2))
        elif m := re.search(r"\b(\d{1,2})(?:st|nd|rd|th)? (?:of )?" + _MONTH
                            + r"\b\.?(?:,? (20\d{2})\b)?", t):
            year, month, day = m.group(3), MONTHS[m.group(2)], int(m.group(1))
        else:
            return None
        try:
            if year is not None:
                return date(int(year), month, day)
            named = date(self.as_of.year, month, day)
            return named if named >= self.as_of else date(self.as_of.year + 1, month, day)
        except ValueError:
            return None  # "feb 30"

    def days_back(self, text: str) -> int | None:
        """A look-back in days for activity timelines ("last 2 weeks" -> 14)."""
        t = f" {text} "
        if m := re.search(r"\b(?:last|past|previous)\s+" + _COUNT + r"\s*" + _UNIT, t):
            count, unit = _count(m.group(1)), m.group(2)[0]
            return count * {"d": 1, "w": 7, "m": 30, "q": 91, "y": 365}[unit]
        if re.search(r"\b(last|past) (week|wk)\b|\bthis week\b", t):
            return 7
        if re.search(r"\b(last|past) month\b|\bthis month\b", t):
            return 30
        if re.search(r"\b(last|past) (quarter|qtr)\b", t):
            return 91
        if re.search(r"\b(last|past) (year|yr)\b|\bthis year\b", t):
            return 365
        return None

    def days_ahead(self, text: str) -> int | None:
        """A forward window in days for renewals ("next quarter" -> to the quarter's end)."""
        t = f" {text} "
        if m := re.search(r"\b(?:next|coming|upcoming|within(?: the next)?|in the next|over the "
                          r"next)\s+" + _COUNT + r"\s*" + _UNIT, t) or re.search(
                r"\bwithin\s+" + _COUNT + r"\s*" + _UNIT, t) or re.search(
                r"\b" + r"(\d{1,3})" + r"\s*" + r"(days?|d)\b", t):
            count, unit = _count(m.group(1)), m.group(2)[0]
            if unit in "dw":
                return count * (7 if unit == "w" else 1)
            months = count * {"m": 1, "q": 3, "y": 12}[unit]
            return self._months_ahead(months)
        if re.search(r"\b(next|this|current|coming) (quarter|qtr)\b|\bq([1-4]) renewals\b|\bby "
                     r"quarter end\b|\bthis q\b|\bnext q\b", t):
            fy, q = self._quarter_of(self.as_of + timedelta(days=1))
            return (self.quarter(fy, q).end - self.as_of).days
        if re.search(r"\b(this|current) (year|yr|fy|fiscal year)\b|\bby year end\b|\bbefore "
                     r"year end\b|\brest of the year\b", t):
            end = self.fiscal_year(self.fiscal_year_of(self.as_of + timedelta(days=1))).end
            return (end - self.as_of).days
        if re.search(r"\bnext (month|mo)\b|\bthis month\b", t):
            return (month_end(self.as_of + timedelta(days=1)) - self.as_of).days
        if re.search(r"\bnext (year|yr|12 months|twelve months)\b", t):
            return (shift_years(self.as_of, 1) - self.as_of).days
        if re.search(r"\bnext (week|wk)\b|\bthis week\b", t):
            return 7
        return None

    def _months_ahead(self, months: int) -> int:
        end = add_months(self.as_of, months)
        if month_end(self.as_of) == self.as_of:
            end = month_end(end)
        return (end - self.as_of).days
