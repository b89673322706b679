"""Every KPI of DESIGN §5 against values worked out by hand on the tiny data set
(tests/kpis/conftest.py explains it; AS_OF = 2024-03-15, mid-month in a leap year)."""

from __future__ import annotations

from datetime import date

import pytest

from tools.kpi_config import ClvConfig, KpiConfig
from tools.kpis import KpiEngine
from tools.periods import Period

CURRENT = Period(date(2023, 3, 16), date(2024, 3, 15))


def kpi(engine: KpiEngine, account_id: str, name: str):
    return engine.account(account_id, [name])[name]


def portfolio(engine: KpiEngine, name: str):
    return engine.portfolio([name])[name]


# -- revenue, growth, margin ------------------------------------------------------------------


def test_revenue_counts_partial_months_at_both_edges_and_the_leap_day(admin):
    result = kpi(admin, "X1", "revenue")
    # 400 (first day) + 10 (partial March) + 1000 + 500 (29 Feb) + 90 (as_of itself)
    assert result.value == 200_000
    assert result.period == CURRENT


def test_revenue_with_as_of_on_a_month_end_uses_whole_months_only(engine_for):
    engine = engine_for("u_admin", as_of=date(2024, 2, 29))
    result = kpi(engine, "X1", "revenue")
    assert result.period == Period(date(2023, 3, 1), date(2024, 2, 29))
    assert result.value == 211_000  # 200 + 400 + 10 + 1000 + 500
    assert kpi(engine, "X1", "revenue_growth").inputs["prior_revenue_cents"] == 45_000


def test_a_year_starting_on_a_leap_day_includes_it(engine_for):
    engine = engine_for("u_admin", as_of=date(2025, 2, 28))
    assert kpi(engine, "X1", "revenue").value == 158_900  # 500 (29 Feb 2024) + 90 + 999


def test_as_of_defaults_to_the_latest_order_date(engine_for):
    assert engine_for("u_admin", as_of=None).as_of == date(2024, 3, 16)


def test_revenue_growth_with_its_inputs(admin):
    result = kpi(admin, "X1", "revenue_growth")
    assert result.value == pytest.approx(1400 / 600)
    assert result.inputs["revenue_cents"] == 200_000
    assert result.inputs["prior_revenue_cents"] == 60_000
    assert result.inputs["prior_period"] == Period(date(2022, 3, 16), date(2023, 3, 15))


def test_revenue_growth_is_undefined_without_prior_revenue(admin):
    result = kpi(admin, "X2", "revenue_growth")
    assert result.value is None
    assert "no revenue in the prior period" in result.note


def test_portfolio_growth_sums_before_dividing(admin, kam):
    assert portfolio(admin, "revenue_growth").value == pytest.approx((2700 - 1800) / 1800)
    assert portfolio(kam, "revenue_growth").value == pytest.approx((2300 - 800) / 800)


def test_gross_margin(admin):
    result = kpi(admin, "X1", "gross_margin")
    assert result.value == 121_500  # 2000.00 - 785.00
    assert result.inputs["gross_margin_ratio"] == pytest.approx(0.6075)


# -- profitability after cost to serve --------------------------------------------------------


def test_cost_to_serve_is_prorated_by_overlapping_days(admin):
    result = kpi(admin, "X1", "profitability")
    # 365.00 over 2023 -> 291 days overlap; 31.00 over March 2024 -> 15 days overlap
    assert result.inputs["cost_to_serve_cents"] == 29_100 + 1_500
    assert result.value == pytest.approx((121_500 - 30_600) / 200_000)


def test_cost_to_serve_in_the_prior_period(admin):
    ctx = admin.context(current=Period(date(2022, 3, 16), date(2023, 3, 15)))
    result = admin.account("X1", ["profitability"], ctx)["profitability"]
    assert result.inputs["cost_to_serve_cents"] == 7_400  # 1 Jan - 15 Mar 2023: 74 days


def test_profitability_without_cost_to_serve_is_the_margin_ratio(admin):
    assert kpi(admin, "X2", "profitability").value == pytest.approx(200 / 300)


def test_profitability_is_undefined_without_revenue(admin):
    assert kpi(admin, "X4", "profitability").value is None


def test_portfolio_profitability(admin):
    expected = (121_500 + 20_000 + 30_000 + 0 - 30_600) / 270_000
    assert portfolio(admin, "profitability").value == pytest.approx(expected)


# -- share of wallet, retention ---------------------------------------------------------------


def test_share_of_wallet(admin):
    result = kpi(admin, "X1", "share_of_wallet")
    assert result.value == pytest.approx(0.2)
    assert result.inputs["wallet_estimate_cents"] == 1_000_000


def test_share_of_wallet_is_undefined_without_a_wallet_estimate(admin):
    result = kpi(admin, "X2", "share_of_wallet")
    assert result.value is None
    assert "no wallet estimate" in result.note


def test_portfolio_share_of_wallet_uses_accounts_with_an_estimate(admin):
    result = portfolio(admin, "share_of_wallet")
    assert result.value == pytest.approx(2400 / 11500)
    assert result.inputs["accounts_with_wallet_estimate"] == 3


