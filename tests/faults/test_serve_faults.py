"""`kam serve` as a real process under faults: an answer worker killed with SIGKILL, SIGTERM
to the server and to its whole process group while an answer is under way (over HTTP and
over Socket Mode), answers that outlast the grace period. What Slack (the mock) shows is
what a person would see: every question gets exactly one reply, and no "Looking into…"
stays behind.

Each test starts its own server (~10 s: the worker loads the embedding model), so the
module is marked slow.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time

import pytest

from bot.slack.egress import INTERRUPTED
from tests.support.replies import by_thread
from tests.support.slack import CHANNEL, event_payload, mention_event

pytestmark = pytest.mark.slow


def reply_in(mock, thread_ts: str, timeout: float = 60):
    """The one reply in the thread once it is finished (fails on none, several or stuck)."""
    def finished() -> bool:
        replies = by_thread(mock.calls).get((CHANNEL, thread_ts), [])
        return bool(replies) and not any(r.unfinished for r in replies)

    mock.wait_until(finished, timeout=timeout)
    mock.settle(quiet=0.5)
    (reply,) = by_thread(mock.calls)[(CHANNEL, thread_ts)]
    return reply


def under_way(mock, thread_ts: str, home=None) -> None:
    """Wait until the answer to `thread_ts` is being worked on: its placeholder is up and,
    with `home`, recorded as a reply under way (a worker killed in the milliseconds
    between the two leaves the placeholder: the apology then comes as a new message)."""
    mock.wait_until(lambda: any(r.unfinished for r in
                                by_thread(mock.calls).get((CHANNEL, thread_ts), [])), timeout=30)
    if home is not None:
        mock.wait_until(lambda: _recorded(home, thread_ts), timeout=10)


def _recorded(home, thread_ts: str) -> bool:
    conn = sqlite3.connect(home / "kam.db", timeout=5)
    try:
        return conn.execute("SELECT 1 FROM slack_pending WHERE thread_ts = ? AND reply_ts "
                            "IS NOT NULL", (thread_ts,)).fetchone() is not None
    finally:
        conn.close()


def test_a_killed_worker_is_replaced_and_its_unfinished_answer_apologised_for(
        kam_serve, slow_model, mock_slack, home):
    server = kam_serve(**slow_model.env)
    (worker,) = server.workers()
    server.sender.mention("Tell me about renewals, hang on", ts="1770000001.000100")
    under_way(mock_slack, "1770000001.000100", home)

    os.kill(worker, signal.SIGKILL)

    # Readiness says so at once (before: /healthz stayed 200 and every event got a 500).
    status, body = server.get("/readyz")
    deadline = time.monotonic() + 10
    while status == 200 and time.monotonic() < deadline:
        time.sleep(0.2)
        status, body = server.get("/readyz")
    assert status == 503 and not body["checks"]["answer workers"]["ok"]
    assert reply_in(mock_slack, "1770000001.000100").apology
    ready = server.wait_ready()
    assert "restarted 1 time" in ready["checks"]["answer workers"]["detail"]
    assert worker not in server.workers()

    reply = server.sender.mention("How is Acme Industrial doing?", ts="1770000002.000100")
    assert reply.status == 200
    assert "The answer to" in reply_in(mock_slack, "1770000002.000100").text


@pytest.mark.parametrize("group", [False, True], ids=["kill-pid", "kill-process-group"])
def test_sigterm_lets_the_answer_under_way_finish_then_exits(kam_serve, slow_model, mock_slack,
                                                              group):
    server = kam_serve(**slow_model.env)
    server.sender.mention("How is Acme Industrial doing, slowly?", ts="1770000003.000100")
    under_way(mock_slack, "1770000003.000100")

    server.terminate(group=group)

    assert server.wait_exit() == 0
    reply = reply_in(mock_slack, "1770000003.000100", timeout=5)
    assert "The answer to" in reply.text and not reply.apology
    assert "Stopped; 0 unfinished answer(s)" in server.output()
    assert "cannot schedule new futures" not in server.output()
    with pytest.raises(OSError):
        server.get("/healthz")  # nothing listens any more


def test_an_answer_that_outlasts_the_grace_period_is_replaced_by_an_apology(
        kam_serve, slow_model, mock_slack):
    server = kam_serve(**slow_model.env, KAM_SHUTDOWN_GRACE_S="1",
                       KAM_SLACK_ANSWER_PROCESSES="0")
    server.sender.mention("What should I do next, hang on", ts="1770000004.000100")
    under_way(mock_slack, "1770000004.000100")

    server.terminate()

    assert server.wait_exit() == 0
    reply = reply_in(mock_slack, "1770000004.000100", timeout=5)
    assert reply.text == INTERRUPTED
    assert "1 unfinished answer(s) replaced by an apology" in server.output()


def test_a_restart_apologises_for_the_answers_a_killed_server_left(kam_serve, slow_model,
                                                                   mock_slack, home):
    server = kam_serve(**slow_model.env, KAM_SLACK_ANSWER_PROCESSES="0")
    server.sender.mention("Any news, hang on", ts="1770000005.000100")
    under_way(mock_slack, "1770000005.000100", home)

    os.killpg(server.pid, signal.SIGKILL)  # no chance to clean up
    server.wait_exit()
    kam_serve(**slow_model.env, KAM_SLACK_ANSWER_PROCESSES="0")

    assert reply_in(mock_slack, "1770000005.000100").text == INTERRUPTED


def test_over_socket_mode_a_retry_is_not_answered_twice_and_sigterm_lets_the_answer_finish(
        kam_serve, slow_model, mock_slack, socket_mode):
    server = kam_serve(socket=socket_mode, **slow_model.env)
    status, ready = server.get("/readyz")
    assert status == 200 and ready["checks"]["Socket Mode"]["ok"]
    assert server.sender.mention("Hi").status == 404  # events come over the socket only
    ts = "1770000005.000100"
    event = event_payload(mention_event("How is Acme Industrial doing, slowly?", ts), "Ev0SOCK01")
    socket_mode.send(event)
    under_way(mock_slack, ts)
    socket_mode.send(event, retry_attempt=1)  # Slack's retry: acknowledged, not answered
    socket_mode.wait_acks(2)

    server.terminate(group=True)  # as systemd stops it

    assert server.wait_exit() == 0
    reply = reply_in(mock_slack, ts, timeout=5)
    assert "The answer to" in reply.text and not reply.apology
    assert "Stopped; 0 unfinished answer(s)" in server.output()
    socket_mode.wait_closed()
