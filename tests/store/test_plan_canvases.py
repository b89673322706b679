"""A plan version keeps the Slack canvas it was published to (migration 0008), on SQLite and
on PostgreSQL alike: the next version of the same account's plan finds that canvas, another
account's plan does not, and only someone who may see the account reads or records it."""

from __future__ import annotations

from pathlib import Path

import pytest

from store.access import resolve_scope
from store.db import make_session_factory
from store.importer import import_paths
from tools.plans import plan_for_canvas, record_canvas, save_plan
from tools.selection import AccountNotFound

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "minimal"


@pytest.fixture
def sessions(any_engine):
    import_paths(any_engine, [EXAMPLES])
    return make_session_factory(any_engine)


def scope(sessions, user_id: str):
    with sessions() as session:
        return resolve_scope(session, user_id=user_id)


def test_the_next_version_finds_the_canvas_the_last_one_was_published_to(sessions):
    anna = scope(sessions, "u_anna")
    first = save_plan(sessions, anna, "A001", "# Plan v1\n")
    with sessions() as session:
        assert plan_for_canvas(session, anna, first["plan_id"])["canvas_id"] is None

    record_canvas(sessions, anna, first["plan_id"], "F0CANVAS001")
    second = save_plan(sessions, anna, "A001", "# Plan v2\n")
    other = save_plan(sessions, anna, "A002", "# Another account's plan\n")

    with sessions() as session:
        shown = plan_for_canvas(session, anna, second["plan_id"])
        assert plan_for_canvas(session, anna, other["plan_id"])["canvas_id"] is None
    assert (shown["version"], shown["markdown"], shown["canvas_id"]) == (
        2, "# Plan v2\n", "F0CANVAS001")
    assert shown["account"] == {"account_id": "A001", "name": "Acme Industrial"}


def test_a_kam_cannot_read_or_publish_a_plan_of_an_account_they_cannot_see(sessions):
    plan = save_plan(sessions, scope(sessions, "u_anna"), "A001", "# Plan\n")
    ben = scope(sessions, "u_ben")

    with sessions() as session, pytest.raises(AccountNotFound):
        plan_for_canvas(session, ben, plan["plan_id"])
    with pytest.raises(AccountNotFound):
        record_canvas(sessions, ben, plan["plan_id"], "F0CANVAS666")
    with sessions() as session:
        assert plan_for_canvas(session, scope(sessions, "u_anna"),
                               plan["plan_id"])["canvas_id"] is None
