"""Everything the bot sends to Slack goes through `SlackOut`, which applies the egress rules.

- 429 answers are retried after `Retry-After`, a bounded number of times
  (slack_sdk only retries connection errors by default, so the handler is added here);
- `chat.postMessage` is paced to one message per second per channel (Slack's limit),
  across processes when the slots are kept in the database (`SharedPacer`);
- messages go out with `link_names` and unfurls off: nothing the model wrote
  becomes a ping or a link preview (the text itself is escaped by `bot.slack.blocks`);
- every reply under way (an event taken, a placeholder posted, a stream opened) is kept in
  `slack_pending` until its answer replaces it (`PendingReplies`, `TrackedWebClient`), so
  that a process that dies or stops leaves no "Looking into…" behind: another one (or the
  next start) replaces each with an apology.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from slack_sdk.web import SlackResponse
from sqlalchemy import Engine, delete, func, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from bot.health import Check
from bot.slack.blocks import SlackMessage, notice
from store.db import begin_briefly
from store.models import ChannelSlot, SlackPending

log = logging.getLogger(__name__)

# Slack asks for longer waits when a workspace is flooded; a reply that late is not worth
# holding a worker for, so such a 429 is given up on (and logged) instead.
MAX_RETRY_AFTER_S = 30


class BoundedRateLimitRetry(RateLimitErrorRetryHandler):
    """Retry a 429 after its `Retry-After`, at most `max_retry_count` times of `max_wait_s`."""

    def __init__(self, max_retry_count: int = 3, max_wait_s: float = MAX_RETRY_AFTER_S):
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait_s = max_wait_s

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = _retry_after(response)
        if wait > self.max_wait_s:
            log.warning("Slack asked to wait %s s before retrying; giving up on this call", wait)
            return False
        return True


def _retry_after(response: HttpResponse) -> float:
    for key, values in response.headers.items():
        if key.lower() == "retry-after":
            value = values[0] if isinstance(values, list) else values
            try:
                return float(value)
            except (TypeError, ValueError):
                return 1.0
    return 1.0


def build_web_client(
    token: str | None,
    base_url: str,
    *,
    rate_limit_retries: int = 3,
    timeout_s: int = 30,
    pending: PendingReplies | None = None,
    owner: str | None = None,
) -> WebClient:
    """A WebClient for the bot token with connection-error and bounded rate-limit retries;
    with `pending`, one that keeps the ledger of replies under way (`TrackedWebClient`);
    with `owner`, one that names its process to an `ApiRelay` (answer workers)."""
    options: dict[str, Any] = {
        "token": token,
        "base_url": base_url,
        "timeout": timeout_s,
        "headers": {OWNER_HEADER: owner} if owner else None,
        "retry_handlers": [
            ConnectionErrorRetryHandler(max_retry_count=1),
            BoundedRateLimitRetry(max_retry_count=rate_limit_retries),
        ],
    }
    if pending is not None:
        return TrackedWebClient(pending, **options)
    return WebClient(**options)


class ChannelPacer:
    """At most one message per `interval_s` per channel; callers wait for their slot."""

    def __init__(
        self,
        interval_s: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.interval_s = interval_s
        self.clock = clock
        self.sleep = sleep
        self._next_slot: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, channel: str) -> None:
        with self._lock:
            now = self.clock()
            slot = max(now, self._next_slot.get(channel, now))
            self._next_slot[channel] = slot + self.interval_s
            if len(self._next_slot) > 10_000:
                self._next_slot = {c: t for c, t in self._next_slot.items() if t > now}
        if slot > now:
            self.sleep(slot - now)


def check_slack_api(client: WebClient) -> Check:
    """The Slack Web API answers and accepts the bot token (auth.test), in one line."""
    try:
        response = client.auth_test()
    except SlackApiError as error:
        reason = error.response.get("error") if error.response is not None else error
        return Check("Slack API", False, f"Slack refused SLACK_BOT_TOKEN ({reason}): copy the "
                     "Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page")
    except OSError as error:  # refused, unreachable, timed out, TLS
        reason = getattr(error, "reason", None) or error
        return Check("Slack API", False, f"cannot reach the Slack API at {client.base_url} "
                     f"({reason}): check SLACK_API_URL and the network")
    return Check("Slack API", True, f"bot {response.get('user')} in {response.get('team')}")


class SharedPacer(ChannelPacer):
    """`ChannelPacer` with each channel's next slot in the database (`slack_channel_slots`),
    so that processes answering in the same channel share its one message a second.

    Taking a slot is one upsert statement; if the database cannot take it (locked by a
    long import, read-only), this process paces on its own and logs a warning.
    """

    def __init__(
        self,
        engine: Engine,
        interval_s: float = 1.0,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        super().__init__(interval_s, clock=clock, sleep=sleep)
        self.engine = engine

    def wait(self, channel: str) -> None:
        now = self.clock()
        try:
            with begin_briefly(self.engine) as conn:
                next_at = conn.execute(self._take(channel, now, conn.dialect.name)).scalar_one()
        except DBAPIError as error:
            log.warning("channel pacing in this process only (database: %s)", error.orig)
            super().wait(channel)
            return
        slot = next_at - self.interval_s
        if slot > now:
            self.sleep(slot - now)

    def _take(self, channel: str, now: float, dialect: str):
        sqlite_ = dialect == "sqlite"
        greatest = func.max if sqlite_ else func.greatest  # SQLite's two-argument max
        insert_ = (sqlite.insert if sqlite_ else postgresql.insert)(ChannelSlot)
        return (
            insert_.values(channel=channel, next_at=now + self.interval_s)
            .on_conflict_do_update(
                index_elements=[ChannelSlot.channel],
                set_={"next_at": greatest(ChannelSlot.next_at, literal(now)) + self.interval_s},
            )
            .returning(ChannelSlot.next_at)
        )


# What a placeholder starts with (bot.slack.listeners and bot.slack.streaming): a message
# with it is a reply still under way, one without it is an answer (or a refusal).
PLACEHOLDER_MARK = ":hourglass_flowing_sand:"
INTERRUPTED = (
    "Sorry, I was interrupted (a restart) before I could finish this answer. "
    "Please ask again."
)


def process_owner(pid: int | None = None) -> str:
    """This process as the owner of replies under way: `host:pid`."""
    return f"{socket.gethostname()}:{pid or os.getpid()}"


def gone(row: Any) -> bool:
    """Whether the owner of a reply under way is a process of this host that no longer runs
    (owners on other hosts are left to their own host)."""
    host, _, pid = row.owner.rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and not pid_alive(int(pid))


def stale(row: Any, after_s: float) -> bool:
    """Whether a reply under way on this host is older than `after_s` (a listener that
    failed without a word: its process lives on, so `gone` never says so)."""
    host = row.owner.rpartition(":")[0]
    return host == socket.gethostname() and row.created_at < utcnow() - timedelta(seconds=after_s)


def pid_alive(pid: int) -> bool:
    """Whether a process runs; a zombie (dead, not yet reaped) counts as dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class PendingReplies:
    """The ledger of replies under way, in `slack_pending`, shared by every process.

    A row is written when a worker takes an event (`bot.slack.ingress`), gets the ts of
    the placeholder or the stream that answers it, and goes when that message is replaced
    by the answer. Rows of a process that died (or stops with answers unfinished) are
    replaced by an apology with `apologise`.
    """

    def __init__(self, engine: Engine, *, owner: str | None = None):
        self.engine = engine
        self.owner = owner or process_owner()

    def accept(self, conn, channel: str, thread_ts: str | None, event_id: str | None) -> None:
        """An event taken by this process (inside the caller's transaction)."""
        conn.execute(insert(SlackPending).values(
            event_id=event_id, channel=channel, thread_ts=thread_ts, owner=self.owner,
            created_at=utcnow(),
        ))

    def note(self, method: str, request: dict, response: dict, owner: str | None = None) -> None:
        """What a Web API call that succeeded means for the replies under way of `owner`
        (this process by default): a placeholder posted or a stream opened is a reply under
        way; an update without the placeholder mark, or a stream stopped, is its answer; any
        other message into a thread where an event waits is its answer (a refusal). Never
        fails the call: a ledger that cannot be written is logged."""
        channel = response.get("channel") or request.get("channel")
        thread_ts, ts = request.get("thread_ts"), response.get("ts")
        try:
            if method in ("chat.postMessage", "chat.startStream") and channel and ts and (
                    method == "chat.startStream" or _is_placeholder(request.get("text"))):
                kind = "stream" if method == "chat.startStream" else "placeholder"
                self.started(channel, thread_ts, ts, kind, owner)
            elif method == "chat.postMessage" and channel and thread_ts:
                self.answered_in_thread(channel, thread_ts, owner)
            elif channel and request.get("ts") and (method == "chat.stopStream" or (
                    method == "chat.update" and not _is_placeholder(request.get("text")))):
                self.finished(channel, str(request["ts"]))
        except DBAPIError as error:
            log.warning("replies under way not recorded (database: %s)", error.orig)

    def started(self, channel: str, thread_ts: str | None, ts: str, kind: str,
                owner: str | None = None) -> None:
        """A placeholder posted, or a stream opened, in `channel` (in `thread_ts`)."""
        owner = owner or self.owner
        with self.engine.begin() as conn:
            waiting = self._waiting(channel, thread_ts, owner)
            claimed = conn.execute(
                update(SlackPending).where(SlackPending.pending_id == waiting)
                .values(reply_ts=ts, reply_kind=kind)
            ).rowcount
            if not claimed:
                conn.execute(insert(SlackPending).values(
                    channel=channel, thread_ts=thread_ts or ts, reply_ts=ts, reply_kind=kind,
                    owner=owner, created_at=utcnow(),
                ))

    def answered_in_thread(self, channel: str, thread_ts: str, owner: str | None = None) -> None:
        """A final message (a refusal, a notice) posted straight into a thread where an
        event was waiting for its first reply."""
        with self.engine.begin() as conn:
            conn.execute(delete(SlackPending).where(
                SlackPending.pending_id == self._waiting(channel, thread_ts, owner or self.owner)))

    def finished(self, channel: str, ts: str) -> None:
        """The reply `ts` was replaced by its answer (or its stream closed)."""
        with self.engine.begin() as conn:
            conn.execute(delete(SlackPending).where(
                SlackPending.channel == channel, SlackPending.reply_ts == ts))

    def _waiting(self, channel: str, thread_ts: str | None, owner: str):
        return (
            select(func.min(SlackPending.pending_id))
            .where(SlackPending.channel == channel, SlackPending.thread_ts == thread_ts,
                   SlackPending.reply_ts.is_(None), SlackPending.owner == owner)
            .scalar_subquery()
        )

    def apologise(
        self, client: WebClient, abandoned: Callable[[Any], bool], text: str = INTERRUPTED
    ) -> int:
        """Replace every reply under way that is `abandoned` (a predicate on its row: see
        `gone`) with one apology; returns how many.

        A placeholder is replaced in place; a stream is closed with the apology; an event
        with no reply yet gets the apology in its thread.
        """
        with self.engine.connect() as conn:
            rows = [r for r in conn.execute(select(SlackPending)).all() if abandoned(r)]
        message = notice(text)
        for row in rows:
            try:
                _apologise(client, row, message)
            except SlackApiError as error:
                log.error("could not apologise in %s: %s", row.channel,
                          error.response.get("error"))
            except Exception:
                log.exception("could not apologise in %s", row.channel)
            with self.engine.begin() as conn:
                conn.execute(delete(SlackPending).where(SlackPending.pending_id == row.pending_id))
        if rows:
            log.warning("replaced %d unfinished repl%s with an apology", len(rows),
                        "y" if len(rows) == 1 else "ies")
        return len(rows)


