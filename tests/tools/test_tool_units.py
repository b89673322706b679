"""Tool results name the reporting currency their money is in, so a model never guesses it."""

from __future__ import annotations

from store.access import resolve_scope
from tools.kpi_config import KpiConfig
from tools.kpis import KpiEngine
from tools.portfolio import Portfolio
from tools.views import renewals_view, summary_view


def test_tool_results_name_the_reporting_currency(demo_sessions):
    with demo_sessions() as session:
        scope = resolve_scope(session, user_id="u_kam_anna")
        engine = KpiEngine(session, scope, config=KpiConfig(reporting_currency="GBP"))
        summary = summary_view(engine, "A0001")
        renewals = renewals_view(engine, Portfolio())

    assert summary["units"].startswith("money in GBP (the reporting currency")
    assert renewals["units"] == summary["units"]


def test_without_a_reporting_currency_money_is_in_currency_units(demo_sessions):
    with demo_sessions() as session:
        engine = KpiEngine(session, resolve_scope(session, user_id="u_kam_anna"))

        assert summary_view(engine, "A0001")["units"].startswith("money in currency units")
