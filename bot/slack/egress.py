"""Everything the bot sends to Slack goes through `SlackOut`, which applies the egress rules.

- 429 answers are retried after `Retry-After`, a bounded number of times
  (slack_sdk only retries connection errors by default, so the handler is added here);
- `chat.postMessage` is paced to one message per second per channel (Slack's limit);
- messages go out with `link_names` and unfurls off: nothing the model wrote
  becomes a ping or a link preview (the text itself is escaped by `bot.slack.blocks`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from slack_sdk import WebClient
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from bot.slack.blocks import SlackMessage

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
    token: str | None, base_url: str, *, rate_limit_retries: int = 3, timeout_s: int = 30
) -> WebClient:
    """A WebClient for the bot token with connection-error and bounded rate-limit retries."""
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=timeout_s,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=1),
            BoundedRateLimitRetry(max_retry_count=rate_limit_retries),
        ],
    )


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
