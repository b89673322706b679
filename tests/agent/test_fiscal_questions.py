"""Questions about fiscal periods: the offline model's period words reach the ranking and the
portfolio roll-ups as dates, and the answers name the period in fiscal terms."""

from __future__ import annotations

import uuid

DASH = "\u2009–\u2009"


def test_a_ranking_for_a_fiscal_quarter_is_that_quarter(make_assistant):
    assistant = make_assistant(kam_fiscal_year_start=7, kam_locale="en_GB")

    answer = assistant.answer("u_admin", "top 3 accounts by revenue in Q3 FY26",
                              uuid.uuid4().hex)

    [call] = answer.tool_calls
    assert (call.name, call.args["start"], call.args["end"]) == (
        "rank_accounts", "2026-01-01", "2026-03-31")
    assert f"Period: Q3 FY26 (1 Jan{DASH}31 Mar 2026)." in answer.text


def test_a_portfolio_summary_for_the_last_fiscal_quarter_rolls_up_that_quarter(make_assistant):
    assistant = make_assistant(kam_fiscal_year_start=4, kam_reporting_currency="USD")

    answer = assistant.answer("u_mgr_north", "Summarise the portfolio for the last fiscal "
                                             "quarter", uuid.uuid4().hex)

    rolled = [c for c in answer.tool_calls if c.name == "get_kpi"]
    assert [(c.args["kpi"], c.args["start"], c.args["end"]) for c in rolled] == [
        ("revenue", "2026-07-01", "2026-09-30"), ("nrr", "2026-07-01", "2026-09-30"),
        ("revenue_growth", "2026-07-01", "2026-09-30")]
    assert f"over Q2 FY27 (Jul 1{DASH}Sep 30, 2026); growth " in answer.text
    assert "revenue $" in answer.text
