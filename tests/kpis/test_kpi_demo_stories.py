"""The demo data's stories (store.demo.STORIES) are what the engine finds."""

from __future__ import annotations

import pytest

from store.access import resolve_scope
from store.demo import DEMO_KAM, DEMO_MANAGER
from tools.kpi_config import SIGNS
from tools.kpis import KpiEngine
from tools.portfolio import Portfolio, at_risk_accounts, rank_accounts, renewals_due
from tools.selection import AccountFilter


@pytest.fixture
def engine_as(demo_sessions):
    sessions = []

    def build(user_id: str) -> KpiEngine:
        session = demo_sessions()
        sessions.append(session)
        return KpiEngine(session, resolve_scope(session, user_id=user_id))

    yield build
    for session in sessions:
        session.close()


def test_globex_ranks_first_by_churn_risk_with_all_seven_signs(engine_as):
    for user in (DEMO_KAM, DEMO_MANAGER, "u_admin"):
        top = at_risk_accounts(engine_as(user), n=3).items[0]
        assert (top.account_id, top.name) == ("A0003", "Globex Logistics")
        assert top.result.value == 100
        assert [s["sign"] for s in top.result.inputs["signs_fired"]] == list(SIGNS)
        assert set(top.details) == {"open_critical_tickets", "renewal_without_opportunity",
                                    "key_contact_left"}


def test_northwind_grows_fastest_among_annas_accounts(engine_as):
    top = rank_accounts(engine_as(DEMO_KAM), "revenue_growth", n=1).items[0]
    assert top.name == "Northwind Traders"
    assert top.result.value > 0.5


def test_initech_has_the_lowest_share_of_wallet_among_annas_active_accounts(engine_as):
    ranking = rank_accounts(engine_as(DEMO_KAM), "share_of_wallet", order="lowest", n=20)
    active = [i for i in ranking.items if i.result.inputs["revenue_cents"] > 0]
    assert active[0].name == "Initech Software"
    assert active[0].result.value < 0.10


def test_stark_is_the_most_profitable_account(engine_as):
    top = rank_accounts(engine_as("u_admin"), "profitability", n=1).items[0]
    assert top.name == "Stark Components"


def test_wayne_is_unprofitable_after_cost_to_serve(engine_as):
    bottom = rank_accounts(engine_as("u_admin"), "profitability", order="lowest", n=1).items[0]
    assert bottom.name == "Wayne Retail Group"
    assert bottom.result.value < 0
    assert bottom.result.inputs["gross_margin_cents"] > 0  # it is the cost to serve


def test_globex_renewal_is_due_without_a_renewal_opportunity(engine_as):
    _, renewals = renewals_due(engine_as(DEMO_KAM), days=90)
    globex = next(r for r in renewals if r.account_id == "A0003")
    assert not globex.open_renewal_opportunity
    assert globex.risk.inputs["band"] == "high"


def test_anna_never_sees_umbrella_in_any_ranking(engine_as):
    engine = engine_as(DEMO_KAM)
    for kpi in ("revenue", "churn_risk", "profitability"):
        ranking = rank_accounts(engine, kpi, n=50)
        assert "A0008" not in {i.account_id for i in ranking.items}
    assert rank_accounts(engine, "revenue", Portfolio(AccountFilter(owner_user_id="u_kam_dev")),
                         n=50).items == []
