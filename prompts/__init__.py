"""Prompts and answer templates, kept as files (markdown + Jinja2) and loaded by name."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

PROMPTS_DIR = Path(__file__).resolve().parent


def money(value: float | None) -> str:
    """Currency units with thousands separators; cents only for small amounts."""
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.2f}"


def fmt(value: float | str | None, unit: str | None = None) -> str:
    """A KPI value in the unit a tool gave it ('currency', '%', 'NPS -100..100', ...)."""
    if value is None:
        return "n/a"
    unit = unit or ""
    if unit == "currency":
        return money(float(value))
    if unit == "%":
        return f"{float(value):.1f}%"
    if unit.startswith("NPS"):
        return f"{float(value):+.0f}"
    if unit.startswith("score"):
        return f"{value}/100"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def gist(text: str, limit: int = 320) -> str:
    """The opening of a passage, cut at a sentence end, as one line (headings dropped)."""
    lines = [ln.strip(" -*") for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    flat = " ".join(lines)
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    end = max(cut.rfind(". "), cut.rfind("; "))
    return (cut[: end + 1] if end > limit // 3 else cut.rsplit(" ", 1)[0] + " …").strip()


def person(contact: dict) -> str:
    """'Kim Brown (CFO, strength 4/5)', with a status other than active called out."""
    status = "" if contact.get("status", "active") == "active" else f", **{contact['status']}**"
    strength = contact.get("relationship_strength_1_to_5")
    return (
        f"{contact['name']} ({contact.get('title') or 'no title'}, strength {strength}/5{status})"
    )


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


ACRONYMS = {"csat": "CSAT", "nps": "NPS", "kam": "KAM", "qbr": "QBR", "kpi": "KPI"}


def humanize(name: str) -> str:
    """'detractors_or_low_csat' -> 'Detractors or low CSAT'."""
    words = name.replace("_", " ").split()
    text = " ".join(ACRONYMS.get(w.lower(), w) for w in words)
    return text[:1].upper() + text[1:]


class Prompts:
    """Renders `prompts/<name>` with Jinja2; a missing variable is an error, not a blank."""

    def __init__(self, directory: Path = PROMPTS_DIR):
        self.env = Environment(
            loader=FileSystemLoader(directory),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            autoescape=False,  # markdown for people; Slack escaping happens in bot/slack/blocks.py
        )
        self.env.filters.update(
            money=money, fmt=fmt, humanize=humanize, gist=gist, person=person, kpi_label=kpi_label
        )

    def render(self, name: str, **values: object) -> str:
        return self.env.get_template(name).render(**values).strip() + "\n"

    def names(self) -> list[str]:
        return sorted(self.env.list_templates())
