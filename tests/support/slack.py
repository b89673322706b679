"""Slack test helpers: the people and channel of the demo workspace, and `SlackSender`, which
sends requests to the served app the way Slack does (signed, with Slack's headers)."""

from __future__ import annotations

import http.client
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from slack_sdk.signature import SignatureVerifier

from tests.support.mock_slack import BOT_USER_ID, TEAM_ID

SIGNING_SECRET = "test-signing-secret"

BOT_TOKEN = "xoxb-test-token"

ANNA = "U0KAM00001"  # KAM, North: owns Acme Industrial (A0001)

BEN = "U0KAM00002"  # KAM, North: owns Stark Components (A0006)

MARIA = "U0MGR00001"  # manager of the North team

ADA = "U0ADMIN001"  # admin: sees every account

STRANGER = "U0NOBODY99"

CHANNEL = "C0SALES001"



def event_payload(event: dict, event_id: str) -> dict:
    """An Events API body as Slack sends it (over HTTP, or in a Socket Mode envelope)."""
    return {
        "token": "unused", "team_id": TEAM_ID, "api_app_id": "A0KAMAPP1",
        "type": "event_callback", "event_id": event_id, "event_time": int(time.time()),
        "event": event,
        "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
    }


def mention_event(text: str, ts: str, *, user: str = ANNA, channel: str = CHANNEL) -> dict:
    return {"type": "app_mention", "user": user, "text": f"<@{BOT_USER_ID}> {text}",
            "ts": ts, "channel": channel, "event_ts": ts}


@dataclass
class Reply:
    status: int
    body: str
    elapsed_ms: float



class SlackSender:
    """Sends requests to the served app the way Slack does: signed, with Slack's headers.

    `drain()` waits until the app has finished all work it took (then takes no more): after
    it, the mock holds every call the app will ever make, so counts are final.
    """

    def __init__(self, url: str, secret: str = SIGNING_SECRET):
        self.drain: Callable[[], None] = lambda: None
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.verifier = SignatureVerifier(secret)

    def post(self, body: str, *, content_type: str, timestamp: int | None = None,
             signature: str | None = None, headers: dict | None = None,
             path: str = "/slack/events") -> Reply:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        sent = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature or self.verifier.generate_signature(
                timestamp=ts, body=body),
            **(headers or {}),
        }
        return self.request("POST", path, body, sent)

    def request(self, method: str, path: str, body: str = "", headers: dict | None = None) -> Reply:
        started = time.perf_counter()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request(method, path, body=body.encode(), headers=headers or {})
            response = conn.getresponse()
            text = response.read().decode()
        finally:
            conn.close()
        return Reply(response.status, text, (time.perf_counter() - started) * 1000)

    def next_id(self, prefix: str) -> str:
        # Unique across tests: the offline tests share one database of handled event ids.
        return f"{prefix}{uuid.uuid4().hex[:12].upper()}"

    # ------------------------------------------------------------ Slack payloads

    def event(self, event: dict, *, event_id: str | None = None, retry: int | None = None,
              **kwargs) -> Reply:
        body = json.dumps(event_payload(event, event_id or self.next_id("Ev")))
        headers = kwargs.pop("headers", {})
        if retry is not None:
            headers = {**headers, "X-Slack-Retry-Num": str(retry),
                       "X-Slack-Retry-Reason": "http_timeout"}
        return self.post(body, content_type="application/json", headers=headers, **kwargs)

    def mention(self, text: str, *, user: str = ANNA, channel: str = CHANNEL,
                thread_ts: str | None = None, ts: str | None = None, **kwargs) -> Reply:
        event = {**mention_event(text, ts or self.next_ts(), user=user, channel=channel),
                 "event_ts": self.next_ts()}
        if thread_ts:
            event["thread_ts"] = thread_ts
        return self.event(event, **kwargs)

    def direct_message(self, text: str, *, user: str = ANNA, channel: str = "D0ANNA001",
                       thread_ts: str | None = None, ts: str | None = None, **kwargs) -> Reply:
        event = {"type": "message", "channel_type": "im", "user": user, "text": text,
                 "ts": ts or self.next_ts(), "channel": channel}
        if thread_ts:
            event["thread_ts"] = thread_ts
        return self.event(event, **kwargs)

    def thread_started(self, *, user: str = ANNA, channel: str = "D0ANNA001",
                       thread_ts: str | None = None, viewing: str | None = None,
                       changed: bool = False, **kwargs) -> Reply:
        """The assistant panel opened (or, with `changed`, the user moved to `viewing`)."""
        context = {"channel_id": viewing, "team_id": TEAM_ID} if viewing else {}
        kind = "assistant_thread_context_changed" if changed else "assistant_thread_started"
        return self.event({"type": kind, "event_ts": self.next_ts(), "assistant_thread": {
            "user_id": user, "channel_id": channel, "context": context,
            "thread_ts": thread_ts or self.next_ts()}}, **kwargs)

    def command(self, text: str, *, user: str = ANNA, channel: str = CHANNEL,
                response_url: str) -> Reply:
        body = urlencode({
            "token": "unused", "team_id": TEAM_ID, "team_domain": "kam", "channel_id": channel,
            "channel_name": "sales", "user_id": user, "user_name": "someone", "command": "/kam",
            "text": text, "api_app_id": "A0KAMAPP1", "response_url": response_url,
            "trigger_id": self.next_id("trigger."),
        })
        return self.post(body, content_type="application/x-www-form-urlencoded")

    def action(self, action_id: str, value: str, *, user: str = ANNA, channel: str = CHANNEL,
               response_url: str, message: dict | None = None, ephemeral: bool = False,
               kind: str = "button") -> Reply:
        """A button pressed (or with `kind` "overflow" or "static_select", an option picked),
        on `message` (its ts, thread_ts and blocks) if given."""
        container = {"type": "message", "channel_id": channel, "is_ephemeral": ephemeral}
        if message is not None:
            container |= {"message_ts": message["ts"], "thread_ts": message.get("thread_ts")}
        payload = {
            "type": "block_actions", "user": {"id": user}, "team": {"id": TEAM_ID},
            "api_app_id": "A0KAMAPP1", "trigger_id": self.next_id("trigger."),
            "container": container, "channel": {"id": channel}, "response_url": response_url,
            "actions": [{"action_id": action_id, "block_id": "b", "type": kind,
                         "action_ts": self.next_ts(),
                         **({"value": value} if kind == "button" else
                            {"selected_option": {"value": value}})}],
        }
        if message is not None and not ephemeral:
            payload["message"] = message
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, content_type="application/x-www-form-urlencoded")

    _ts = itertools.count(1)

    def next_ts(self) -> str:
        return f"1760000000.{next(self._ts):06d}"

