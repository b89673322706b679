"""What replicas share through the database, on SQLite and on PostgreSQL alike: each Slack
event claimed once (however many ledgers race for it), event ids kept at least an hour,
a user's rate-limit bucket and a channel's message slots."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest

from bot.slack.egress import SharedPacer
from bot.slack.ingress import EventLedger
from store.db import current_revision, ensure_schema, head_revision, make_engine
from store.ratelimit import RateLimit


@pytest.fixture
def engine(any_engine):
    return any_engine


def test_racing_ledgers_claim_an_event_exactly_once(engine):
    ledgers = [EventLedger(engine) for _ in range(8)]
    start, won = threading.Barrier(len(ledgers)), []

    def claim(ledger: EventLedger) -> None:
        start.wait()
        won.append(ledger.claim("Ev0RACE", reply_to=("C1", "1.0")))

    threads = [threading.Thread(target=claim, args=(ledger,)) for ledger in ledgers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(won) == [False] * 7 + [True]
    assert not ledgers[0].claim("Ev0RACE")  # a retry later, to any of them
    for ledger in ledgers:
        ledger.close()


def test_event_ids_are_kept_an_hour_then_pruned(engine):
    now = datetime(2026, 7, 1, 12, 0)
    clock = [now]
    ledger = EventLedger(engine, ttl_s=3600, clock=lambda: clock[0])
    assert ledger.claim("Ev0HOUR")

    clock[0] = now + timedelta(minutes=59)
    assert not ledger.claim("Ev0HOUR")
    clock[0] = now + timedelta(minutes=62)
    ledger._pruned_at = 0.0  # prune on the next claim
    ledger.claim("Ev0LATER")

    assert ledger.claim("Ev0HOUR")  # forgotten: pruned after its hour
    ledger.close()


def test_a_users_bucket_is_shared_by_every_process(engine):
    clock = [1_000.0]
    limits = [RateLimit(engine, per_minute=6, burst=3, clock=lambda: clock[0]) for _ in range(3)]

    assert [limit.allow("u1") for limit in limits] == [True, True, True]
    assert not limits[0].allow("u1") and limits[1].allow("u2")
    clock[0] += 10  # one token back (6 a minute)
    assert limits[2].allow("u1") and not limits[0].allow("u1")


def test_a_channels_slots_are_shared_by_every_process(engine):
    clock, slept = [500.0], []
    pacers = [SharedPacer(engine, 1.0, clock=lambda: clock[0], sleep=slept.append)
              for _ in range(2)]

    pacers[0].wait("C1")
    pacers[1].wait("C1")
    pacers[0].wait("C2")

    assert slept == [pytest.approx(1.0)]  # the second message in C1 waits its second


def test_replicas_starting_together_migrate_once(postgres):
    engines = [make_engine(url) for url in [postgres.new_database()] * 4]

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(ensure_schema, engines))

    assert {current_revision(e) for e in engines} == {head_revision(engines[0])}
    for engine in engines:
        engine.dispose()
