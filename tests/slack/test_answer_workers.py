"""`AnswerWorkers` and the hand-over of claimed events from the serving app to a worker app.

The worker processes themselves are exercised end to end by `make bench-slack`
(`kam serve` with KAM_SLACK_ANSWER_PROCESSES=1): starting one loads the embedding
model, too slow for this suite. Here the worker side runs in this process.
"""

from __future__ import annotations

import json
import pickle
import time

import pytest
from slack_sdk.signature import SignatureVerifier

from bot.config import Settings
from bot.slack.app import build_slack_app, shutdown_slack_app
from bot.slack.egress import ChannelPacer
from bot.slack.ingress import ClaimedEvent, dispatch_claimed
from bot.slack.workers import AnswerWorkers
from store.access import UnknownUserError
from tests.support.slack import ANNA, SIGNING_SECRET, STRANGER


@pytest.fixture
def workers(slack_sessions, tmp_path):
    settings = Settings(_env_file=None, kam_data_dir=tmp_path / "data")
    workers = AnswerWorkers(settings, slack_sessions, processes=1)
    yield workers
    workers.close()


def test_callers_are_resolved_without_starting_a_worker(workers):
    scope = workers.resolve(slack_user_id=ANNA)

    assert (scope.user_id, scope.role) == ("u_kam_anna", "kam")
    assert not workers.pool._processes  # nothing was spawned


def test_unknown_callers_are_refused_in_the_serving_process(workers):
    with pytest.raises(UnknownUserError):
        workers.resolve(slack_user_id=STRANGER)


def test_a_claimed_event_is_forwarded_once_and_answered_by_the_worker_app(
    serve, settings, offline, mock_slack
):
    forwarded = []
    serving = serve(forward_events=forwarded.append)
    worker_app = build_slack_app(settings, offline.assistant, offline.sessions,
                                 pacer=ChannelPacer(0.01))
    event_id = serving.next_id("Ev")

    for retry in (None, 1):
        reply = serving.mention("How is Acme Industrial doing?", event_id=event_id, retry=retry)
        assert reply.status == 200
    (event,) = forwarded
    event = pickle.loads(pickle.dumps(event))  # as it travels to a worker process
    dispatch_claimed(worker_app, event)
    shutdown_slack_app(worker_app)

    assert event.event_id == event_id
    assert len(mock_slack.of("chat.update")) == 1
    assert "Acme Industrial" in json.dumps(mock_slack.of("chat.update")[0].body["blocks"])


def test_a_claimed_event_that_waited_too_long_is_refused_and_logged(settings, offline, caplog):
    app = build_slack_app(settings, offline.assistant, offline.sessions)
    body = json.dumps({"type": "event_callback", "event_id": "Ev0LATE", "team_id": "T1",
                       "event": {"type": "app_mention", "user": "U1", "text": "hi",
                                 "channel": "C1", "ts": "1.1"}})
    stale = str(int(time.time()) - 600)
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stale, body=body)
    event = ClaimedEvent(body, {"content-type": ["application/json"],
                                "x-slack-request-timestamp": [stale],
                                "x-slack-signature": [signature]})

    dispatch_claimed(app, event)

    assert "event Ev0LATE not handled: status 401" in caplog.text
