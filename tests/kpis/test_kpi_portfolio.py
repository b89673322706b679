"""Portfolio views on the tiny data set: rankings, renewals, comparisons, roll-ups, scope."""

from __future__ import annotations

from datetime import date

import pytest

from tools.periods import Period
from tools.portfolio import (
    NotRankable,
    Portfolio,
    at_risk_accounts,
    compare,
    portfolio_rollup,
    rank_accounts,
    renewals_due,
)
from tools.selection import AccountFilter, AccountNotFound


def names(ranking):
    return [(item.account_id, item.result.value) for item in ranking.items]


def test_ranking_by_growth_counts_undefined_values_apart(admin):
    ranking = rank_accounts(admin, "revenue_growth", n=10)
    assert [a for a, _ in names(ranking)] == ["X1", "X3", "X4"]
    assert ranking.accounts_undefined == 1  # X2 has no prior revenue


def test_lowest_first(admin):
    ranking = rank_accounts(admin, "share_of_wallet", order="lowest", n=2)
    assert names(ranking) == [("X4", 0.0), ("X1", pytest.approx(0.2))]


def test_labels_cannot_be_ranked(admin):
    with pytest.raises(NotRankable):
        rank_accounts(admin, "selection_matrix")


def test_filters_narrow_the_portfolio(admin):
    by_tier = rank_accounts(admin, "revenue", Portfolio(AccountFilter(tier="KEY")))
    assert {a for a, _ in names(by_tier)} == {"X1", "X2"}
    by_team = rank_accounts(admin, "revenue", Portfolio(AccountFilter(team="t2")))
    assert [a for a, _ in names(by_team)] == ["X3"]
    by_quadrant = rank_accounts(admin, "revenue", Portfolio(quadrant="develop"))
    assert [a for a, _ in names(by_quadrant)] == ["X1"]
    by_band = rank_accounts(admin, "revenue", Portfolio(risk_band="low"))
    assert {a for a, _ in names(by_band)} == {"X2", "X3", "X4"}


def test_at_risk_lists_only_the_band_and_above_with_evidence(admin):
    ranking = at_risk_accounts(admin, min_band="medium")
    assert names(ranking) == [("X1", 100)]
    assert ranking.accounts_below_band == 3
    assert ranking.items[0].details["open_critical_tickets"][0]["ticket_id"] == "T1"


def test_renewals_due_with_risk_and_renewal_opportunity(admin):
    window, renewals = renewals_due(admin, days=90)
    assert window == Period(date(2024, 3, 15), date(2024, 6, 13))
    assert [(r.contract_id, r.days_left, r.open_renewal_opportunity, r.risk.inputs["band"])
            for r in renewals] == [("K1", 47, False, "high"), ("K2", 47, True, "low")]
    assert renewals[0].annual_value_cents == 120_000


def test_year_comparison(admin):
    result = compare(admin, "year", ("revenue", "revenue_growth"))
    now, then = result.kpis["revenue"]
    assert (now.value, then.value) == (270_000, 180_000)
    assert result.current == Period(date(2023, 3, 16), date(2024, 3, 15))
    assert result.base == Period(date(2022, 3, 16), date(2023, 3, 15))


def test_quarter_comparison_uses_the_last_complete_quarter(admin):
    result = compare(admin, "quarter", ("revenue", "revenue_growth"))
    assert result.current == Period(date(2023, 10, 1), date(2023, 12, 31))
    assert result.base == Period(date(2023, 7, 1), date(2023, 9, 30))
    now, then = result.kpis["revenue"]
    assert (now.value, then.value) == (70_000, 0)
    assert result.kpis["revenue_growth"][0].value is None  # nothing in the base quarter


def test_account_comparison_is_scoped(kam):
    assert compare(kam, "year", ("revenue",), account_id="X1").kpis["revenue"][0].value == 200_000
    with pytest.raises(AccountNotFound):
        compare(kam, "year", ("revenue",), account_id="X3")


def test_rollup_per_owner(admin):
    rollup = portfolio_rollup(admin, ["revenue", "kam_nps"], group_by="owner")
    per_owner = {g.key: (g.accounts, g.kpis["revenue"].value) for g in rollup.groups}
    assert per_owner == {"u_k1": (3, 230_000), "u_k2": (1, 40_000)}
    kim = next(g for g in rollup.groups if g.key == "u_k1")
    assert kim.label == "Kim One"
    assert kim.kpis["kam_nps"].value == pytest.approx(100.0)


def test_kam_portfolio_never_includes_other_accounts(kam):
    rollup = portfolio_rollup(kam, ["revenue"])
    assert (rollup.accounts, rollup.total["revenue"].value) == (3, 230_000)
    assert rank_accounts(kam, "revenue", Portfolio(AccountFilter(owner_user_id="u_k2"))).items \
        == []


def test_manager_sees_the_team(engine_for):
    manager = engine_for("u_mgr")
    assert {a for a, _ in names(rank_accounts(manager, "revenue"))} == {"X1", "X2", "X4"}


def test_accounts_outside_the_scope_raise_not_found(kam):
    with pytest.raises(AccountNotFound):
        kam.account("X3", ["revenue"])
    with pytest.raises(AccountNotFound):
        kam.account("NOPE", ["revenue"])
