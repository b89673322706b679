"""The core question eval: ask every question of tests/eval/core_questions.yaml and check
the answer against facts computed from the KPI engine at run time (never pasted numbers)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session, sessionmaker

from bot.assistant import Assistant
from knowledge.index import CITATION
from prompts import fmt, humanize
from store.access import resolve_scope
from tools import views
from tools.kpis import KpiEngine
from tools.periods import resolve_as_of, shift_years
from tools.portfolio import Order, Portfolio


@dataclass
class CaseResult:
    id: str
    question: str
    passed: bool
    problems: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    ms: float = 0.0
    answer: str = ""


@dataclass
class CoreReport:
    model: str
    results: list[CaseResult]

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def pass_rate(self) -> float:
        return self.passed / len(self.results) if self.results else 0.0


def load_cases(path: Path) -> list[dict[str, Any]]:
    cases = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(cases, list) or not all("id" in c and "question" in c for c in cases):
        raise ValueError(f"{path}: expected a list of cases with 'id' and 'question'")
    return cases


class Facts:
    """Expected facts for one caller, computed with the KPI engine and its views."""

    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    def _engine(self, session: Session, user: str, years: int = 0) -> KpiEngine:
        scope = resolve_scope(session, user_id=user)
        as_of = resolve_as_of(session, None)
        return KpiEngine(session, scope, as_of=shift_years(as_of, years) if years else as_of)

    def kpi(self, user: str, name: str, account: str | None = None, as_of_years: int = 0) -> str:
        with self.sessions() as session:
            view = views.kpi_view(self._engine(session, user, as_of_years), name, account)
            return fmt(view["value"], view["unit"])

    def ranking(self, user: str, kpi: str, order: Order, n: int) -> list[str]:
        with self.sessions() as session:
            view = views.rank_view(self._engine(session, user), kpi, Portfolio(), n, order)
            return [item["name"] for item in view["items"]]

    def at_risk(self, user: str) -> tuple[str, str, list[str]]:
        with self.sessions() as session:
            first = views.at_risk_view(self._engine(session, user), Portfolio())["items"][0]
            return first["account_id"], first["name"], [s["sign"] for s in first["signs_fired"]]

    def renewals(self, user: str, days: int) -> int:
        with self.sessions() as session:
            return views.renewals_view(self._engine(session, user), Portfolio(), days)["count"]


def check(case: dict[str, Any], text: str, facts: Facts) -> list[str]:
    """Every way the answer falls short of the case's expectations."""
    expect, user, problems = case.get("expect", {}), case["user"], []
    lowered = text.lower()
    if "kpi" in expect:
        spec = expect["kpi"]
        value = facts.kpi(user, spec["name"], spec.get("account"), spec.get("as_of_years", 0))
        if value not in text:
            problems.append(f"{spec['name']} {value!r} missing")
    if "ranking" in expect:
        spec = expect["ranking"]
        names = facts.ranking(user, spec["kpi"], spec["order"], spec["n"])
        positions = [text.find(name) for name in names]
        if -1 in positions or positions != sorted(positions):
            problems.append(f"ranking {names} not listed in order")
    if "at_risk_first" in expect:
        account_id, name, signs = facts.at_risk(user)
        if account_id != expect["at_risk_first"]:
            problems.append(f"engine ranks {account_id} first, expected {expect['at_risk_first']}")
        if name not in text:
            problems.append(f"{name} missing")
        problems += [f"sign {s} missing" for s in signs if humanize(s).lower() not in lowered]
    if "renewals" in expect:
        count = facts.renewals(user, expect["renewals"])
        if f"{count} contracts" not in text:
            problems.append(f"'{count} contracts' missing")
    problems += [
        f"{word!r} missing" for word in expect.get("contains", []) if word.lower() not in lowered
    ]
    problems += [f"{word!r} present" for word in expect.get("absent", []) if word in text]
    if expect.get("citations") and not CITATION.search(text):
        problems.append("no citation")
    return problems


def run_core_eval(assistant: Assistant, sessions: sessionmaker[Session], path: Path) -> CoreReport:
    """Ask every case in order (cases sharing `thread` form one conversation)."""
    facts = Facts(sessions)
    run = uuid.uuid4().hex[:8]
    results = []
    for case in load_cases(path):
        started = time.perf_counter()
        answer = assistant.answer(
            case["user"], case["question"], f"eval-{run}-{case.get('thread', case['id'])}"
        )
        called = [c.name for c in answer.tool_calls]
        problems = []
        if "tools" in case:
            expected = set(case["tools"])
            if not expected and called:
                problems.append(f"expected no tool call, got {called}")
            problems += [f"tool {t} not called" for t in sorted(expected - set(called))]
        problems += check(case, answer.text, facts)
        results.append(
            CaseResult(
                case["id"],
                case["question"],
                not problems,
                problems,
                called,
                (time.perf_counter() - started) * 1000,
                answer.text,
            )
        )
    return CoreReport(assistant.model_name, results)
