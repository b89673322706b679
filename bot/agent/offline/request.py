"""What a question asks, as one typed `Request`: the offline model reads a question into it
(`reading`), plans tool calls from it (`planning`) and writes the answer for it (`writing`)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

INTENTS = (
    "account_summary", "kpi", "rank", "at_risk", "renewals", "stakeholders", "activities",
    "opportunities", "tickets", "customer_kpis", "compare_periods", "risk_advice", "guidance",
    "draft_plan", "draft_agenda", "draft_prep", "portfolio", "movers", "out_of_scope",
)
Intent = Literal[INTENTS]  # type: ignore[valid-type]
# Intents that are about one account and cannot run without it.
NEEDS_ACCOUNT = frozenset({
    "account_summary", "stakeholders", "activities", "customer_kpis", "risk_advice",
    "draft_plan", "draft_agenda", "draft_prep",
})
# The one intent that writes (a saved plan version): only on an explicit request.
WRITES = frozenset({"draft_plan"})
# Where the offline model's messages carry the request they read (for follow-ups) and the
# numbered choices a question back offers (a reply "2" picks; Slack shows buttons).
REQUEST_KEY = "kam_request"
CHOICES_KEY = "kam_choices"


class Period(BaseModel):
    start: date
    end: date
    label: str


class Threshold(BaseModel):
    """"NPS below 0": a bound on the ranked KPI, in the KPI's own unit."""

    kpi: str
    op: Literal["below", "above"]
    value: float


class Request(BaseModel):
    """One question, read: the intent and every slot it needs, in explicit values."""

    intent: Intent
    confidence: float = 1.0
    readings: list[str] = Field(default_factory=list)  # other likely intents, when unsure
    accounts: list[str] = Field(default_factory=list)  # account ids the caller may see
    account_names: dict[str, str] = Field(default_factory=dict)  # id -> name, for the answer
    topic: list[str] = Field(default_factory=list)  # the accounts the thread is about
    unknown: str | None = None  # a name that matches nothing the caller may see
    ambiguous: dict[str, list[str]] = Field(default_factory=dict)  # mention -> candidate ids
    owner: str | None = None  # a KAM's user id ("Ben's accounts")
    owner_name: str | None = None
    team: str | None = None
    group_by: Literal["owner", "team", "tier", "region", "industry"] | None = None
    kpis: list[str] = Field(default_factory=list)
    period: Period | None = None
    more_periods: list[Period] = Field(default_factory=list)  # "this year and last year"
    days: int | None = None  # renewals: days ahead of as-of
    lookback: int | None = None  # activities: days back from as-of
    order: Literal["highest", "lowest"] = "highest"
    n: int | None = None
    tier: str | None = None
    region: str | None = None
    industry: str | None = None
    risk_band: str | None = None
    quadrant: str | None = None
    threshold: Threshold | None = None
    compare: Literal["year", "quarter", "quarter_yoy"] | None = None
    # Movers ("what changed"): which way, and the window: `weeks` back, or since the day
    # before `period` starts (its label says which period, e.g. the last QBR's date).
    movement: Literal["worse", "better", "any"] = "any"
    weeks: int | None = None
    untracked: list[str] = Field(default_factory=list)  # KPIs asked that it does not keep
    meeting: date | None = None  # a QBR agenda's meeting day ("meeting is on jan 14")
    with_renewals: bool = False  # "top 3 by growth and when they renew"
    also: list[str] = Field(default_factory=list)  # second intents: "summary + open tickets"
    form: Literal["short", "full"] = "short"
    question: str = ""