def _apologise(client: WebClient, row, message: SlackMessage) -> None:
    kwargs = message.as_kwargs()
    if row.reply_ts and row.reply_kind == "stream":
        try:
            client.chat_stopStream(channel=row.channel, ts=row.reply_ts,
                                   markdown_text=f"\n\n{message.text}")
            return
        except SlackApiError:
            pass  # a stream Slack already closed: replace the message instead
    if row.reply_ts:
        try:
            client.chat_update(channel=row.channel, ts=row.reply_ts, link_names=False, **kwargs)
            return
        except SlackApiError as error:
            log.info("could not replace %s (%s): posting the apology instead", row.reply_ts,
                     error.response.get("error"))
    client.chat_postMessage(channel=row.channel, thread_ts=row.thread_ts, link_names=False,
                            unfurl_links=False, unfurl_media=False, **kwargs)


class TrackedWebClient(WebClient):
    """A WebClient that keeps `PendingReplies` up to date from the calls it makes
    (`PendingReplies.note`). The ledger is kept on the client, the one object every reply
    passes through, so the listeners need not know of it."""

    def __init__(self, pending: PendingReplies, **kwargs: Any):
        super().__init__(**kwargs)
        self.pending = pending

    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:
        response = super().api_call(api_method, **kwargs)
        request = kwargs.get("json") or kwargs.get("data") or kwargs.get("params") or {}
        self.pending.note(api_method, request, response.data)  # type: ignore[arg-type]
        return response


