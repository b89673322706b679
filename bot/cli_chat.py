"""Talking to the assistant from a terminal: `kam ask`, `kam chat`, `kam demo`, `kam eval core`."""

from __future__ import annotations

import uuid
from pathlib import Path

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

from bot.assistant import Answer

console = Console()

AS_USER = typer.Option(..., "--as-user", help="User id whose access scope applies.")


def _assistant():
    from bot.cli import get_settings
    from bot.factory import build_assistant

    settings = get_settings()
    with console.status("Loading the assistant (models, knowledge index)..."):
        return settings, build_assistant(settings)


def show(answer: Answer) -> None:
    console.print(Markdown(answer.text))
    details = [f"model {answer.model}", f"{answer.timings.get('total_ms', 0):.0f} ms"]
    if answer.tool_calls:
        details.append("tools: " + ", ".join(c.name for c in answer.tool_calls))
    for chart in answer.charts:
        details.append(f"chart: {chart}")
    console.print(" · ".join(details), style="dim")


def ask_command(
    question: str = typer.Argument(..., help="The question, in quotes."),
    as_user: str = AS_USER,
    thread: str = typer.Option(None, help="Thread id, to continue an earlier conversation."),
) -> None:
    """Ask one question and print the answer."""
    _, assistant = _assistant()
    show(assistant.answer(as_user, question, thread or uuid.uuid4().hex))


def chat_command(
    as_user: str = AS_USER,
    thread: str = typer.Option(None, help="Thread id, to continue an earlier conversation."),
) -> None:
    """Interactive chat with thread memory (Ctrl-D or 'exit' to leave)."""
    _, assistant = _assistant()
    thread = thread or uuid.uuid4().hex
    console.print(f"Thread {thread}. Ask about your accounts; 'exit' to leave.", style="dim")
    while True:
        try:
            question = console.input("[bold]you>[/bold] ").strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if question.lower() in {"exit", "quit"}:
            return
        if question:
            show(assistant.answer(as_user, question, thread))


SHOWCASE = [
    ("u_kam_anna", "How is Globex doing?"),
    ("u_kam_anna", "Who are my at-risk accounts?"),
    ("u_kam_anna", "Prep notes for my QBR with Globex next week"),
    ("u_kam_anna", "Draft an account plan for Initech"),
    ("u_kam_anna", "How should I prepare a QBR?"),
    ("u_mgr_north", "Summarise my team's accounts"),
]


def demo_command(
    accounts: int = typer.Option(60, min=10, help="Demo accounts to generate."),
) -> None:
    """The main job end to end: demo data, knowledge index, six showcase questions."""
    from bot.cli_data import demo_data_command

    demo_data_command(accounts=accounts, seed=7, out=Path("data/demo"), load=True)
    settings, assistant = _assistant()
    for user, question in SHOWCASE:
        console.rule(f"[bold]{user}[/bold]: {question}")
        show(assistant.answer(user, question, f"demo-{uuid.uuid4().hex}"))
    console.rule()
    console.print(f"Charts and drafts are under {settings.out_dir}/.")


def eval_core_command(
    questions: Path = typer.Option(
        Path("tests/eval/core_questions.yaml"), help="The core question list."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print every answer."),
) -> None:
    """Ask the core question list and print the pass rate of the configured model."""
    from bot.evaluation import run_core_eval

    if not questions.is_file():
        console.print(f"[red]error:[/red] no question list at {questions}")
        raise typer.Exit(2)
    _, assistant = _assistant()
    report = run_core_eval(assistant, assistant.sessions, questions)
    table = Table("case", "result", "ms", "tools", "problems")
    for result in report.results:
        table.add_row(
            result.id,
            "pass" if result.passed else "[red]FAIL[/red]",
            f"{result.ms:.0f}",
            ", ".join(result.tools),
            "; ".join(result.problems),
        )
        if verbose:
            console.print(Markdown(result.answer))
    console.print(table)
    console.print(
        f"model {report.model}: {report.passed}/{len(report.results)} passed "
        f"({report.pass_rate:.0%})"
    )
    if report.passed != len(report.results):
        raise typer.Exit(1)
