"""`/kam plan ACCOUNT --canvas`: the plan is drafted and saved as a new version, and published
as a Slack canvas the requester may edit; the next version replaces that canvas's content
instead of making another one; the canvas id is stored with each version; when Slack
refuses, the plan is still answered and saved and the answer says why there is no canvas
and what an admin can do. A KAM gets no canvas of an account they cannot see.
Real signed HTTP to the app and the mock Web API; the offline assistant on the demo data."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from store.models import AccountPlan
from tests.support.slack import ANNA, BEN, CHANNEL, TEAM_ID


def plans_of(offline, account_id: str) -> list[tuple[int, str | None]]:
    """(version, canvas id) of each saved version of the account's plan, oldest first."""
    with offline.sessions() as session:
        return [tuple(row) for row in session.execute(
            select(AccountPlan.version, AccountPlan.canvas_id)
            .where(AccountPlan.account_id == account_id).order_by(AccountPlan.version))]


def replies(mock, hook: str) -> str:
    """Everything the requester was shown through the command's response_url."""
    mock.settle()
    return "\n".join(json.dumps(c.body, ensure_ascii=False) for c in mock.of(hook))


def test_the_first_plan_creates_a_canvas_and_the_next_version_updates_it(
        slack, mock_slack, offline):
    before = plans_of(offline, "A0003")

    slack.command("plan Globex Logistics --canvas", response_url=mock_slack.hook_url("first"))

    (access,) = mock_slack.wait_for("canvases.access.set")
    (create,) = mock_slack.of("canvases.create")
    canvas = create.reply["canvas_id"]
    assert create.body["title"] == "Globex Logistics: account plan"
    assert create.body["document_content"]["type"] == "markdown"
    assert "Globex Logistics" in mock_slack.canvases[canvas]
    assert (access.body["canvas_id"], access.body["access_level"]) == (canvas, "write")
    assert access.body["user_ids"] == ANNA  # slack_sdk joins the list with commas
    shown = replies(mock_slack, "/hooks/first")
    assert "Account plan" in shown or "account plan" in shown  # the plan itself, answered
    assert f"https://kam.example/docs/{TEAM_ID}/{canvas}|open the canvas" in shown
    assert plans_of(offline, "A0003") == [*before, (len(before) + 1, canvas)]

    mock_slack.canvases[canvas] = "edited by hand since"
    slack.command("plan Globex Logistics --canvas", response_url=mock_slack.hook_url("second"))

    (edit,) = mock_slack.wait_for("canvases.edit")
    mock_slack.wait_for("canvases.access.set", 2)
    assert edit.body["canvas_id"] == canvas and len(mock_slack.of("canvases.create")) == 1
    (change,) = edit.body["changes"]
    assert change["operation"] == "replace" and "section_id" not in change
    assert "Globex Logistics" in mock_slack.canvases[canvas]
    assert "updated to version" in replies(mock_slack, "/hooks/second")
    assert plans_of(offline, "A0003")[-2:] == [(len(before) + 1, canvas),
                                               (len(before) + 2, canvas)]


@pytest.mark.parametrize(("error", "says"), [
    ("not_allowed_token_type", "reinstall the app from manifest.yml"),
    ("missing_scope", "add the `canvases:write` scope"),
    ("free_teams_cannot_create_non_tabbed_canvases", "Slack's free plan"),
])
def test_without_a_canvas_the_plan_is_still_answered_and_saved_and_the_answer_says_why(
        slack, mock_slack, offline, error, says):
    before = plans_of(offline, "A0001")
    mock_slack.fail("canvases.create", error=error)

    slack.command("plan Acme Industrial --canvas", response_url=mock_slack.hook_url("plan"))

    mock_slack.wait_until(lambda: any("No canvas" in json.dumps(c.body)
                                      for c in mock_slack.of("/hooks/plan")))
    shown = replies(mock_slack, "/hooks/plan")
    assert "account plan" in shown.lower() and says in shown
    assert f"saved as version {len(before) + 1}" in shown
    assert plans_of(offline, "A0001") == [*before, (len(before) + 1, None)]
    assert mock_slack.of("canvases.access.set") == []


def test_a_kam_gets_no_canvas_of_an_account_they_cannot_see(slack, mock_slack, offline):
    before = plans_of(offline, "A0001")  # Anna's account

    slack.command("plan Acme Industrial --canvas", user=BEN, channel=CHANNEL,
                  response_url=mock_slack.hook_url("ben"))

    mock_slack.wait_until(lambda: any("No canvas" in json.dumps(c.body)
                                      for c in mock_slack.of("/hooks/ben")))
    shown = replies(mock_slack, "/hooks/ben")
    assert "no plan was saved" in shown
    assert [c for c in mock_slack.calls if c.method.startswith("canvases.")] == []
    assert plans_of(offline, "A0001") == before



def test_a_shared_plan_links_its_canvas_only_to_those_who_saw_the_whole_plan(
        slack, mock_slack, offline):
    mock_slack.channel("C0PLANS001", [ANNA, BEN])  # Ben may not see Globex Logistics

    slack.command("plan Globex Logistics --canvas --share", channel="C0PLANS001",
                  response_url=mock_slack.hook_url("shared"))

    mock_slack.wait_for("canvases.access.set")
    mock_slack.settle()
    public = json.dumps([c.body for c in mock_slack.of("chat.postMessage")
                         + mock_slack.of("chat.update")], ensure_ascii=False)
    assert "can't see Globex Logistics" in public  # the channel was told it went privately
    assert "open the canvas" not in public and "F0CANVAS" not in public
    (note,) = [c.body for c in mock_slack.of("chat.postEphemeral")
               if "open the canvas" in json.dumps(c.body)]
    assert note["user"] == ANNA and note["channel"] == "C0PLANS001"
    assert plans_of(offline, "A0003")[-1][1] == mock_slack.of("canvases.access.set")[0].body[
        "canvas_id"]
