"""The understanding eval: does the assistant do what a question asks?

Each case of a dev set (prompts/offline/understanding_train.yaml, tests/eval/
understanding/heldout.yaml) gives who asks, the question, the intent, the outcome
(answer, not_found, clarify, out_of_scope) and the tool calls it needs. Every case is
asked through `Assistant.answer` (cases sharing a `thread` in order, as one
conversation); the calls made are compared with the expected ones after dropping the
arguments that keep a tool's default, and the figures the expected calls return,
computed by the KPI engine now, must appear in the answer. Reported per intent: intent
accuracy, whole-request accuracy (outcome, tools and arguments) and facts, with a
confusion table.
"""

from __future__ import annotations

import csv
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session, sessionmaker

from bot.agent.offline.lexicon import Lexicon
from bot.agent.offline.names import NameIndex, named, tokens
from bot.assistant import Answer, Assistant
from prompts import fmt
from store.access import resolve_scope
from tools import views
from tools.kpis import KpiEngine
from tools.portfolio import Portfolio

# Arguments that say nothing when they hold the tool's default.
DEFAULTS: dict[str, Any] = {"order": "highest", "n": 10, "days": 90, "min_band": "medium",
                            "kind": "year", "limit": 20, "direction": "any", "weeks": 1}
IGNORED = {"as_of", "query", "k"}  # the guidance query is free text: its passages are checked
OUTCOME_WORDS = {"clarify": "which one do you mean", "not_found": "i can't find",
                 "out_of_scope": "i can't do that"}


def load(path: Path) -> list[dict[str, Any]]:
    cases = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(cases, list):
        raise ValueError(f"{path}: expected a list of cases")
    return cases


def normal(call: dict[str, Any]) -> tuple[str, frozenset[tuple[str, str]]]:
    """A call as (tool, arguments) without defaults; thresholds make order and n moot."""
    args = {k: v for k, v in call["args"].items()
            if k not in IGNORED and v is not None and DEFAULTS.get(k, object()) != v}
    if "min_value" in args or "max_value" in args:
        args.pop("order", None)
        args.pop("n", None)
    if call.get("tool", call.get("name")) == "compare_periods" and args.get("kind") == "year":
        args.pop("kind")
    frozen = frozenset((k, _plain(v)) for k, v in args.items())
    return str(call.get("tool") or call.get("name")), frozen


