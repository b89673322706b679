"""Answers written live: the status line while tools run, then the answer streamed into the
thread (a task card per tool call, then the text), or, where Slack will not stream, a
placeholder that shows the step under way and is replaced by the answer."""

from __future__ import annotations

import json
import uuid

import pytest

from bot.slack.blocks import answer_footer
from bot.slack.streaming import stream_text

DM = "D0ANNA001"


def statuses(mock) -> list[str]:
    return [c.body["status"] for c in mock.of("assistant.threads.setStatus")]


def closed_stream(mock, count: int = 1):
    return mock.wait_for("chat.stopStream", count)[count - 1]


def test_status_shows_each_step_before_the_answer_streams(slack, mock_slack):
    slack.direct_message("How is Acme Industrial doing?", ts="1760000200.000100")

    closed_stream(mock_slack)
    assert statuses(mock_slack) == ["is reading the question…", "is summarising Acme Industrial…"]
    status = mock_slack.of("assistant.threads.setStatus")[0].body
    assert (status["channel_id"], status["thread_ts"]) == (DM, "1760000200.000100")
    first_status = mock_slack.of("assistant.threads.setStatus")[0].at
    assert first_status < mock_slack.of("chat.startStream")[0].at


def test_the_stream_shows_a_task_per_tool_call_then_the_text(slack, mock_slack):
    slack.direct_message("Summarise my team's accounts", user="U0MGR00001", channel="D0MARIA01")

    stop = closed_stream(mock_slack)
    chunks = mock_slack.stream_chunks(stop.body["ts"])
    tasks = [(c["id"], c["status"]) for c in chunks if c["type"] == "task_update"]
    started = [i for i, status in tasks if status == "in_progress"]
    # revenue, NRR, risks, renewals, growth
    assert len(started) == 5 and len(set(started)) == 5
    for call in started:
        assert tasks.index((call, "in_progress")) < tasks.index((call, "complete"))
    first_text = next(i for i, c in enumerate(chunks) if c["type"] == "markdown_text")
    assert all(c["type"] == "task_update" for c in chunks[:first_text])
    titles = {c["title"] for c in chunks if c["type"] == "task_update"}
    assert {"Computing revenue", "Finding the accounts at risk"} <= titles


@pytest.mark.parametrize(
    "question",
    ["How is Acme Industrial doing?", "Which of my accounts are at risk of churn?",
     "How should I prepare a QBR?", "Prep notes for my QBR with Globex Logistics"],
)
def test_a_streamed_answer_equals_the_answer_posted_whole(slack, mock_slack, offline, question):
    slack.direct_message(question)

    stop = closed_stream(mock_slack)
    answer = offline.assistant.answer("u_kam_anna", question, uuid.uuid4().hex)
    assert mock_slack.streamed(stop.body["ts"]) == stream_text(answer.text)
    footer = [b.to_dict() for b in answer_footer(answer, None)]
    closing = [b for b in stop.body["blocks"] if b["type"] != "context_actions"]
    assert closing == footer
    assert stop.body["blocks"][-1]["elements"][0]["type"] == "feedback_buttons"


def test_the_stream_closes_with_feedback_buttons_naming_the_question_and_answer(
    slack, mock_slack
):
    slack.direct_message("How is Acme Industrial doing?", ts="1760000201.000100")

    stop = closed_stream(mock_slack)
    (buttons,) = stop.body["blocks"][-1]["elements"]
    ref = json.loads(buttons["positive_button"]["value"])
    assert ref == {"q": f"{DM}:1760000201.000100", "a": f"{DM}:{stop.body['ts']}", "h": 1}


def test_without_streaming_a_placeholder_shows_the_step_and_becomes_the_answer(
    slack, mock_slack
):
    mock_slack.fail("chat.startStream", error="method_not_supported_for_channel_type")

    slack.direct_message("How is Acme Industrial doing?", ts="1760000202.000100")

    placeholder = mock_slack.wait_for("chat.postMessage")[0]
    assert placeholder.body["thread_ts"] == "1760000202.000100"
    assert "Summarising Acme Industrial" in placeholder.body["text"]
    update = mock_slack.wait_for("chat.update")[-1].body
    slack.drain()
    final = mock_slack.of("chat.update")[-1].body
    assert final["ts"] == placeholder.reply["ts"] and update["ts"] == final["ts"]
    shown = json.dumps(final["blocks"], ensure_ascii=False)
    assert "Acme Industrial" in shown and "feedback_buttons" in shown
    assert mock_slack.of("chat.appendStream") == [] and mock_slack.of("chat.stopStream") == []


def test_a_failed_answer_is_one_apology_in_the_stream(scripted, mock_slack):
    scripted.direct_message("explode please")

    stop = closed_stream(mock_slack)
    assert mock_slack.streamed(stop.body["ts"]).startswith("Sorry")
    assert "blocks" not in stop.body  # no sources, no buttons on an apology


def test_markup_never_reaches_slack_unescaped_in_a_stream(scripted, mock_slack):
    scripted.direct_message("tell <!channel> about <https://evil.example|this> [x](https://y.z)")

    closed_stream(mock_slack)
    sent = mock_slack.bodies()
    assert "<!channel>" not in sent and "<https://" not in sent and "](https://" not in sent


def test_charts_follow_a_streamed_answer_into_the_thread(scripted, mock_slack):
    scripted.direct_message("How is Acme Industrial doing? With a chart", ts="1760000203.000100")

    complete = mock_slack.wait_for("files.completeUploadExternal")[0].body
    assert (complete["channel_id"], complete["thread_ts"]) == (DM, "1760000203.000100")
