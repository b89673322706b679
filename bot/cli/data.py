"""Data commands: schema migrations, CSV import and demo data."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Literal

import typer
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from bot.cli import common
from bot.cli.common import console, err_console, warn
from bot.cli.history import fill_history
from bot.factory import build_services
from store.db import current_revision, make_engine, upgrade
from store.demo import generate
from store.importer import ImportFailed, ImportReport, Limits, import_paths

# A year of weekly history: movers over a week, a month, a quarter or since the last QBR, and
# a year of trend. Measured on the default demo (60 accounts): 1.7 s for 52 weeks, 4.6 s for
# all 156 weeks of its orders, against ~6 s for the rest of `kam demo-data`.
HISTORY_WEEKS = 52

db_app = typer.Typer(help="Create or upgrade the database schema.", no_args_is_help=True)


@db_app.command("init")
def db_init() -> None:
    """Create the database and every table (safe to run again)."""
    settings = common.settings()
    engine = make_engine(settings.db_url)
    upgrade(engine)
    console.print(f"Database ready at {settings.database_url} (schema {current_revision(engine)}).")


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply pending schema migrations."""
    settings = common.settings()
    engine = make_engine(settings.db_url)
    before = current_revision(engine)
    upgrade(engine, revision)
    console.print(f"Schema {before or 'empty'} -> {current_revision(engine)}.")


def run_import(paths: list[Path], *, allow_any_date: bool = False) -> ImportReport:
    """Import CSV files with a progress bar; print every error and exit 1 if any."""
    settings = common.settings()
    services = build_services(settings)
    limits = Limits(
        today=date.today(),
        as_of=settings.kam_as_of,
        any_date=allow_any_date,
        max_amount_cents=int(settings.kam_max_amount * 100),
    )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(f"validating {name}", total=total)
            bar.update(tasks[name], completed=done, total=max(total, done))

        try:
            report = import_paths(
                services.engine, paths, progress, limits, settings.kam_reporting_currency
            )
        except ImportFailed as exc:
            for warning in exc.warnings:
                warn(warning)
            err_console.print(Text.assemble(("import failed: ", "bold red"), str(exc)))
            raise typer.Exit(1) from None
    for warning in report.warnings:
        warn(warning)
    return report


def print_report(report: ImportReport, seconds: float) -> None:
    table = Table("table", "file", "rows", "new", "updated", "unchanged", title="Imported")
    for item in report.tables:
        table.add_row(item.table, item.file, *(f"{n:,}" for n in (
            item.rows, item.inserted, item.updated, item.unchanged)))
    console.print(table)
    console.print(f"{report.total_rows:,} rows in {seconds:.1f} s (checks "
                  f"{seconds - report.write_seconds:.1f} s, writing {report.write_seconds:.1f} s"
                  "), one transaction.")


def import_command(
    paths: list[Path] = typer.Argument(
        ..., help="CSV files named after their table (orders.csv, ...) or folders holding them."
    ),
    allow_any_date: bool = typer.Option(
        False,
        "--allow-any-date",
        help="Accept any date from 1900 to 2999, not only the sanity range "
        "(e.g. orders from 20 years back to 1 year ahead).",
    ),
) -> None:
    """Validate and import CSV exports; all or nothing (see docs/data-format.md)."""
    started = time.perf_counter()
    report = run_import(paths, allow_any_date=allow_any_date)
    print_report(report, time.perf_counter() - started)


def demo_data_command(
    accounts: int = typer.Option(60, min=10, help="Number of accounts (10,000 = scale data set)."),
    seed: int = typer.Option(7, help="Random seed; the same seed gives identical files."),
    out: Path = typer.Option(Path("data/demo"), help="Folder for the generated CSV files."),
    load: bool = typer.Option(True, "--import/--no-import", help="Import the files afterwards."),
    names: Literal["default", "intl"] = typer.Option(
        "default", help="intl: the same data with international names (accents, apostrophes)."),
    history_weeks: int = typer.Option(
        HISTORY_WEEKS, "--history-weeks", min=0, max=520,
        help="Weekly KPI snapshots to fill after the import, up to the latest order (0: none)."),
    currencies: bool = typer.Option(
        False, "--currencies",
        help="Bill North American accounts in USD, APAC in SGD and a third of EMEA in GBP "
        "(the same business; rates into EUR in fx_rates.csv)."),
) -> None:
    """Generate realistic, deterministic demo CSVs and import them."""
    started = time.perf_counter()
    with Progress(console=err_console, transient=True) as bar:
        task = bar.add_task("generating accounts", total=accounts)
        summary = generate(
            out,
            accounts,
            seed,
            lambda done, total: bar.update(task, completed=done),
            names,
            currencies,
        )
    console.print(
        f"Wrote {sum(summary.rows.values()):,} rows ({summary.rows['orders']:,} order lines) "
        f"to {out} in {time.perf_counter() - started:.1f} s."
    )
    if load:
        started = time.perf_counter()
        print_report(run_import([out]), time.perf_counter() - started)
        if history_weeks:
            services = build_services(common.settings(), migrate=False)
            try:
                fill_history(services.sessions, history_weeks, common.settings().kam_as_of)
            finally:
                services.close()
