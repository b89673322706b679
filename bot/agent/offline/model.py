"""The embedded offline model: a deterministic chat model with tool calling, no key, no network.

It reads a question into a `Request` (`reading`), plans the tool calls for it
(`planning`) and, once the tool results are in, writes the answer (`writing`). The
request rides along in the message (`additional_kwargs`), so the next question in the
thread is read against it: "and csat?", "what about initech", "why?", "make it shorter".
It asks rather than guesses (which account, when a name fits several), says when a name
matches nothing the caller may see, and never runs a tool for a request it cannot do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from langchain.agents.middleware import AgentMiddleware, AgentState, ModelRequest, ModelResponse
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, ValidationError
from sqlalchemy.orm import Session, sessionmaker

from bot.agent.offline import classifier, training
from bot.agent.offline.lexicon import Lexicon
from bot.agent.offline.planning import plan
from bot.agent.offline.reading import SHORTER, Directory, Reader
from bot.agent.offline.request import CHOICES_KEY, NEEDS_ACCOUNT, REQUEST_KEY, Request
from bot.agent.offline.writing import OFFLINE_MARK, reply, shorten, write_answer
from prompts import Prompts
from store.access import AccessScope
from tools.context import CallerContext
from tools.payload import loads

log = logging.getLogger(__name__)
# How each intent reads to a person, for "did you mean 1) … or 2) …?".
READINGS = {
    "account_summary": "a summary of {subject}", "kpi": "a figure (revenue, NPS, margin…)",
    "rank": "a ranking of your accounts", "at_risk": "your accounts at risk",
    "renewals": "contracts up for renewal", "stakeholders": "the stakeholder map",
    "activities": "recent meetings, calls and emails", "opportunities": "open opportunities",
    "tickets": "open support tickets", "customer_kpis": "the customer's own KPIs",
    "compare_periods": "this period against an earlier one",
    "risk_advice": "why an account is at risk and what to do",
    "guidance": "advice from the KAM guidance", "draft_plan": "a draft account plan",
    "draft_agenda": "a draft QBR agenda", "draft_prep": "QBR prep notes",
    "portfolio": "a portfolio overview", "movers": "what changed since an earlier week",
    "out_of_scope": "something I can't do",
}
ModelHandler = Callable[[ModelRequest[CallerContext]], ModelResponse]


class OfflineBrain:
    """Reads questions, plans tool calls and writes answers, for one store."""

    def __init__(self, sessions: sessionmaker[Session], prompts: Prompts, *,
                 cache_dir: Path | None = None, as_of=None, fiscal_start: int = 1):
        lexicon = Lexicon()
        trained = classifier.load_or_train(
            cache_dir, training.digest_inputs() + lexicon.digest(),
            lambda: training.training_set(lexicon))
        known = lexicon.known_words(*training.vocabulary_texts())
        self.reader = Reader(Directory(sessions, lexicon, as_of), lexicon, trained, known,
                             fiscal_start=fiscal_start)
        self.prompts = prompts

    def respond(self, messages: Sequence[BaseMessage], scope: AccessScope) -> AIMessage:
        previous, question, turn = split_conversation(messages)
        results = tool_results(turn)
        request = _request_of(turn) if results else None
        if request is not None:
            return AIMessage(write_answer(self.prompts, request, results),
                             additional_kwargs={REQUEST_KEY: request.model_dump(mode="json")})
        if previous is not None and SHORTER.search(question.lower()) and previous[1]:
            return AIMessage(shorten(previous[1]), additional_kwargs={
                REQUEST_KEY: previous[0].model_dump(mode="json")})
        request = self.reader.read(question, scope, previous[0] if previous else None)
        return self.act(request, scope)

    def act(self, request: Request, scope: AccessScope) -> AIMessage:
        """Tool calls for the request, or the reply that stands in for them."""
        saved: dict[str, Any] = {REQUEST_KEY: request.model_dump(mode="json")}
        instead = self.reply_instead(request, scope)
        if instead is not None:
            if instead.choices:
                saved[CHOICES_KEY] = instead.choices
            return AIMessage(instead.text, additional_kwargs=saved)
        calls = plan(request)
        if not calls:
            return AIMessage(reply(self.prompts, "unknown", mark=""), additional_kwargs=saved)
        return AIMessage("", additional_kwargs=saved, tool_calls=[
            {"name": c["name"], "args": c["args"], "id": f"offline_{i}"}
            for i, c in enumerate(calls)])

    def reply_instead(self, request: Request, scope: AccessScope) -> Instead | None:
        """A question back or a refusal, when running tools would answer something else."""
        example = next(iter(request.account_names.values()), "Acme Industrial")
        if request.intent == "out_of_scope":
            return Instead(reply(self.prompts, "out_of_scope", example=example))
        if request.ambiguous and not request.accounts:
            mention, keys = next(iter(request.ambiguous.items()))
            candidates = [f"{request.account_names[k]} ({k})" for k in keys]
            return Instead(reply(self.prompts, "clarify", mention=mention,
                                 candidates=candidates), candidates)
        if request.unknown and not request.accounts:
            return Instead(reply(self.prompts, "not_found", mention=request.unknown))
        if request.team and not scope.sees_everything:
            return Instead(reply(self.prompts, "other_team", team=request.team, own=scope.team,
                                 kam=scope.role == "kam"))
        if request.intent in NEEDS_ACCOUNT and not request.accounts:
            return Instead(reply(self.prompts, "needs_account", example=example))
        if request.intent == "kpi" and not (request.kpis or request.accounts or request.owner_name
                                            or request.group_by or request.period):
            return Instead(reply(self.prompts, "needs_kpi"))
        if request.confidence < self.reader.min_confidence:
            if request.readings:
                options = [READINGS[i].format(subject=example)
                           for i in (request.intent, *request.readings)]
                return Instead(reply(self.prompts, "readings", options=options), options)
            return Instead(reply(self.prompts, "unknown", mark=""))
        return None


class Instead(NamedTuple):
    """The reply that stands in for tool calls, and the numbered choices it offers (a
    reply "2" picks the second; Slack shows them as buttons)."""

    text: str
    choices: list[str] = []


def _request_of(turn: Sequence[BaseMessage]) -> Request | None:
    """The request behind this turn's tool calls (saved on the message that made them)."""
    for message in turn:
        if isinstance(message, AIMessage) and REQUEST_KEY in message.additional_kwargs:
            try:
                return Request.model_validate(message.additional_kwargs[REQUEST_KEY])
            except ValidationError:
                log.warning("unreadable saved request; reading the question again")
    return None


