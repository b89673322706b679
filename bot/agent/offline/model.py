"""The embedded offline model: a deterministic chat model with tool calling, no key, no network.

It reads a question (`reading`), plans the tool calls for its intent (`planning`),
and once the tool results are in, writes the answer from the templates in
prompts/answers/ (`writing`). Follow-ups in a thread reuse the previous turn's calls:
"and last year?" shifts the date, "what about Globex?" swaps the account, and
"make it shorter" trims the previous answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.agent.offline import reading as u
from bot.agent.offline.planning import PLANNERS, intent_of
from bot.agent.offline.writing import OFFLINE_MARK, shorten, write_answer
from knowledge.embeddings import TextEmbedder
from prompts import PROMPTS_DIR, Prompts
from store.access import AccessScope
from store.models import Account, User
from tools.payload import loads
from tools.periods import shift_years

# Below this similarity a question is taken as outside what the offline model can do.
MIN_INTENT_SCORE = 0.45
# A question this close to an example ("How is <name> doing?") names an account even when
# the name is unknown to the caller; the lookup tool then says "not found or not yours".
CLEAR_INTENT_SCORE = 0.75
KPI_WORDS = {
    "revenue": "revenue",
    "sales": "revenue",
    "turnover": "revenue",
    "spend": "revenue",
    "revenue growth": "revenue_growth",
    "growth": "revenue_growth",
    "grew": "revenue_growth",
    "growing": "revenue_growth",
    "gross margin": "gross_margin",
    "margin": "gross_margin",
    "profitability": "profitability",
    "profitable": "profitability",
    "profit": "profitability",
    "cost to serve": "profitability",
    "share of wallet": "share_of_wallet",
    "wallet share": "share_of_wallet",
    "share-of-wallet": "share_of_wallet",
    "wallet": "share_of_wallet",
    "logo retention": "logo_retention",
    "retention rate": "logo_retention",
    "grr": "grr",
    "gross revenue retention": "grr",
    "nrr": "nrr",
    "net revenue retention": "nrr",
    "net retention": "nrr",
    "upsell": "upsell_cross_sell",
    "cross-sell": "upsell_cross_sell",
    "cross sell": "upsell_cross_sell",
    "upsell rate": "upsell_cross_sell",
    "clv": "clv",
    "lifetime value": "clv",
    "customer lifetime value": "clv",
    "nps": "nps",
    "net promoter": "nps",
    "promoter score": "nps",
    "kam nps": "kam_nps",
    "individual nps": "kam_nps",
    "my nps": "kam_nps",
    "personal nps": "kam_nps",
    "csat": "csat",
    "satisfaction": "csat",
    "customer-defined kpis": "customer_kpis",
    "customer kpis": "customer_kpis",
    "churn risk": "churn_risk",
    "churn": "churn_risk",
    "risk": "churn_risk",
    "risk score": "churn_risk",
    "penetration": "penetration",
    "strategic value": "strategic_value",
    "value score": "strategic_value",
    "selection matrix": "selection_matrix",
    "quadrant": "selection_matrix",
}
TIER_WORDS = {
    "key accounts": "key",
    "strategic accounts": "strategic",
    "growth accounts": "growth",
    "maintain accounts": "maintain",
}
FOLLOW_UP = re.compile(r"^\s*(and|what about|how about|same for|now for|and for|ok,? and)\b", re.I)
LAST_YEAR = re.compile(r"\b(last|previous|prior) year\b|\byear before\b|\ba year ago\b", re.I)
SHORTER = re.compile(
    r"\b(shorter|more brief|briefer|tl;?dr|summari[sz]e (that|it)|condense)\b", re.I
)


@dataclass
class Turn:
    """One earlier question in the thread with its first tool calls and final answer."""

    question: str
    calls: list[dict] = field(default_factory=list)
    answer: str = ""
    as_of: str | None = None


@dataclass
class Request:
    """What the offline model decided to do for a question."""

    intent: str
    calls: list[dict] = field(default_factory=list)
    reply: str | None = None  # a direct reply (clarification, refusal, shortened answer)
    question: str = ""
    mention: str | None = None


def load_intents(path: Path = PROMPTS_DIR / "offline" / "intents.yaml") -> list[u.Intent]:
    items = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        u.Intent(
            name=item["name"],
            tools=tuple(item.get("tools", ())),
            examples=tuple(item["examples"]),
            needs_account=bool(item.get("needs_account", False)),
        )
        for item in items
    ]


class Directory:
    """Names the offline model may match in a question: the caller's accounts and colleagues."""

    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    def account_names(self, scope: AccessScope) -> list[str]:
        with self.sessions() as session:
            stmt = select(Account.name).where(scope.account_clause()).order_by(Account.name)
            return list(session.scalars(stmt))

    def all_account_names(self) -> list[str]:
        """Every account name, only to recognise that some words name *an* account: the
        caller's own words are then passed to the scoped tools, which answer "not found or
        not yours" for accounts outside the scope. Nothing else about them is used."""
        with self.sessions() as session:
            return list(session.scalars(select(Account.name)))

    def user_names(self) -> dict[str, str]:
        with self.sessions() as session:
            return {
                name: user_id for user_id, name in session.execute(select(User.user_id, User.name))
            }


