"""Fixtures for the Slack tests: the mock Web API, the real offline assistant on a copy of
the demo database, a scripted assistant for failure cases, and the real Bolt app served over
HTTP on 127.0.0.1, sent signed requests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from bot.agent.graph import build_agent, open_checkpointer
from bot.assistant import Assistant
from bot.config import Settings
from bot.factory import build_assistant, build_services
from bot.slack.app import build_slack_app, shutdown_slack_app
from bot.slack.egress import ChannelPacer
from bot.slack.server import SlackHttpServer
from prompts import Prompts
from store.db import make_engine, make_session_factory
from tests.support.databases import copy_database
from tests.support.fakes import AS_OF, ScriptedModel, make_account_tool
from tests.support.mock_slack import MockSlack
from tests.support.slack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    SlackSender,
)

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")


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
