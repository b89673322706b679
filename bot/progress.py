"""What the assistant is doing while it answers: the events of `Assistant.stream`, and a
short phrase for each tool call that Slack's status line and `kam chat` show."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prompts import kpi_label

if TYPE_CHECKING:
    from bot.assistant import Answer

# What each tool does, as a status line; "{kpi}" is the KPI asked for. Where the audience
# may see it, the account's name follows ("… for Globex Logistics").
PHRASES = {
    "find_accounts": "Looking up accounts",
    "account_summary": "Summarising the account",
    "get_kpi": "Computing {kpi}",
    "rank_accounts": "Ranking accounts by {kpi}",
    "at_risk_accounts": "Finding the accounts at risk",
    "renewals_due": "Checking the renewals due",
    "stakeholder_map": "Mapping the stakeholders",
    "activity_timeline": "Reading the recent activity",
    "open_opportunities": "Listing the open opportunities",
    "open_tickets": "Listing the open tickets",
    "customer_kpis": "Checking the customer's own KPIs",
    "compare_periods": "Comparing periods",
    "draft_account_plan": "Drafting an account plan",
    "draft_qbr_agenda": "Drafting a QBR agenda",
    "draft_qbr_prep_note": "Writing QBR prep notes",
    "search_guidance": "Searching the KAM guidance",
}
# Phrases that name their account themselves.
NAMED = {"account_summary": "Summarising {subject}"}
THINKING = "Reading the question"


@dataclass(frozen=True)
class Started:
    """The question was taken; `first_turn` when its thread holds no earlier question."""

    first_turn: bool


@dataclass(frozen=True)
class ToolStarted:
    """The model called a tool; `subject` is the account it is about, by name, if any."""

    call_id: str
    name: str
    args: dict = field(default_factory=dict)
    subject: str | None = None

    def phrase(self, *, named: bool = True) -> str:
        """A status line like "Computing gross margin for Globex Logistics" (names if `named`)."""
        kpi = _lower_word(kpi_label(str(self.args["kpi"]))) if self.args.get("kpi") else "the KPIs"
        text = PHRASES.get(self.name, "Looking it up")
        if self.subject and named:
            text = NAMED.get(self.name, text + " for {subject}")
        return text.format(kpi=kpi, subject=self.subject)


def _lower_word(label: str) -> str:
    """"Gross margin" -> "gross margin"; acronyms ("NRR") stay as they are."""
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


@dataclass(frozen=True)
class ToolFinished:
    """A tool call returned (`ok` is False when the tool reported an error)."""

    call_id: str
    name: str
    ok: bool = True


@dataclass(frozen=True)
class TextDelta:
    """More of the answer's text, as the model writes it."""

    text: str


@dataclass(frozen=True)
class Finished:
    """The answer, exactly as `Assistant.answer` returns it; always the last event."""

    answer: Answer


AnswerEvent = Started | ToolStarted | ToolFinished | TextDelta | Finished
