"""What the Slack surface keeps in the database: event ids already taken, and feedback votes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, delete, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store.models import SlackEvent, SlackFeedback

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class EventLedger:
    """Claims Slack event ids so that each event is answered once, across retries and workers.

    Slack retries an event it got no 2xx for at once, after 1 and after 5 minutes; ids
    are kept for `ttl_s` (at least an hour) and older ones are pruned as new ones arrive.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        ttl_s: float = 3600,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.engine = engine
        self.ttl = timedelta(seconds=ttl_s)
        self.clock = clock
        # A claim sits on the acknowledgement path: one Core statement on a connection kept
        # open, used by one thread at a time. A lock wait here is microseconds, where
        # SQLite's busy handler sleeps in steps of up to 100 ms. Other workers race in SQL.
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._insert = insert(SlackEvent)
        self._pruned_at = 0.0
        self._prune_every_s = max(1.0, ttl_s / 60)

    def claim(self, event_id: str) -> bool:
        """True the first time `event_id` is seen by any worker, False for every repeat."""
        now = self.clock()
        with self._lock:
            for attempt in range(2):
                conn = self._connection()
                try:
                    conn.execute(self._insert, {"event_id": event_id, "received_at": now})
                    conn.commit()
                    break
                except IntegrityError:
                    conn.rollback()
                    return False
                except DBAPIError as error:
                    self.close()
                    # A connection the server dropped is replaced once; anything else fails.
                    if attempt or not error.connection_invalidated:
                        raise
            if time.monotonic() - self._pruned_at > self._prune_every_s:
                self._pruned_at = time.monotonic()
                conn.execute(delete(SlackEvent).where(SlackEvent.received_at < now - self.ttl))
                conn.commit()
        return True

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed:
            self._conn = self.engine.connect()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class FeedbackStore:
    """Helpful / not helpful votes, one per person and answer (a second click changes it)."""

    def __init__(self, sessions: sessionmaker[Session], *, clock: Callable[[], datetime] = utcnow):
        self.sessions = sessions
        self.clock = clock

    def record(
        self,
        *,
        question_id: str,
        answer_id: str,
        slack_user_id: str,
        user_id: str | None,
        helpful: bool,
    ) -> None:
        for attempt in range(2):
            try:
                self._upsert(question_id, answer_id, slack_user_id, user_id, helpful)
                return
            except IntegrityError:
                # Two clicks raced to insert the same vote: the second one updates it.
                if attempt:
                    raise

    def _upsert(
        self, question_id: str, answer_id: str, slack_user_id: str, user_id: str | None,
        helpful: bool,
    ) -> None:
        with self.sessions.begin() as session:
            vote = session.scalar(
                select(SlackFeedback).where(
                    SlackFeedback.answer_id == answer_id,
                    SlackFeedback.slack_user_id == slack_user_id,
                )
            )
            if vote is None:
                session.add(
                    SlackFeedback(
                        question_id=question_id,
                        answer_id=answer_id,
                        slack_user_id=slack_user_id,
                        user_id=user_id,
                        helpful=helpful,
                        voted_at=self.clock(),
                    )
                )
            else:
                vote.helpful = helpful
                vote.voted_at = self.clock()
