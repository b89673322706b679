"""Prompts and answer templates, kept as files (markdown + Jinja2) and loaded by name, and
the offline model's vocabulary and training files. Imports nothing of the project."""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import partial
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_interval
from babel.numbers import format_currency, get_currency_symbol
from jinja2 import Environment, FileSystemLoader, StrictUndefined

PROMPTS_DIR = Path(__file__).resolve().parent


def money(value: float | None, currency: str | None = None, locale: str = "en") -> str:
    """An amount for people, cents only under 1,000 and only when there are some: with a
    currency, as the locale writes it (Babel): '€1,157,322', '1.157.322 €' in de, 'SGD12.50',
    '€0', never a bare '$' for other money; without one, the bare number ('1,157,322')."""
    if value is None:
        return "n/a"
    whole = abs(value) >= 1000 or value == round(value)
    if currency is None:
        return f"{value:,.0f}" if whole else f"{value:,.2f}"
    if whole:
        return format_currency(round(value), currency, _whole_units(locale), locale=locale,
                               currency_digits=False)
    return format_currency(value, currency, locale=locale)


def _whole_units(locale: str) -> str:
    """The locale's own currency pattern without its decimals: whole units for large amounts."""
    return Locale.parse(locale).currency_formats["standard"].pattern.replace(".00", "")


def money_number_format(currency: str | None, locale: str = "en") -> str:
    """The number format a spreadsheet or chart axis writes money in, from the same pattern
    as `money`: '"€"#,##0' (en), '#,##0\u00a0"€"' (de); '#,##0' without a currency."""
    if currency is None:
        return "#,##0"
    symbol = get_currency_symbol(currency, locale=locale).replace('"', "")
    return _whole_units(locale).split(";")[0].replace("¤", f'"{symbol}"')


def fmt(value: float | str | None, unit: str | None = None, currency: str | None = None,
        locale: str = "en") -> str:
    """A KPI value in the unit a tool gave it ('currency', '%', 'NPS -100..100', ...); money in
    `currency` when given."""
    if value is None:
        return "n/a"
    unit = unit or ""
    if unit == "currency":
        return money(float(value), currency, locale)
    if unit == "%":
        return f"{float(value):.1f}%"
    if unit.startswith("NPS"):
        return f"{float(value):+.0f}"
    if unit.startswith("score"):
        return f"{value}/100"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def day_name(day: date | str, locale: str = "en") -> str:
    """A day for people, as the locale writes it: 'Sep 12, 2026', '12.09.2026' in de."""
    return format_date(date.fromisoformat(str(day)), "medium", locale=locale)


def period_name(
    period: dict, label: str | None = None, fiscal_start: int = 1, locale: str = "en"
) -> str:
    """A period for people: 'Q3 FY26 (Jan 1 – Mar 31, 2026)' for a fiscal quarter of a year
    starting in month `fiscal_start` (FY26 ends in 2026), 'FY26 (…)' or 'H1 FY26 (…)';
    calendar years and quarters by the year ('Q3 2026 (…)'); other periods by `label` if
    given ('the last 6 months (…)'), else by their dates alone, as the locale writes them.
    `period` is {"start": …, "end": …} (ISO dates or dates)."""
    start = date.fromisoformat(str(period["start"]))
    end = date.fromisoformat(str(period["end"]))
    dates = format_interval(start, end, "yMMMd", locale=locale)
    name = _fiscal_name(start, end, fiscal_start) or label
    return f"{name} ({dates})" if name else dates


def quarter_name(start: date, partial: bool = False, fiscal_start: int = 1) -> str:
    """The quarter starting on `start` as a chart names it: 'Q3 2026', 'Q2 FY27'; one whose
    data ends before the quarter does, 'Q4 2026 to date'."""
    end = start
    for _ in range(3):
        end = (end.replace(day=28) + timedelta(days=4)).replace(day=1)
    name = _fiscal_name(start, end - timedelta(days=1), fiscal_start) or start.isoformat()
    return f"{name} to date" if partial else name


def _fiscal_name(start: date, end: date, fiscal_start: int) -> str | None:
    if start.day != 1 or (end + timedelta(days=1)).day != 1:
        return None
    months = (end.year * 12 + end.month) - (start.year * 12 + start.month) + 1
    offset = (start.month - fiscal_start) % 12  # months into the fiscal year
    fiscal_year = start.year + (1 if fiscal_start != 1 and start.month >= fiscal_start else 0)
    year = str(fiscal_year) if fiscal_start == 1 else f"FY{fiscal_year % 100:02d}"
    for length, prefix in ((12, ""), (6, "H"), (3, "Q")):
        if months == length and offset % length == 0:
            return f"{prefix}{offset // length + 1} {year}" if prefix else year
    return None


def _sentences(text: str) -> str:
    """Markdown as plain sentences: no headings, tables, list markers or emphasis marks; a list
    item that does not end a sentence gets a full stop."""
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith("|") or set(line) <= set("-=*_ "):
            continue
        line = re.sub(r"^([-*+]|\d+[.)])\s+", "", line)
        line = re.sub(r"\*\*|__|`|(?<!\w)\*(?=\S)|(?<=\S)\*(?!\w)", "", line).strip()
        if line and line[-1] not in ".!?:;":
            line += "."
        out.append(line)
    flat = " ".join(out)
    if flat[:1].islower():  # a passage cut mid-sentence: start at the next sentence
        start = re.search(r"[.!?]\s+(?=[A-Z])", flat)
        flat = flat[start.end():] if start else flat
    return flat


