"""Churn risk on the tiny data set: which signs fire, their evidence, points and bands."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tools.churn import churn_details
from tools.kpi_config import ChurnConfig, KpiConfig


def churn(engine, account_id):
    return engine.account(account_id, ["churn_risk"])["churn_risk"]


def fired(result) -> dict[str, dict]:
    return {s["sign"]: s["evidence"] for s in result.inputs["signs_fired"]}


def test_every_sign_fires_for_x1_with_its_evidence(admin):
    result = churn(admin, "X1")
    signs = fired(result)

    assert result.value == 100
    assert result.inputs["band"] == "high"
    assert set(signs) == {"engagement_drop", "spend_drop", "no_recent_contact",
                          "detractors_or_low_csat", "open_critical_tickets",
                          "renewal_without_opportunity", "key_contact_left"}
    assert (signs["engagement_drop"]["activities_recent"],
            signs["engagement_drop"]["activities_before"]) == (1, 4)
    assert signs["spend_drop"]["revenue_recent_cents"] == 59_000  # 29 Feb + 15 Mar
    assert signs["spend_drop"]["revenue_before_cents"] == 101_000  # 31 Mar + 30 Jun 2023
    assert signs["spend_drop"]["change_ratio"] == pytest.approx(-420 / 1010)
    assert signs["no_recent_contact"]["days_since_last_activity"] == 65
    assert signs["detractors_or_low_csat"]["nps_detractor_responses"] == 1
    assert signs["open_critical_tickets"]["open_tickets"] == 1  # T2 closed, T3 after as_of
    assert signs["renewal_without_opportunity"]["contracts_ending"] == 1
    assert signs["key_contact_left"]["left_without_replacement"] == 1


def test_the_evidence_items_behind_the_signs(admin):
    details = churn_details(admin.context(), ["X1"])["X1"]
    assert [t["ticket_id"] for t in details["open_critical_tickets"]] == ["T1"]
    assert [c["contract_id"] for c in details["renewal_without_opportunity"]] == ["K1"]
    assert [c["name"] for c in details["key_contact_left"]] == ["Cam Champion"]


def test_a_replaced_decision_maker_and_an_open_renewal_do_not_fire(admin):
    result = churn(admin, "X2")
    assert set(fired(result)) == {"no_recent_contact", "detractors_or_low_csat"}
    assert fired(result)["detractors_or_low_csat"]["csat_4_or_5_ratio"] == pytest.approx(1 / 3)
    assert (result.value, result.inputs["band"]) == (25, "low")


def test_a_renewed_contract_is_not_due(admin):
    result = churn(admin, "X3")  # K3a ends in 26 days, but K3b follows it
    assert result.value == 0
    assert result.inputs["signs_fired"] == []


def test_weights_and_thresholds_come_from_the_config(engine_for):
    config = ChurnConfig(no_recent_contact=25, engagement_drop=0, contact_gap_days=30)
    engine = engine_for("u_admin", config=KpiConfig(churn=config))
    assert churn(engine, "X4").value == 25
    assert churn(engine, "X1").value == 100 - 15 + 15  # engagement worth 0, contact 25


def test_points_must_sum_to_100():
    with pytest.raises(ValueError, match="sum to 100"):
        replace(ChurnConfig(), spend_drop=30)


def test_bands():
    config = ChurnConfig()
    assert [config.band(s) for s in (0, 29, 30, 59, 60, 100)] == [
        "low", "low", "medium", "medium", "high", "high"]


def test_portfolio_churn_is_the_mean_with_band_counts(admin):
    result = admin.portfolio(["churn_risk"])["churn_risk"]
    assert result.value == pytest.approx((100 + 25 + 0 + 10) / 4)
    assert result.inputs["accounts_by_band"] == {"low": 3, "medium": 0, "high": 1}