def split_conversation(
    messages: Sequence[BaseMessage],
) -> tuple[tuple[Request, str] | None, str, list[BaseMessage]]:
    """The previous turn's request and answer, the current question, and this turn's messages."""
    humans = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
    if not humans:
        return None, "", []
    last = humans[-1]
    question = messages[last].text
    previous = None
    if len(humans) > 1:
        earlier = messages[humans[-2] + 1:last]
        request = _request_of(earlier)
        answer = next((m.text for m in reversed(earlier)
                       if isinstance(m, AIMessage) and m.text), "")
        if request is not None:
            previous = (request, answer)
    return previous, question, list(messages[last + 1:])


def tool_results(turn: Sequence[BaseMessage]) -> list[tuple[str, Any]]:
    return [(m.name or "", parse(m.content)) for m in turn if isinstance(m, ToolMessage)]


def parse(content: object) -> Any:
    """A tool result as data; plain text (an error from the tool node) as {"text": ...}."""
    value = loads(content)
    return value if value is not None else {"text": str(content)}


class CallerScope(AgentMiddleware[AgentState[Any], CallerContext]):
    """Give the offline model the caller's scope, so it matches only names the caller may see."""

    def wrap_model_call(
        self, request: ModelRequest[CallerContext], handler: ModelHandler
    ) -> ModelResponse:
        if isinstance(request.model, OfflineChatModel):
            scoped = request.model.model_copy(update={"scope": request.runtime.context.scope})
            request = request.override(model=scoped)
        return handler(request)


class OfflineChatModel(BaseChatModel):
    """LangChain chat model backed by OfflineBrain; `scope` is set per call by middleware."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    brain: OfflineBrain
    scope: AccessScope | None = None
    tool_names: tuple[str, ...] = ()

    @property
    def _llm_type(self) -> str:
        return "kam-offline"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> OfflineChatModel:
        names = tuple(getattr(t, "name", None) or t.get("name", "") for t in tools)
        return self.model_copy(update={"tool_names": names})

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs):
        if self.scope is None:
            raise RuntimeError("the offline model needs the caller's scope (CallerScope)")
        message = self.brain.respond(messages, self.scope)
        if message.tool_calls and self.tool_names:
            unknown = [c["name"] for c in message.tool_calls if c["name"] not in self.tool_names]
            if unknown:
                message = AIMessage(
                    f"I can't do that here: the {unknown[0]} tool is not available. {OFFLINE_MARK}"
                )
        return ChatResult(generations=[ChatGeneration(message=message)])
