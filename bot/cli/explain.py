"""`kam explain KPI ACCOUNT`: show the math of one account's KPI — the formula, the inputs
with their values, the period and as-of date, and the rows read from each source table —
from the KPI engine's own result (tools/explain.py), under `--as-user`'s scope."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from bot.cli.accounts import fmt
from bot.cli.common import AsJson, AsOf, AsUser, console, emit_json, fail, run
from tools.explain import explain_view
from tools.kpis import KPI_NAMES
from tools.payload import words

MONEY_KEYS = ("revenue", "cost", "margin", "cost_to_serve", "wallet_estimate", "amount",
              "profit_after_cost_to_serve", "gross_margin_12m", "annual_value", "clv")
NAME_KEYS = ("sign", "factor", "kind", "buying_role")


def _value(key: str, value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"start", "end"}:
        return f"{value['start']}..{value['end']}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return ", ".join(words(str(v)) for v in value) or "none"
    if key.endswith("_pct"):
        return fmt(value, "%")
    if any(key.endswith(k) for k in MONEY_KEYS) and isinstance(value, int | float):
        return fmt(value, "currency")
    if isinstance(value, float):  # weights (0.15) and means (4.5714) keep their digits
        return f"{value:,.2f}" if abs(value) >= 1000 else f"{value:.6g}"
    if isinstance(value, str) and key in NAME_KEYS:
        return words(value)
    return fmt(value)


def input_lines(inputs: Any, indent: int = 2) -> list[str]:
    """Nested inputs as indented `name: value` lines; lists of records one record a line."""
    pad = " " * indent
    if isinstance(inputs, list):
        lines = []
        for item in inputs:
            if isinstance(item, dict):
                flat = {k: v for k, v in item.items() if not isinstance(v, dict | list)}
                lines.append(pad + "- " + "; ".join(f"{words(k)} {_value(k, v)}"
                                                    for k, v in flat.items()))
                for k, v in item.items():
                    if isinstance(v, dict | list) and not _is_period(v):
                        lines += [pad + "  " + words(k) + ":", *input_lines(v, indent + 4)]
                    elif _is_period(v):
                        lines.append(pad + f"  {words(k)}: {_value(k, v)}")
            else:
                lines.append(pad + "- " + _value("", item))
        return lines
    lines = []
    for key, value in inputs.items():
        if isinstance(value, list) and any(isinstance(v, dict) for v in value) or (
                isinstance(value, dict) and not _is_period(value)):
            lines += [f"{pad}{words(key)}:", *input_lines(value, indent + 2)]
        else:
            lines.append(f"{pad}{words(key)}: {_value(key, value)}")
    return lines


def _is_period(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"start", "end"}


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
    data = run(as_user, as_of, lambda e: explain_view(e, kpi_name, account))
    if as_json:
        return emit_json(data)
    acct, unit = data["account"], data["unit"]
    shown = fmt(data["value"], unit if unit in ("%", "currency") else None)
    console.print(Text.assemble((words(kpi_name), "bold"),
                                f" for {acct['name']} ({acct['account_id']}): ", (shown, "bold")))
    if data.get("note"):
        console.print(data["note"])
    console.print(f"formula: {data['formula']}")
    console.print("inputs:")
    for line in input_lines(data.get("inputs", {})):
        console.print(line)
    period = data.get("period")
    during = f"period {period['start']}..{period['end']}, " if period else ""
    console.print(f"{during}as of {data['as_of']}")
    console.print("rows read: " + "; ".join(
        f"{s['table']} {s['rows']:,}" + (f" ({s['period']['start']}..{s['period']['end']})"
                                         if s.get("period") else "")
        for s in data["sources"]))
