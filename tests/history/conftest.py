"""The demo data with nine weeks of KPI history, and tool calls run the way the agent runs them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

from store.access import resolve_scope
from store.db import make_engine, make_session_factory, upgrade
from store.importer import import_paths
from tools.accounts import make_account_tools
from tools.context import CallerContext
from tools.history import backfill

HISTORY_WEEKS = 9


@pytest.fixture(scope="session")
def history_sessions(demo_dir, tmp_path_factory):
    """The demo data imported, and weekly snapshots of its last nine weeks. Read only."""
    path = tmp_path_factory.mktemp("history-db") / "kam.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    import_paths(engine, [demo_dir])
    sessions = make_session_factory(engine)
    backfill(sessions, HISTORY_WEEKS)
    yield sessions
    engine.dispose()


@pytest.fixture
def scope_of(history_sessions):
    def resolve(user_id: str):
        with history_sessions() as session:
            return resolve_scope(session, user_id=user_id)

    return resolve


@pytest.fixture(scope="session")
def movers_tool_graph(history_sessions):
    graph = StateGraph(MessagesState, context_schema=CallerContext)
    graph.add_node("tools", ToolNode(make_account_tools(history_sessions)))
    graph.add_edge(START, "tools")
    graph.add_edge("tools", END)
    return graph.compile()


@pytest.fixture
def movers_tool(movers_tool_graph, scope_of):
    """movers_tool(caller, **args) -> the kpi_movers tool's JSON, through a real ToolNode."""

    def call(caller: str, /, **args: Any) -> dict[str, Any]:
        message = AIMessage(content="", tool_calls=[{"name": "kpi_movers", "args": args,
                                                     "id": "c1"}])
        result = movers_tool_graph.invoke({"messages": [message]},
                                          context=CallerContext(scope=scope_of(caller)))
        return json.loads(result["messages"][-1].content)

    return call
