"""The /kam slash command: every subcommand, private by default, in the channel with --share."""

from __future__ import annotations

import json

import pytest

from bot.slack.commands import NOT_IN_CHANNEL, command_question, parse_command
from tests.support.slack import ANNA, CHANNEL, MARIA, STRANGER


def hook_replies(mock, count: int = 1) -> list[dict]:
    return [c.body for c in mock.wait_for("/hooks/cmd", count)]


def text_of(payload: dict) -> str:
    return json.dumps(payload.get("blocks", []), ensure_ascii=False) + payload.get("text", "")


@pytest.mark.parametrize("text", ["help", "", "--share"])
def test_help_lists_every_subcommand_only_to_the_caller(slack, mock_slack, text):
    reply = slack.command(text, response_url=mock_slack.hook_url())

    assert reply.status == 200
    body = json.loads(reply.body)
    listed = json.dumps(body["blocks"])
    for name in ("summary", "qbr", "plan", "risks", "renewals", "portfolio", "ask", "help"):
        assert f"/kam {name}" in listed
    assert body.get("response_type", "ephemeral") == "ephemeral"
    slack.drain()
    assert mock_slack.of("/hooks/cmd") == [] and mock_slack.of("chat.postMessage") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("forecast Acme", "Unknown command"),
        ("summary", "needs account"),
        ("renewals soon", "number of days"),
        ("ask", "needs question"),
        ("risks --canvas", "with `/kam plan ACCOUNT --canvas`"),
        ("--canvas", "with `/kam plan ACCOUNT --canvas`"),
        ("plan --canvas", "needs account"),
    ],
)
def test_a_malformed_command_gets_usage_help(slack, mock_slack, text, message):
    reply = slack.command(text, response_url=mock_slack.hook_url())

    assert reply.status == 200 and message in reply.body
    slack.drain()
    assert mock_slack.of("/hooks/cmd") == []


def test_canvas_and_share_may_stand_anywhere_in_a_plan_command():
    assert parse_command("plan --canvas Globex Logistics --share") == (
        parse_command("plan Globex Logistics --share --canvas"))
    parsed = parse_command("plan Globex Logistics --canvas")
    assert (parsed.name, parsed.argument, parsed.canvas, parsed.share) == (
        "plan", "Globex Logistics", True, False)


def test_summary_acks_with_a_placeholder_then_answers_privately(slack, mock_slack):
    reply = slack.command("summary Acme Industrial", response_url=mock_slack.hook_url())

    assert reply.status == 200
    assert "Looking into Acme Industrial" in text_of(json.loads(reply.body))
    answer = hook_replies(mock_slack)[0]
    assert answer["response_type"] == "ephemeral"
    assert answer["blocks"][0]["text"]["text"] == "Acme Industrial: account summary"
    assert "*Revenue*" in text_of(answer)
    ref = json.loads(next(b for b in answer["blocks"] if b.get("block_id") == "feedback")
                     ["elements"][0]["positive_button"]["value"])
    assert ref["q"].startswith("command:trigger.") and ref["a"].startswith("ephemeral:")
    assert mock_slack.of("chat.postMessage") == []


