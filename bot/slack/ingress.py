"""Slack ingress: every Events API delivery is acknowledged at once and answered once.

Bolt verifies each request first (signature and a 5-minute timestamp window). A
delivery is acknowledged after an in-memory check of its event id (a retry this process
saw gets a 200 and nothing else) and handed on, in the background here or to a worker
process (`bot.slack.workers`). There it goes through Bolt again and is claimed in the
`EventLedger` (in the database, so every worker and every server shares it) before it
reaches its listener. The claim is off the acknowledgement path: a write lock held by a
long import delays answers, never the 200 Slack waits for (it retries after 3 s).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from sqlalchemy import Connection, Engine, delete, insert
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot.slack.egress import PendingReplies
from bot.slack.listeners import is_direct_message
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

    MIN_TTL_S = 3600  # Slack's last retry comes after 5 minutes; an hour is ample margin

    def __init__(
        self,
        engine: Engine,
        *,
        ttl_s: float = 3600,
        clock: Callable[[], datetime] = utcnow,
        pending: PendingReplies | None = None,
    ):
        self.engine = engine
        self.ttl = timedelta(seconds=max(ttl_s, self.MIN_TTL_S))
        self.pending = pending or PendingReplies(engine)
        self.clock = clock
        # A claim sits on the acknowledgement path: one Core statement on a connection kept
        # open, used by one thread at a time. A lock wait here is microseconds, where
        # SQLite's busy handler sleeps in steps of up to 100 ms. Other workers race in SQL.
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._insert = insert(SlackEvent)
        self._pruned_at = 0.0
        self._prune_every_s = max(1.0, ttl_s / 60)

    def claim(self, event_id: str, reply_to: tuple[str, str] | None = None) -> bool:
        """True the first time `event_id` is seen by any worker, False for every repeat.

        `reply_to` (channel, thread) records, in the same transaction, that this process
        owes the event a reply (`PendingReplies`).
        """
        now = self.clock()
        with self._lock:
            for attempt in range(2):
                conn = self._connection()
                try:
                    conn.execute(self._insert, {"event_id": event_id, "received_at": now})
                    if reply_to is not None:
                        self.pending.accept(conn, *reply_to, event_id)
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


class RecentIds:
    """The event ids this process handed on lately (at most `size`, oldest forgotten)."""

    def __init__(self, size: int = 50_000):
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, event_id: str) -> bool:
        """True the first time `event_id` is added (while remembered), False after."""
        with self._lock:
            if event_id in self._ids:
                return False
            self._ids[event_id] = None
            if len(self._ids) > self.size:
                self._ids.popitem(last=False)
            return True


class AckEventsOnce(Middleware):
    """Global middleware, after Bolt's verification: acknowledge each Events API delivery at
    once and hand it on; where it arrives to be answered, claim it before its listener.

    A retried delivery is acknowledged with a 200 and dropped: here if this process saw
    the event id, at the claim (in the database) if another worker or server took it.
    Returning without next() must carry a response, or Bolt answers 404 and Slack
    retries. A class, not a function: Bolt calls it without argument injection, which
    matters on this path.
    """

    def __init__(self, bot: SlackBot):
        self.bot = bot
        self.recent = RecentIds()

    def process(self, *, req: BoltRequest, resp: BoltResponse, next) -> BoltResponse | None:
        body = req.body
        if body.get("type") != "event_callback":
            return next()
        event_id = body.get("event_id")
        if req.context.get(CLAIMED):
            return next() if self._claim(event_id, body) else BoltResponse(status=200, body="")
        if event_id and not self.recent.add(event_id):
            log.info("event %s already taken; acknowledging the retry", event_id)
            return BoltResponse(status=200, body="")
        self.bot.forward(ClaimedEvent.of(req))
        return BoltResponse(status=200, body="")

    def _claim(self, event_id: str | None, body: dict) -> bool:
        if not event_id:
            return True
        try:
            if self.bot.ledger.claim(event_id, reply_to=owed_reply(body.get("event") or {})):
                return True
        except DBAPIError as error:
            # Answering without the shared check risks a duplicate only if Slack retried
            # (it retries when the 200 came late, and the 200 never waits for this).
            log.error("event ledger unavailable (%s): answering %s unchecked", error.orig,
                      event_id)
            return True
        log.info("event %s already taken by another worker", event_id)
        return False


def owed_reply(event: dict) -> tuple[str, str] | None:
    """Where an event will be answered (channel, thread), for the events that get an answer:
    mentions, and a person's own messages in a DM with the bot."""
    channel, ts = event.get("channel"), event.get("ts")
    if not (channel and ts):
        return None
    if event.get("type") == "app_mention" or (
        event.get("type") == "message" and is_direct_message(event)
    ):
        return channel, event.get("thread_ts") or ts
    return None


class QuietBadSignatures(logging.Filter):
    """Bolt logs every request whose signature fails at INFO, body included: anyone can
    fill the log that way. The body is dropped (the fact is kept, once, at INFO)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("Invalid request signature detected"):
            record.msg, record.args = "rejected a request with an invalid signature", ()
        return True


def quiet_bad_signatures() -> None:
    """Install `QuietBadSignatures` on Bolt's request verification logger (idempotent)."""
    logger = logging.getLogger("slack_bolt.RequestVerification")
    if not any(isinstance(f, QuietBadSignatures) for f in logger.filters):
        logger.addFilter(QuietBadSignatures())


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
    def payload(self) -> dict:
        """The body as JSON data."""
        return json.loads(self.body) if isinstance(self.body, str) else self.body

    @property
    def event_id(self) -> str | None:
        return self.payload.get("event_id")


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
