"""Bounded input: signatures checked before a body is read, bad bodies never logged, a
cap on questions, a per-user rate limit shared by processes, one message a second per
channel shared by processes, event ids kept an hour, acknowledgements that never wait
for the database."""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import datetime, timedelta

import pytest

from bot.agent.graph import build_agent, open_checkpointer
from bot.assistant import SLOW_DOWN, Assistant
from bot.config import Settings
from bot.slack.app import build_slack_app, shutdown_slack_app
from bot.slack.egress import ChannelPacer, SharedPacer
from bot.slack.ingress import EventLedger, quiet_bad_signatures
from bot.slack.server import SlackHttpServer
from prompts import Prompts
from store.ratelimit import RateLimit
from tests.support.fakes import AS_OF, ScriptedModel, make_account_tool
from tests.support.replies import by_thread
from tests.support.slack import CHANNEL, SIGNING_SECRET, SlackSender


@pytest.fixture
def signed_server(settings, assistant, slack_sessions):
    """The app served the way `kam serve` serves it: the signature checked on the raw body."""
    app = build_slack_app(settings, assistant, slack_sessions, pacer=ChannelPacer(0.01))
    server = SlackHttpServer(app, "127.0.0.1", 0, signing_secret=SIGNING_SECRET).start()
    yield SlackSender(server.url)
    server.shutdown()
    shutdown_slack_app(app)


def test_unsigned_malformed_json_is_refused_before_it_is_parsed(signed_server, caplog):
    reply = signed_server.post("{not json", content_type="application/json",
                               signature="v0=" + "0" * 64)

    assert reply.status == 401
    assert "Traceback" not in caplog.text and "JSONDecodeError" not in caplog.text


def test_signed_malformed_json_gets_a_400_without_a_traceback(signed_server, caplog):
    reply = signed_server.post("{not json", content_type="application/json")

    assert reply.status == 400
    assert "Traceback" not in caplog.text


def test_the_body_of_a_badly_signed_request_is_never_logged(signed_server, slack, caplog):
    caplog.set_level(logging.DEBUG)
    quiet_bad_signatures()
    body = json.dumps({"type": "event_callback", "secret": "PAYLOAD-MARKER" * 1000})

    for sender in (signed_server, slack):  # checked here, or by Bolt (served without a secret)
        reply = sender.post(body, content_type="application/json", signature="v0=" + "1" * 64)
        assert reply.status == 401

    assert "PAYLOAD-MARKER" not in caplog.text
    assert "invalid signature" in caplog.text


def test_a_body_over_a_megabyte_is_refused(signed_server):
    reply = signed_server.post("x" * 1_100_000, content_type="application/json")

    assert reply.status == 413


def test_event_ids_are_kept_at_least_an_hour(slack_sessions):
    now = datetime(2026, 7, 1, 12, 0)
    clock = [now]
    ledger = EventLedger(slack_sessions.kw["bind"], ttl_s=600, clock=lambda: clock[0])
    assert ledger.claim("Ev0HOUR")

    clock[0] = now + timedelta(minutes=59)
    ledger.claim("Ev0OTHER")  # prunes what has expired

    assert not ledger.claim("Ev0HOUR")
    assert Settings.model_fields["kam_slack_event_ttl_s"].default >= 3600
    with pytest.raises(ValueError):
        Settings(_env_file=None, kam_slack_event_ttl_s=600)


def test_acknowledgements_do_not_wait_for_a_database_write_lock(serve, mock_slack, settings,
                                                                assistant, slack_sessions):
    slack = serve(assistant=assistant, sessions=slack_sessions)
    locker = sqlite3.connect(slack_sessions.kw["bind"].url.database, timeout=1)
    locker.execute("BEGIN IMMEDIATE")  # an import holds the write lock
    try:
        reply = slack.mention("How is Acme Industrial doing?")
    finally:
        locker.rollback()
        locker.close()

    # Before: the event id was claimed in the database on the acknowledgement path, so the
    # 200 waited for the lock (the busy timeout is 30 s; the sender gives up after 10).
    assert reply.status == 200
    mock_slack.wait_for("chat.update")


def test_a_question_over_the_cap_gets_a_polite_reply_and_never_reaches_the_model(
        slack_sessions, tmp_path):
    model = ScriptedModel()
    assistant = _assistant(slack_sessions, tmp_path, model, max_question_chars=1000)

    answer = assistant.answer("u_kam_anna", "How is Acme Industrial doing? " * 2000, "t1")

    assert not answer.ok
    assert "too long" in answer.text and "60,000 characters" in answer.text
    assert answer.tool_calls == []
    assert Settings.model_fields["kam_max_question_chars"].default == 4000


def test_a_person_asking_too_fast_is_asked_to_wait_in_every_thread(serve, mock_slack,
                                                                   slack_sessions, tmp_path):
    limit = RateLimit(slack_sessions.kw["bind"], per_minute=0.01, burst=3)
    assistant = _assistant(slack_sessions, tmp_path, ScriptedModel(), rate_limit=limit)
    slack = serve(assistant=assistant, sessions=slack_sessions)

    for n in range(6):
        slack.mention(f"How is Acme Industrial doing? ({n})", ts=f"1760000500.{n:06d}")
    mock_slack.wait_for("chat.update", 6)
    slack.drain()

    threads = by_thread(mock_slack.calls)
    texts = [r.text for (channel, _), rs in threads.items() if channel == CHANNEL for r in rs]
    assert len(texts) == 6  # one reply per question
    assert sum(SLOW_DOWN in t for t in texts) == 3
    assert sum("Acme Industrial" in t for t in texts) == 3


def test_the_rate_limit_is_shared_by_processes(slack_sessions):
    engine = slack_sessions.kw["bind"]
    clock = [1000.0]
    first, second = (RateLimit(engine, per_minute=6, burst=2, clock=lambda: clock[0])
                     for _ in range(2))

    taken = [first.allow("user:anna"), second.allow("user:anna"), first.allow("user:anna")]
    clock[0] += 10  # a token a minute... six a minute: one more after 10 s
    later = [second.allow("user:anna"), first.allow("user:anna")]

    assert taken == [True, True, False]
    assert later == [True, False]
    assert first.allow("user:ben")  # buckets are per person


def test_channel_pacing_is_shared_by_processes(slack_sessions):
    engine = slack_sessions.kw["bind"]
    now, slept = [100.0], []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))

    pacers = [SharedPacer(engine, 1.0, clock=lambda: now[0], sleep=sleep) for _ in range(2)]
    for n in range(5):
        pacers[n % 2].wait(CHANNEL)  # two answer processes posting into one channel
    pacers[0].wait("C0OTHER01")

    assert slept == [1.0, 2.0, 3.0, 4.0]


def _assistant(sessions, tmp_path, model, **options) -> Assistant:
    tools = [make_account_tool(sessions)]
    agent = build_agent(model, tools, Prompts(), open_checkpointer(tmp_path / "threads.db"))
    return Assistant(agent=agent, tools=tools, sessions=sessions, model_name="scripted",
                     as_of=AS_OF, answer_budget_s=20, step_limit=8, **options)


