"""The assistant panel (Bolt's `Assistant`): a thread started gets a greeting and suggested
prompts for the user's role and the channel they view; messages are answered live through
the same assistant, and the first question titles the thread."""

from __future__ import annotations

import json

import pytest

from bot.slack.panel import ACCOUNT_PROMPTS, ROLE_PROMPTS, suggested_prompts
from store.access import AccessScope
from tests.support.slack import ANNA, BEN, MARIA, STRANGER

PANEL = "D0ANNA001"


def prompts(mock, count: int = 1) -> list[str]:
    call = mock.wait_for("assistant.threads.setSuggestedPrompts", count)[count - 1]
    return [p["message"] for p in call.body["prompts"]]


def test_a_new_panel_thread_greets_and_suggests_prompts_for_a_kam(slack, mock_slack):
    reply = slack.thread_started(thread_ts="1760000300.000100")

    assert reply.status == 200
    assert prompts(mock_slack) == [
        "Which of my accounts are at risk of churn?", "Prep notes for my next QBR",
        "Which renewals are due this quarter?", "How should I prepare a QBR?"]
    call = mock_slack.of("assistant.threads.setSuggestedPrompts")[0].body
    assert (call["channel_id"], call["thread_ts"]) == (PANEL, "1760000300.000100")
    greeting = mock_slack.wait_for("chat.postMessage")[0].body
    assert greeting["thread_ts"] == "1760000300.000100" and "Hi Anna" in greeting["text"]


def test_a_manager_is_offered_the_team_view(slack, mock_slack):
    slack.thread_started(user=MARIA, channel="D0MARIA01")

    assert prompts(mock_slack)[:3] == [
        "Summarise my team's accounts", "Which accounts grew the most this month?",
        "Which of my team's accounts are at risk?"]


def test_viewing_an_account_channel_suggests_prompts_about_that_account(slack, mock_slack):
    mock_slack.channel("C0ACME0001", [ANNA, BEN], name="acct-acme-industrial")

    slack.thread_started(viewing="C0ACME0001")

    assert prompts(mock_slack)[:3] == [
        "How is Acme Industrial doing?", "Prep notes for my QBR with Acme Industrial",
        "Draft an account plan for Acme Industrial"]


def test_an_account_channel_of_someone_elses_account_gets_the_usual_prompts(slack, mock_slack):
    mock_slack.channel("C0ACME0002", [ANNA, BEN], name="acme-industrial")

    slack.thread_started(user=BEN, channel="D0BEN0001", viewing="C0ACME0002")

    assert not any("Acme" in p for p in prompts(mock_slack))


def test_moving_to_another_channel_changes_the_prompts(slack, mock_slack):
    mock_slack.channel("C0GLOBEX01", [ANNA], name="globex")
    slack.thread_started(thread_ts="1760000301.000100")
    prompts(mock_slack)

    slack.thread_started(thread_ts="1760000301.000100", viewing="C0GLOBEX01", changed=True)

    assert prompts(mock_slack, 2)[0] == "How is Globex Logistics doing?"


def test_a_stranger_opening_the_panel_is_refused_without_prompts(slack, mock_slack):
    slack.thread_started(user=STRANGER, channel="D0STRANGE1")

    refusal = mock_slack.wait_for("chat.postMessage")[0].body
    slack.drain()
    assert "don't know you yet" in refusal["text"]
    assert mock_slack.of("assistant.threads.setSuggestedPrompts") == []


def test_a_panel_thread_from_start_to_answer(slack, mock_slack):
    root = "1760000302.000100"
    slack.thread_started(thread_ts=root)
    prompts(mock_slack)

    slack.direct_message("How is Acme Industrial doing?", thread_ts=root)

    stop = mock_slack.wait_for("chat.stopStream")[0]
    (title,) = mock_slack.of("assistant.threads.setTitle")
    assert (title.body["channel_id"], title.body["thread_ts"]) == (PANEL, root)
    assert title.body["title"] == "How is Acme Industrial doing?"
    statuses = [c.body["status"] for c in mock_slack.of("assistant.threads.setStatus")]
    assert statuses == ["is reading the question…", "is summarising Acme Industrial…"]
    start = mock_slack.of("chat.startStream")[0].body
    assert (start["channel"], start["thread_ts"]) == (PANEL, root)
    answer = mock_slack.streamed(stop.body["ts"])
    assert "Acme Industrial" in answer and "Gross margin" in answer  # the panel is private
    assert "feedback_buttons" in json.dumps(stop.body["blocks"])


def test_only_the_first_question_titles_the_thread(slack, mock_slack):
    root = "1760000303.000100"
    slack.direct_message("How is Acme Industrial doing?", thread_ts=root)
    mock_slack.wait_for("chat.stopStream")

    slack.direct_message("and last year?", thread_ts=root)
    mock_slack.wait_for("chat.stopStream", 2)

    slack.drain()
    assert [c.body["title"] for c in mock_slack.of("assistant.threads.setTitle")] == [
        "How is Acme Industrial doing?"]


def test_prompts_never_exceed_four_and_fit_their_titles():
    scope = AccessScope("u", "Ann Example", "admin", None)

    offered = suggested_prompts(scope, account="A" * 120)

    assert len(offered) == 4 and all(len(p["title"]) <= 75 for p in offered)


ASKERS = {"kam": "u_kam_anna", "manager": "u_mgr_north", "admin": "u_admin"}
OFFERED = sorted({(role, message) for role, pairs in ROLE_PROMPTS.items()
                  for _, message in pairs}
                 | {("kam", m.format(name="Acme Industrial")) for _, m in ACCOUNT_PROMPTS})


@pytest.mark.parametrize(("role", "message"), OFFERED)
def test_every_suggested_prompt_is_understood(offline, role, message):
    answer = offline.assistant.answer(ASKERS[role], message, f"prompt-{role}-{message}")

    assert answer.ok
    # The one prompt without an account asks which account is meant; the others answer.
    assert answer.tool_calls or message == "Prep notes for my next QBR"
