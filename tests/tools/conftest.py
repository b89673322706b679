"""Fixtures for the account tools: the demo database, callers, and one tool call run the
way the agent runs it (LangGraph ToolNode with the caller's context injected)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

from store.access import AccessScope, resolve_scope
from tools.accounts import make_account_tools
from tools.context import CallerContext
from tools.kpi_config import KpiConfig
from tools.kpis import KpiEngine


@pytest.fixture(scope="session")
def account_tools(demo_sessions):
    return make_account_tools(demo_sessions)


def _graph(tools):
    graph = StateGraph(MessagesState, context_schema=CallerContext)
    graph.add_node("tools", ToolNode(tools))
    graph.add_edge(START, "tools")
    graph.add_edge("tools", END)
    return graph.compile()


@pytest.fixture(scope="session")
def tool_graph(account_tools):
    return _graph(account_tools)


@pytest.fixture(scope="session")
def scopes(demo_sessions) -> dict[str, AccessScope]:
    with demo_sessions() as session:
        return {
            user: resolve_scope(session, user_id=user)
            for user in ("u_kam_anna", "u_kam_dev", "u_mgr_north", "u_mgr_south", "u_admin")
        }


@pytest.fixture
def call_tool(tool_graph, scopes):
    """call_tool(caller, tool_name, **args) -> ToolMessage, through a real ToolNode."""

    def call(caller: str, name: str, /, **args: Any) -> ToolMessage:
        message = AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": "c1"}])
        context = CallerContext(scope=scopes[caller])
        return tool_graph.invoke({"messages": [message]}, context=context)["messages"][-1]

    return call


@pytest.fixture
def tool_json(call_tool):
    """tool_json(caller, tool_name, **args) -> the parsed JSON of a successful call."""

    def call(caller: str, name: str, /, **args: Any) -> dict[str, Any]:
        message = call_tool(caller, name, **args)
        assert message.status == "success", message.content
        return json.loads(message.content)

    return call


@pytest.fixture
def tool_json_with(demo_sessions, scopes):
    """tool_json_with(config)(caller, tool_name, **args): the tools built with KPI settings
    (fiscal year start, reporting currency, locale), called as the agent calls them."""

    def build(config: KpiConfig):
        graph = _graph(make_account_tools(demo_sessions, config=config))

        def call(caller: str, name: str, /, **args: Any) -> dict[str, Any]:
            message = AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": "c1"}])
            context = CallerContext(scope=scopes[caller])
            reply = graph.invoke({"messages": [message]}, context=context)["messages"][-1]
            assert reply.status == "success", reply.content
            return json.loads(reply.content)

        return call

    return build


@pytest.fixture
def engine_as(demo_sessions, scopes):
    sessions = []

    def build(user_id: str, **kwargs) -> KpiEngine:
        session = demo_sessions()
        sessions.append(session)
        return KpiEngine(session, scopes[user_id], **kwargs)

    yield build
    for session in sessions:
        session.close()
