"""Reading "what changed?" questions (movers): whether a question asks how KPIs moved between
weekly snapshots, which way (worse, better, either), and over which window.

"what changed in my book since last week", "whose nps dropped", "biggest movers in churn
risk", "anything change for globex?", "which accounts got worse this month". A change asked
against a year earlier ("vs last year", "yoy") stays a growth or period comparison, a
"what should I do" stays advice, and "worse than -10%" stays a threshold.

Windows: none, "this week" or "since last week" is the previous week's snapshot (the tool's
default); "last 3 weeks" is 3 weeks; "past month" is 4 weeks; any other period ("this month",
"last 30 days", "since june", "this quarter") runs from the snapshot of the day before it
starts; "since the last QBR" from the account's last QBR on record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from bot.agent.offline.periods import NUMBERS, PeriodReader, Span

# Cues that make a question a movers question whatever the classifier says.
CHANGED = re.compile(
    r"\b(what|anything|something|any|much|has|have|did|does|do) (has |have |is |really |else |"
    r"at all |much )?(chang\w*|mov(ed|e|es|ing)|shift\w*)\b|\b(movers?|movement|swings?|fallers|"
    r"risers)\b|\bbiggest (changes?|moves?|jumps?|drops?|falls?|shifts?|declines?|"
    r"improvements?|gains?|losers?|winners?)\b|\b(got|gotten|getting|get|gets|went|gone|go) "
    r"(worse|better)\b|\b(worsened|deteriorat\w*|slipped)\b|\bchanges? (in|on|for|at|since|"
    r"this|last|over)\b|\b(week over week|wow|wk over wk|week on week|since last (week|wk)|"
    r"since (the |our |my |their )?(last |latest |previous |most recent )?qbr)\b")
# A KPI verb of change: a movers question when a KPI or the book is named with it.
MOVED = re.compile(
    r"\b(dropped|drop|drops|fell|fallen|fall|falls|dipped|dip|sank|slid|declined|decreased|"
    r"tanked|rose|risen|increased|jumped|jump|spiked|spike|climbed|improved|improve|"
    r"(went|gone|go|goes|going|moved|move|ticked|trending|come|came) (up|down))\b")
# Not a movers question: against a year earlier, asking for advice, or a threshold.
NOT_CHANGE = re.compile(
    r"\b(yoy|year over year|a year ago|(vs|versus|against|than|to|with|on) (last|the previous|"
    r"the prior|prior) (year|yr)|what (do|should|can|would) (i|we)|how (do|should|can) (i|we)|"
    r"save plan|advice|tips|(worse|better|more|less) than)\b")
WORSE = re.compile(r"\b(worse|worsened|worsening|deteriorat\w*|slipped|slipping|declined|tanked|"
                   r"lost ground|weaker|fallers|losers|wrong way|wrong direction|went south)\b")
BETTER = re.compile(r"\b(better|improved?|improves|improving|improvements?|recovered|bounced back|"
                    r"stronger|gains?|risers|winners)\b")
UP = re.compile(r"\b(rose|risen|increased|jumped|jumps?|spiked|spikes?|climbed|higher|"
                r"(went|gone|go|goes|going|moved|move|ticked|trending|come|came|is|are) up)\b")
DOWN = re.compile(r"\b(dropped|drops?|fell|fallen|falls?|dipped|dips?|sank|slid|decreased|lower|"
                  r"(went|gone|go|goes|going|moved|move|ticked|trending|come|came|is|are) down)\b")
WEEKS = re.compile(r"\b(?:last|past|previous|over the last|over the past|in the last|in the past)"
                   r" (\d{1,2}|" + "|".join(NUMBERS) + r") (?:weeks?|wks?)\b")
TWO_WEEKS = re.compile(r"\b(fortnight|couple (of )?weeks)\b")
ONE_WEEK = re.compile(r"\b(this|last|past|previous) (week|wk)\b|\b(wow|week over week|weekly|"
                      r"wk over wk|week on week)\b")
A_MONTH = re.compile(r"\b(since last month|(over|in|during|within) the (last|past) month|"
                     r"past month|month over month|mom)\b")
QBR = re.compile(r"\b(since|from|after) (the |our |my |their |his |her )?(last |latest |previous |"
                 r"most recent )?qbrs?\b")
_FEW = r"(\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten)"
COUNT = re.compile(r"\b(?:top|biggest|largest|first) " + _FEW + r"\b|\b" + _FEW + r" (?:biggest |"
                   r"largest )?(?:movers|accounts|accts|customers|changes|swings|fallers|risers)\b")
MOST = 20  # the tool's cap
DAY_MONTH_WEEKS = 4



def asks_change(text: str, kpis: list[str], book: bool) -> bool:
    """Whether the folded question asks what moved between snapshots."""
    if NOT_CHANGE.search(text):
        return False
    return bool(CHANGED.search(text)) or bool(MOVED.search(text) and (kpis or book))


def movement(text: str, kpi: str | None, higher_is_better: bool = True) -> str:
    """worse, better or any: a rise in churn risk is worse, a drop in NPS is worse."""
    worse, better = WORSE.search(text), BETTER.search(text)
    if worse or better:
        return "any" if worse and better else "worse" if worse else "better"
    up, down = UP.search(text), DOWN.search(text)
    if up and not down:
        return "better" if higher_is_better else "worse"
    if down and not up:
        return "worse" if higher_is_better or kpi is None else "better"
    return "any"


@dataclass(frozen=True)
class Window:
    """Weeks back (None: the tool's default of one), or a span of days; `qbr` when the
    question asks since the last QBR (the reader looks its date up)."""

    weeks: int | None = None
    span: Span | None = None
    qbr: bool = False


def window(text: str, periods: PeriodReader) -> Window:
    """The window a movers question asks about."""
    if QBR.search(text):
        return Window(qbr=True)
    if match := WEEKS.search(text):
        count = match.group(1)
        weeks = int(count) if count.isdigit() else NUMBERS[count]
        return Window(weeks=weeks if weeks > 1 else None)
    if TWO_WEEKS.search(text):
        return Window(weeks=2)
    if A_MONTH.search(text):
        return Window(weeks=DAY_MONTH_WEEKS)
    if ONE_WEEK.search(text):
        return Window()
    return Window(span=periods.period(text))


def this_quarter(periods: PeriodReader, why: str) -> Span:
    """This quarter to date: the window of "since the last QBR" when no QBR date applies."""
    quarter = periods.period("this quarter")
    assert quarter is not None  # "this quarter" always reads as a span
    return Span(quarter.start, quarter.end, f"this quarter ({why})")


def qbr_span(held_on: date, name: str, as_of: date) -> Span:
    """From the day after the last QBR with `name` to as-of."""
    return Span(date.fromordinal(held_on.toordinal() + 1), as_of,
                f"since the last QBR with {name} on {held_on.isoformat()}")
