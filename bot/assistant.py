"""`Assistant.answer`: the one entry point used by Slack, the CLI and tests, and
`Assistant.stream`, its twin that reports tool calls and text as they happen."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.errors import GraphRecursionError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from bot.agent.graph import AnswerTimeout
from bot.agent.models import describe_model_error
from bot.agent.offline.request import CHOICES_KEY, REQUEST_KEY
from bot.health import describe_failure
from bot.progress import AnswerEvent, Finished, Started, TextDelta, ToolFinished, ToolStarted
from knowledge.index import CITATION
from store.access import AccessScope, UnknownUserError, resolve_caller
from store.ratelimit import RateLimit
from tools.context import CallerContext
from tools.explain import Figure, figures_of
from tools.find import find_accounts
from tools.payload import loads

log = logging.getLogger(__name__)

UNKNOWN_USER = (
    "Sorry, I don't know you yet, so I can't show any account data. "
    "Ask your KAM Assistant admin to add your Slack user id to the users list."
)

EMPTY_ANSWER = "Sorry, I could not put an answer together. Please rephrase the question."
EMPTY_ANSWER_BROKEN_CALL = (
    "Sorry, the language model sent a request I could not read (malformed tool arguments). "
    "Please try again."
)
TOO_LONG = (
    "Sorry, that question is too long for me ({length:,} characters; I read up to {limit:,}). "
    "Please ask it in fewer words."
)
SLOW_DOWN = (
    "You are asking faster than I can answer: please wait a minute before the next question."
)


@dataclass
class ToolCallRecord:
    name: str
    args: dict


@dataclass
class Answer:
    """What the assistant says, with everything needed to render and audit it."""

    text: str
    citations: list[str] = field(default_factory=list)
    charts: list[Path] = field(default_factory=list)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    model: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    as_of: date | None = None
    ok: bool = True
    intent: str | None = None  # what the offline model read the question as (None for others)
    choices: list[str] = field(default_factory=list)  # numbered options a reply "2" picks
    figures: list[Figure] = field(default_factory=list)  # KPIs whose math can be shown
    saved_plans: list[int] = field(default_factory=list)  # plan versions saved (their ids)


class Assistant:
    """Answers questions for a known user, in a thread, with the agent and its tools."""

    def __init__(
        self,
        *,
        agent,
        tools: list,
        sessions: sessionmaker[Session],
        model_name: str,
        as_of: date | None,
        answer_budget_s: float,
        step_limit: int,
        max_question_chars: int = 4000,
        rate_limit: RateLimit | None = None,
    ):
        self.agent = agent
        self.tools = tools  # the allowlist the agent was built with
        self.sessions = sessions
        self.model_name = model_name
        self.as_of = as_of
        self.answer_budget_s = answer_budget_s
        self.step_limit = step_limit
        self.max_question_chars = max_question_chars
        self.rate_limit = rate_limit  # per user, for Slack (`bot.factory.build_assistant`)
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="answer")

    def resolve(
        self, *, user_id: str | None = None, slack_user_id: str | None = None
    ) -> AccessScope:
        """The caller's access scope; raises UnknownUserError for strangers."""
        return resolve_caller(self.sessions, user_id=user_id, slack_user_id=slack_user_id)

    def answer(
        self, user: str | AccessScope, text: str, thread_id: str,
        *, emit: Callable[[AnswerEvent], None] | None = None,
    ) -> Answer:
        """Answer `text` for `user` (a user id or a resolved scope) within thread `thread_id`.

        `emit`, if given, receives tool calls and text as they happen (see `stream`).
        """
        started = time.monotonic()
        try:
            scope = user if isinstance(user, AccessScope) else self.resolve(user_id=user)
        except UnknownUserError:
            return Answer(UNKNOWN_USER, model=self.model_name, ok=False)
        except DBAPIError as exc:  # the database itself is unreadable: say so, in one line
            log.error("answer failed: %s: %s", type(exc).__name__, exc)
            return self._failure(describe_failure(exc) or "", started)
        if len(text) > self.max_question_chars:
            # Never sent on to the model: its cost and its answer time grow with the length.
            limit = self.max_question_chars
            return self._failure(TOO_LONG.format(length=len(text), limit=limit), started)
        if self.rate_limit is not None and not self.rate_limit.allow(f"user:{scope.user_id}"):
            log.info("rate limit: %s asked too often", scope.user_id)
            return self._failure(SLOW_DOWN, started)
        deadline = started + self.answer_budget_s
        context = CallerContext(
            scope=scope, as_of=self.as_of, thread_id=thread_id, deadline=deadline
        )
        # Memory is per user and thread: a colleague replying in the same Slack thread
        # never sees tool results fetched under someone else's access scope.
        config = {
            "configurable": {"thread_id": f"{scope.user_id}:{thread_id}"},
            "recursion_limit": self.step_limit,
        }
        future = self._pool.submit(
            self._run_agent, {"messages": [HumanMessage(text)]}, config, context, emit
        )
        try:
            state = future.result(timeout=self.answer_budget_s)
        except (FutureTimeout, AnswerTimeout):
            log.warning("answer for %s timed out after %.0f s", scope.user_id, self.answer_budget_s)
            return self._failure(
                f"Sorry, this took longer than {self.answer_budget_s:.0f} s, so I stopped. "
                "Try a narrower question.",
                started,
            )
        except GraphRecursionError:
            log.warning("answer for %s hit the step limit %d", scope.user_id, self.step_limit)
            return self._failure(
                "Sorry, I could not finish this within my step limit. Try a narrower question.",
                started,
            )
        except Exception as exc:
            apology = describe_model_error(exc)
            if apology is not None:
                log.error("model call failed: %s", exc)
            elif (apology := describe_failure(exc)) is not None:
                log.error("answer failed: %s: %s", type(exc).__name__, exc)
            else:
                log.exception("answer failed")
                apology = "Sorry, something went wrong on my side. The error has been logged."
            return self._failure(apology, started)
        return self._compose(state["messages"], started)

    def stream(self, user: str | AccessScope, text: str, thread_id: str) -> Iterator[AnswerEvent]:
        """`answer`, as it happens: Started, then ToolStarted / ToolFinished for each tool call
        and TextDelta as the model writes, and last Finished with the very Answer `answer`
        would return (same budget, same failures; what `answer` raises, this raises)."""
        events: queue.SimpleQueue[AnswerEvent | BaseException] = queue.SimpleQueue()

        def run() -> None:
            try:
                events.put(Finished(self.answer(user, text, thread_id, emit=events.put)))
            except BaseException as error:  # handed to the caller, who waits for the end
                events.put(error)

        yield Started(first_turn=self._first_turn(user, thread_id))
        threading.Thread(target=run, name="answer-stream", daemon=True).start()
        while True:
            event = events.get()
            if isinstance(event, BaseException):
                raise event
            yield event
            if isinstance(event, Finished):
                return

    def _first_turn(self, user: str | AccessScope, thread_id: str) -> bool:
        """Whether the thread holds no earlier question of this user (a new conversation)."""
        try:
            scope = user if isinstance(user, AccessScope) else self.resolve(user_id=user)
            config = {"configurable": {"thread_id": f"{scope.user_id}:{thread_id}"}}
            return not self.agent.get_state(config).values.get("messages")
        except Exception:  # a stranger, or no memory yet: either way nothing came before
            return True

    def _run_agent(
        self, inputs: dict, config: dict, context: CallerContext,
        emit: Callable[[AnswerEvent], None] | None,
    ) -> dict:
        """The agent's final state; with `emit`, streamed, reporting tools and text on the way."""
        if emit is None:
            return self.agent.invoke(inputs, config=config, context=context)
        state: dict = {}
        modes = ["updates", "messages", "values"]
        for mode, chunk in self.agent.stream(inputs, config=config, context=context,
                                             stream_mode=modes):
            if mode == "values":
                state = chunk
            elif mode == "updates":
                for event in _tool_events(chunk):
                    if isinstance(event, ToolStarted):
                        event = ToolStarted(event.call_id, event.name, event.args,
                                            self._subject(context.scope, event.args))
                    emit(event)
            else:
                message, metadata = chunk
                # Text of a message that calls tools is not part of the answer.
                calls = getattr(message, "tool_call_chunks", None) or getattr(
                    message, "tool_calls", None)
                if (metadata.get("langgraph_node") == "model" and isinstance(message, AIMessage)
                        and not calls and message.text):
                    emit(TextDelta(message.text))
        return state

    def _subject(self, scope: AccessScope, args: dict) -> str | None:
        """The name of the account a tool call is about, looked up within the caller's scope."""
        ref = args.get("account")
        if not isinstance(ref, str) or not ref.strip():
            return None
        with self.sessions() as session:
            found = find_accounts(session, scope, ref)
        return found.match.name if found.match else None

    def _failure(self, text: str, started: float) -> Answer:
        return Answer(
            text,
            model=self.model_name,
            ok=False,
            as_of=self.as_of,
            timings={"total_ms": (time.monotonic() - started) * 1000},
        )

    def _compose(self, messages: list, started: float) -> Answer:
        turn = _current_turn(messages)
        final = next((m for m in reversed(turn) if isinstance(m, AIMessage)), None)
        text = final.text if final is not None else ""
        if not text.strip():
            broken = final is not None and final.invalid_tool_calls
            log.warning("empty answer (invalid tool calls: %s)", bool(broken))
            return self._failure(EMPTY_ANSWER_BROKEN_CALL if broken else EMPTY_ANSWER, started)
        calls = [call for message in turn if isinstance(message, AIMessage)
                 for call in message.tool_calls]
        replies = [m for m in turn if isinstance(m, ToolMessage)]
        results = [loads(m.content) for m in replies]
        by_call = {m.tool_call_id: r for m, r in zip(replies, results, strict=True)}
        figures = [figure for call in calls
                   for figure in figures_of(call["name"], call["args"],
                                            by_call.get(call.get("id") or ""))]
        as_of = next((r["as_of"] for r in results if isinstance(r, dict) and "as_of" in r), None)
        understood = next((m.additional_kwargs[REQUEST_KEY] for m in turn
                           if isinstance(m, AIMessage) and REQUEST_KEY in m.additional_kwargs),
                          None)
        choices = final.additional_kwargs.get(CHOICES_KEY) if final is not None else None
        return Answer(
            text=text,
            intent=understood.get("intent") if isinstance(understood, dict) else None,
            choices=[str(c) for c in choices] if isinstance(choices, list) else [],
            citations=list(dict.fromkeys(CITATION.findall(text))),
            charts=[Path(p) for r in results if isinstance(r, dict) for p in r.get("charts", [])],
            tool_calls=[ToolCallRecord(call["name"], call["args"]) for call in calls],
            figures=list(dict.fromkeys(figures)),
            saved_plans=[r["plan"]["plan_id"] for r in results
                         if isinstance(r, dict) and isinstance(r.get("plan"), dict)],
            model=self.model_name,
            as_of=date.fromisoformat(as_of) if as_of else self.as_of,
            timings={
                "total_ms": (time.monotonic() - started) * 1000,
                "model_calls": sum(isinstance(m, AIMessage) for m in turn),
            },
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _tool_events(update: object) -> Iterator[ToolStarted | ToolFinished]:
    """Tool calls the model made and tool results that came back, in one graph update."""
    nodes = update.values() if isinstance(update, dict) else ()
    for value in nodes:
        for message in value.get("messages", []) if isinstance(value, dict) else []:
            if isinstance(message, AIMessage):
                for call in message.tool_calls:
                    yield ToolStarted(call.get("id") or "", call["name"], dict(call["args"]))
            elif isinstance(message, ToolMessage):
                yield ToolFinished(message.tool_call_id, message.name or "",
                                   message.status != "error")


def _current_turn(messages: list) -> list:
    """The messages after the last human message: this answer's calls and results."""
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return messages[index + 1 :]
    return messages
