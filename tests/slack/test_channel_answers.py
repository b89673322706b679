"""Answers in channels show each channel only what all its members may see, over real HTTP:
the members come from conversations.members at the mock Web API, the answers from the
offline assistant on the demo data, and what only the asker may see reaches them privately
(chat.postEphemeral)."""

from __future__ import annotations

import json

from tests.support.slack import ADA, ANNA, BEN, MARIA

GUEST = "U0GUEST001"  # in the workspace, not in the store


def public_answer(mock, count: int = 1) -> str:
    """What the channel sees: the placeholder as it was replaced."""
    return json.dumps(mock.wait_for("chat.update", count)[count - 1].body["blocks"],
                      ensure_ascii=False)


def private_answer(mock, user: str = ANNA) -> str:
    posts = [c for c in mock.wait_for("chat.postEphemeral") if c.body["user"] == user]
    return json.dumps([c.body["blocks"] for c in posts], ensure_ascii=False)


def test_an_account_some_members_cannot_see_is_sent_only_to_the_asker(slack, mock_slack):
    mock_slack.channel("C0MIXED001", [ANNA, BEN])

    slack.mention("How is Acme Industrial doing?", channel="C0MIXED001", ts="1760000100.000100")

    public = public_answer(mock_slack)
    assert "some members of this channel can't see Acme Industrial" in public
    assert "Revenue" not in public and "2,950,880" not in public
    private = mock_slack.wait_for("chat.postEphemeral")[0].body
    assert (private["user"], private["thread_ts"]) == (ANNA, "1760000100.000100")
    assert "Revenue" in private_answer(mock_slack) and "Gross margin" in private_answer(mock_slack)


def test_a_mixed_channel_gets_only_what_everyone_may_see(slack, mock_slack):
    # Maria manages Anna, Ben and Chloe; Anna sees only her own accounts.
    mock_slack.channel("C0NORTH001", [MARIA, ANNA])

    slack.mention("Which accounts are at risk of churn?", user=MARIA, channel="C0NORTH001")

    public = public_answer(mock_slack)
    assert "Globex Logistics" in public  # Anna's: everyone here may see it
    assert "Atlas Freight" not in public  # Chloe's: Anna may not
    assert "only the accounts everyone in this channel may see" in public
    private = private_answer(mock_slack, user=MARIA)
    assert "Globex Logistics" in private and "Atlas Freight" in private


def test_margin_goes_privately_unless_everyone_in_the_channel_manages_the_account(
    slack, mock_slack
):
    slack.mention("How is Acme Industrial doing?")  # Anna alone with the bot: still a channel

    public = public_answer(mock_slack)
    assert "Revenue" in public and "Share of wallet" in public
    assert "margin" not in public.replace("margin and profitability figures", "")
    assert "1,388,818" not in public
    assert "I've sent you the margin and profitability figures privately" in public
    assert "Gross margin" in private_answer(mock_slack)


def test_a_channel_of_managers_of_the_account_sees_its_margin(slack, mock_slack):
    mock_slack.channel("C0LEADS002", [MARIA, ADA], name="leads")

    slack.mention("How is Acme Industrial doing?", user=ADA, channel="C0LEADS002")

    assert "Gross margin" in public_answer(mock_slack)
    slack.drain()
    assert mock_slack.of("chat.postEphemeral") == []


def test_a_slack_connect_channel_gets_no_figures(slack, mock_slack):
    mock_slack.channel("C0SHARED01", [ANNA], name="acme-shared", external=True)

    slack.mention("How is Acme Industrial doing?", channel="C0SHARED01")

    public = public_answer(mock_slack)
    assert "shared with people outside the company" in public
    for figure in ("2,950,880", "Revenue", "Acme Industrial (A0001)", "Churn risk"):
        assert figure not in public
    assert "2,950,880" in private_answer(mock_slack)
    slack.drain()
    posted = [c.body for c in mock_slack.calls if c.method in ("chat.postMessage", "chat.update")]
    assert "2,950,880" not in json.dumps(posted)


