"""Show the math: for every KPI, the inputs `kam explain` lists recompute the value it shows,
and the rows it says it read are there."""

from __future__ import annotations

import math
from statistics import fmean

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tools.explain import explain_view
from tools.kpis import KPI_NAMES, KpiEngine

ACCOUNTS = ("Globex Logistics", "Initech Software", "Acme Industrial", "Wayne Retail Group")


def recompute(kpi: str, i: dict):  # noqa: C901 - one formula per KPI, written out
    """The value from the listed inputs alone (display units: money in currency, % for ratios)."""
    if kpi == "revenue":
        return i["revenue"]
    if kpi == "revenue_growth":
        return None if i["prior_revenue"] <= 0 else 100 * (
            i["revenue"] - i["prior_revenue"]) / i["prior_revenue"]
    if kpi == "gross_margin":
        return i["revenue"] - i["cost"]
    if kpi == "profitability":
        return 100 * (i["gross_margin"] - i["cost_to_serve"]) / i["revenue"]
    if kpi == "share_of_wallet":
        return 100 * i["revenue"] / i["wallet_estimate"]
    if kpi == "logo_retention":
        return {(True, True): "retained", (True, False): "lost", (False, True): "new"}.get(
            (i["prior_revenue"] > 0, i["revenue"] > 0), "inactive")
    if kpi in ("grr", "nrr"):
        kept = i["retained_revenue"] if kpi == "grr" else i["current_revenue"]
        return 100 * kept / i["prior_revenue"] if i["prior_revenue"] else None
    if kpi == "upsell_cross_sell":
        return i["won_opportunities"]
    if kpi == "clv":
        r, d = i["retention_pct"] / 100, i["discount_rate_pct"] / 100
        return sum(i["gross_margin_12m"] * r ** t / (1 + d) ** t for t in range(i["horizon_years"]))
    if kpi in ("nps", "kam_nps"):
        n = i["responses"]
        return 100 * (i["promoters"] - i["detractors"]) / n if n else None
    if kpi == "csat":
        return 100 * i["scoring_4_or_5"] / i["responses"] if i["responses"] else None
    if kpi == "customer_kpis":
        ach = [(k["actual"] / k["target"]) if k["higher_is_better"] else (k["target"] / k["actual"])
               for k in i["kpis"]]
        return 100 * fmean(ach) if ach else None
    if kpi == "churn_risk":
        return sum(s["points"] for s in i["signs_fired"])
    if kpi == "penetration":
        return 100 * len(i["product_lines_bought"]) / i["product_lines_offered"]
    if kpi == "strategic_value":
        f = i["factors"]
        if i["missing_scores"]:
            return None
        return 100 * sum(x["weight"] * (x["score"] - 1) / 4 for x in f) / sum(
            x["weight"] for x in f)
    if kpi == "selection_matrix":
        a, s = i["attractiveness"], i["relative_strength_pct"]
        if a is None or s is None:
            return None
        return {(True, True): "strategic", (True, False): "develop",
                (False, True): "maintain"}.get((a >= 50, s >= 50), "opportunistic")
    raise AssertionError(f"no formula for {kpi}")


@pytest.mark.parametrize("kpi", KPI_NAMES)
def test_the_listed_inputs_recompute_every_kpi(history_sessions, scope_of, kpi):
    with history_sessions() as session:
        engine = KpiEngine(session, scope_of("u_kam_anna"))
        for account in ACCOUNTS:
            shown = explain_view(engine, kpi, account)
            again = recompute(kpi, shown["inputs"])

            if isinstance(again, str) or again is None:
                assert again == shown["value"], (kpi, account)
            else:  # inputs are rounded for display: cents, 0.1 %, 4 decimals
                tolerance = 0.06 if shown["unit"] in ("%", "NPS -100..100", "score 0-100") else (
                    max(1.0, abs(again) * 1e-4))
                assert math.isclose(again, shown["value"], abs_tol=tolerance), (kpi, account)
            assert shown["formula"] and shown["sources"], kpi
            assert shown["as_of"] == "2026-09-30"


def test_rows_read_are_counted_over_the_kpis_own_window(history_sessions, scope_of):
    with history_sessions() as session:
        engine = KpiEngine(session, scope_of("u_kam_anna"))
        growth = explain_view(engine, "revenue_growth", "Globex Logistics")
        nps = explain_view(engine, "nps", "Globex Logistics")
        orders = session.connection().exec_driver_sql(
            "SELECT count(*) FROM orders WHERE account_id = 'A0003' "
            "AND order_date BETWEEN '2024-10-01' AND '2026-09-30'").scalar()

    assert growth["sources"] == [{"table": "orders", "rows": orders,
                                  "period": {"start": "2024-10-01", "end": "2026-09-30"}}]
    assert nps["sources"][0]["rows"] == nps["inputs"]["responses"]


def test_kam_explain_prints_formula_inputs_period_and_rows_for_people(
        history_sessions, monkeypatch):
    url = str(history_sessions.kw["bind"].url)
    monkeypatch.setenv("DATABASE_URL", url)
    result = CliRunner().invoke(app, ["explain", "revenue_growth", "globex", "--as-user",
                                      "u_kam_anna"])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Revenue growth of Globex Logistics (A0003): -26.1%"
    assert "Formula: (revenue - prior revenue) / prior revenue" in lines
    # Money as Babel writes it in the reporting currency (EUR by default), whole euros.
    assert "  revenue: €1,157,322" in lines and "  prior revenue: €1,565,453" in lines
    assert "Period: Oct 1, 2025\u2009–\u2009Sep 30, 2026" in lines
    assert "As of: Sep 30, 2026" in lines
    assert lines[-1].startswith("Rows read: order lines: ")
    assert "None" not in result.stdout and "_cents" not in result.stdout


def test_kam_explain_keeps_other_kams_accounts_out(history_sessions, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", str(history_sessions.kw["bind"].url))
    result = CliRunner().invoke(app, ["explain", "nps", "Umbrella Pharma", "--as-user",
                                      "u_kam_anna"])

    assert result.exit_code == 1
    assert "Account not found or not yours." in result.stderr
