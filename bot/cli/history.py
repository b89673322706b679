"""`kam snapshot` (this week's KPIs of every account, into the history) and `kam movers` (what
changed: the accounts whose KPIs moved most between weekly snapshots, with the causes).

`kam snapshot` is a job, like `kam digest`: run it from the same cron line, before the
digest. `kam movers` reads under `--as-user`'s access scope, like every other data command.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer
from rich.text import Text
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import common
from bot.cli.accounts import change_text, fmt
from bot.cli.common import AsJson, AsOf, AsUser, console, emit_json, parse_date, run
from bot.factory import build_services
from store.db import is_initialised
from tools.accounts import portfolio_from
from tools.history import TRACKED_KPIS, SnapshotReport, backfill, take_snapshot
from tools.movers import Direction, movers_view
from tools.payload import words


def report_line(report: SnapshotReport) -> str:
    """One snapshot, for people."""
    again = f"; replaced the {report.replaced} rows taken earlier that week" if (
        report.replaced) else ""
    return (f"KPI snapshot of {report.accounts:,} accounts for the week of "
            f"{report.week_start.isoformat()} (as of {report.as_of.isoformat()}) in "
            f"{report.seconds:.1f} s{again}.")


def snapshot_command(
    as_of: AsOf = None,
    weeks: Annotated[int, typer.Option(
        "--weeks", min=1, max=520,
        help="Also the weeks before: N weekly snapshots ending with this week.")] = 1,
) -> None:
    """Store this week's KPIs of every account in the KPI history (run weekly; safe to repeat)."""
    settings = common.settings()
    services = build_services(settings)
    try:
        if not is_initialised(services.engine):
            raise common.fail("the database is empty; run `kam demo-data` or `kam import` first")
        day = parse_date(as_of) or settings.kam_as_of
        if weeks == 1:
            with services.sessions() as session:
                console.print(report_line(take_snapshot(session, day)))
            return
        fill_history(services.sessions, weeks, day)
    finally:
        services.close()


def fill_history(sessions: sessionmaker[Session], weeks: int, as_of: date | None) -> None:
    """`weeks` weekly snapshots ending with the week of `as_of` (default: the latest order)."""
    reports = backfill(sessions, weeks, as_of)
    seconds = sum(r.seconds for r in reports)
    console.print(f"KPI history: {len(reports)} weekly snapshots, {reports[0].as_of.isoformat()} "
                  f"to {reports[-1].as_of.isoformat()}, in {seconds:.1f} s.")


def movers_command(
    as_user: AsUser,
    kpi: Annotated[str | None, typer.Option(
        "--kpi", help="One of: " + ", ".join(TRACKED_KPIS) + " (default: all of them).")] = None,
    direction: Annotated[Direction, typer.Option(
        "--direction", help="worse, better or any.")] = "any",
    weeks: Annotated[int, typer.Option(
        "--weeks", min=1, max=520, help="Compare with the snapshot N weeks earlier.")] = 1,
    since: Annotated[str | None, typer.Option(
        "--since", help="Or with the snapshot taken on or before YYYY-MM-DD.")] = None,
    owner: Annotated[str | None, typer.Option(
        "--owner", help="Only this KAM's accounts (user id or name).")] = None,
    n: Annotated[int, typer.Option("--n", min=1, max=50, help="Movers per KPI.")] = 5,
    as_json: AsJson = False,
    as_of: AsOf = None,
) -> None:
    """What changed: your accounts whose KPIs moved most between weekly snapshots, and why."""
    if kpi is not None and kpi not in TRACKED_KPIS:
        raise common.fail(f"--kpi {kpi!r} is not kept in the history; use one of: "
                          + ", ".join(TRACKED_KPIS), 2)
    start = parse_date(since, "--since")
    kpis = (kpi,) if kpi else TRACKED_KPIS
    filters = {"owner": owner} if owner else {}
    data = run(as_user, as_of, lambda e: movers_view(
        e, kpis, portfolio_from(e.session, filters), weeks=weeks, since=start, direction=direction,
        n=n))
    if as_json:
        return emit_json(data)
    print_movers(data)


def print_movers(data: dict[str, Any]) -> None:
    console.print(Text.assemble(("What changed", "bold"), f" from {data['from']} to {data['to']}"))
    for block in data["movers"]:
        if block.get("note"):
            console.print(f"note: {block['note']}")
        way = {"any": "moved", "worse": "got worse", "better": "got better"}[block["direction"]]
        console.print(Text.assemble(
            "\n", (words(block["kpi"]), "bold"),
            f": {block['accounts_moved']} of {block['accounts_compared']} accounts {way}"))
        for item in block["items"]:
            unit = block["unit"]
            owner = f", {item['owner']}" if item["owner"] else ""
            console.print(Text.assemble(
                ("  ▼ " if item["worse"] else "  ▲ ", "red" if item["worse"] else "green"),
                f"{item['name']} ({item['account_id']}{owner}): ",
                (f"{fmt(item['before'], unit)} → {fmt(item['after'], unit)}", "bold"),
                f" ({change_text(item)})" if change_text(item) else ""))
            causes = [c["text"] for c in item["causes"]] or ["no cause on record"]
            for cause in causes:
                console.print(f"      {cause}")
