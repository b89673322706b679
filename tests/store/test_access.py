"""Access scopes on the demo data (DESIGN §9): a KAM sees own accounts, a manager the
team's, an admin all. Expected sets come from the demo CSV files, not from the SQL under test."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import select

from store.access import UnknownUserError, resolve_scope
from store.models import Order


def read_csv(demo_dir: Path, table: str) -> list[dict[str, str]]:
    with open(demo_dir / f"{table}.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def owned_by(demo_dir: Path, owners: set[str]) -> set[str]:
    return {a["account_id"] for a in read_csv(demo_dir, "accounts") if a["owner_user_id"] in owners}


def visible_accounts(sessions, user_id: str) -> set[str]:
    with sessions() as session:
        scope = resolve_scope(session, user_id=user_id)
        return set(session.scalars(scope.visible_account_ids()))


def test_kam_sees_only_own_accounts(any_demo_sessions, demo_dir):
    visible = visible_accounts(any_demo_sessions, "u_kam_anna")

    assert visible == owned_by(demo_dir, {"u_kam_anna"})
    assert {"A0001", "A0002", "A0003", "A0004", "A0005", "A0007"} <= visible
    assert "A0006" not in visible  # Ben's, same team


def test_manager_sees_exactly_the_accounts_of_the_team_kams(any_demo_sessions, demo_dir):
    north = {u["user_id"] for u in read_csv(demo_dir, "users") if u["team"] == "North"}

    visible = visible_accounts(any_demo_sessions, "u_mgr_north")

    assert north == {"u_mgr_north", "u_kam_anna", "u_kam_ben", "u_kam_chloe"}
    assert visible == owned_by(demo_dir, north)
    assert "A0008" not in visible  # Umbrella Pharma, owned by South's u_kam_dev


def test_manager_of_the_other_team_sees_their_account(any_demo_sessions):
    assert "A0008" in visible_accounts(any_demo_sessions, "u_mgr_south")


def test_admin_sees_all_accounts(any_demo_sessions):
    assert len(visible_accounts(any_demo_sessions, "u_admin")) == 60


def test_user_is_resolved_by_slack_user_id(any_demo_sessions):
    with any_demo_sessions() as session:
        scope = resolve_scope(session, slack_user_id="U0KAM00001")

    assert (scope.user_id, scope.name, scope.role, scope.team) == (
        "u_kam_anna", "Anna Berg", "kam", "North"
    )


@pytest.mark.parametrize(
    "identity",
    [{"slack_user_id": "U0NOBODY1"}, {"user_id": "u_nobody"}, {}],
    ids=["unknown slack id", "unknown user id", "no identity"],
)
def test_unknown_user_is_refused(any_demo_sessions, identity):
    with any_demo_sessions() as session, pytest.raises(UnknownUserError):
        resolve_scope(session, **identity)


def test_scope_applied_to_orders_never_returns_another_kams_rows(any_demo_sessions, demo_dir):
    annas = owned_by(demo_dir, {"u_kam_anna"})
    with any_demo_sessions() as session:
        scope = resolve_scope(session, user_id="u_kam_anna")
        stmt = scope.apply(select(Order.order_id, Order.account_id), Order.account_id)
        rows = session.execute(stmt).all()

    expected = [o for o in read_csv(demo_dir, "orders") if o["account_id"] in annas]
    assert {account_id for _, account_id in rows} <= annas
    assert len(rows) == len(expected) > 0


def test_scope_narrows_a_query_that_asks_for_another_kams_account(any_demo_sessions):
    with any_demo_sessions() as session:
        scope = resolve_scope(session, user_id="u_kam_anna")
        stmt = scope.apply(select(Order).where(Order.account_id == "A0008"), Order.account_id)

        assert session.execute(stmt).all() == []


def test_kam_cannot_see_another_kams_account(any_demo_sessions):
    with any_demo_sessions() as session:
        anna = resolve_scope(session, user_id="u_kam_anna")

        assert anna.can_see(session, "A0001")
        assert not anna.can_see(session, "A0006")
        assert not anna.can_see(session, "A0008")
        assert not anna.can_see(session, "A9999")


def test_manager_cannot_see_another_teams_account(any_demo_sessions):
    with any_demo_sessions() as session:
        north = resolve_scope(session, user_id="u_mgr_north")

        assert north.can_see(session, "A0006")
        assert not north.can_see(session, "A0008")


def test_admin_can_see_any_account(any_demo_sessions):
    with any_demo_sessions() as session:
        admin = resolve_scope(session, user_id="u_admin")

        assert admin.sees_everything
        assert admin.can_see(session, "A0008")