class OfflineBrain:
    """Plans tool calls for a question and writes answers from tool results."""

    def __init__(
        self,
        embedder: TextEmbedder,
        prompts: Prompts,
        directory: Directory,
        cache_dir: Path | None = None,
    ):
        self.intents = {intent.name: intent for intent in load_intents()}
        self.router = u.IntentRouter(embedder, list(self.intents.values()), cache_dir)
        self.prompts = prompts
        self.directory = directory
        self.planners: dict[str, Callable[[str, dict], list[dict]]] = PLANNERS

    # --- reading the conversation -------------------------------------------------------

    def respond(self, messages: Sequence[BaseMessage], scope: AccessScope) -> AIMessage:
        history, question, turn = split_conversation(messages)
        request = self.understand(question, history, scope)
        if request.reply is not None:
            return AIMessage(request.reply)
        results = tool_results(turn)
        if not results:
            return AIMessage(
                "",
                tool_calls=[
                    {"name": c["name"], "args": c["args"], "id": f"offline_{i}"}
                    for i, c in enumerate(request.calls)
                ],
            )
        return AIMessage(self.write(request, results))

    def understand(self, question: str, history: list[Turn], scope: AccessScope) -> Request:
        previous = next((t for t in reversed(history) if t.calls), None)
        if previous is not None and SHORTER.search(question):
            return Request("shorten", reply=shorten(history[-1].answer), question=question)
        slots = self.slots(question, scope)
        route = self.router.route(mask(question, slots.get("mention")))
        follow_up = previous is not None and (
            FOLLOW_UP.search(question) or (len(question.split()) <= 4 and route.score < 0.6)
        )
        if follow_up:
            return self.follow_up(question, previous, slots)
        # An unrecognised capitalised phrase may be a place, not an account: judge the
        # question as written ("weather in Paris") before trusting the masked form.
        score = route.score
        if slots.get("mention") and not slots.get("known_account") and score < CLEAR_INTENT_SCORE:
            score = min(score, self.router.route(question).score)
        if score < MIN_INTENT_SCORE:
            return Request(
                "unknown",
                reply=self.prompts.render(
                    "answers/unknown.md.j2", question=question, mark=OFFLINE_MARK
                ),
            )
        intent = route.intent
        if intent.needs_account and not slots.get("account"):
            return Request(
                intent.name,
                reply=(
                    "Which account do you mean? Give me its name or id, for example "
                    f'"{intent.examples[0]}". {OFFLINE_MARK}'
                ),
            )
        calls = self.planners[intent.name](question, slots)
        return Request(intent.name, calls=calls, question=question, mention=slots.get("account"))

    def follow_up(self, question: str, previous: Turn, slots: dict) -> Request:
        calls = [dict(c, args=dict(c["args"])) for c in previous.calls]
        for call in calls:
            if slots.get("account") and "account" in call["args"]:
                call["args"]["account"] = slots["account"]
            if LAST_YEAR.search(question) and previous.as_of:
                base = date.fromisoformat(call["args"].get("as_of") or previous.as_of)
                call["args"]["as_of"] = shift_years(base, -1).isoformat()
        return Request(
            intent_of(calls), calls=calls, question=question, mention=slots.get("account")
        )

    def slots(self, question: str, scope: AccessScope) -> dict[str, Any]:
        """Account mention, owner, KPI, count, direction and horizon found in the question."""
        found: dict[str, Any] = {}
        names = self.directory.account_names(scope)
        match = u.match_names(question, names)
        account_id = u.find_account_id(question)
        users = self.directory.user_names()
        if match.matches:
            found["account"] = match.matches[0] if len(match.matches) == 1 else match.mention
            found["mention"] = match.mention
            found["known_account"] = True
        elif account_id:
            found["account"] = found["mention"] = account_id
            found["known_account"] = True
        else:
            owner = u.match_names(question, list(users), threshold=90)
            ignore = {w.lower() for n in users for w in n.split()} | IGNORED_CAPITALS
            phrase = u.capitalised_phrase(question, ignore)
            # Whole names only: a first word alone is too weak a sign outside the scope.
            elsewhere = u.match_names(
                question, self.directory.all_account_names(), first_words=False
            )
            if owner.matches:
                found["owner"] = users[owner.matches[0]]
            elif elsewhere.matches:
                found["account"] = found["mention"] = elsewhere.mention
            elif phrase:
                found["account"] = found["mention"] = phrase
        if "owner" not in found:
            owner = u.match_names(question, list(users), threshold=90)
            if owner.matches and owner.matches[0] != found.get("account"):
                found["owner"] = users[owner.matches[0]]
        found["kpi"] = u.find_vocabulary(question, KPI_WORDS)
        found["tier"] = u.find_vocabulary(question, TIER_WORDS)
        found["n"] = u.find_number(question)
        found["direction"] = u.find_direction(question)
        found["days"] = u.find_days(question)
        return found

    def write(self, request: Request, results: list[tuple[str, Any]]) -> str:
        return write_answer(
            self.prompts, request.intent, request.question, request.mention, results
        )