def gist(text: str, limit: int = 320) -> str:
    """The opening of a passage as whole sentences on one line, markdown debris removed."""
    flat = _sentences(text)
    if len(flat) <= limit:
        return flat
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s)", flat[: limit + 1])]
    cut = flat[: ends[-1]] if ends and ends[-1] > limit // 3 else flat[:limit].rsplit(" ", 1)[0]
    return re.sub(r"\s+\d+[.)]$", "", cut).strip() + ("" if ends else " …")


def person(contact: dict) -> str:
    """'Kim Brown (CFO, strength 4/5)', with a status other than active called out."""
    status = "" if contact.get("status", "active") == "active" else f", **{contact['status']}**"
    strength = contact.get("relationship_strength_1_to_5")
    return (
        f"{contact['name']} ({contact.get('title') or 'no title'}, strength {strength}/5{status})"
    )


MONEY_INPUTS = {"revenue", "prior_revenue", "cost", "gross_margin", "cost_to_serve",
                "profit_after_cost_to_serve", "wallet_estimate", "won_amount", "retained_revenue",
                "current_revenue", "gross_margin_12m"}
THIN_EVIDENCE = 3  # fewer survey responses than this: say the figure rests on little
# Not in the working line: shown elsewhere (the growth at constant currency beside the growth).
HIDDEN_INPUTS = {"signs_fired", "signs_not_fired", "kinds", "splits", "as_of", "subject", "band",
                 "constant_currency_growth_pct"}


def _input_value(key: str, value: object, currency: str | None, locale: str) -> str | None:
    """One input of a KPI's working, for people; None when there is nothing to show."""
    if value is None or value == [] or value == {}:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict) and {"start", "end"} <= set(value):
        return f"{value['start']} to {value['end']}"
    if key in MONEY_INPUTS and isinstance(value, int | float):
        return money(float(value), currency, locale)
    if key.endswith("_pct") and isinstance(value, int | float):
        return f"{value:.1f}%"
    if isinstance(value, list):
        parts = [_list_item(v) for v in value]
        return ", ".join(p for p in parts if p) or None
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, dict):
        return None
    return str(value)


def _list_item(item: object) -> str | None:
    if isinstance(item, dict):
        if "factor" in item:
            return f"{humanize(str(item['factor'])).lower()} {item.get('score', 'unscored')}/5"
        if "kpi_name" in item:
            return (f"{item['kpi_name']} {item.get('actual')} vs target {item.get('target')} "
                    f"({item.get('achievement_pct')}%)")
        return None
    return None if item is None else str(item)


def working(inputs: dict, kpi: str = "", currency: str | None = None, locale: str = "en") -> str:
    """A KPI's inputs as one line for people: "Working: revenue 1,157,322; cost 613,932."."""
    shown = []
    for key, value in inputs.items():
        if key in HIDDEN_INPUTS:
            continue
        text = _input_value(key, value, currency, locale)
        if text is not None:
            shown.append(f"{humanize(key).lower()}: {text}")
    line = f"Working: {'; '.join(shown)}." if shown else ""
    responses = inputs.get("responses")
    if isinstance(responses, int) and responses < THIN_EVIDENCE:
        word = "response" if responses == 1 else "responses"
        line += (f" Thin evidence: only {responses} survey {word} in the period."
                 if responses else " No survey responses in the period.")
    return line.strip()


KPI_LABELS = {
    "nps": "NPS",
    "kam_nps": "KAM NPS",
    "csat": "CSAT",
    "grr": "GRR",
    "nrr": "NRR",
    "clv": "CLV",
    "upsell_cross_sell": "Upsell/cross-sell",
}


def kpi_label(name: str) -> str:
    return KPI_LABELS.get(name) or humanize(name)


ACRONYMS = {"csat": "CSAT", "nps": "NPS", "kam": "KAM", "qbr": "QBR", "kpi": "KPI",
            "kpis": "KPIs"}


def humanize(name: str) -> str:
    """'detractors_or_low_csat' -> 'Detractors or low CSAT'."""
    words = name.replace("_", " ").split()
    text = " ".join(ACRONYMS.get(w.lower(), w) for w in words)
    return text[:1].upper() + text[1:]


class Prompts:
    """Renders `prompts/<name>` with Jinja2; a missing variable is an error, not a blank.

    Money is written in `currency` (the reporting currency) as `locale` writes it; a template
    names another currency where it means one (`amount | money(currency="USD")`). Periods
    are named in the fiscal year starting in month `fiscal_start` (`period_name`)."""

    def __init__(
        self,
        directory: Path = PROMPTS_DIR,
        currency: str | None = None,
        locale: str = "en",
        fiscal_start: int = 1,
    ):
        self.env = Environment(
            loader=FileSystemLoader(directory),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            autoescape=False,  # markdown for people; Slack escaping happens in bot/slack/blocks.py
        )
        self.currency, self.locale, self.fiscal_start = currency, locale, fiscal_start
        self.env.filters.update(
            money=partial(money, currency=currency, locale=locale),
            fmt=partial(fmt, currency=currency, locale=locale),
            humanize=humanize, gist=gist, person=person, kpi_label=kpi_label,
            working=partial(working, currency=currency, locale=locale),
            period_name=partial(period_name, fiscal_start=fiscal_start, locale=locale),
        )

    def render(self, name: str, **values: object) -> str:
        return self.env.get_template(name).render(**values).strip() + "\n"

    def names(self) -> list[str]:
        return sorted(self.env.list_templates())
