"""`kam account`, `kam kpi`, `kam portfolio`, `kam risks`, `kam renewals`: account data for
humans and debugging, over the same views the agent's tools use.

Every command needs `--as-user`: the identity whose access scope applies. There is
no default, so nobody sees everything by accident.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from bot.cli import common
from bot.cli.common import AsJson, AsOf, AsUser, console, emit_json, fail, run
from prompts import money
from tools import views
from tools.accounts import portfolio_from
from tools.kpis import KPI_NAMES
from tools.portfolio import GroupBy, Order, Portfolio

MAIN_KPIS = ("revenue", "revenue_growth", "gross_margin", "profitability", "nrr", "grr",
             "nps", "csat", "churn_risk")
PORTFOLIO_WORDS = {"portfolio", "all", "mine", "me"}
MONEY = {"amount", "annual_value"}
FILTER_KEYS = {"owner", "kam", "team", "tier", "region", "industry", "quadrant", "risk_band"}
FiscalPeriod = Annotated[str | None, typer.Option(
    "--period", help="A fiscal period: FY26, 'Q3 FY26', H1, 'last fiscal quarter', 'fiscal YTD' "
                     "(KAM_FISCAL_YEAR_START; default: the 12 months to as-of).")]


def fmt(value: Any, unit: str | None = None) -> str:
    """A value for the tables: money in the reporting currency as KAM_LOCALE writes it (the
    formatter answers use), percentages with one decimal."""
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items() if v)
    if unit == "currency" and isinstance(value, int | float):
        settings = common.settings()
        return money(value, settings.kam_reporting_currency, settings.kam_locale)
    if unit == "%" and isinstance(value, int | float):
        return f"{value:.1f} %"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


def change_text(item: dict[str, Any]) -> str:
    for key, suffix in (("change_pct", " %"), ("change_pct_points", " pp"),
                        ("change_points", " pts")):
        if item.get(key) is not None:
            return f"{item[key]:+.1f}{suffix}"
    return ""


def _portfolio(view: Callable, filters: dict[str, Any]) -> Callable:
    """Wrap a view that takes a Portfolio built from CLI filters (owner names resolved)."""
    return lambda engine: view(engine, portfolio_from(engine.session, filters))


def account(
    name: Annotated[str, typer.Argument(help="Account name (typos tolerated) or id.")],
    as_user: AsUser,
    as_json: AsJson = False,
    as_of: AsOf = None,
) -> None:
    """Summary of one account: KPIs with last year's value, risks, renewals, tickets."""
    data = run(as_user, as_of, lambda e: views.summary_view(e, name))
    if as_json:
        return emit_json(data)
    acct = data["account"]
    console.print(Text.assemble(
        (acct["name"], "bold"), f" ({acct['account_id']}) - owner {acct['owner']['name']}, "
        f"tier {acct['tier']}, {acct['industry']}, {acct['region']}; "
        f"period {data['period']['start']}..{data['period']['end']}"))
    table = Table("KPI", "value", "unit", "prior year", "change", title="KPIs")
    for kpi, item in data["kpis"].items():
        table.add_row(kpi, fmt(item["value"], item["unit"]), item["unit"],
                      fmt(item.get("prior_value"), item["unit"]), change_text(item))
    console.print(table)
    churn = data["kpis"]["churn_risk"]
    for sign in churn.get("inputs", {}).get("signs_fired", []):
        fired = f"{sign['sign']} (+{sign['points']})"
        console.print(Text.assemble(("  risk sign ", "yellow"), fired))
    _list_table("Open opportunities", data["open_opportunities"],
                ("opportunity_id", "kind", "product", "amount", "expected_close"))
    _list_table("Contracts ending within a year", data["contracts_ending"],
                ("contract_id", "end_date", "days_left", "annual_value", "auto_renew"))
    _list_table("Open tickets", data["open_tickets"],
                ("ticket_id", "severity", "opened_on", "age_days", "subject"))
    _list_table("Recent activities", data["recent_activities"],
                ("occurred_on", "kind", "contact", "notes"))


