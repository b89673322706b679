"""Fixtures for the red-team suite: the demo data with instructions planted in every stored
text field of Anna's Acme Industrial and in a guidance file the search retrieves; the
assistant with three models (offline; `ObedientModel` in-process; the same obedient
policy as an OpenAI-compatible server on 127.0.0.1, reached by the real ChatOpenAI); the
Slack app served over HTTP against the mock Web API."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.agent.redteam import (
    ObedientModel,
    obey,
    plant_injections,
    write_guidance_injection,
)
from bot.assistant import Assistant
from bot.config import Settings
from bot.factory import Services, build_assistant, build_services
from bot.slack.app import build_slack_app, shutdown_slack_app
from bot.slack.egress import ChannelPacer
from bot.slack.server import SlackHttpServer
from tests.support.databases import copy_database
from tests.support.mock_openai import MockOpenAI
from tests.support.slack import BOT_TOKEN, SIGNING_SECRET, SlackSender

MODELS = ("offline", "obedient", "openai")


@pytest.fixture(scope="session")
def redteam_home(tmp_path_factory, demo_engine, guidance_home: Path) -> Path:
    home = tmp_path_factory.mktemp("redteam-home")
    copy_database(demo_engine, home / "kam.db")
    shutil.copytree(guidance_home / "chroma", home / "data" / "chroma")
    return home


def redteam_settings(home: Path, **overrides) -> Settings:
    return Settings(_env_file=None, database_url=f"sqlite:///{home / 'kam.db'}",
                    kam_data_dir=home / "data", **overrides)


@pytest.fixture(scope="session")
def obedient_server():
    """The obedient model as an OpenAI-compatible API: it reads each request's messages."""
    with MockOpenAI(responder=lambda body: obey(body["messages"])) as server:
        yield server


@dataclass
class RedTeam:
    services: Services
    assistants: dict[str, Assistant]
    server: MockOpenAI

    @property
    def sessions(self):
        return self.services.sessions


@pytest.fixture(scope="session")
def redteam(redteam_home: Path, embedder, obedient_server) -> RedTeam:
    settings = redteam_settings(redteam_home)
    services = build_services(settings)
    plant_injections(services.engine)
    write_guidance_injection(settings.user_corpus_dir)
    openai = redteam_settings(
        redteam_home, kam_llm="openai", kam_model="obedient", openai_api_key="sk-test",
        openai_base_url=obedient_server.base_url, kam_llm_max_retries=0)
    assistants = {
        "offline": build_assistant(settings, services, embedder),
        "obedient": build_assistant(settings, services, embedder, model=ObedientModel()),
        "openai": build_assistant(openai, services, embedder),
    }
    yield RedTeam(services, assistants, obedient_server)
    for assistant in assistants.values():
        assistant.close()
    services.close()


@pytest.fixture(params=MODELS)
def model(request) -> str:
    return request.param


@pytest.fixture
def slack(redteam, redteam_home, mock_slack, model):
    """The Slack app answering with the red team's assistant for `model`, served on
    127.0.0.1 the way `kam serve` serves it (signature checked on the raw body)."""
    settings = redteam_settings(redteam_home, slack_bot_token=BOT_TOKEN,
                                slack_signing_secret=SIGNING_SECRET, slack_api_url=mock_slack.url)
    app = build_slack_app(settings, redteam.assistants[model], redteam.sessions,
                          pacer=ChannelPacer(0.01))
    server = SlackHttpServer(app, "127.0.0.1", 0, signing_secret=SIGNING_SECRET).start()
    sender = SlackSender(server.url)
    sender.drain = lambda: shutdown_slack_app(app)
    yield sender
    server.shutdown()
    shutdown_slack_app(app)
