"""Fixtures for the drafting tests: a writable copy of the demo database per test, the
shipped guidance corpus indexed once (real embedder, temp Chroma), a guidance wrapper that
records what the drafts searched, and the drafting tools run through a real ToolNode."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode
from sqlalchemy import select

from knowledge.index import GuidanceIndex
from prompts import Prompts
from store.access import resolve_scope
from store.db import make_engine, make_session_factory
from store.models import AccountPlan
from tests.support.databases import copy_database
from tests.support.drafts import RecordingGuidance
from tools.context import CallerContext
from tools.drafting import Drafter, make_drafting_tools


@pytest.fixture(scope="session")
def shipped_guidance(shipped_index: GuidanceIndex) -> GuidanceIndex:
    return shipped_index


@pytest.fixture
def guidance(shipped_guidance: GuidanceIndex) -> RecordingGuidance:
    return RecordingGuidance(shipped_guidance)


@pytest.fixture
def db_path(demo_engine, tmp_path: Path) -> Path:
    """A private copy of the demo database (the shared one is read-only): drafts write plans."""
    return copy_database(demo_engine, tmp_path / "kam.db")


@pytest.fixture
def sessions(db_path: Path):
    engine = make_engine(f"sqlite:///{db_path}")
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "out"


@pytest.fixture
def drafter(sessions, guidance: RecordingGuidance, out_dir: Path) -> Drafter:
    return Drafter(sessions, guidance, Prompts(), out_dir)


@pytest.fixture
def caller(sessions) -> Callable[[str], CallerContext]:
    def make(user_id: str) -> CallerContext:
        with sessions() as session:
            return CallerContext(scope=resolve_scope(session, user_id=user_id))

    return make


@pytest.fixture
def saved_plans(sessions) -> Callable[[str], list[AccountPlan]]:
    """The plan rows stored for an account, oldest version first."""
    def rows(account_id: str) -> list[AccountPlan]:
        with sessions() as session:
            return list(session.execute(
                select(AccountPlan).where(AccountPlan.account_id == account_id)
                .order_by(AccountPlan.version)).scalars())

    return rows


@pytest.fixture
def call_tool(sessions, guidance: RecordingGuidance, out_dir: Path, caller):
    """Run one drafting tool call the way the agent does: a ToolNode, context injected."""
    tools = make_drafting_tools(sessions, guidance, Prompts(), out_dir)
    graph = StateGraph(MessagesState, context_schema=CallerContext)
    graph.add_node("tools", ToolNode(tools))
    graph.add_edge(START, "tools")
    graph.add_edge("tools", END)
    compiled = graph.compile()

    def call(user_id: str, name: str, /, **args: Any) -> dict[str, Any]:
        message = AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": "c1"}])
        out = compiled.invoke({"messages": [message]}, context=caller(user_id))["messages"][-1]
        try:
            return json.loads(out.content)
        except ValueError:
            return {"tool_error": out.content, "status": out.status}

    return call


@pytest.fixture
def cli_home(tmp_path: Path, guidance_home: Path, db_path: Path) -> dict[str, str]:
    """Environment for `kam` commands: the database copy and a data dir whose index already
    holds the shipped corpus (copied, not re-embedded)."""
    data = tmp_path / "data"
    shutil.copytree(guidance_home / "chroma", data / "chroma")
    return {"DATABASE_URL": f"sqlite:///{db_path}", "KAM_DATA_DIR": str(data),
            "KAM_LOG_LEVEL": "WARNING", "COLUMNS": "200"}
