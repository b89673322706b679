"""The QBR prep note reviews the last complete fiscal quarter and names it in fiscal terms."""

from __future__ import annotations

import re
from datetime import date

from prompts import Prompts, money
from store.access import resolve_scope
from tools.account_data import quarterly_revenue
from tools.charts import revenue_trend_chart
from tools.drafting import Drafter
from tools.kpi_config import KpiConfig
from tools.kpis import KpiEngine
from tools.periods import Period

ANNA = "u_kam_anna"


def test_prep_note_reviews_the_last_complete_fiscal_quarter(sessions, guidance, out_dir,
                                                            caller):
    # Fiscal years from February: as of 2026-09-30 the last complete quarter is May-July,
    # Q2 of FY27 (Feb 2026 - Jan 2027), not the calendar Q3.
    drafter = Drafter(sessions, guidance, Prompts(currency="EUR", fiscal_start=2), out_dir,
                      KpiConfig(fiscal_year_start=2))

    note = drafter.qbr_prep_note(caller(ANNA), "Globex")["markdown"]

    with sessions() as session:
        engine = KpiEngine(session, resolve_scope(session, user_id=ANNA))
        quarter = Period(date(2026, 5, 1), date(2026, 7, 31))
        revenue = engine.account("A0003", ["revenue"], engine.context(current=quarter))
    dash = "\u2009–\u2009"
    assert (f"Last complete quarter, Q2 FY27 (May 1{dash}Jul 31, 2026), against the quarter "
            f"before, Q1 FY27 (Feb 1{dash}Apr 30, 2026): revenue "
            f"{money(revenue['revenue'].value / 100, 'EUR')} vs ") in note


def test_plan_timeline_runs_through_the_next_four_fiscal_quarters(sessions, guidance, out_dir,
                                                                   caller):
    # Fiscal years from November: after 2026-09-30 come Aug-Oct (Q4 FY26, its last month left),
    # then Nov-Jan across the year boundary (Q1 FY27), Feb-Apr and May-Jul.
    drafter = Drafter(sessions, guidance, Prompts(currency="EUR", fiscal_start=11), out_dir,
                      KpiConfig(fiscal_year_start=11))

    plan = drafter.account_plan(caller(ANNA), "Globex")["markdown"]

    timeline = plan.split("## Timeline")[1].split("\n## ")[0]
    assert re.findall(r"^\*\*(Q\d FY\d\d)\*\* \(([\d-]+) to ([\d-]+)", timeline, re.M) == [
        ("Q4 FY26", "2026-10-01", "2026-10-31"), ("Q1 FY27", "2026-11-01", "2027-01-31"),
        ("Q2 FY27", "2027-02-01", "2027-04-30"), ("Q3 FY27", "2027-05-01", "2027-07-31")]
    # Globex's contract ends on 2026-11-14: in the fiscal Q1, not the calendar Q4.
    assert "on 2026-11-14: contract A0003-K1 ends" in timeline.split("**Q2 FY27**")[0].split(
        "**Q1 FY27**")[1]


def test_revenue_chart_bars_are_fiscal_quarters(sessions):
    with sessions() as session:
        engine = KpiEngine(session, resolve_scope(session, user_id=ANNA),
                           config=KpiConfig(fiscal_year_start=4), as_of=date(2026, 8, 15))
        data = quarterly_revenue(engine, "A0003", quarters=4)
        by_month = engine.account("A0003", ["revenue"], engine.context(
            current=Period(date(2025, 10, 1), date(2025, 12, 31))))["revenue"].value

    shown = [(q["quarter"], q["period"].start, q["period"].end, q["partial"])
             for q in data["quarters"]]
    assert shown == [
        ("Q3 FY26", date(2025, 10, 1), date(2025, 12, 31), False),
        ("Q4 FY26", date(2026, 1, 1), date(2026, 3, 31), False),
        ("Q1 FY27", date(2026, 4, 1), date(2026, 6, 30), False),
        ("Q2 FY27", date(2026, 7, 1), date(2026, 8, 15), True),  # to date
    ]
    assert data["quarters"][0]["revenue_cents"] == by_month
    assert revenue_trend_chart(data).startswith(b"\x89PNG")