def test_logo_retention(admin, kam):
    assert portfolio(admin, "logo_retention").value == pytest.approx(2 / 3)
    assert portfolio(kam, "logo_retention").value == pytest.approx(1 / 2)
    assert [kpi(admin, a, "logo_retention").value for a in ("X1", "X2", "X4")] == [
        "retained", "new", "lost"]


def test_grr_and_nrr(admin, kam):
    assert portfolio(admin, "grr").value == pytest.approx((600 + 400 + 0) / 1800)
    assert portfolio(admin, "nrr").value == pytest.approx((2000 + 400 + 0) / 1800)
    assert portfolio(kam, "grr").value == pytest.approx(600 / 800)
    assert portfolio(kam, "nrr").value == pytest.approx(2000 / 800)


# -- upsell, NPS, CSAT ------------------------------------------------------------------------


def test_upsell_counts_won_upsell_and_cross_sell_closed_in_the_period(admin):
    result = kpi(admin, "X1", "upsell_cross_sell")
    assert result.value == 1  # the cross-sell closes after as_of; 'new' and lost don't count
    assert result.inputs["won_amount_cents"] == 50_000


def test_portfolio_upsell_rate(admin):
    result = portfolio(admin, "upsell_cross_sell")
    assert result.value == pytest.approx(1 / 3)
    assert result.inputs["accounts_with_revenue"] == 3


def test_nps(admin):
    result = kpi(admin, "X1", "nps")
    assert result.value == pytest.approx(25.0)  # 10, 9, 8, 3: 2 promoters, 1 detractor
    assert (result.inputs["promoters"], result.inputs["detractors"]) == (2, 1)


def test_kam_nps_uses_responses_about_the_kam(admin):
    assert kpi(admin, "X1", "kam_nps").value == pytest.approx(100.0)


def test_nps_is_undefined_without_surveys(admin):
    result = kpi(admin, "X2", "nps")
    assert result.value is None
    assert "no NPS responses" in result.note


def test_csat(admin):
    assert kpi(admin, "X1", "csat").value == pytest.approx(2 / 3)
    assert portfolio(admin, "csat").value == pytest.approx(3 / 6)


# -- CLV --------------------------------------------------------------------------------------


def clv(margin: int, r: float, horizon: int = 5, d: float = 0.10) -> int:
    return round(sum(margin * r**t / (1 + d) ** t for t in range(horizon)))


def test_clv_uses_the_tiers_logo_retention(admin):
    result = kpi(admin, "X1", "clv")
    assert result.inputs["retention_ratio"] == 1.0  # key tier: X1 kept, X2 had no prior
    assert result.value == clv(121_500, 1.0) == 506_639


def test_clv_retention_counts_every_account_of_the_tier_even_out_of_scope(kam):
    result = kpi(kam, "X4", "clv")  # growth tier: X3 (another KAM's) kept, X4 lost
    assert result.inputs["retention_ratio"] == 0.5
    assert result.value == 0  # no margin in the last 12 months


def test_clv_retention_can_be_configured(engine_for):
    config = KpiConfig(clv=ClvConfig(retention_override={"key": 0.8}))
    engine = engine_for("u_admin", config=config)
    assert kpi(engine, "X1", "clv").value == clv(121_500, 0.8)


# -- penetration, strategic value, selection matrix, customer KPIs ----------------------------


def test_penetration(admin):
    result = kpi(admin, "X1", "penetration")
    assert result.value == pytest.approx(2 / 3)  # L1 and L2 (bought in a partial month)
    assert result.inputs["product_lines_bought"] == ["L1", "L2"]
    assert result.inputs["departments_with_active_contact"] == 3
    assert result.inputs["decision_makers_engaged_12m"] == 1
    assert result.inputs["economic_buyers_engaged_12m"] == 0


def test_strategic_value_uses_the_latest_score_up_to_as_of(admin):
    result = kpi(admin, "X1", "strategic_value")
    assert result.value == pytest.approx(0.6 * 100 + 0.4 * 50)
    assert result.inputs["missing_scores"] == []


def test_strategic_value_lists_missing_scores_instead_of_guessing(admin):
    result = kpi(admin, "X2", "strategic_value")
    assert result.value is None
    assert result.inputs["missing_scores"] == ["f_b"]


def test_selection_matrix_quadrants(admin):
    x1 = kpi(admin, "X1", "selection_matrix")
    assert x1.value == "develop"  # attractiveness 80, strength mean(0.2, 0.5) = 0.35
    assert x1.inputs["relative_strength_ratio"] == pytest.approx(0.35)
    assert kpi(admin, "X3", "selection_matrix").value == "maintain"  # 10; mean(0.4, 1.0)
    assert kpi(admin, "X2", "selection_matrix").value is None
    counts = portfolio(admin, "selection_matrix").value
    assert counts == {"strategic": 0, "develop": 1, "maintain": 1, "opportunistic": 0,
                      "unclassified": 2}


def test_customer_kpis_use_the_latest_period_up_to_as_of(admin):
    result = kpi(admin, "X1", "customer_kpis")
    achievements = {k["kpi_name"]: k["achievement_ratio"] for k in result.inputs["kpis"]}
    assert achievements == {"OTD %": pytest.approx(0.99), "Defects": pytest.approx(1.25)}
    assert result.value == pytest.approx((0.99 + 1.25) / 2)
    assert result.inputs["met"] == 1
