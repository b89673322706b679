"""Movers: the accounts whose KPIs changed most between two weekly snapshots, in the caller's
scope, each with the causes on record; checked against a computation of its own over the two
snapshots' rows."""

from __future__ import annotations

from datetime import date

import pytest

from tests.history.conftest import HISTORY_WEEKS
from tools.history import TRACKED_KPIS
from tools.movers import NoHistory, compared_weeks, kpi_movers
from tools.payload import money

COLUMNS = {
    "revenue": "revenue_cents", "revenue_growth": "revenue_growth",
    "gross_margin": "gross_margin_cents", "profitability": "profitability",
    "share_of_wallet": "share_of_wallet", "nps": "nps", "csat": "csat",
    "churn_risk": "churn_risk", "strategic_value": "strategic_value",
}
LOWER_IS_BETTER = {"churn_risk"}
VISIBLE_SQL = {  # who sees which accounts, written out in SQL of its own (DESIGN §9)
    "u_kam_anna": "SELECT account_id FROM accounts WHERE owner_user_id = 'u_kam_anna'",
    "u_mgr_north": "SELECT a.account_id FROM accounts a JOIN users u ON u.user_id = "
                   "a.owner_user_id WHERE u.team = 'North' OR u.manager_id = 'u_mgr_north' "
                   "OR a.owner_user_id = 'u_mgr_north'",
    "u_admin": "SELECT account_id FROM accounts",
}


def independent_movers(session, user, kpi, base, current, direction, n):
    """(compared, moved, [(account_id, before, after)]) straight from the two weeks' rows."""
    column = COLUMNS[kpi]
    conn = session.connection()
    visible = {r[0] for r in conn.exec_driver_sql(VISIBLE_SQL[user])}
    names = dict(conn.exec_driver_sql("SELECT account_id, name FROM accounts").all())

    def week(monday):
        return {a: v for a, v in conn.exec_driver_sql(
            f"SELECT account_id, {column} FROM kpi_snapshots WHERE week_start = ?",
            (monday.isoformat(),)) if a in visible and v is not None}

    then, now = week(base), week(current)
    pairs = [(a, then[a], now[a]) for a in sorted(set(then) & set(now))]

    def better(p):
        return (p[2] - p[1]) * (-1 if kpi in LOWER_IS_BETTER else 1)

    if direction == "worse":
        moved = sorted((p for p in pairs if better(p) < 0), key=lambda p: (better(p), names[p[0]]))
    elif direction == "better":
        moved = sorted((p for p in pairs if better(p) > 0), key=lambda p: (-better(p), names[p[0]]))
    else:
        moved = sorted((p for p in pairs if better(p) != 0),
                       key=lambda p: (-abs(better(p)), names[p[0]]))
    return len(pairs), len(moved), moved[:n]


@pytest.mark.parametrize("user", sorted(VISIBLE_SQL))
@pytest.mark.parametrize("direction", ["worse", "better", "any"])
@pytest.mark.parametrize("weeks", [1, 4])
def test_movers_equal_an_independent_computation_over_two_snapshots(
        history_sessions, scope_of, user, direction, weeks):
    scope = scope_of(user)
    shown = 0
    with history_sessions() as session:
        for kpi in TRACKED_KPIS:
            got = kpi_movers(session, scope, kpi, weeks=weeks, direction=direction, n=7)
            compared, moved, expected = independent_movers(
                session, user, kpi, got.base.week_start, got.current.week_start, direction, 7)

            assert (got.accounts_compared, got.accounts_moved) == (compared, moved), kpi
            assert [(m.account_id, m.before, m.after) for m in got.items] == expected, kpi
            assert all(m.worse == (direction == "worse") for m in got.items
                       if direction != "any"), kpi
            shown += len(expected)
    assert shown >= len(TRACKED_KPIS)  # the comparison has movers to compare


def test_the_comparison_is_with_the_snapshot_weeks_earlier(history_sessions):
    with history_sessions() as session:
        last_week, _, _ = compared_weeks(session)
        base, current, note = compared_weeks(session, weeks=4)
        since_base, _, _ = compared_weeks(session, since=date(2026, 9, 10))
        first, _, far = compared_weeks(session, weeks=52)

    assert (base.as_of, current.as_of, note) == (date(2026, 9, 6), date(2026, 9, 30), None)
    assert base.week_start == date(2026, 8, 31)  # four ISO weeks before the week of 09-28
    assert last_week.as_of == date(2026, 9, 27)  # the week before, as of its Sunday
    assert since_base.as_of == date(2026, 9, 6)
    assert first.as_of == date(2026, 8, 9)  # the first of the nine weeks on record
    assert far == "history starts on 2026-08-09, so the change is measured from there"
    assert HISTORY_WEEKS == 9


