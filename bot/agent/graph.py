"""The LangChain agent: model + tools + system prompt + thread memory."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware, AgentState, ModelRequest, ModelResponse
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import SystemMessage
from langchain_core.tools import BaseTool
from langgraph.checkpoint.sqlite import SqliteSaver

from prompts import Prompts
from tools.context import CallerContext

# The next middleware in the chain, down to the model call itself.
ModelHandler = Callable[[ModelRequest[CallerContext]], ModelResponse]


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


def open_checkpointer(path: Path) -> SqliteSaver:
    """Thread memory in a SQLite file, so a restart keeps conversations."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    return SqliteSaver(conn)


def build_agent(
    model: BaseChatModel,
    tools: list[BaseTool],
    prompts: Prompts,
    checkpointer: SqliteSaver,
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
