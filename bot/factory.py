"""Build the Assistant and everything it needs from Settings, in one place: the engine and
session factory (`Services`), the embedder, the guidance index, the model and the agent."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from langchain.agents.middleware import AgentMiddleware
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.agent.graph import build_agent, open_checkpointer
from bot.agent.models import TransientFallback, build_openai_model
from bot.agent.offline.model import CallerScope, OfflineBrain, OfflineChatModel
from bot.assistant import Assistant
from bot.config import Settings
from knowledge.embeddings import BackgroundEmbedder, TextEmbedder
from knowledge.index import build_guidance_index, default_sources
from prompts import Prompts
from store.db import ensure_schema, make_engine, make_session_factory
from tools.accounts import make_account_tools
from tools.drafting import make_drafting_tools
from tools.guidance import make_guidance_tools

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything the assistant, the CLI and Slack need, built once and passed in."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]

    def close(self) -> None:
        self.engine.dispose()


def build_services(settings: Settings, *, migrate: bool = True) -> Services:
    """Create the engine (migrating the schema to the latest version unless told not to)."""
    engine = make_engine(settings.db_url)
    if migrate:
        ensure_schema(engine)
    return Services(settings=settings, engine=engine, sessions=make_session_factory(engine))


def build_tools(services: Services, index, prompts: Prompts) -> list:
    """The agent's tool allowlist: read-only account tools, guidance search and drafting."""
    return [
        *make_account_tools(services.sessions),
        *make_guidance_tools(index),
        *make_drafting_tools(services.sessions, index, prompts, services.settings.out_dir),
    ]


def build_assistant(
    settings: Settings, services: Services | None = None, embedder: TextEmbedder | None = None
) -> Assistant:
    """The one factory used by the CLI, Slack and tests (which pass a shared embedder)."""
    services = services or build_services(settings)
    prompts = Prompts()
    # The model loads on a worker thread while the database, index and agent are set up.
    embedder = embedder or BackgroundEmbedder.from_settings(settings)
    index = build_guidance_index(settings, embedder)
    report = index.sync(default_sources(settings))
    if report.chunks_added or report.chunks_removed:
        log.info(
            "guidance index: %d chunks added, %d removed",
            report.chunks_added,
            report.chunks_removed,
        )
    tools = build_tools(services, index, prompts)
    brain = OfflineBrain(
        services.sessions, prompts, cache_dir=settings.kam_data_dir / "cache",
        as_of=settings.kam_as_of, fiscal_start=settings.kam_fiscal_year_start
    )
    offline = OfflineChatModel(brain=brain)
    middleware: list[AgentMiddleware[Any, Any]] = []
    if settings.kam_llm == "openai":
        model = build_openai_model(settings)
        model_name = f"openai:{settings.kam_model}"
        if settings.kam_llm_fallback == "offline":
            middleware.append(TransientFallback(offline))
    else:
        model, model_name = offline, "offline"
    # Innermost, so that it also scopes the offline model when the fallback swaps it in.
    middleware.append(CallerScope())
    agent = build_agent(
        model,
        tools,
        prompts,
        open_checkpointer(settings.kam_data_dir / "threads.db"),
        middleware,
    )
    return Assistant(
        agent=agent,
        tools=tools,
        sessions=services.sessions,
        model_name=model_name,
        as_of=settings.kam_as_of,
        answer_budget_s=settings.kam_answer_budget_s,
        step_limit=settings.kam_agent_step_limit,
    )
