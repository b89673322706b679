"""The `kam` command line: a thin layer over the Python API (bot.assistant, tools, store).

May import bot.assistant, bot.factory, bot.config, tools, store, knowledge, prompts; of
bot.slack only what `kam serve` and `kam digest` run (in bot.cli.slack), nothing else.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Annotated

import typer

from bot.cli import (
    accounts,
    ask,
    common,
    data,
    drafts,
    evals,
    explain,
    history,
    knowledge,
    slack,
)
from knowledge.embeddings import EmbeddingModelError

app = typer.Typer(
    help="KAM Assistant: account KPIs, guidance and drafts for key account managers.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)

ASK, DATA, DRAFTS, SLACK, ADMIN = "Ask", "Data", "Drafts", "Slack", "Admin"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"kam {version('kam-assistant')}")
        raise typer.Exit()


@app.callback()
def root(
    _version: Annotated[
        bool | None,
        typer.Option("--version", callback=_print_version, is_eager=True,
                     help="Print the version and exit."),
    ] = None,
) -> None:
    """KAM Assistant: account KPIs, guidance and drafts for key account managers.

    Settings come from the environment and `.env` (see README); they are loaded once per
    command, into the context (`bot.cli.common.settings`).
    """


for name, command, panel in (
    ("ask", ask.ask_command, ASK),
    ("chat", ask.chat_command, ASK),
    ("demo", ask.demo_command, ASK),
    ("account", accounts.account, ASK),
    ("kpi", accounts.kpi, ASK),
    ("portfolio", accounts.portfolio, ASK),
    ("risks", accounts.risks, ASK),
    ("renewals", accounts.renewals, ASK),
    ("movers", history.movers_command, ASK),
    ("explain", explain.explain, ASK),
    ("import", data.import_command, DATA),
    ("demo-data", data.demo_data_command, DATA),
    ("snapshot", history.snapshot_command, DATA),
    ("serve", slack.serve_command, SLACK),
    ("digest", slack.digest_command, SLACK),
    ("doctor", slack.doctor_command, ADMIN),
):
    app.command(name, rich_help_panel=panel)(command)
app.add_typer(drafts.draft_app, name="draft", rich_help_panel=DRAFTS)
app.add_typer(drafts.plan_app, name="plan", rich_help_panel=DRAFTS)
app.add_typer(data.db_app, name="db", rich_help_panel=ADMIN)
app.add_typer(knowledge.knowledge_app, name="knowledge", rich_help_panel=ADMIN)
app.add_typer(evals.eval_app, name="eval", rich_help_panel=ADMIN)


def main() -> None:
    """Entry point of the `kam` console script."""
    try:
        app(prog_name="kam")
    except EmbeddingModelError as error:  # a setup problem: one line, not a traceback
        common.fail(error, 2)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
