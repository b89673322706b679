"""Writing for the offline model: answers from tool results with the templates in
prompts/answers/, the figure asked for first, every answer marked as the offline model's.

Each tool result is written by its tool's template (a KPI, a ranking, a list); results
of one request follow each other in the order planned, and the as-of line closes the
answer once. Intents that combine tools into one story (risk advice, a portfolio
summary) have a template of their own.
"""

from __future__ import annotations

import re
from typing import Any

from bot.agent.offline.request import Request
from knowledge.index import CITATION
from prompts import Prompts
from tools.history import TRACKED_KPIS

OFFLINE_MARK = "(offline model)"
TOOL_TEMPLATES = {
    "account_summary": "account_summary", "get_kpi": "kpi", "rank_accounts": "rank",
    "at_risk_accounts": "at_risk", "renewals_due": "renewals", "stakeholder_map": "stakeholders",
    "activity_timeline": "activities", "open_opportunities": "opportunities",
    "open_tickets": "tickets", "customer_kpis": "customer_kpis",
    "compare_periods": "compare_periods", "search_guidance": "guidance",
    "draft_account_plan": "draft_plan", "draft_qbr_agenda": "draft_agenda",
    "draft_qbr_prep_note": "draft_prep", "kpi_movers": "movers",
}
STORY_INTENTS = ("risk_advice", "portfolio")


def write_answer(prompts: Prompts, request: Request, results: list[tuple[str, Any]]) -> str:
    """The answer to `request` from the results of its tool calls, in planned order."""
    errors = [p for _, p in results if isinstance(p, dict) and "error" in p]
    if errors:
        mention = request.unknown or next(iter(request.account_names.values()), None)
        return prompts.render("answers/error.md.j2", error=errors[0], mention=mention,
                              mark=OFFLINE_MARK)
    label = request.period.label if request.period else None
    labels: dict[str, str | None] = {}
    if request.intent == "movers":  # the window is the movers'; get_kpi keeps its own period
        labels["kpi_movers"] = label or (f"over the last {request.weeks} weeks"
                                         if request.weeks else "since last week")
        label = None
    if request.intent in STORY_INTENTS:
        by_tool: dict[str, Any] = {}
        for name, payload in results:
            by_tool.setdefault(name, payload)
        body = prompts.render(f"answers/{request.intent}.md.j2", r=by_tool,
                              results=[p for _, p in results], question=request.question,
                              mark=OFFLINE_MARK, period_label=label)
        return body
    parts = [prompts.render(f"answers/{TOOL_TEMPLATES[name]}.md.j2", r={name: payload},
                            question=request.question, mark=OFFLINE_MARK,
                            period_label=labels.get(name, label),
                            owner_name=request.owner_name, names=request.account_names)
             for name, payload in results]
    if request.intent == "movers" and request.untracked:
        parts.insert(0, prompts.render("answers/untracked_kpi.md.j2", kpis=request.untracked,
                                       tracked=TRACKED_KPIS, moved=request.kpis))
    as_of = next((p.get("as_of") for _, p in results if isinstance(p, dict) and p.get("as_of")),
                 None)
    footer = f"_Numbers as of {as_of}._ {OFFLINE_MARK}" if as_of else OFFLINE_MARK
    return "\n".join([*parts, footer])


def reply(prompts: Prompts, template: str, **values: Any) -> str:
    """A reply without tool results (a question back, a refusal), marked as offline."""
    return prompts.render(f"answers/{template}.md.j2", **values).rstrip() + f" {OFFLINE_MARK}"


def shorten(answer: str, lines: int = 4) -> str:
    """The headline and the first few points of an answer, keeping its citations."""
    kept: list[str] = []
    for line in answer.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("_", OFFLINE_MARK)):
            continue
        kept.append(line)
        if len(kept) >= lines:
            break
    cited = {f"[{c}]" for c in CITATION.findall(answer)}
    citations = sorted(cited - set(re.findall(r"\[[^\[\]]+\]", "".join(kept))))
    tail = [f"Sources: {', '.join(citations)}"] if citations else []
    return "\n".join([*kept, *tail, OFFLINE_MARK])
