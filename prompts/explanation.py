"""Show the math for people: one KPI's explanation (`tools.explain.explain_view`) as lines of
text — the figure, the formula in words, every input with its value, the period, the as-of
date and the rows read from each source table. `kam explain` prints them; Slack shows them
privately to whoever pressed "Explain" under a figure."""

from __future__ import annotations

import re
from typing import Any

from prompts import day_name, fmt, kpi_label, money, period_name

# An input is money when its name starts or ends with one of these words (revenue_recent,
# won_amount), unless it counts accounts (accounts_with_prior_revenue).
MONEY_WORDS = frozenset({"revenue", "cost", "margin", "wallet", "amount", "profit", "clv"})
NAME_KEYS = ("sign", "factor", "kind", "buying_role")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TABLES = {
    "orders": "order lines",
    "surveys": "survey responses",
    "cost_to_serve": "cost-to-serve records",
    "account_scores": "strategic value scores",
    "value_factors": "strategic value factors",
    "activities": "activities (meetings, calls, emails, visits)",
    "tickets": "support tickets",
    "customer_kpis": "customer KPI readings",
}


def words(name: str) -> str:
    """An internal name as words: prior_revenue -> prior revenue."""
    return name.replace("_", " ")


class Explanation:
    """Renders explanations in one reporting currency, locale and fiscal calendar."""

    def __init__(self, currency: str | None = None, locale: str = "en", fiscal_start: int = 1):
        self.currency = currency
        self.locale = locale
        self.fiscal_start = fiscal_start

    def headline(self, data: dict[str, Any]) -> str:
        """'Revenue growth of Globex Logistics (A0003): -26.1%'."""
        account = data["account"]
        shown = fmt(data["value"], data["unit"], self.currency, self.locale)
        return f"{kpi_label(data['kpi'])} of {account['name']} ({account['account_id']}): {shown}"

    def lines(self, data: dict[str, Any]) -> list[str]:
        """Everything after the headline: note, formula, inputs, period, as-of and rows read."""
        lines = [data["note"]] if data.get("note") else []
        lines.append(f"Formula: {words(data['formula'])}")
        lines.append("Inputs:")
        lines += self.input_lines(data.get("inputs") or {})
        if data.get("period"):
            lines.append(f"Period: {self.period(data['period'])}")
        lines.append(f"As of: {self.day(data['as_of'])}")
        lines.append("Rows read: " + "; ".join(self.source(s) for s in data["sources"]))
        return lines

    def source(self, source: dict[str, Any]) -> str:
        """'order lines: 1,204 (Oct 1, 2024 – Sep 30, 2026)'."""
        text = f"{TABLES.get(source['table'], words(source['table']))}: {source['rows']:,}"
        return text + (f" ({self.period(source['period'])})" if source.get("period") else "")

    def period(self, period: dict[str, Any]) -> str:
        return period_name(period, fiscal_start=self.fiscal_start, locale=self.locale)

    def day(self, iso: str) -> str:
        return day_name(iso, self.locale)

    def input_lines(self, inputs: Any, indent: int = 2) -> list[str]:
        """Nested inputs as indented `name: value` lines; lists of records one record a line."""
        pad = " " * indent
        if isinstance(inputs, list):
            lines = []
            for item in inputs:
                if not isinstance(item, dict):
                    lines.append(pad + "- " + self.value("", item))
                    continue
                flat = {k: v for k, v in item.items() if not isinstance(v, dict | list)}
                lines.append(pad + "- " + "; ".join(f"{words(k)} {self.value(k, v)}"
                                                    for k, v in flat.items()))
                for k, v in item.items():
                    if _is_period(v):
                        lines.append(pad + f"  {words(k)}: {self.value(k, v)}")
                    elif isinstance(v, dict | list):
                        lines += [pad + "  " + words(k) + ":", *self.input_lines(v, indent + 4)]
            return lines
        lines = []
        for key, value in inputs.items():
            if isinstance(value, list) and any(isinstance(v, dict) for v in value) or (
                    isinstance(value, dict) and not _is_period(value)):
                lines += [f"{pad}{words(key)}:", *self.input_lines(value, indent + 2)]
            else:
                lines.append(f"{pad}{words(key)}: {self.value(key, value)}")
        return lines

    def value(self, key: str, value: Any) -> str:
        """One input's value for people: money in the reporting currency, %, dates, words."""
        if value is None:
            return "n/a"
        if _is_period(value):
            return self.period(value)
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
            return ", ".join(words(str(v)) for v in value) or "none"
        if key.endswith("_pct") and isinstance(value, int | float):
            return fmt(value, "%")
        if _is_money(key) and isinstance(value, int | float):
            return money(float(value), self.currency, self.locale)
        if isinstance(value, float):  # weights (0.15) and means (4.5714) keep their digits
            return f"{value:,.2f}" if abs(value) >= 1000 else f"{value:.6g}"
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, str) and key in NAME_KEYS:
            return words(value)
        if isinstance(value, str) and ISO_DATE.match(value):
            return self.day(value)
        return str(value)


def _is_period(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"start", "end"}


def _is_money(key: str) -> bool:
    parts = key.split("_")
    return parts[0] != "accounts" and bool(MONEY_WORDS & {parts[0], parts[-1]})
