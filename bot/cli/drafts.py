"""`kam draft plan|agenda|prep|deck` and `kam plan list|show|diff`: drafts and saved account plans
from the command line, over the same `Drafter` and plan store the agent's tools use.

Every command needs `--as-user`, whose access scope applies: a KAM can neither draft for
nor read the plans of another KAM's accounts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markdown import Markdown
from rich.table import Table

from bot.cli import common
from bot.cli.common import (
    AsJson,
    AsOf,
    AsUser,
    caller,
    checked,
    console,
    emit_json,
    fail,
    parse_date,
    run,
)
from bot.factory import build_decks, build_prompts, kpi_config
from tools import plans
from tools.context import CallerContext
from tools.drafting import Drafter

draft_app = typer.Typer(
    help="Draft an account plan (saved as a new version), a QBR agenda, a QBR prep note or a "
    "QBR deck (PPTX).",
    no_args_is_help=True,
)
plan_app = typer.Typer(help="Saved account plans: list the versions, show one, diff two.",
                       no_args_is_help=True)

AccountRef = Annotated[str, typer.Argument(help="Account name (typos tolerated) or id.")]
MeetingDate = Annotated[
    str | None, typer.Option("--date", help="Date of the QBR (YYYY-MM-DD), if known.")
]
Out = Annotated[
    Path | None, typer.Option("--out", help="Write the markdown to this file instead.")
]


@contextmanager
def _drafter(as_user: str) -> Iterator[tuple[Drafter, CallerContext]]:
    """A Drafter on the configured database and guidance index, and the caller's context."""
    from knowledge.index import build_guidance_index, default_sources

    settings = common.settings()
    with caller(as_user) as (sessions, context):
        index = build_guidance_index(settings)
        index.sync(default_sources(settings))
        yield Drafter(sessions, index, build_prompts(settings), settings.out_dir,
                      kpi_config(settings)), context


def _emit(result: dict[str, Any], out: Path | None) -> None:
    """Print the draft as rich markdown, or write it to `out`; then the chart and version."""
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(result["markdown"], encoding="utf-8")
        console.print(f"Wrote {out}.", highlight=False)
    else:
        console.print(Markdown(result["markdown"]))
    for chart in result["charts"]:
        console.print(f"Chart: {chart}", highlight=False)
    if "plan" in result:
        console.print(f"Saved as version {result['plan']['version']} of the account plan for "
                      f"{result['account']['name']}.", highlight=False)


def _draft(
    as_user: str, out: Path | None, as_json: bool, make: Callable[[Drafter, CallerContext], dict]
) -> None:
    with _drafter(as_user) as (drafter, context):
        result = checked(make(drafter, context))
    if as_json:
        emit_json(result)
    else:
        _emit(result, out)


@draft_app.command("plan")
def draft_plan(
    account: AccountRef, as_user: AsUser, out: Out = None, as_of: AsOf = None,
    as_json: AsJson = False,
) -> None:
    """Draft an account plan and save it as the account's next plan version."""
    day = parse_date(as_of)
    _draft(as_user, out, as_json, lambda d, c: d.account_plan(c, account, day))


@draft_app.command("agenda")
def draft_agenda(
    account: AccountRef, as_user: AsUser, date_: MeetingDate = None, out: Out = None,
    as_of: AsOf = None, as_json: AsJson = False,
) -> None:
    """Draft a timed QBR agenda, shaped by the account's risks, renewal and opportunities."""
    meeting, day = parse_date(date_, "--date"), parse_date(as_of)
    _draft(as_user, out, as_json, lambda d, c: d.qbr_agenda(c, account, meeting, day))


@draft_app.command("prep")
def draft_prep(
    account: AccountRef, as_user: AsUser, date_: MeetingDate = None, out: Out = None,
    as_of: AsOf = None, as_json: AsJson = False,
) -> None:
    """Draft a QBR prep note with a suggested agenda and a revenue chart (PNG)."""
    meeting, day = parse_date(date_, "--date"), parse_date(as_of)
    _draft(as_user, out, as_json, lambda d, c: d.qbr_prep_note(c, account, meeting, day))


