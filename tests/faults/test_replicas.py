"""Two `kam serve` replicas on one PostgreSQL and one Chroma server, as a team deploys it:
200 events spread over both, each delivery retried to the other replica, every event answered
exactly once; and the weekly digest run from both at once is sent once.

Slow (two servers with an answer worker each, ~10 s to start), so marked slow.
"""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from knowledge.index import SHIPPED_CORPUS_DIR, GuidanceIndex
from store.db import make_engine, upgrade
from store.importer import import_paths
from tests.faults.conftest import KAM
from tests.support.replies import by_thread
from tests.support.slack import BOT_TOKEN

pytestmark = pytest.mark.slow

EVENTS = 200
CHANNELS = [f"C0TEAM{n:04d}" for n in range(25)]  # Slack paces a message a second per channel
QUESTIONS = ["How is Acme Industrial doing?", "renewals in the next 90 days",
             "nps for globex?", "which of my accounts are at risk?"]


@pytest.fixture
def team_store(postgres, chroma_url, demo_dir, embedder) -> dict[str, str]:
    """A PostgreSQL database with the demo data, and the guidance on the Chroma server."""
    url = postgres.new_database()
    engine = make_engine(url)
    upgrade(engine)
    import_paths(engine, [demo_dir])
    engine.dispose()
    GuidanceIndex(chroma_url, embedder).sync([SHIPPED_CORPUS_DIR])
    return {"DATABASE_URL": url, "KAM_CHROMA_URL": chroma_url}


def test_two_replicas_answer_every_event_once_whichever_gets_the_retry(
        kam_serve, team_store, mock_slack):
    replicas = [kam_serve(**team_store), kam_serve(**team_store)]
    senders = [r.sender for r in replicas]
    deliveries = []
    for n in range(EVENTS):
        ts = f"1771000000.{n:06d}"
        first = n % 2
        deliveries.append((senders[first], n, ts, None))
        deliveries.append((senders[1 - first], n, ts, 1))  # Slack's retry, to the other one

    def deliver(delivery) -> int:
        sender, n, ts, retry = delivery
        return sender.mention(QUESTIONS[n % len(QUESTIONS)], ts=ts, event_id=f"Ev0REPL{n:05d}",
                              channel=CHANNELS[n % len(CHANNELS)], retry=retry).status

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(deliver, deliveries))

    assert statuses == [200] * len(deliveries)
    threads = {(CHANNELS[n % len(CHANNELS)], f"1771000000.{n:06d}") for n in range(EVENTS)}

    def all_answered() -> bool:
        done = by_thread(mock_slack.calls)
        return all(done.get(t) and not any(r.unfinished for r in done[t]) for t in threads)

    mock_slack.wait_until(all_answered, timeout=240)
    mock_slack.settle(quiet=1.0)
    replies = by_thread(mock_slack.calls)
    assert sorted(len([r for r in replies[t] if r.primary]) for t in threads) == [1] * EVENTS
    assert not [t for t in threads if any(r.apology for r in replies[t])]
    assert set(replies) == threads  # nothing posted anywhere else


def test_the_digest_run_from_two_replicas_at_once_is_sent_once(team_store, home, mock_slack):
    env = {**os.environ, **team_store, "KAM_DATA_DIR": str(home / "data"),
           "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": mock_slack.url}

    def run_digest(_) -> subprocess.CompletedProcess:
        return subprocess.run([str(KAM), "digest", "--post"], cwd=home, env=env,
                              capture_output=True, text=True, timeout=120)

    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(run_digest, range(2)))

    assert [r.returncode for r in runs] == [0, 0], [r.stdout + r.stderr for r in runs]
    posted = [c.body["channel"] for c in mock_slack.of("chat.postMessage")]
    assert len(posted) == len(set(posted)) == 8  # six KAMs and two managers, once each
    assert any("already sent this week" in r.stdout for r in runs)
