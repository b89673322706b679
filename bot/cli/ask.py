"""Talking to the assistant from a terminal: `kam ask`, `kam chat` and `kam demo`."""

from __future__ import annotations

import dataclasses
import sys
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live
from rich.markdown import Markdown
from rich.text import Text

from bot.assistant import Answer, Assistant
from bot.cli import common
from bot.cli.common import AsJson, AsUser, console, emit_json, fail
from bot.config import Settings
from bot.progress import AnswerEvent, Finished, TextDelta, ToolStarted

Thread = Annotated[
    str | None, typer.Option(help="Thread id, to continue an earlier conversation.")
]


def load_assistant(one_shot: bool = False) -> tuple[Settings, Assistant]:
    """The configured assistant, built by the one factory, with a spinner while it loads.
    `one_shot` (one question, then exit) loads the embedding model only if a question needs it."""
    from bot.factory import build_assistant
    from knowledge.embeddings import LazyEmbedder

    settings = common.settings()
    embedder = LazyEmbedder.from_settings(settings) if one_shot else None
    with console.status("Loading the assistant (models, knowledge index)..."):
        return settings, build_assistant(settings, embedder=embedder)


def show(answer: Answer) -> None:
    console.print(Markdown(answer.text))
    details = [f"model {answer.model}", f"{answer.timings.get('total_ms', 0):.0f} ms"]
    if answer.tool_calls:
        details.append("tools: " + ", ".join(c.name for c in answer.tool_calls))
    for chart in answer.charts:
        details.append(f"chart: {chart}")
    console.print(" · ".join(details), style="dim")


def show_stream(events: Iterable[AnswerEvent]) -> Answer:
    """Print an answer as it is made: a dim line per tool call, the text as it comes, then
    the finished answer as `show` prints it."""
    text = ""
    with Live(Text(""), console=console, transient=True, refresh_per_second=12) as live:
        for event in events:
            if isinstance(event, ToolStarted):
                live.console.print(f"· {event.phrase()}…", style="dim")
            elif isinstance(event, TextDelta):
                text += event.text
                live.update(Markdown(text))
            elif isinstance(event, Finished):
                answer = event.answer
    show(answer)
    return answer


def answer_json(answer: Answer) -> dict:
    """An answer as plain JSON: text, citations, charts, tool calls, model, timings, as of."""
    data = dataclasses.asdict(answer)
    data["charts"] = [str(p) for p in answer.charts]
    data["as_of"] = answer.as_of.isoformat() if answer.as_of else None
    return data


def _question(question: str | None) -> str:
    """The question argument, or standard input for `-` or when nothing is given but a pipe."""
    if question == "-" or (question is None and not sys.stdin.isatty()):
        question = sys.stdin.read()
    question = " ".join((question or "").split())
    if not question:
        raise fail("no question: give it in quotes, or pipe it in with `kam ask -`", 2)
    return question


def ask_command(
    as_user: AsUser,
    question: Annotated[
        str | None, typer.Argument(help="The question in quotes; `-` reads it from stdin.")
    ] = None,
    thread: Thread = None,
    as_json: AsJson = False,
) -> None:
    """Ask one question and print the answer (exit 1 when it could not be answered)."""
    text = _question(question)
    _, assistant = load_assistant(one_shot=True)
    answer = assistant.answer(as_user, text, thread or uuid.uuid4().hex)
    if as_json:
        emit_json(answer_json(answer))
    else:
        show(answer)
    if not answer.ok:
        raise typer.Exit(1)


def chat_command(as_user: AsUser, thread: Thread = None) -> None:
    """Interactive chat with thread memory (Ctrl-D or 'exit' to leave)."""
    _, assistant = load_assistant()
    thread = thread or uuid.uuid4().hex
    console.print(f"Thread {thread}. Ask about your accounts; 'exit' to leave.", style="dim")
    while True:
        try:
            question = console.input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if question.lower() in {"exit", "quit"}:
            return
        if question:
            show_stream(assistant.stream(as_user, question, thread))


SHOWCASE = [
    ("u_kam_anna", "How is Globex doing?"),
    ("u_kam_anna", "Who are my at-risk accounts?"),
    ("u_kam_anna", "Prep notes for my QBR with Globex next week"),
    ("u_kam_anna", "Draft an account plan for Initech"),
    ("u_kam_anna", "How should I prepare a QBR?"),
    ("u_mgr_north", "Summarise my team's accounts"),
]


def demo_command(
    accounts: Annotated[int, typer.Option(min=10, help="Demo accounts to generate.")] = 60,
) -> None:
    """The main job end to end: demo data, knowledge index, six showcase questions."""
    from bot.cli.data import HISTORY_WEEKS, demo_data_command

    demo_data_command(accounts=accounts, seed=7, out=Path("data/demo"), load=True, names="default",
                      history_weeks=HISTORY_WEEKS)
    settings, assistant = load_assistant()
    for user, question in SHOWCASE:
        console.rule(Text.assemble((user, "bold"), f": {question}"))
        show(assistant.answer(user, question, f"demo-{uuid.uuid4().hex}"))
    console.rule()
    console.print(f"Charts and drafts are under {settings.out_dir}/.")
