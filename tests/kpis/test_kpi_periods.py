"""Reporting periods: the year ending on as_of, leap days, quarters, month splits."""

from __future__ import annotations

from datetime import date

from tools.periods import (
    Period,
    current_period,
    last_complete_quarter,
    month_plan,
    month_split,
    prior_period,
    quarters_up_to,
    shift_years,
)


def test_current_period_is_the_year_ending_on_as_of():
    assert current_period(date(2026, 6, 30)) == Period(date(2025, 7, 1), date(2026, 6, 30))


def test_prior_period_is_the_year_before():
    current = current_period(date(2026, 6, 30))
    assert prior_period(current) == Period(date(2024, 7, 1), date(2025, 6, 30))


def test_leap_day_as_of_starts_on_1_march():
    assert current_period(date(2024, 2, 29)) == Period(date(2023, 3, 1), date(2024, 2, 29))


def test_a_year_ending_28_february_after_a_leap_year_starts_on_the_leap_day():
    period = current_period(date(2025, 2, 28))
    assert period.start == date(2024, 2, 29)
    assert period.days == 366


def test_shift_years_maps_29_february_to_28_february():
    assert shift_years(date(2024, 2, 29), -1) == date(2023, 2, 28)


def test_month_split_of_a_mid_month_year_has_two_edges():
    split = month_split(Period(date(2023, 3, 16), date(2024, 3, 15)))
    assert (split.first_month, split.last_month) == (date(2023, 4, 1), date(2024, 2, 1))
    assert split.edges == (
        Period(date(2023, 3, 16), date(2023, 3, 31)),
        Period(date(2024, 3, 1), date(2024, 3, 15)),
    )


def test_month_split_of_whole_months_has_no_edges():
    split = month_split(Period(date(2023, 3, 1), date(2024, 2, 29)))
    assert (split.first_month, split.last_month, split.edges) == (
        date(2023, 3, 1), date(2024, 2, 1), ())


def test_month_split_inside_one_month_is_a_single_edge():
    period = Period(date(2024, 1, 5), date(2024, 1, 20))
    assert month_split(period) == type(month_split(period))(None, None, (period,))


def test_last_complete_quarter():
    assert last_complete_quarter(date(2026, 9, 30)) == Period(date(2026, 7, 1), date(2026, 9, 30))
    assert last_complete_quarter(date(2026, 8, 15)) == Period(date(2026, 4, 1), date(2026, 6, 30))


def test_quarters_up_to_as_of_end_with_the_partial_quarter():
    quarters = quarters_up_to(date(2024, 3, 15), 3)
    assert quarters == [
        Period(date(2023, 7, 1), date(2023, 9, 30)),
        Period(date(2023, 10, 1), date(2023, 12, 31)),
        Period(date(2024, 1, 1), date(2024, 3, 15)),
    ]


def test_month_plan_reads_a_mostly_covered_edge_month_as_month_minus_the_rest():
    plan = month_plan(Period(date(2023, 3, 16), date(2024, 3, 15)))
    # 16 of 31 March days are in the period: March minus 1-15 March; 15 days of March 2024:
    # read directly.
    assert (plan.first_month, plan.last_month) == (date(2023, 3, 1), date(2024, 2, 1))
    assert plan.subtract == (Period(date(2023, 3, 1), date(2023, 3, 15)),)
    assert plan.add == (Period(date(2024, 3, 1), date(2024, 3, 15)),)


def test_month_plan_of_a_late_as_of_subtracts_the_days_after_it():
    plan = month_plan(Period(date(2025, 5, 29), date(2026, 5, 28)))
    assert plan.last_month == date(2026, 5, 1)
    assert plan.subtract == (Period(date(2026, 5, 29), date(2026, 5, 31)),)
    assert plan.add == (Period(date(2025, 5, 29), date(2025, 5, 31)),)
