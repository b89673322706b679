"""Slack ingress: every Events API delivery is claimed by its event id and acknowledged at once.

Bolt verifies each request first (signature and a 5-minute timestamp window). A
delivery is then claimed in the `EventLedger` (in the database, so several workers
share it) and acknowledged; a retried delivery of an event already claimed gets a
200 and nothing else. The claimed event goes through Bolt again, on to its listener,
in the background here or in a worker process (`bot.slack.workers`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from sqlalchemy import Connection, Engine, delete, insert
from sqlalchemy.exc import DBAPIError, IntegrityError

from store.models import SlackEvent

if TYPE_CHECKING:
    from bot.slack.app import SlackBot

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


# Context flag of an event already claimed and acknowledged, on its way to the listeners.
CLAIMED = "kam_event_claimed"


def ack_now(ack) -> None:
    """Acknowledge at once; the lazy listener does the work."""
    ack()


def ignore(ack) -> None:
    """Events the bot receives but does not answer (edits, channel chatter) still get a 200."""
    ack()


class AckEventsOnce(Middleware):
    """Global middleware, after Bolt's verification: acknowledge each Events API delivery at
    once, and hand the first delivery of an event id on to its listener in the background.

    A retried delivery (same event id, here or in another worker) is acknowledged with a
    200 and dropped. Returning without next() must carry a response, or Bolt answers 404
    and Slack retries. A class, not a function: Bolt calls it without argument injection,
    which matters on this path.
    """

    def __init__(self, bot: SlackBot):
        self.bot = bot

    def process(self, *, req: BoltRequest, resp: BoltResponse, next) -> BoltResponse | None:
        body = req.body
        if body.get("type") != "event_callback" or req.context.get(CLAIMED):
            return next()
        event_id = body.get("event_id")
        if event_id and not self.bot.ledger.claim(event_id):
            log.info("event %s already taken; acknowledging the retry", event_id)
            return BoltResponse(status=200, body="")
        self.bot.forward(ClaimedEvent.of(req))
        return BoltResponse(status=200, body="")


@dataclass(frozen=True)
class ClaimedEvent:
    """An Events API delivery, verified, claimed and acknowledged, on its way to a listener.

    Plain data, so it can be handed to another process (`bot.slack.workers`).
    """

    body: str | dict
    headers: dict[str, str | Sequence[str]]  # as BoltRequest takes them
    mode: str = "http"

    @classmethod
    def of(cls, req: BoltRequest) -> ClaimedEvent:
        body = req.raw_body if req.mode == "http" else req.body
        return cls(body, {k: list(v) for k, v in req.headers.items()}, req.mode)

    @property
    def event_id(self) -> str | None:
        body = json.loads(self.body) if isinstance(self.body, str) else self.body
        return body.get("event_id")


def dispatch_claimed(app: App, event: ClaimedEvent) -> None:
    """Run a claimed event through Bolt again (verification included) on to its listener."""
    request = BoltRequest(
        body=event.body, headers=event.headers, context={CLAIMED: True}, mode=event.mode
    )
    try:
        response = app.dispatch(request)
    except Exception:
        log.exception("dispatching event %s failed", event.event_id)
        return
    if response.status >= 400:
        # 401: it waited longer than Slack's five-minute window (a badly overloaded bot).
        log.error("event %s not handled: status %s", event.event_id, response.status)
