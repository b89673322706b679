"""`kam explain KPI ACCOUNT`: show the math of one account's KPI — the formula, the inputs
with their values, the period and as-of date, and the rows read from each source table —
from the KPI engine's own result (tools/explain.py), under `--as-user`'s scope, written for
people by the same `prompts.explanation.Explanation` Slack's "Explain" button uses."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from bot.cli.common import AsJson, AsOf, AsUser, console, emit_json, fail, run, settings
from bot.factory import kpi_config
from prompts.explanation import Explanation
from tools.explain import explain_view
from tools.kpis import KPI_NAMES


def explain(
    kpi_name: Annotated[str, typer.Argument(metavar="KPI", help=", ".join(KPI_NAMES))],
    account: Annotated[str, typer.Argument(help="Account name (typos tolerated) or id.")],
    as_user: AsUser,
    as_json: AsJson = False,
    as_of: AsOf = None,
) -> None:
    """Show the math of one account's KPI: formula, inputs, period, rows and source tables."""
    if kpi_name not in KPI_NAMES:
        raise fail(f"unknown KPI {kpi_name!r}; use one of: {', '.join(KPI_NAMES)}", 2)
    config = kpi_config(settings())
    data = run(as_user, as_of, lambda e: explain_view(e, kpi_name, account))
    if as_json:
        return emit_json(data)
    text = Explanation(config.reporting_currency, settings().kam_locale, config.fiscal_year_start)
    console.print(Text(text.headline(data), style="bold"))
    for line in text.lines(data):
        console.print(line)