DeckOut = Annotated[
    Path | None, typer.Option("--out", help="Write the deck to this .pptx file "
                              "(default: <KAM_DATA_DIR>/out/<account id>-qbr-deck.pptx).")
]


@draft_app.command("deck")
def draft_deck(
    account: AccountRef, as_user: AsUser, date_: MeetingDate = None, out: DeckOut = None,
    as_of: AsOf = None, as_json: AsJson = False,
) -> None:
    """Write a QBR deck (PPTX): results with the revenue chart, customer KPIs, value delivered,
    risks, opportunities, stakeholders and who attends, agenda; the prep note's numbers."""
    meeting, day = parse_date(date_, "--date"), parse_date(as_of)
    if out is not None and out.suffix.lower() != ".pptx":
        raise fail(f"--out {out}: a deck is a .pptx file; give a path ending in .pptx", 2)
    with caller(as_user) as (sessions, context):
        result = checked(build_decks(common.settings(), sessions).draft(
            context, account, meeting, day, out))
    if as_json:
        emit_json({k: v for k, v in result.items() if k != "markdown"})
        return
    titles = [s["title"] for s in result["slides"]]
    console.print(f"Wrote {result['path']}: QBR deck for {result['account']['name']}, "
                  f"{len(titles)} slides, figures as of {result['as_of']}.", highlight=False)
    for number, title in enumerate(titles, start=1):
        console.print(f"  {number}. {title}", highlight=False)


def _plans(as_user: str, read: Callable) -> dict[str, Any]:
    """Run a plan-store read for the caller; a missing plan or version is a one-line error."""
    def view(engine):
        try:
            return read(engine.session, engine.scope)
        except plans.PlanNotFound as exc:
            raise fail(str(exc)) from None

    return run(as_user, None, view)


@plan_app.command("list")
def plan_list(account: AccountRef, as_user: AsUser) -> None:
    """The saved versions of an account's plan, newest first."""
    data = _plans(as_user, lambda s, scope: plans.list_plans(s, scope, account))
    name = data["account"]["name"]
    if not data["plans"]:
        console.print(f"{name} has no saved plan yet; draft one with `kam draft plan`.",
                      highlight=False)
        return
    table = Table("version", "created (UTC)", "by", "status", "lines",
                  title=f"Account plans: {name}")
    for p in data["plans"]:
        table.add_row(str(p["version"]), p["created_on"].replace("T", " "),
                      p.get("created_by_name") or p["created_by"], p["status"], str(p["lines"]))
    console.print(table)


@plan_app.command("show")
def plan_show(
    account: AccountRef, as_user: AsUser,
    version: Annotated[int | None, typer.Option("--version", min=1,
                                                help="Version to show (default: latest).")] = None,
) -> None:
    """One version of an account's plan (default: the latest)."""
    data = _plans(as_user, lambda s, scope: plans.show_plan(s, scope, account, version))
    console.print(f"{data['account']['name']}: plan version {data['version']} ({data['status']}), "
                  f"saved {data['created_on'].replace('T', ' ')} UTC by "
                  f"{data.get('created_by_name') or data['created_by']}.", highlight=False)
    console.print(Markdown(data["markdown"]))


@plan_app.command("diff")
def plan_diff(
    account: AccountRef, as_user: AsUser,
    old: Annotated[int | None, typer.Argument(help="Older version (default: second latest).")
                   ] = None,
    new: Annotated[int | None, typer.Argument(help="Newer version (default: latest).")] = None,
) -> None:
    """A unified diff between two versions of an account's plan (default: the latest two)."""
    if (old is None) != (new is None):
        raise fail("give two versions to compare, or none for the latest two", 2)
    data = _plans(as_user, lambda s, scope: plans.diff_plans(s, scope, account, old, new))
    if not data["diff"]:
        console.print(f"Versions {data['old']} and {data['new']} are identical.")
        return
    typer.echo(data["diff"])
