"""Requests from Slack: verified, acknowledged at once, and each event answered once."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import BoltRequest
from slack_bolt.middleware.request_verification import RequestVerification

from bot.slack.app import build_slack_app, shutdown_slack_app
from tests.support.mock_slack import BOT_USER_ID, TEAM_ID
from tests.support.slack import ANNA, SlackSender


def mention_body(event_id: str = "Ev0FORGED1") -> str:
    return json.dumps({
        "type": "event_callback", "team_id": TEAM_ID, "event_id": event_id,
        "event": {"type": "app_mention", "user": ANNA, "channel": "C0SALES001",
                  "text": f"<@{BOT_USER_ID}> How is Acme Industrial doing?",
                  "ts": "1760000100.000100"},
    })


def test_forged_signature_is_rejected_before_any_listener(slack, mock_slack):
    reply = slack.post(mention_body(), content_type="application/json",
                       signature="v0=" + "0" * 64)

    assert reply.status == 401
    slack.drain()
    assert mock_slack.of("chat.postMessage") == []


def test_signature_made_with_another_secret_is_rejected(slack, mock_slack):
    other = SlackSender(f"http://{slack.host}:{slack.port}", secret="not-the-secret")

    assert other.post(mention_body(), content_type="application/json").status == 401


def test_request_older_than_five_minutes_is_rejected(slack, mock_slack):
    reply = slack.post(mention_body(), content_type="application/json",
                       timestamp=int(time.time()) - 301)

    assert reply.status == 401
    slack.drain()
    assert mock_slack.of("chat.postMessage") == []


def test_request_from_more_than_five_minutes_ahead_is_rejected(slack):
    reply = slack.post(mention_body(), content_type="application/json",
                       timestamp=int(time.time()) + 301)

    assert reply.status == 401


def test_request_verification_is_always_on(settings, assistant, slack_sessions):
    app = build_slack_app(settings, assistant, slack_sessions)

    assert any(isinstance(m, RequestVerification) for m in app._middleware_list)


def test_a_retry_of_the_same_event_is_acknowledged_and_answered_once(slack, mock_slack):
    event_id = slack.next_id("Ev")
    first = slack.mention("How is Acme Industrial doing?", event_id=event_id)
    retry = slack.mention("How is Acme Industrial doing?", event_id=event_id, retry=1)
    again = slack.mention("How is Acme Industrial doing?", event_id=event_id, retry=2)

    assert (first.status, retry.status, again.status) == (200, 200, 200)
    mock_slack.wait_for("chat.update")
    slack.drain()
    assert len(mock_slack.of("chat.postMessage")) == 1
    assert len(mock_slack.of("chat.update")) == 1


def test_two_workers_sharing_the_database_answer_an_event_once(serve, mock_slack):
    worker_a, worker_b = serve(), serve()
    event_id = worker_a.next_id("Ev")

    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(
            lambda w: w.mention("How is Acme Industrial doing?", event_id=event_id),
            (worker_a, worker_b),
        ))

    assert [r.status for r in replies] == [200, 200]
    worker_a.drain()
    worker_b.drain()
    assert len(mock_slack.of("chat.update")) == 1


def test_socket_mode_retry_is_not_answered_twice(settings, assistant, slack_sessions, mock_slack):
    app = build_slack_app(settings, assistant, slack_sessions, socket_mode=True)
    envelope = json.loads(mention_body("Ev0SOCKET1"))

    for attempt in range(3):
        request = BoltRequest(body=envelope, mode="socket_mode",
                              headers={"x-slack-retry-num": [str(attempt)]} if attempt else {})
        assert app.dispatch(request).status == 200

    shutdown_slack_app(app)  # waits for the answer
    assert len(mock_slack.of("chat.postMessage")) == 1
    assert len(mock_slack.of("chat.update")) == 1


def test_ack_is_immediate_while_the_answer_is_still_being_worked_on(scripted, mock_slack):
    reply = scripted.mention("How is Acme Industrial doing, slowly?")

    assert reply.status == 200
    assert reply.elapsed_ms < 500
    assert mock_slack.of("chat.update") == []
    mock_slack.wait_for("chat.update")


def test_acks_do_not_wait_for_busy_answer_workers(serve, settings, assistant, slack_sessions,
                                                  mock_slack):
    slack = serve(settings=settings.model_copy(update={"kam_slack_workers": 1}),
                  assistant=assistant, sessions=slack_sessions)
    for _ in range(2):
        slack.mention("What is new, slowly?")

    command = slack.command("help", response_url=mock_slack.hook_url())

    assert command.status == 200 and command.elapsed_ms < 500


def test_health_endpoint_answers_without_a_signature(slack):
    reply = slack.request("GET", "/healthz")

    assert (reply.status, json.loads(reply.body)) == (200, {"ok": True})


def test_other_paths_are_not_found(slack):
    assert slack.request("GET", "/").status == 404
    assert slack.request("POST", "/slack/other", "{}").status == 404


def test_url_verification_challenge_is_answered(slack):
    body = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "x"})

    reply = slack.post(body, content_type="application/json")

    assert reply.status == 200 and "abc123" in reply.body

