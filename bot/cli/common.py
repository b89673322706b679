"""What every `kam` command shares: the settings of this run, the consoles, option types,
one-line failures, and the caller's scope for `--as-user`.

Data is never rendered as Rich markup: account names, notes and roles come from CSV files,
and a name like "Evil [/] Corp" must print as written, not break the command.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text
from sqlalchemy.orm import Session, sessionmaker

# Typer 0.29 runs on its own copy of click; its context stack is the one commands run in
# (typer is pinned to <0.30 in pyproject.toml).
from typer._click.globals import get_current_context

from bot.config import Settings, SettingsError, load_settings
from store.access import UnknownUserError, resolve_scope
from store.db import is_initialised
from tools.accounts import run_view
from tools.context import CallerContext
from tools.kpi_config import KpiConfig

console = Console(markup=False, highlight=False)
err_console = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)
QUIET_LOGGERS = ("alembic", "sentence_transformers", "httpx", "chromadb", "urllib3")

AsUser = Annotated[
    str,
    typer.Option("--as-user", help="User id whose access applies (e.g. u_kam_anna). Required."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
AsOf = Annotated[
    str | None, typer.Option("--as-of", help="Compute as of YYYY-MM-DD (default: latest data).")
]


def settings() -> Settings:
    """This run's settings, loaded once into the root context's `obj`; exit 2 with the one-line
    reason when they are invalid."""
    root = get_current_context().find_root()
    if isinstance(root.obj, Settings):
        return root.obj
    try:
        loaded = load_settings()
    except SettingsError as exc:
        raise fail(str(exc), 2) from None
    logging.basicConfig(level=loaded.kam_log_level, format="%(levelname)s %(name)s: %(message)s")
    for noisy in QUIET_LOGGERS:  # their INFO lines are progress chatter, not news
        logging.getLogger(noisy).setLevel(logging.WARNING)
    root.obj = loaded
    return loaded


def fail(message: object, code: int = 1) -> typer.Exit:
    """Print `error: message` on stderr and return the Exit to raise."""
    err_console.print(Text.assemble(("error: ", "bold red"), str(message)))
    return typer.Exit(code)


def warn(message: object) -> None:
    err_console.print(Text.assemble(("warning: ", "yellow"), str(message)))


def emit_json(payload: Any) -> None:
    """JSON on stdout, for scripts (`--json`)."""
    typer.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str))


def parse_date(text: str | None, option: str = "--as-of") -> date | None:
    """An option's ISO date, or exit 2 naming the option."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise fail(f"{option} {text!r} is not a date; use YYYY-MM-DD", 2) from None


@contextmanager
def caller(as_user: str) -> Iterator[tuple[sessionmaker[Session], CallerContext]]:
    """The session factory and the caller context for `--as-user`, or a one-line error."""
    from bot.factory import build_services

    services = build_services(settings(), migrate=False)
    try:
        if not is_initialised(services.engine):
            raise fail("the database is empty; run `kam demo-data` or `kam import` first")
        with services.sessions() as session:
            try:
                scope = resolve_scope(session, user_id=as_user)
            except UnknownUserError:
                raise fail(
                    f"unknown user {as_user!r} for --as-user; give a user_id from users.csv"
                ) from None
        yield services.sessions, CallerContext(scope=scope)
    finally:
        services.close()


def checked(result: dict[str, Any]) -> dict[str, Any]:
    """A tool result, or exit 1 with its error (candidates listed when ambiguous)."""
    if result.get("error") == "ambiguous":
        names = ", ".join(f"{c['name']} ({c['account_id']})" for c in result["candidates"])
        raise fail(f"several of your accounts match; name one of: {names}")
    if "error" in result:
        raise fail(result["message"])
    return result


def run(as_user: str, as_of: str | None, view: Callable,
        config: KpiConfig | None = None) -> dict[str, Any]:
    """A view under the caller's scope (and KPI settings, if given), checked."""
    with caller(as_user) as (sessions, context):
        return checked(run_view(sessions, context, parse_date(as_of), view, config))
