"""Rankings and portfolio roll-ups for a fiscal period named in the tools' arguments ("Q3 FY26",
"fiscal YTD"), stated in fiscal terms with their dates; checked against plain SQL sums."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from store.models import Account, Order
from tools.kpi_config import KpiConfig

ANNA, ADMIN = "u_kam_anna", "u_admin"
DASH = "\u2009–\u2009"  # Babel's interval dash
APRIL = KpiConfig(fiscal_year_start=4, reporting_currency="EUR", locale="en_GB")


def revenue_by_account(sessions, start: date, end: date, owner: str | None = None) -> dict:
    """Revenue per account in [start, end] in cents, straight from the order lines."""
    stmt = (select(Order.account_id, func.sum(Order.revenue_cents))
            .join(Account, Account.account_id == Order.account_id)
            .where(Order.order_date.between(start, end)).group_by(Order.account_id))
    if owner:
        stmt = stmt.where(Account.owner_user_id == owner)
    with sessions() as session:
        return dict(session.execute(stmt).all())


@pytest.mark.parametrize(("period", "start", "end", "name"), [
    # Fiscal years from April; the demo data runs to 2026-09-30.
    ("Q3 FY26", date(2025, 10, 1), date(2025, 12, 31), f"Q3 FY26 (1 Oct{DASH}31 Dec 2025)"),
    ("Q4 FY26", date(2026, 1, 1), date(2026, 3, 31), f"Q4 FY26 (1 Jan{DASH}31 Mar 2026)"),
    ("FY26", date(2025, 4, 1), date(2026, 3, 31), f"FY26 (1 Apr 2025{DASH}31 Mar 2026)"),
    ("last fiscal quarter", date(2026, 7, 1), date(2026, 9, 30),
     f"Q2 FY27 (1 Jul{DASH}30 Sept 2026)"),
    ("fiscal YTD", date(2026, 4, 1), date(2026, 9, 30), f"H1 FY27 (1 Apr{DASH}30 Sept 2026)"),
    ("H2", date(2025, 10, 1), date(2026, 3, 31), f"H2 FY26 (1 Oct 2025{DASH}31 Mar 2026)"),
])
def test_a_ranking_takes_a_fiscal_period_and_names_it_with_its_dates(
        tool_json_with, demo_sessions, period, start, end, name):
    call = tool_json_with(APRIL)

    ranking = call(ADMIN, "rank_accounts", kpi="revenue", n=3, period=period)

    want = sorted(revenue_by_account(demo_sessions, start, end).items(),
                  key=lambda kv: -kv[1])[:3]
    assert [(i["account_id"], i["value"]) for i in ranking["items"]] == [
        (account, cents / 100) for account, cents in want]
    assert ranking["period"] == {"start": start.isoformat(), "end": end.isoformat(),
                                 "name": name}


def test_a_roll_up_takes_a_fiscal_period_across_the_year_boundary(tool_json_with, demo_sessions):
    call = tool_json_with(APRIL)

    rollup = call(ANNA, "get_kpi", kpi="revenue", group_by="owner", period="Q4 FY26")

    january_to_march = revenue_by_account(demo_sessions, date(2026, 1, 1), date(2026, 3, 31),
                                          owner=ANNA)
    assert rollup["value"] == sum(january_to_march.values()) / 100
    assert rollup["accounts"] == rollup["groups"][0]["accounts"]
    assert rollup["period"]["name"] == f"Q4 FY26 (1 Jan{DASH}31 Mar 2026)"


def test_growth_for_a_fiscal_quarter_is_against_the_same_quarter_a_year_earlier(
        tool_json_with, demo_sessions):
    call = tool_json_with(APRIL)

    growth = call(ANNA, "get_kpi", kpi="revenue_growth", period="Q1 FY27")

    now = sum(revenue_by_account(demo_sessions, date(2026, 4, 1), date(2026, 6, 30),
                                 ANNA).values())
    then = sum(revenue_by_account(demo_sessions, date(2025, 4, 1), date(2025, 6, 30),
                                  ANNA).values())
    assert growth["value"] == pytest.approx(round((now - then) / then * 100, 1))
    assert growth["inputs"]["prior_period"] == {"start": "2025-04-01", "end": "2025-06-30"}


def test_a_period_still_running_ends_on_as_of_and_says_to_date(tool_json_with):
    call = tool_json_with(KpiConfig(fiscal_year_start=7, locale="en"))

    ranking = call(ANNA, "rank_accounts", kpi="revenue", period="FY27", as_of="2026-08-15")
    half = call(ANNA, "get_kpi", kpi="revenue", period="this fiscal half", as_of="2026-08-15")

    assert ranking["period"] == {"start": "2026-07-01", "end": "2026-08-15",
                                 "name": f"FY27 to date (Jul 1{DASH}Aug 15, 2026)"}
    assert half["period"]["name"] == f"H1 FY27 to date (Jul 1{DASH}Aug 15, 2026)"
    # Up to a quarter's end, what has run of the year is that quarter, and named so.
    whole = call(ANNA, "rank_accounts", kpi="revenue", period="FY27")
    assert whole["period"]["name"] == f"Q1 FY27 (Jul 1{DASH}Sep 30, 2026)"


def test_calendar_years_when_the_fiscal_year_starts_in_january(tool_json_with):
    call = tool_json_with(KpiConfig())

    ranking = call(ANNA, "rank_accounts", kpi="revenue", period="fiscal YTD")

    assert ranking["period"] == {"start": "2026-01-01", "end": "2026-09-30",
                                 "name": f"2026 to date (Jan 1{DASH}Sep 30, 2026)"}


@pytest.mark.parametrize(("args", "message"), [
    ({"period": "next quarter"}, "unknown period 'next quarter'; use FY26, Q3 FY26"),
    ({"period": "H3"}, "a fiscal year has halves H1 and H2"),
    ({"period": "FY28"}, "FY28 ('FY28') starts on 2027-04-01, after the data's as-of date "
                         "2026-09-30"),
    ({"period": "Q3 FY26", "start": "2025-01-01"}, "give either the period 'Q3 FY26' or start "
                                                   "and end dates, not both"),
])
def test_a_period_that_cannot_be_read_is_a_clear_error(tool_json_with, args, message):
    result = tool_json_with(APRIL)(ANNA, "rank_accounts", kpi="revenue", **args)

    assert result["error"] == "invalid_request"
    assert message in result["message"]