IGNORED_CAPITALS = {
    "what",
    "who",
    "which",
    "how",
    "why",
    "when",
    "where",
    "show",
    "give",
    "list",
    "tell",
    "draft",
    "write",
    "create",
    "prepare",
    "prep",
    "compare",
    "summarise",
    "summarize",
    "qbr",
    "nps",
    "csat",
    "kpi",
    "kpis",
    "grr",
    "nrr",
    "clv",
    "i",
    "my",
    "our",
    "the",
    "and",
    "any",
    "are",
    "is",
    "do",
    "does",
    "can",
    "please",
    "top",
    "bottom",
    "rank",
    "key",
    "emea",
    "apac",
    "latam",
    "north",
    "south",
    "america",
    "q1",
    "q2",
    "q3",
    "q4",
    "crm",
    "kam",
    "vs",
}


def mask(question: str, mention: str | None) -> str:
    """Replace the account a question names with "Acme", the name every intent example uses."""
    if not mention:
        return question
    return re.sub(re.escape(mention), "Acme", question, count=1, flags=re.I)


def split_conversation(messages: Sequence[BaseMessage]) -> tuple[list[Turn], str, list]:
    """Earlier turns, the current question, and the messages of the current turn so far."""
    turns: list[Turn] = []
    current: Turn | None = None
    for message in messages:
        if isinstance(message, HumanMessage):
            current = Turn(question=message.text)
            turns.append(current)
        elif current is None:
            continue
        elif isinstance(message, AIMessage):
            if message.tool_calls and not current.calls:
                current.calls = [{"name": c["name"], "args": c["args"]} for c in message.tool_calls]
            elif message.text:
                current.answer = message.text
        elif isinstance(message, ToolMessage) and current.as_of is None:
            payload = parse(message.content)
            if isinstance(payload, dict):
                current.as_of = payload.get("as_of")
    if not turns:
        return [], "", []
    last = max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
    return turns[:-1], turns[-1].question, list(messages[last + 1 :])


def tool_results(turn: Sequence[BaseMessage]) -> list[tuple[str, Any]]:
    return [(m.name or "", parse(m.content)) for m in turn if isinstance(m, ToolMessage)]


def parse(content: object) -> Any:
    """A tool result as data; plain text (an error from the tool node) as {"text": ...}."""
    value = loads(content)
    return value if value is not None else {"text": str(content)}


class CallerScope(AgentMiddleware):
    """Give the offline model the caller's scope, so it matches only names the caller may see."""

    def wrap_model_call(self, request: ModelRequest, handler) -> ModelResponse:
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
