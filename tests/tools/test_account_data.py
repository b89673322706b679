"""One account's data: stakeholder map and its gaps, tickets, opportunities, customer KPIs."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from store.models import Account, Activity, Order
from tools import account_data
from tools.kpis import kpi_statement
from tools.selection import AccountNotFound


def test_stakeholder_map_shows_roles_and_the_champion_gap(engine_as):
    result = account_data.stakeholder_map(engine_as("u_kam_anna"), "A0003")
    assert list(result["roles"])[:3] == ["decision_maker", "economic_buyer", "champion"]
    champion = result["roles"]["champion"][0]
    assert champion["status"] == "left"
    assert "champion left, no replacement" in result["gaps"]
    people = [p for ps in result["roles"].values() for p in ps]
    assert all({"name", "relationship_strength_1_to_5", "last_activity_on"} <= set(p)
               for p in people)


def test_stakeholder_gaps_are_plain_rules():
    roles = {
        "economic_buyer": [{"name": "E", "status": "active", "engaged_last_12_months": False,
                            "relationship_strength_1_to_5": 2}],
    }
    gaps = account_data.stakeholder_gaps(roles)
    assert gaps == ["economic buyer not engaged in the last 12 months", "no active decision maker",
                    "no champion", "single-threaded: one active contact or none",
                    "weak relationships (strength <= 2): E"]


def test_open_tickets_are_most_severe_first_and_as_of_aware(engine_as):
    tickets = account_data.open_tickets(engine_as("u_kam_anna"), "A0003")
    assert tickets["items"][0]["ticket_id"] == "A0003-T900"
    assert tickets["items"][0]["severity"] == "critical"
    earlier = account_data.open_tickets(engine_as("u_kam_anna", as_of=date(2026, 9, 1)), "A0003")
    assert "A0003-T900" not in {t["ticket_id"] for t in earlier["items"]}


def test_open_opportunities_for_the_portfolio_stay_in_scope(engine_as):
    result = account_data.open_opportunities(engine_as("u_kam_anna"), limit=100)
    assert result["count"] == len(result["items"]) > 0
    assert {o["account_id"] for o in result["items"]} <= {
        f"A{n:04d}" for n in range(1, 61)} - {"A0008"}


def test_activity_timeline_counts_every_activity_and_lists_the_latest(engine_as):
    engine = engine_as("u_kam_anna")
    result = account_data.activity_timeline(engine, "A0003", days=365, limit=3)

    in_period = (Activity.account_id == "A0003",
                 Activity.occurred_on.between(result["period"].start, result["period"].end))
    counts = dict(engine.session.execute(
        select(Activity.kind, func.count()).where(*in_period).group_by(Activity.kind)).all())
    latest = engine.session.scalars(select(Activity.activity_id).where(*in_period).order_by(
        Activity.occurred_on.desc(), Activity.activity_id.desc()).limit(3)).all()
    assert result["by_kind"] == counts and result["count"] == sum(counts.values()) > 3
    assert list(result["by_kind"].values()) == sorted(counts.values(), reverse=True)
    assert [item["activity_id"] for item in result["items"]] == latest


def test_customer_kpi_history_has_achievement(engine_as):
    result = account_data.customer_kpi_history(engine_as("u_kam_anna"), "A0003")
    latest = result["kpis"][0]["latest"]
    assert latest["achievement_ratio"] < 1 and latest["on_target"] is False
    assert len(result["kpis"][0]["history"]) == 4


def test_quarterly_revenue_ends_with_the_partial_quarter(engine_as):
    data = account_data.quarterly_revenue(engine_as("u_kam_anna", as_of=date(2026, 8, 15)),
                                          "A0004", quarters=3)
    assert [q["quarter"] for q in data["quarters"]] == ["2026-Q1", "2026-Q2", "2026-Q3"]
    assert [q["partial"] for q in data["quarters"]] == [False, False, True]


@pytest.mark.parametrize("fn", [account_data.stakeholder_map, account_data.activity_timeline,
                                account_data.customer_kpi_history, account_data.account_summary,
                                account_data.quarterly_revenue])
def test_every_account_function_refuses_other_kams_accounts(engine_as, fn):
    with pytest.raises(AccountNotFound):
        fn(engine_as("u_kam_anna"), "A0008")


def test_summaries_in_a_row_each_show_their_own_account(engine_as):
    """The statements behind a summary are built once per shape and reused, the account bound
    when they run: one engine summing up several accounts gives each its own rows, and a
    statement cached for a manager's scope is not used for a KAM's."""
    manager = engine_as("u_mgr_north")
    session = manager.session
    ids = session.scalars(select(Account.account_id).where(manager.scope.account_clause())
                          .order_by(Account.account_id).limit(6)).all()
    hits = kpi_statement.cache_info().hits
    for account_id in ids:
        summary = account_data.account_summary(manager, account_id)
        period = summary["period"]
        assert summary["account"]["account_id"] == account_id
        assert summary["last_order_date"] == session.scalar(
            select(func.max(Order.order_date)).where(Order.account_id == account_id,
                                                     Order.order_date <= manager.as_of))
        assert summary["kpis"]["revenue"].current.value == session.scalar(
            select(func.coalesce(func.sum(Order.revenue_cents), 0)).where(
                Order.account_id == account_id,
                Order.order_date.between(period.start, period.end)))
        shown = [*summary["open_opportunities"], *summary["open_tickets"],
                 *summary["recent_activities"]]
        assert shown and {item.get("account_id", account_id) for item in shown} == {account_id}
        activity_ids = {a["activity_id"] for a in summary["recent_activities"]}
        assert activity_ids <= set(session.scalars(
            select(Activity.activity_id).where(Activity.account_id == account_id)))
    assert kpi_statement.cache_info().hits >= hits + 2 * (len(ids) - 1)

    kam = engine_as("u_kam_anna")
    foreign = [a for a in ids if session.get(Account, a).owner_user_id != "u_kam_anna"]
    assert foreign
    with pytest.raises(AccountNotFound):
        account_data.account_summary(kam, foreign[0])
    mine = account_data.open_opportunities(kam, limit=1000)["items"]
    assert not {o["account_id"] for o in mine} & set(foreign)