def _plain(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(round(value, 4) if isinstance(value, float) else value)


def outcome_of(answer: Answer) -> str:
    text = answer.text.lower()
    for outcome, words in OUTCOME_WORDS.items():
        if words in text and not answer.tool_calls:
            return outcome
    return "answer"


@dataclass
class CaseResult:
    id: str
    question: str
    intent: str
    got_intent: str
    request_ok: bool
    facts_ok: bool
    problems: list[str] = field(default_factory=list)
    answer: str = ""

    @property
    def intent_ok(self) -> bool:
        return self.intent == self.got_intent


@dataclass
class UnderstandingReport:
    results: list[CaseResult]

    def rate(self, attribute: str, cases: Iterable[CaseResult] | None = None) -> float:
        chosen = list(self.results if cases is None else cases)
        return sum(getattr(c, attribute) for c in chosen) / len(chosen) if chosen else 0.0

    def by_intent(self) -> dict[str, list[CaseResult]]:
        groups: dict[str, list[CaseResult]] = {}
        for case in self.results:
            groups.setdefault(case.intent, []).append(case)
        return dict(sorted(groups.items()))

    def confusion(self) -> Counter:
        return Counter((c.intent, c.got_intent) for c in self.results if not c.intent_ok)


class ExpectedFacts:
    """The headline figures the expected calls return, computed with the KPI engine now."""

    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    def figures(self, user: str, calls: list[dict[str, Any]]) -> list[str]:
        out = []
        with self.sessions() as session:
            engine = KpiEngine(session, resolve_scope(session, user_id=user))
            for item in calls:
                args = item["args"]
                ctx = views.period_context(engine, _day(args.get("start")), _day(args.get("end")))
                if item["tool"] == "get_kpi" and "account" in args and "group_by" not in args:
                    view = views.kpi_view(engine, args["kpi"], args["account"], ctx=ctx)
                    if view.get("value") is not None:
                        out.append(fmt(view["value"], view["unit"]))
                elif item["tool"] == "rank_accounts" and "min_value" not in args \
                        and "max_value" not in args and not set(args) - {"kpi", "order", "n"}:
                    view = views.rank_view(engine, args["kpi"], Portfolio(), args.get("n", 10),
                                           args.get("order", "highest"), ctx)
                    out += [i["name"] for i in view["items"][:1]]
        return out


def _day(text: str | None) -> date | None:
    return date.fromisoformat(str(text)) if text else None


def check(case: dict[str, Any], answer: Answer, facts: ExpectedFacts) -> tuple[bool, bool,
                                                                            list[str]]:
    """(request right, facts present, problems) for one case."""
    problems = []
    outcome = outcome_of(answer)
    if outcome != case["outcome"]:
        problems.append(f"outcome {outcome}, expected {case['outcome']}")
    made = Counter(normal({"tool": c.name, "args": c.args}) for c in answer.tool_calls)
    writes = [c.name for c in answer.tool_calls if c.name == "draft_account_plan"]
    if case["outcome"] == "answer":
        wanted = Counter(normal(c) for c in case.get("calls", []))
        if made != wanted:
            problems.append(f"calls {_show(made)}, expected {_show(wanted)}")
    elif writes:
        problems.append("wrote a plan version without being asked")
    facts_ok = True
    if not problems and case["outcome"] == "answer":
        missing = [f for f in facts.figures(case["user"], case.get("calls", []))
                   if f not in answer.text]
        if missing:
            facts_ok = False
            problems.append(f"figures missing: {missing}")
    request_ok = not [p for p in problems if not p.startswith("figures")]
    return request_ok, facts_ok and request_ok, problems


def _show(calls: Counter) -> str:
    return "; ".join(f"{tool}({', '.join(f'{k}={v}' for k, v in sorted(args))})"
                     for (tool, args) in sorted(calls, key=str)) or "none"


class Renamer:
    """Rewrites questions written for one data set to another with the same ids and other
    names: each name typed (whole, partly, with a typo) becomes the other data set's name
    with as many words, typed as people type it (lowercase, no accents)."""

    def __init__(self, old: dict[str, str], new: dict[str, str]):
        self.index = NameIndex([named(key, name) for key, name in old.items()],
                               Lexicon().stopwords)
        self.new = {key: tokens(name) for key, name in new.items()}
        # Later words of names on their own ("the foods one" after "which Acme?"), where the
        # two data sets agree on what they become.
        pairs: dict[str, set[str]] = {}
        for key, name in old.items():
            before, after = tokens(name), self.new.get(key, [])
            if len(before) == len(after):
                for a, b in zip(before[1:], after[1:], strict=True):
                    pairs.setdefault(a, set()).add(b)
        self.words = {a: b.pop() for a, b in pairs.items() if len(b) == 1}

    @classmethod
    def from_demo(cls, old_dir: Path, new_dir: Path) -> Renamer:
        """From two demo data folders (accounts.csv and users.csv of each)."""
        def names(folder: Path) -> dict[str, str]:
            out = {}
            for table, key in (("accounts", "account_id"), ("users", "user_id")):
                with (folder / f"{table}.csv").open(encoding="utf-8") as handle:
                    out.update({row[key]: row["name"] for row in csv.DictReader(handle)})
            return out

        return cls(names(old_dir), names(new_dir))

    def __call__(self, question: str) -> str:
        words = tokens(question)
        mentions = self.index.find(words)
        for mention in reversed(mentions):
            replacement = self.new[mention.keys[0]][:mention.end - mention.start]
            words[mention.start:mention.end] = replacement
        if not mentions:
            words = [self.words.get(w, w) for w in words]
        return " ".join(words)


def run(assistant: Assistant, sessions: sessionmaker[Session], path: Path,
        rename: Renamer | None = None) -> UnderstandingReport:
    """Ask every case of `path`; `rename` rewrites the questions for another data set."""
    facts = ExpectedFacts(sessions)
    prefix = uuid.uuid4().hex[:8]
    results = []
    for case in load(path):
        question = rename(case["question"]) if rename else case["question"]
        thread = f"understand-{prefix}-{case.get('thread') or case['id']}"
        started = time.perf_counter()
        answer = assistant.answer(case["user"], question, thread)
        request_ok, facts_ok, problems = check(case, answer, facts)
        if time.perf_counter() - started > 5:
            problems.append("slow")
        results.append(CaseResult(case["id"], question, case["intent"], answer.intent or "-",
                                  request_ok, facts_ok, problems, answer.text))
    return UnderstandingReport(results)
