"""Fiscal quarters (KAM_FISCAL_YEAR_START): resolved to dates across a year boundary and in a
leap year, used by the quarter comparisons, and named 'Q3 FY26 (Jan 1 – Mar 31, 2026)'."""

from __future__ import annotations

from datetime import date

import pytest

from prompts import period_name
from tools.periods import Period, last_complete_quarter, quarter
from tools.portfolio import compare_periods_for


def days(a: str, b: str) -> Period:
    return Period(date.fromisoformat(a), date.fromisoformat(b))


@pytest.mark.parametrize(
    ("day", "fiscal_start", "expected"),
    [
        (date(2026, 2, 10), 1, days("2026-01-01", "2026-03-31")),
        (date(2026, 2, 10), 4, days("2026-01-01", "2026-03-31")),  # Q4 of FY26 (Apr-Mar)
        (date(2026, 2, 10), 7, days("2026-01-01", "2026-03-31")),  # Q3 of FY26 (Jul-Jun)
        (date(2026, 1, 15), 11, days("2025-11-01", "2026-01-31")),  # across the year boundary
        (date(2025, 12, 31), 2, days("2025-11-01", "2026-01-31")),
        (date(2024, 2, 29), 12, days("2023-12-01", "2024-02-29")),  # leap year
        (date(2023, 2, 28), 12, days("2022-12-01", "2023-02-28")),
    ],
)
def test_a_day_falls_in_the_quarter_of_its_fiscal_year(day, fiscal_start, expected):
    assert quarter(day, fiscal_start) == expected


def test_the_last_complete_fiscal_quarter_ends_on_or_before_as_of():
    assert last_complete_quarter(date(2024, 2, 29), 12) == days("2023-12-01", "2024-02-29")
    assert last_complete_quarter(date(2024, 2, 28), 12) == days("2023-09-01", "2023-11-30")
    assert last_complete_quarter(date(2026, 1, 10), 2) == days("2025-08-01", "2025-10-31")


def test_quarter_comparisons_use_fiscal_quarters_across_a_year_boundary_and_a_leap_day():
    assert compare_periods_for(date(2026, 1, 31), "quarter", 11) == (
        days("2025-11-01", "2026-01-31"), days("2025-08-01", "2025-10-31"))
    assert compare_periods_for(date(2024, 2, 29), "quarter_yoy", 12) == (
        days("2023-12-01", "2024-02-29"), days("2022-12-01", "2023-02-28"))


@pytest.mark.parametrize(
    ("start", "end", "fiscal_start", "locale", "name"),
    [
        ("2026-01-01", "2026-03-31", 7, "en", "Q3 FY26 (Jan 1 – Mar 31, 2026)"),
        ("2026-01-01", "2026-03-31", 7, "en_GB", "Q3 FY26 (1 Jan – 31 Mar 2026)"),
        ("2026-01-01", "2026-03-31", 1, "en", "Q1 2026 (Jan 1 – Mar 31, 2026)"),
        ("2025-11-01", "2026-01-31", 11, "en", "Q1 FY26 (Nov 1, 2025 – Jan 31, 2026)"),
        ("2025-04-01", "2026-03-31", 4, "en", "FY26 (Apr 1, 2025 – Mar 31, 2026)"),
        ("2025-04-01", "2025-09-30", 4, "en", "H1 FY26 (Apr 1 – Sep 30, 2025)"),
        ("2023-12-01", "2024-02-29", 12, "de", "Q1 FY24 (1. Dez. 2023 – 29. Feb. 2024)"),
        ("2025-10-05", "2026-03-31", 4, "en", "Oct 5, 2025 – Mar 31, 2026"),  # not fiscal
    ],
)
def test_periods_are_named_in_fiscal_terms_with_their_dates(start, end, fiscal_start, locale,
                                                           name):
    # Babel (CLDR) sets the dash between thin spaces.
    shown = period_name({"start": start, "end": end}, None, fiscal_start, locale)
    assert shown == name.replace(" – ", "\u2009–\u2009")


def test_a_period_that_is_no_fiscal_quarter_or_year_keeps_its_words_with_its_dates():
    shown = period_name({"start": "2026-04-01", "end": "2026-09-30"}, "the last 6 months", 4)

    assert shown == "H1 FY27 (Apr 1\u2009–\u2009Sep 30, 2026)"  # a fiscal half: its name
    assert period_name({"start": "2026-03-17", "end": "2026-09-30"}, "since March 2026") == (
        "since March 2026 (Mar 17\u2009–\u2009Sep 30, 2026)")
