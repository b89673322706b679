"""The `kam` command line: a thin layer over the Python API."""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console

from bot import cli_accounts, cli_drafts, cli_slack
from bot.cli_chat import ask_command, chat_command, demo_command, eval_core_command
from bot.cli_data import db_app, demo_data_command, import_command
from bot.cli_knowledge import eval_app, knowledge_app
from bot.config import Settings, SettingsError, load_settings

app = typer.Typer(
    help="KAM Assistant: account KPIs, guidance and drafts for key account managers.",
    no_args_is_help=True,
    add_completion=False,
)
err_console = Console(stderr=True, soft_wrap=True)
QUIET_LOGGERS = ("alembic", "sentence_transformers", "httpx", "chromadb", "urllib3")


def get_settings() -> Settings:
    """Load settings or exit with the one-line reason."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    logging.basicConfig(level=settings.kam_log_level, format="%(levelname)s %(name)s: %(message)s")
    for noisy in QUIET_LOGGERS:  # their INFO lines are progress chatter, not news
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return settings


app.add_typer(knowledge_app, name="knowledge")
app.add_typer(eval_app, name="eval")


app.add_typer(db_app, name="db")
app.command("import")(import_command)
app.command("demo-data")(demo_data_command)
cli_accounts.register(app)
cli_slack.register(app)
cli_drafts.register(app)
app.command("ask")(ask_command)
app.command("chat")(chat_command)
app.command("demo")(demo_command)
eval_app.command("core")(eval_core_command)


def main() -> None:
    """Entry point of the `kam` console script."""
    app(prog_name="kam")


if __name__ == "__main__":
    sys.exit(main())
