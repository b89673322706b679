"""Fixtures for the Slack tests: the mock Web API, the real offline assistant on a copy of
the demo database, a scripted assistant for failure cases, and the real Bolt app served over
HTTP on 127.0.0.1, sent signed requests."""

from __future__ import annotations

import http.client
import itertools
import json
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from fakes import AS_OF, ScriptedModel, make_account_tool
from mock_slack import BOT_USER_ID, TEAM_ID, MockSlack
from slack_sdk.signature import SignatureVerifier
from sqlalchemy.orm import sessionmaker

from bot.agent import build_agent, open_checkpointer
from bot.assistant import Assistant
from bot.config import Settings
from bot.factory import build_assistant
from bot.services import build_services
from bot.slack_app import build_slack_app, shutdown_slack_app
from bot.slack_client import ChannelPacer
from bot.slack_server import SlackHttpServer
from prompts import Prompts
from store.db import make_engine, make_session_factory

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
ANNA = "U0KAM00001"  # KAM, North: owns Acme Industrial (A0001)
BEN = "U0KAM00002"  # KAM, North: owns Stark Components (A0006)
MARIA = "U0MGR00001"  # manager of the North team
STRANGER = "U0NOBODY99"
CHANNEL = "C0SALES001"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")


def copy_database(demo_engine, path: Path) -> None:
    """A consistent copy of the demo database (SQLite's backup API, safe with WAL)."""
    source = sqlite3.connect(demo_engine.url.database)
    target = sqlite3.connect(path)
    source.backup(target)
    source.close()
    target.close()


@pytest.fixture
def slack_sessions(demo_engine, tmp_path: Path):
    """A private copy of the demo database for the scripted assistant's tests."""
    copy_database(demo_engine, tmp_path / "kam.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'kam.db'}")
    yield make_session_factory(engine)
    engine.dispose()


@dataclass
class Offline:
    assistant: Assistant
    sessions: sessionmaker


@pytest.fixture(scope="session")
def offline(demo_engine, tmp_path_factory) -> Offline:
    """The real assistant from `bot.factory` with the offline model, built once, on a session
    copy of the demo database. Tests share it: event ids are unique, and a test that plants
    data uses an account no other test looks at."""
    root = tmp_path_factory.mktemp("offline-slack")
    copy_database(demo_engine, root / "kam.db")
    settings = Settings(
        _env_file=None, database_url=f"sqlite:///{root / 'kam.db'}", kam_data_dir=root / "data",
        kam_llm="offline",
    )
    services = build_services(settings)
    assistant = build_assistant(settings, services)
    yield Offline(assistant, services.sessions)
    assistant.close()
    services.close()


@pytest.fixture
def mock_slack():
    mock = MockSlack().start()
    yield mock
    mock.stop()


@pytest.fixture
def chart_png(tmp_path: Path) -> Path:
    path = tmp_path / "revenue_by_quarter.png"
    path.write_bytes(PNG)
    return path


@pytest.fixture
def assistant(slack_sessions, tmp_path: Path, chart_png: Path):
    """The real Assistant class around a scripted model and one scoped tool."""
    tools = [make_account_tool(slack_sessions, str(chart_png))]
    memory = open_checkpointer(tmp_path / "threads.db")
    agent = build_agent(ScriptedModel(), tools, Prompts(), memory)
    assistant = Assistant(
        agent=agent, tools=tools, sessions=slack_sessions, model_name="scripted", as_of=AS_OF,
        answer_budget_s=20, step_limit=8,
    )
    yield assistant
    assistant.close()


@pytest.fixture
def settings(mock_slack: MockSlack, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=mock_slack.url,
        kam_data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'kam.db'}",
        kam_slack_rate_limit_retries=2,
    )


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
        body = json.dumps({
            "token": "unused", "team_id": TEAM_ID, "api_app_id": "A0KAMAPP1",
            "type": "event_callback", "event_id": event_id or self.next_id("Ev"),
            "event_time": int(time.time()), "event": event,
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
        })
        headers = kwargs.pop("headers", {})
        if retry is not None:
            headers = {**headers, "X-Slack-Retry-Num": str(retry),
                       "X-Slack-Retry-Reason": "http_timeout"}
        return self.post(body, content_type="application/json", headers=headers, **kwargs)

    def mention(self, text: str, *, user: str = ANNA, channel: str = CHANNEL,
                thread_ts: str | None = None, ts: str | None = None, **kwargs) -> Reply:
        event = {"type": "app_mention", "user": user, "text": f"<@{BOT_USER_ID}> {text}",
                 "ts": ts or self.next_ts(), "channel": channel, "event_ts": self.next_ts()}
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
               response_url: str) -> Reply:
        payload = {
            "type": "block_actions", "user": {"id": user}, "team": {"id": TEAM_ID},
            "api_app_id": "A0KAMAPP1", "trigger_id": self.next_id("trigger."),
            "container": {"type": "message", "channel_id": channel},
            "channel": {"id": channel}, "response_url": response_url,
            "actions": [{"action_id": action_id, "block_id": "b", "value": value,
                         "type": "button", "action_ts": self.next_ts()}],
        }
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, content_type="application/x-www-form-urlencoded")

    _ts = itertools.count(1)

    def next_ts(self) -> str:
        return f"1760000000.{next(self._ts):06d}"


@pytest.fixture
def serve(settings, offline):
    """Serve a Bolt app built by `build_slack_app` on 127.0.0.1; returns a signed sender.

    By default the app answers with the offline assistant; pass `assistant=` and
    `sessions=` for another one.
    """
    servers: list[tuple[SlackHttpServer, object]] = []

    def start(**kwargs) -> SlackSender:
        kwargs.setdefault("pacer", ChannelPacer(0.01))
        app = build_slack_app(
            kwargs.pop("settings", settings),
            kwargs.pop("assistant", offline.assistant),
            kwargs.pop("sessions", offline.sessions),
            **kwargs,
        )
        server = SlackHttpServer(app, "127.0.0.1", 0).start()
        servers.append((server, app))
        sender = SlackSender(server.url)
        sender.drain = lambda: shutdown_slack_app(app)
        return sender

    yield start
    # Finish the answers under way while the mock Web API is still up.
    for server, app in servers:
        server.shutdown()
        shutdown_slack_app(app)


@pytest.fixture
def slack(serve) -> SlackSender:
    """The app with the offline assistant, served and ready for signed requests."""
    return serve()


@pytest.fixture
def scripted(serve, assistant, slack_sessions) -> SlackSender:
    """The app with the scripted assistant (failures, slowness, charts on demand)."""
    return serve(assistant=assistant, sessions=slack_sessions)