OWNER_HEADER = "X-Kam-Owner"


class ApiRelay:
    """The Slack Web API as the answer workers reach it: a relay on 127.0.0.1 in the serving
    process that forwards each call to Slack and notes what it means for the replies under
    way (`PendingReplies.note`, for the worker named in the X-Kam-Owner header) before the
    worker has Slack's reply.

    A worker noting its own placeholder would leave one behind whenever it is killed in
    the milliseconds between Slack's reply and the note (the soak benchmark did, once a
    run); the serving process outlives its workers, so every placeholder is known.
    """

    def __init__(self, upstream: str, pending: PendingReplies, *, timeout_s: float = 30):
        self.upstream = upstream.rstrip("/") + "/"
        self.pending = pending
        self.timeout_s = timeout_s
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="slack-relay",
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/api/"

    def start(self) -> ApiRelay:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def relay(self, method: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict, bytes]:
        """Forward one call; returns Slack's status, headers and body (errors as Slack's)."""
        owner = headers.pop(OWNER_HEADER.lower(), None)
        request = urllib.request.Request(self.upstream + method, data=body, headers=headers,
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                status, data = response.status, response.read()
                reply_headers = dict(response.headers)
        except urllib.error.HTTPError as error:  # 429 and friends: the worker retries
            return error.code, dict(error.headers), error.read()
        if status == 200 and owner:
            try:
                reply = json.loads(data)
                if reply.get("ok"):
                    self.pending.note(method, _decoded(body, headers), reply, owner)
            except ValueError:
                pass
        return status, reply_headers, data

    def _handler(self):
        relay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                method = self.path.split("?")[0].removeprefix("/api/")
                forwarded = {k.lower(): v for k, v in self.headers.items()
                             if k.lower() not in ("host", "content-length", "connection")}
                try:
                    status, headers, data = relay.relay(method, body, forwarded)
                except OSError as error:  # Slack unreachable: as the worker would have seen it
                    log.warning("relaying %s to Slack failed: %s", method, error)
                    status, headers, data = 502, {}, b'{"ok": false, "error": "relay_failed"}'
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() in ("content-type", "retry-after"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

        return Handler


def _decoded(body: bytes, headers: dict[str, str]) -> dict:
    text = body.decode("utf-8", errors="replace")
    if "json" in headers.get("content-type", ""):
        return json.loads(text or "{}")
    return dict(parse_qsl(text, keep_blank_values=True))


def _is_placeholder(text: object) -> bool:
    return isinstance(text, str) and text.startswith(PLACEHOLDER_MARK)


class SlackOut:
    """The bot's outgoing Slack calls, each with the egress rules applied."""

    def __init__(self, client: WebClient, pacer: ChannelPacer | None = None):
        self.client = client
        self.pacer = pacer or ChannelPacer()

    def post(self, channel: str, message: SlackMessage, *, thread_ts: str | None = None) -> dict:
        """Post a message (in a thread if `thread_ts`); returns Slack's reply (`channel`, `ts`)."""
        self.pacer.wait(channel)
        response = self.client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            link_names=False,
            unfurl_links=False,
            unfurl_media=False,
            **message.as_kwargs(),
        )
        return response.data  # type: ignore[return-value]

    def update(self, channel: str, ts: str, message: SlackMessage) -> None:
        """Replace a message posted earlier (the placeholder) with `message`."""
        self.client.chat_update(channel=channel, ts=ts, link_names=False, **message.as_kwargs())

    def upload(self, channel: str, thread_ts: str | None, path: Path, title: str) -> None:
        """Upload a chart (PNG) into the thread with files_upload_v2."""
        self.client.files_upload_v2(
            channel=channel, thread_ts=thread_ts, file=str(path), filename=path.name,
            title=title, alt_txt=title,
        )

    def publish_home(self, slack_user_id: str, view: dict) -> None:
        self.client.views_publish(user_id=slack_user_id, view=view)
