"""Build the Assistant and everything it needs from Settings, in one place: the engine and
session factory (`Services`), the embedder, the guidance index, the model and the agent."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from langchain.agents.middleware import AgentMiddleware
from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.agent.graph import (
    ScopedFilters,
    build_agent,
    open_checkpointer,
    open_postgres_checkpointer,
)
from bot.agent.models import TransientFallback, build_openai_model
from bot.agent.offline.model import CallerScope, OfflineBrain, OfflineChatModel
from bot.assistant import Assistant
from bot.config import Settings
from knowledge.embeddings import Embedder, TextEmbedder
from knowledge.index import GuidanceIndex, build_guidance_index, default_sources
from prompts import Prompts
from store.db import ensure_schema, make_engine, make_session_factory
from store.ratelimit import RateLimit
from tools.accounts import make_account_tools
from tools.drafting import make_drafting_tools
from tools.guidance import make_guidance_tools
from tools.kpi_config import KpiConfig

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything the assistant, the CLI and Slack need, built once and passed in.

    `engine`/`sessions` write (imports, saved plans, feedback, Slack bookkeeping);
    `reads` is the session factory of an engine whose connections cannot write, the one
    every agent tool, the offline model and the scope checks read through.
    """

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    reader: Engine
    reads: sessionmaker[Session]

    def close(self) -> None:
        self.reader.dispose()
        self.engine.dispose()


def build_services(settings: Settings, *, migrate: bool = True, create: bool = True) -> Services:
    """Create the engines (migrating the schema to the latest version unless told not to).

    `create=False` (the Slack server and its workers): a SQLite file that is not there is
    an error (store.db.DatabaseMissing), never a new empty database.
    """
    engine = make_engine(settings.db_url, create=create)
    if migrate:
        ensure_schema(engine)
    reader = make_engine(settings.read_url, create=create, read_only=True)
    return Services(settings=settings, engine=engine, sessions=make_session_factory(engine),
                    reader=reader, reads=make_session_factory(reader))


def kpi_config(settings: Settings) -> KpiConfig:
    """The KPI engine's settings: fiscal calendar and reporting currency."""
    return KpiConfig(fiscal_year_start=settings.kam_fiscal_year_start,
                     reporting_currency=settings.kam_reporting_currency)


def build_tools(services: Services, index, prompts: Prompts) -> list:
    """The agent's tool allowlist: account tools and guidance search that only read, and
    the drafting tools, of which `draft_account_plan` alone writes (the plan it saves)."""
    config = kpi_config(services.settings)
    return [
        *make_account_tools(services.reads, config=config),
        *make_guidance_tools(index),
        *make_drafting_tools(services.reads, index, prompts, services.settings.out_dir,
                             config=config, plans=services.sessions),
    ]


def open_guidance_index(settings: Settings, embedder: TextEmbedder) -> GuidanceIndex:
    """The guidance index, brought up to date with the guidance files.

    The index only mirrors the files (shipped and the user's), so a damaged one is moved
    aside (logged) and rebuilt from them instead of failing every answer.
    """
    try:
        return _synced_index(settings, embedder)
    except Exception as error:
        if settings.kam_chroma_url or not _damaged_index(error):
            raise  # a Chroma server is its operator's to repair
        damaged = settings.chroma_dir.with_name(
            f"{settings.chroma_dir.name}.damaged-{datetime.now():%Y%m%d-%H%M%S}"
        )
        log.error("guidance index %s is damaged (%s): moved it to %s and rebuilding it",
                  settings.chroma_dir, error, damaged)
        _forget_chroma_client(settings.chroma_dir)
        shutil.move(settings.chroma_dir, damaged)
        return _synced_index(settings, embedder)


def _synced_index(settings: Settings, embedder: TextEmbedder) -> GuidanceIndex:
    index = build_guidance_index(settings, embedder)
    report = index.sync(default_sources(settings))
    if report.chunks_added or report.chunks_removed:
        log.info(
            "guidance index: %d chunks added, %d removed",
            report.chunks_added,
            report.chunks_removed,
        )
    return index


def _damaged_index(error: Exception) -> bool:
    from chromadb.errors import ChromaError

    return isinstance(error, ChromaError | sqlite3.DatabaseError)


def _forget_chroma_client(chroma_dir) -> None:
    # Chroma keeps one client per directory for the life of the process, a failed one
    # included: without this, the rebuilt index would get the broken client back.
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(str(chroma_dir), None)


def open_thread_memory(settings: Settings) -> BaseCheckpointSaver:
    """Conversations where the accounts are: in PostgreSQL when DATABASE_URL is (shared by
    every replica), else in <KAM_DATA_DIR>/threads.db."""
    url = make_url(settings.db_url)
    if url.get_backend_name() == "postgresql":
        return open_postgres_checkpointer(
            url.set(drivername="postgresql").render_as_string(hide_password=False))
    return open_checkpointer(settings.kam_data_dir / "threads.db")


def build_assistant(
    settings: Settings,
    services: Services | None = None,
    embedder: TextEmbedder | None = None,
    *,
    limit_users: bool = False,
    model: BaseChatModel | None = None,
) -> Assistant:
    """The one factory used by the CLI, Slack and tests (which pass a shared embedder).

    `limit_users` (Slack): each person's questions go through the per-user rate limit.
    `model`: a chat model instead of KAM_LLM's (evals: the red team's obedient model).
    """
    services = services or build_services(settings)
    prompts = Prompts(currency=settings.kam_reporting_currency, locale=settings.kam_locale,
                      fiscal_start=settings.kam_fiscal_year_start)
    # The model loads here, in this thread: loaded on a background thread while this one
    # imported other packages, torch came out partially initialised now and then and
    # crashed answer workers at start (seen in `make bench-soak`).
    embedder = embedder or Embedder.from_settings(settings)
    index = open_guidance_index(settings, embedder)
    tools = build_tools(services, index, prompts)
    brain = OfflineBrain(
        services.reads, prompts, cache_dir=settings.kam_data_dir / "cache",
        as_of=settings.kam_as_of, fiscal_start=settings.kam_fiscal_year_start
    )
    offline = OfflineChatModel(brain=brain)
    middleware: list[AgentMiddleware[Any, Any]] = []
    if model is not None:
        model_name = model._llm_type
    elif settings.kam_llm == "openai":
        model = build_openai_model(settings)
        model_name = f"openai:{settings.kam_model}"
        if settings.kam_llm_fallback == "offline":
            middleware.append(TransientFallback(offline))
    else:
        model, model_name = offline, "offline"
    # Innermost, so that it also scopes the offline model when the fallback swaps it in.
    middleware.append(CallerScope())
    middleware.append(ScopedFilters(services.reads))
    agent = build_agent(
        model,
        tools,
        prompts,
        open_thread_memory(settings),
        middleware,
    )
    return Assistant(
        agent=agent,
        tools=tools,
        sessions=services.reads,
        model_name=model_name,
        as_of=settings.kam_as_of,
        answer_budget_s=settings.kam_answer_budget_s,
        step_limit=settings.kam_agent_step_limit,
        max_question_chars=settings.kam_max_question_chars,
        rate_limit=RateLimit(
            services.engine,
            per_minute=settings.kam_user_rate_per_minute,
            burst=settings.kam_user_rate_burst,
        ) if limit_users and settings.kam_user_rate_per_minute else None,
    )