def test_a_kam_sees_only_their_own_accounts_move(history_sessions, scope_of):
    with history_sessions() as session:
        anna = kpi_movers(session, scope_of("u_kam_anna"), "revenue", weeks=4, n=100)
        admin = kpi_movers(session, scope_of("u_admin"), "revenue", weeks=4, n=100)

    assert anna.items and {m.owner_user_id for m in anna.items} == {"u_kam_anna"}
    assert anna.accounts_compared < admin.accounts_compared
    assert {m.account_id for m in anna.items} < {m.account_id for m in admin.items}


def test_churn_movers_name_the_signs_that_fired_and_the_ticket_behind_them(
        history_sessions, scope_of):
    with history_sessions() as session:
        movers = kpi_movers(session, scope_of("u_kam_anna"), "churn_risk", weeks=4,
                            direction="worse")

    globex = next(m for m in movers.items if m.name == "Globex Logistics")
    kinds = [(c.kind, c.detail.get("sign") or c.detail.get("ticket_id")) for c in globex.causes]
    assert (globex.before, globex.after) == (80, 100)
    assert ("sign_fired", "open_critical_tickets") in kinds
    assert ("ticket_opened", "A0003-T900") in kinds
    assert all(c.adverse for c in globex.causes)


def test_a_revenue_move_is_explained_by_the_orders_gained_and_dropped(history_sessions, scope_of):
    with history_sessions() as session:
        movers = kpi_movers(session, scope_of("u_admin"), "revenue", weeks=4, n=20)

    assert movers.items
    for m in movers.items:
        orders = next(c for c in m.causes if c.kind == "orders_vs_year_before")
        gained = orders.detail["revenue_cents"] - orders.detail["year_before_revenue_cents"]
        assert gained == m.after - m.before, m.name


def test_the_tool_answers_for_the_callers_book_with_figures_for_people(movers_tool):
    result = movers_tool("u_kam_anna", kpi="churn_risk", direction="worse", weeks=4)

    assert (result["from"], result["to"]) == ("2026-09-06", "2026-09-30")
    [block] = result["movers"]
    globex = next(i for i in block["items"] if i["name"] == "Globex Logistics")
    assert (globex["before"], globex["after"], globex["change_points"]) == (80, 100, 20.0)
    texts = [c["text"] for c in globex["causes"]]
    assert "warning sign fired: Open critical tickets" in texts
    assert any(t.startswith('critical-severity ticket "') and t.endswith('" opened on Sep 9, 2026')
               for t in texts)


def test_the_tool_shows_money_in_currency_units_and_the_relative_change(movers_tool):
    result = movers_tool("u_kam_anna", kpi="revenue", direction="worse", weeks=4, n=1)

    [item] = result["movers"][0]["items"]
    assert item["change"] == pytest.approx(item["after"] - item["before"], abs=0.011)
    assert item["change_pct"] == round((item["after"] - item["before"]) / item["before"] * 100, 1)
    assert item["after"] == money(115732187)  # Globex's 12-month revenue on 2026-09-30


def test_without_a_kpi_named_the_tool_ranks_the_biggest_moves_of_every_tracked_kpi(movers_tool):
    result = movers_tool("u_mgr_north", n=2)

    assert [b["kpi"] for b in result["movers"]] == list(TRACKED_KPIS)
    assert len(result["ranked"]) == 2 and "items" not in result["movers"][0]
    moved = sum(b["accounts_moved"] for b in result["movers"])
    assert result["other_moves"] == moved - 2 == sum(b["not_shown"] for b in result["movers"])


def test_the_tool_refuses_identity_arguments(movers_tool_graph, scope_of):
    from langchain_core.messages import AIMessage

    from tools.context import CallerContext

    message = AIMessage(content="", tool_calls=[{"name": "kpi_movers", "id": "c1",
                                                 "args": {"kpi": "revenue", "role": "admin"}}])
    out = movers_tool_graph.invoke({"messages": [message]},
                                   context=CallerContext(scope=scope_of("u_kam_anna")))
    assert "Extra inputs are not permitted" in out["messages"][-1].content


def test_without_history_the_caller_is_told_how_to_get_it(demo_sessions, scope_of):
    with demo_sessions() as session, pytest.raises(NoHistory, match="kam snapshot"):
        kpi_movers(session, scope_of("u_admin"), "revenue")


def test_a_12_month_score_that_moved_because_old_responses_left_says_so(movers_tool):
    result = movers_tool("u_kam_anna", kpi="nps", weeks=8)

    items = {i["name"]: i for i in result["movers"][0]["items"]}
    summit, globex = items["Summit Logistics"], items["Globex Logistics"]
    assert (summit["before"], summit["after"], summit["worse"]) == (33.3, 100.0, False)
    assert [c["text"] for c in summit["causes"]] == [
        "NPS response 6/10 of Aug 19, 2025 left the 12-month window"]
    assert [c["text"] for c in globex["causes"]] == [
        "NPS response 10/10 of Aug 13, 2025 left the 12-month window"]