@pytest.mark.parametrize(
    ("text", "user", "title", "expected"),
    [
        ("qbr Acme Industrial", ANNA, "Acme Industrial: QBR prep notes", ""),
        ("plan Acme Industrial", ANNA, "Acme Industrial: account plan (draft)", ""),
        ("risks", ANNA, "Accounts at risk", "Globex Logistics"),
        ("renewals", ANNA, "Renewals in the next 90 days", "end in the next 90 days"),
        ("renewals 60", ANNA, "Renewals in the next 60 days", "end in the next 60 days"),
        ("portfolio", ANNA, "Portfolio", "Anna Berg"),
        ("portfolio <@U0KAM00002|ben>", MARIA, "Portfolio of Ben Carter", "Ben Carter"),
        ("portfolio North", MARIA, "Portfolio of team North", "Chloe Dubois"),
        ("ask Which of my accounts are at risk of churn?", ANNA, None, "Globex Logistics"),
    ],
)
def test_every_subcommand_is_answered_by_the_assistant(slack, mock_slack, text, user, title,
                                                       expected):
    slack.command(text, user=user, response_url=mock_slack.hook_url())

    answer = hook_replies(mock_slack)[0]
    assert expected in text_of(answer)
    assert "Sorry" not in text_of(answer)
    if title:
        assert answer["blocks"][0] == {
            "type": "header", "text": {"type": "plain_text", "text": title, "emoji": True}}


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("summary Acme Industrial", "Summarise the account Acme Industrial"),
        ("qbr Acme Industrial", "Prep notes for my QBR with Acme Industrial"),
        ("plan Acme Industrial", "Draft an account plan for Acme Industrial"),
        ("risks", "Which of my accounts are at risk of churn?"),
        ("renewals", "Which renewals are due in the next 90 days?"),
        ("renewals 60", "Which renewals are due in the next 60 days?"),
        ("portfolio", "Summarise my portfolio"),
        ("portfolio <@U0KAM00002|ben>", "Summarise the portfolio of Ben Carter"),
        ("portfolio North", "Summarise the portfolio of team North"),
        ("ask How is <#C1|sales> doing?", "How is #sales doing?"),
    ],
)
def test_each_subcommand_stands_for_a_question(text, question):
    names = {"U0KAM00002": "Ben Carter"}.get

    assert command_question(parse_command(text), names)[0] == question


def test_share_posts_the_answer_in_the_channel_with_its_chart(scripted, mock_slack):
    scripted.command("ask How is Acme Industrial doing? With a chart --share",
                     response_url=mock_slack.hook_url())

    placeholder = mock_slack.wait_for("chat.postMessage")[0]
    assert placeholder.body["channel"] == CHANNEL and "thread_ts" not in placeholder.body
    update = mock_slack.wait_for("chat.update")[0].body
    assert update["ts"] == placeholder.reply["ts"]
    upload = mock_slack.wait_for("files.completeUploadExternal")[0].body
    assert upload["thread_ts"] == placeholder.reply["ts"]
    scripted.drain()
    assert mock_slack.of("/hooks/cmd") == []


def test_shared_answer_thread_takes_follow_up_mentions_with_context(slack, mock_slack):
    slack.command("summary Acme Industrial --share", response_url=mock_slack.hook_url())
    root = mock_slack.wait_for("chat.postMessage")[0].reply["ts"]
    mock_slack.wait_for("chat.update")

    slack.mention("and last year?", thread_ts=root)

    follow_up = text_of(mock_slack.wait_for("chat.update", 2)[1].body)
    assert "Acme Industrial" in follow_up and "2025-01-01 to 2025-12-31" in follow_up


def test_share_in_a_channel_without_the_bot_explains_how_to_invite_it(slack, mock_slack):
    mock_slack.fail("chat.postMessage", error="not_in_channel")

    slack.command("risks --share", response_url=mock_slack.hook_url())

    assert hook_replies(mock_slack)[0]["text"] == NOT_IN_CHANNEL


def test_private_answer_with_charts_says_how_to_see_them(scripted, mock_slack):
    scripted.command("ask How is Acme Industrial doing? With a chart",
                     response_url=mock_slack.hook_url())

    answer, note = hook_replies(mock_slack, 2)
    assert "1 chart(s) are not shown" in note["text"] and "--share" in note["text"]
    assert mock_slack.of("files.getUploadURLExternal") == []


def test_unknown_user_gets_a_refusal_and_no_data(slack, mock_slack):
    slack.command("summary Acme Industrial", user=STRANGER, response_url=mock_slack.hook_url())

    (refusal,) = hook_replies(mock_slack)
    slack.drain()
    assert len(mock_slack.of("/hooks/cmd")) == 1
    assert "don't know you yet" in text_of(refusal)
    assert "revenue" not in text_of(refusal).lower()


def test_kam_cannot_get_another_kams_account_by_command(slack, mock_slack):
    slack.command("summary Stark Components", user=ANNA, response_url=mock_slack.hook_url())

    answer = text_of(hook_replies(mock_slack)[0])
    assert "A0006" not in answer and "Ben Carter" not in answer
