"""Fixtures for assistant tests: a writable demo database, a built knowledge index and
assistants made by the real factory (offline, or openai against a loopback mock)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.assistant import Assistant
from bot.config import Settings
from bot.factory import Services, build_assistant, build_services
from store.importer import import_paths


@pytest.fixture(scope="session")
def agent_home(tmp_path_factory, demo_dir: Path, guidance_home: Path) -> Path:
    """A data dir and a demo database the assistant may write to (plans, thread memory),
    starting from the shipped guidance index built once per test run."""
    home = tmp_path_factory.mktemp("agent-home")
    shutil.copytree(guidance_home / "chroma", home / "data" / "chroma")
    settings = Settings(database_url=f"sqlite:///{home / 'kam.db'}", kam_data_dir=home / "data")
    services = build_services(settings)
    import_paths(services.engine, [demo_dir])
    services.close()
    return home


def agent_settings(home: Path, **overrides) -> Settings:
    return Settings(
        database_url=f"sqlite:///{home / 'kam.db'}", kam_data_dir=home / "data", **overrides
    )


@pytest.fixture(scope="session")
def agent_services(agent_home: Path) -> Services:
    services = build_services(agent_settings(agent_home))
    yield services
    services.close()


@pytest.fixture(scope="session")
def offline_assistant(agent_home: Path, agent_services: Services, embedder) -> Assistant:
    assistant = build_assistant(agent_settings(agent_home), agent_services, embedder)
    yield assistant
    assistant.close()


@pytest.fixture
def make_assistant(
    agent_home: Path, agent_services: Services, embedder
) -> Callable[..., Assistant]:
    """Build an assistant with setting overrides (e.g. kam_llm='openai')."""
    built: list[Assistant] = []

    def make(**overrides) -> Assistant:
        assistant = build_assistant(
            agent_settings(agent_home, **overrides), agent_services, embedder
        )
        built.append(assistant)
        return assistant

    yield make
    for assistant in built:
        assistant.close()