def _list_table(title: str, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    if not rows:
        console.print(f"{title}: none")
        return
    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(*(fmt(row.get(c), "currency" if c in MONEY else None) for c in columns))
    console.print(table)


def kpi(
    target: Annotated[str, typer.Argument(
        help="An account name or id; 'portfolio' for all your accounts; or a filter such as "
             "team:North, owner:u_kam_anna, tier:key, region:EMEA.")],
    kpi_name: Annotated[str, typer.Argument(metavar="KPI", help=", ".join(KPI_NAMES))],
    as_user: AsUser,
    by: Annotated[GroupBy | None, typer.Option(
        "--by", help="Portfolio only: also per owner, team, tier, region or industry.")] = None,
    as_json: AsJson = False,
    as_of: AsOf = None,
    period: FiscalPeriod = None,
) -> None:
    """One KPI for an account or a portfolio, with the numbers it was computed from."""
    if kpi_name not in KPI_NAMES:
        raise fail(f"unknown KPI {kpi_name!r}; use one of: {', '.join(KPI_NAMES)}", 2)
    key, _, value = target.partition(":")
    if target.lower() in PORTFOLIO_WORDS or (value and key.lower() in FILTER_KEYS):
        filters = {} if not value else {"owner" if key.lower() == "kam" else key.lower(): value}
        view = _portfolio(lambda e, p: views.kpi_view(
            e, kpi_name, None, p, by, views.period_context(e, None, None, period)), filters)
    else:
        def view(e):
            return views.kpi_view(e, kpi_name, target,
                                  ctx=views.period_context(e, None, None, period))
    data = run(as_user, as_of, view)
    if as_json:
        return emit_json(data)
    subject = data.get("account", {}).get("name") or json.dumps(data.get("portfolio"))
    unit = "" if data["unit"] == "%" else f" {data['unit']}"
    note = f"  ({data['note']})" if data.get("note") else ""
    console.print(Text.assemble((kpi_name, "bold"), f" for {subject}: ",
                                (fmt(data["value"], data["unit"]), "bold"), unit + note))
    console.print(f"definition: {data['definition']}")
    if "period" in data:
        console.print(f"period: {data['period']['name']}")
    console.print_json(json.dumps(data.get("inputs", {}), ensure_ascii=False))
    if data.get("groups"):
        table = Table(by or "group", "accounts", "value", title=f"{kpi_name} by {by}")
        for g in data["groups"]:
            table.add_row(str(g["label"]), str(g["accounts"]), fmt(g["value"], g["unit"]))
        console.print(table)


def portfolio(
    as_user: AsUser,
    user: Annotated[str | None, typer.Option(
        "--user", help="Only this KAM's accounts (user id or name).")] = None,
    by: Annotated[str | None, typer.Option(
        "--by", help="Rank accounts by this KPI instead of the roll-up.")] = None,
    n: Annotated[int, typer.Option("--n", min=1, max=500, help="How many to rank.")] = 10,
    lowest: Annotated[bool, typer.Option("--lowest", help="Rank lowest first.")] = False,
    as_json: AsJson = False,
    as_of: AsOf = None,
    period: FiscalPeriod = None,
) -> None:
    """Your portfolio: the main KPIs per KAM, or a ranking of accounts --by a KPI."""
    filters = {"owner": user} if user else {}
    if by:
        if by not in KPI_NAMES:
            raise fail(f"unknown KPI {by!r}; use one of: {', '.join(KPI_NAMES)}", 2)
        order: Order = "lowest" if lowest else "highest"
        data = run(as_user, as_of, _portfolio(lambda e, p: views.rank_view(
            e, by, p, n, order, views.period_context(e, None, None, period)), filters))
        return emit_json(data) if as_json else _ranking_table(data)
    data = run(as_user, as_of, _portfolio(lambda e, p: _rollup(e, p, period), filters))
    if as_json:
        return emit_json(data)
    groups = [*data["groups"], {"label": "total", **data["total"]}]
    table = Table("KPI", *(f"{g['label']} ({g['accounts']})" for g in groups),
                  title=f"Portfolio, {data['period']['name']} (accounts in brackets)")
    for k in MAIN_KPIS:
        table.add_row(k, *(fmt(g["kpis"][k]["value"], g["kpis"][k]["unit"]) for g in groups))
    console.print(table)


def _rollup(engine, portfolio_: Portfolio, period: str | None) -> dict[str, Any]:
    from tools.payload import kpi as kpi_json
    from tools.payload import period_named
    from tools.portfolio import portfolio_rollup

    ctx = views.period_context(engine, None, None, period)
    rollup = portfolio_rollup(engine, MAIN_KPIS, portfolio_, "owner", ctx)

    def block(kpis):
        return {k: kpi_json(v, inputs=False) for k, v in kpis.items()}

    return {
        "as_of": rollup.as_of.isoformat(),
        "period": period_named(rollup.period, engine.config, ctx.label if ctx else None),
        "portfolio": rollup.portfolio,
        "total": {"accounts": rollup.accounts, "kpis": block(rollup.total)},
        "groups": [{"key": g.key, "label": g.label, "accounts": g.accounts,
                    "kpis": block(g.kpis)} for g in rollup.groups],
    }


def _ranking_table(data: dict[str, Any]) -> None:
    period = f", {data['period']['name']}" if "period" in data else ""
    table = Table("#", "account", "owner", "tier", f"{data['kpi']} ({data['unit']})",
                  title=f"{data['order']} {data['kpi']} as of {data['as_of']}{period} "
                        f"({data['accounts_ranked']} ranked, "
                        f"{data['accounts_without_a_value']} without a value)")
    for item in data["items"]:
        table.add_row(str(item["rank"]), f"{item['name']} ({item['account_id']})",
                      str(item["owner"]), str(item["tier"]), fmt(item["value"], data["unit"]))
    console.print(table)


def risks(
    as_user: AsUser,
    n: Annotated[int, typer.Option("--n", min=1, max=500)] = 10,
    min_band: Annotated[str, typer.Option("--min-band", help="medium or high.")] = "medium",
    as_json: AsJson = False,
    as_of: AsOf = None,
) -> None:
    """Accounts at churn risk, riskiest first, with the warning signs that fired."""
    if min_band not in ("medium", "high"):
        raise fail("--min-band must be medium or high", 2)
    data = run(as_user, as_of, _portfolio(
        lambda e, p: views.at_risk_view(e, p, n, min_band), {}))
    if as_json:
        return emit_json(data)
    table = Table("#", "account", "owner", "risk", "band", "signs",
                  title=f"Churn risk as of {data['as_of']}")
    for item in data["items"]:
        table.add_row(str(item["rank"]), f"{item['name']} ({item['account_id']})",
                      str(item["owner"]), str(item["value"]), item["band"],
                      ", ".join(s["sign"] for s in item["signs_fired"]))
    console.print(table)


def renewals(
    as_user: AsUser,
    days: Annotated[int, typer.Option("--days", min=1, max=730)] = 90,
    as_json: AsJson = False,
    as_of: AsOf = None,
) -> None:
    """Contracts ending within --days, with value, renewal opportunity and risk band."""
    data = run(as_user, as_of, _portfolio(lambda e, p: views.renewals_view(e, p, days), {}))
    if as_json:
        return emit_json(data)
    table = Table("end date", "days", "account", "owner", "annual value", "renewal opp",
                  "risk", title=f"Renewals {data['window']['start']}..{data['window']['end']} "
                                f"(total {fmt(data['total_annual_value'], 'currency')})")
    for r in data["items"]:
        table.add_row(r["end_date"], str(r["days_left"]), f"{r['name']} ({r['account_id']})",
                      str(r["owner"]), fmt(r["annual_value"], "currency"),
                      "yes" if r["open_renewal_opportunity"] else Text("no", "red"),
                      f"{r['churn_risk']} {r['risk_band']}")
    console.print(table)
