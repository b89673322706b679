"""A scripted chat model and one scoped account tool, for a deterministic assistant in Slack tests.

The model reads the question: "How is ACCOUNT doing?" (and the other phrasings
below) calls `account_brief`; a question without an account reuses the account
of the previous turn in the same thread (so follow-ups show that thread memory
works); anything else is echoed back as "You asked: …". "explode" raises, "slowly" takes
a second.
"""

from __future__ import annotations

import json
import re
import time
from datetime import date

from langchain.tools import ToolRuntime, tool
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.models import Account, Activity, Order
from tools.context import CallerContext

AS_OF = date(2026, 6, 30)
SLOW_S = 1.0
ACCOUNT_QUESTIONS = [
    re.compile(r"How is (?P<account>.+?) doing", re.I),
    re.compile(r"Summarise the account (?P<account>.+?)\s*$", re.I),
    re.compile(r"QBR with (?P<account>.+?)\s*$", re.I),
    re.compile(r"account plan for (?P<account>.+?)\s*$", re.I),
]


def account_in(text: str) -> str | None:
    for pattern in ACCOUNT_QUESTIONS:
        if match := pattern.search(text):
            return match.group("account").strip(" ?")
    return None


class ScriptedModel(BaseChatModel):
    """Deterministic and stateless: the reply depends only on the messages it is given."""

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools, **kwargs):
        return self

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages))])

    def _reply(self, messages) -> AIMessage:
        last = messages[-1]
        if isinstance(last, ToolMessage):
            return AIMessage(_compose(json.loads(last.content)))
        question = last.text if isinstance(last, HumanMessage) else ""
        if "explode" in question:
            raise RuntimeError("the scripted model exploded")
        if "slowly" in question:
            time.sleep(SLOW_S)
        account = account_in(question) or _previous_account(messages)
        if account is None:
            return AIMessage(f"You asked: {question}")
        turn = sum(isinstance(m, HumanMessage) for m in messages)
        args = {"account": account, "chart": "chart" in question.lower()}
        return AIMessage("", tool_calls=[{"name": "account_brief", "args": args, "id": f"c{turn}"}])


def _previous_account(messages) -> str | None:
    for message in reversed(messages[:-1]):
        if isinstance(message, AIMessage):
            for call in message.tool_calls:
                return call["args"]["account"]
    return None


def _compose(data: dict) -> str:
    if "error" in data:
        return f"{data['error']}."
    return (
        f"# {data['name']}\n"
        f"{data['name']} had revenue of {data['revenue']:,.2f} in the last 12 months.\n\n"
        f"- **Revenue:** {data['revenue']:,.2f}\n"
        f"- **Orders:** {data['orders']}\n\n"
        f"Latest note: {data['note']}\n\n"
        "Plan the renewal early [Renewals and negotiation › Timing]."
    )


def make_account_tool(sessions: sessionmaker[Session], chart_path: str | None = None):
    """`account_brief`: revenue and the latest note of one account the caller may see."""

    @tool("account_brief")
    def account_brief(
        account: str, runtime: ToolRuntime[CallerContext], chart: bool = False
    ) -> str:
        """Revenue and latest note of an account, by name or id."""
        scope = runtime.context.scope
        with sessions() as session:
            row = session.execute(
                select(Account).where(
                    scope.account_clause(),
                    (func.lower(Account.name) == account.lower()) | (Account.account_id == account),
                )
            ).scalar_one_or_none()
            if row is None:
                return json.dumps({"error": "not found or not yours"})
            revenue, orders = session.execute(
                select(func.coalesce(func.sum(Order.revenue_cents), 0), func.count())
                .where(Order.account_id == row.account_id)
            ).one()
            note = session.scalar(
                select(Activity.notes)
                .where(Activity.account_id == row.account_id, Activity.notes.is_not(None))
                .order_by(Activity.occurred_on.desc(), Activity.activity_id.desc())
                .limit(1)
            )
        payload = {
            "name": row.name, "revenue": revenue / 100, "orders": orders, "note": note or "none",
            "as_of": AS_OF.isoformat(),
        }
        if chart and chart_path:
            payload["charts"] = [chart_path]
        return json.dumps(payload)

    return account_brief