def test_nor_does_it_get_the_internal_guidance(slack, mock_slack):
    mock_slack.channel("C0SHARED02", [ANNA], external=True)

    slack.mention("How should I prepare a QBR?", channel="C0SHARED02")

    assert "outside the company" in public_answer(mock_slack)
    assert "Preparing a quarterly business review" in private_answer(mock_slack)


def test_members_unknown_to_the_store_keep_account_data_out_of_the_channel(slack, mock_slack):
    mock_slack.channel("C0GUESTS01", [ANNA, GUEST])

    slack.mention("How is Acme Industrial doing?", channel="C0GUESTS01")

    public = public_answer(mock_slack)
    assert "not set up in the KAM Assistant" in public and "Revenue" not in public
    assert [c.body["user"] for c in mock_slack.of("users.info")] == [GUEST]


def test_other_apps_in_a_channel_are_not_strangers(slack, mock_slack):
    mock_slack.bots.add("U0OTHERBOT")
    mock_slack.channel("C0BOTS0001", [ANNA, MARIA, "U0OTHERBOT"])

    slack.mention("Which of my accounts are at risk of churn?", channel="C0BOTS0001")

    public = public_answer(mock_slack)
    assert "Globex Logistics" in public and "not set up" not in public


def test_guidance_is_posted_even_with_strangers_present(slack, mock_slack):
    mock_slack.channel("C0GUESTS02", [ANNA, GUEST])

    slack.mention("How should I prepare a QBR?", channel="C0GUESTS02")

    assert "Preparing a quarterly business review" in public_answer(mock_slack)
    slack.drain()
    assert mock_slack.of("chat.postEphemeral") == []


def test_a_channel_where_everyone_may_see_it_all_gets_the_answer_live(slack, mock_slack):
    mock_slack.channel("C0LEADS003", [MARIA, ADA], name="leads")

    slack.mention("Summarise my team's accounts", user=MARIA, channel="C0LEADS003",
                  ts="1760000101.000100")

    stop = mock_slack.wait_for("chat.stopStream")[0]
    start = mock_slack.of("chat.startStream")[0].body
    assert (start["channel"], start["thread_ts"]) == ("C0LEADS003", "1760000101.000100")
    assert (start["recipient_user_id"], start["recipient_team_id"]) == (MARIA, "T0TEAM001")
    assert "Ben Carter" in mock_slack.streamed(stop.body["ts"])
    assert mock_slack.of("chat.update") == []


def test_members_are_read_once_for_answers_close_together(slack, mock_slack):
    mock_slack.channel("C0MIXED002", [ANNA, BEN])

    slack.mention("How is Acme Industrial doing?", channel="C0MIXED002")
    public_answer(mock_slack)
    slack.mention("Which of my accounts are at risk of churn?", channel="C0MIXED002")
    public_answer(mock_slack, 2)

    assert len(mock_slack.of("conversations.members")) == 1
    assert len(mock_slack.of("conversations.info")) == 1


def test_a_shared_command_follows_the_same_rule(slack, mock_slack):
    mock_slack.channel("C0MIXED003", [ANNA, BEN])

    slack.command("summary Acme Industrial --share", channel="C0MIXED003",
                  response_url=mock_slack.hook_url())

    assert "can't see Acme Industrial" in public_answer(mock_slack)
    assert "Gross margin" in private_answer(mock_slack)


def test_the_status_line_in_a_mixed_channel_names_no_account(slack, mock_slack):
    mock_slack.channel("C0MIXED004", [ANNA, BEN])

    slack.mention("How is Acme Industrial doing?", channel="C0MIXED004")

    public_answer(mock_slack)
    slack.drain()
    statuses = [c.body["status"] for c in mock_slack.of("assistant.threads.setStatus")]
    assert statuses == ["is summarising the account…", ""]
