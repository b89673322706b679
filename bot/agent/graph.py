"""The LangChain agent: model + tools + system prompt + thread memory."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware, AgentState, ModelRequest, ModelResponse
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import SystemMessage, ToolMessage
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, sessionmaker

from prompts import Prompts
from store.access import AccessScope
from store.models import Account, User
from tools.accounts import UnknownOwner, resolve_owner
from tools.context import CallerContext

THREAD_SETUP_LOCK = 7_310_001  # the advisory lock replicas take to create the thread tables

log = logging.getLogger(__name__)

# The next middleware in the chain, down to the model call itself.
ModelHandler = Callable[[ModelRequest[CallerContext]], ModelResponse]
ToolHandler = Callable[[ToolCallRequest], ToolMessage | Command[Any]]


class AnswerTimeout(TimeoutError):
    """The answer ran past its time budget."""


class Deadline(AgentMiddleware[AgentState[Any], CallerContext]):
    """Stop before another model call once the caller's deadline has passed."""

    def wrap_model_call(
        self, request: ModelRequest[CallerContext], handler: ModelHandler
    ) -> ModelResponse:
        deadline = request.runtime.context.deadline
        if deadline is not None and time.monotonic() > deadline:
            raise AnswerTimeout("answer time budget used up")
        return handler(request)


class CallerPrompt(AgentMiddleware[AgentState[Any], CallerContext]):
    """Render the system prompt for the caller (name, role, as-of date) on every model call."""

    def __init__(self, prompts: Prompts):
        super().__init__()
        self.prompts = prompts

    def wrap_model_call(
        self, request: ModelRequest[CallerContext], handler: ModelHandler
    ) -> ModelResponse:
        context = request.runtime.context
        text = self.prompts.render(
            "system.md",
            user_name=context.scope.name,
            role=context.scope.role,
            as_of=context.as_of.isoformat() if context.as_of else "the latest order date",
        )
        return handler(request.override(system_message=SystemMessage(text)))


class ScopedFilters(AgentMiddleware[AgentState[Any], CallerContext]):
    """Refuse a tool call filtered by a team or a KAM whose accounts the caller may not all
    see. The tools would answer from the caller's share alone (or nothing), and the answer
    would then carry the team's or the KAM's name over figures that are not theirs: a
    manager of South asking for "renewals for team North" would read South's contracts."""

    def __init__(self, sessions: sessionmaker[Session]):
        super().__init__()
        self.sessions = sessions

    def wrap_tool_call(self, request: ToolCallRequest, handler: ToolHandler):
        args = request.tool_call.get("args") or {}
        context = request.runtime.context if request.runtime is not None else None
        team, owner = args.get("team"), args.get("owner")
        if context is None or context.scope.sees_everything or not (team or owner):
            return handler(request)
        refusal = self._refusal(context.scope, team, owner)
        if refusal is None:
            return handler(request)
        log.info("refused %s for %s: %s", request.tool_call["name"], context.scope.user_id, refusal)
        return ToolMessage(
            json.dumps({"error": "out_of_scope", "message": refusal}),
            tool_call_id=request.tool_call["id"],
            name=request.tool_call["name"],
        )

    def _refusal(self, scope: AccessScope, team: object, owner: object) -> str | None:
        yours = "your own accounts" if scope.role == "kam" else f"team {scope.team}'s accounts"
        with self.sessions() as session:
            if isinstance(team, str) and team.strip():
                members = select(User.user_id).where(
                    func.lower(User.team) == team.strip().lower())
                if self._hidden(session, scope, Account.owner_user_id.in_(members)):
                    return (f"team {team.strip()} has accounts outside what you can see "
                            f"({yours}), so I can't report on that team")
            if isinstance(owner, str) and owner.strip():
                try:
                    user_id = resolve_owner(session, owner)
                except UnknownOwner:
                    return None  # the tool says so itself
                if self._hidden(session, scope, Account.owner_user_id == user_id):
                    name = session.scalar(select(User.name).where(User.user_id == user_id))
                    return (f"{name}'s accounts are outside what you can see "
                            f"({yours}), so I can't report on them")
        return None

    @staticmethod
    def _hidden(session: Session, scope: AccessScope, accounts) -> bool:
        """Whether any account matching `accounts` is outside the caller's scope."""
        return bool(session.scalar(select(exists().where(accounts, ~scope.account_clause()))))


def open_checkpointer(path: Path) -> BaseCheckpointSaver:
    """Thread memory in a SQLite file, so a restart keeps conversations.

    A damaged file is moved aside (logged) and a new one started: losing the context of
    earlier conversations is better than failing every answer until someone notices.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = _open_thread_store(path)
    except sqlite3.DatabaseError as error:
        damaged = path.with_name(f"{path.name}.damaged-{datetime.now():%Y%m%d-%H%M%S}")
        log.error("thread store %s is damaged (%s): moved it to %s and started a new one",
                  path, error, damaged)
        for suffix in ("", "-wal", "-shm"):
            side = Path(f"{path}{suffix}")
            if side.exists():
                side.rename(Path(f"{damaged}{suffix}"))
        conn = _open_thread_store(path)
    return SqliteSaver(conn)


def open_postgres_checkpointer(conninfo: str) -> BaseCheckpointSaver:
    """Thread memory in the PostgreSQL database, shared by every replica (its tables are
    created once, under an advisory lock, when replicas start together)."""
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    pool = ConnectionPool(conninfo, min_size=1, max_size=8, open=True, kwargs={
        "autocommit": True, "prepare_threshold": 0, "row_factory": dict_row})
    saver = PostgresSaver(pool)  # type: ignore[arg-type]
    with pool.connection() as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (THREAD_SETUP_LOCK,))
        try:
            saver.setup()
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (THREAD_SETUP_LOCK,))
    return saver


def _open_thread_store(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        # A file that is not a database fails here, not at the first answer.
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
        if "checkpoints" in tables:
            conn.execute("SELECT thread_id FROM checkpoints LIMIT 1").fetchall()
    except sqlite3.DatabaseError:
        conn.close()
        raise
    return conn


def build_agent(
    model: BaseChatModel,
    tools: list[BaseTool],
    prompts: Prompts,
    checkpointer: BaseCheckpointSaver,
    middleware: Sequence[AgentMiddleware[Any, Any]] = (),
):
    """Compile the agent graph; the caller identity arrives per call as `context=`."""
    return create_agent(
        model,
        tools,
        middleware=[Deadline(), CallerPrompt(prompts), *middleware],
        context_schema=CallerContext,
        checkpointer=checkpointer,
    )
