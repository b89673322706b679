"""Retrieval eval: hit@1, hit@3 and mean reciprocal rank over labelled questions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import yaml

from knowledge.index import MAX_K, Hit

DEFAULT_QUESTIONS = Path("tests/eval/retrieval_questions.yaml")


class EvalError(ValueError):
    """The question file is missing or malformed; the message is one line."""


class Searchable(Protocol):
    def search(self, query: str, k: int = 4, topic: str | None = None) -> list[Hit]: ...


@dataclass(frozen=True)
class Question:
    """A question and the doc ids that answer it."""

    question: str
    expected: tuple[str, ...]


@dataclass(frozen=True)
class Miss:
    """A question none of whose expected documents made the top 3."""

    question: str
    expected: tuple[str, ...]
    retrieved: tuple[str, ...]


@dataclass
class EvalResult:
    """The metrics, over `count` questions."""

    count: int
    hit_at_1: float
    hit_at_3: float
    mrr: float
    misses: list[Miss] = field(default_factory=list)


def load_questions(path: Path) -> list[Question]:
    """Read a YAML list of {question, expected: [doc ids]}."""
    path = Path(path)
    if not path.is_file():
        raise EvalError(f"Question file not found: {path} (use --questions PATH)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise EvalError(f"{path.name}: bad YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, list) or not raw:
        raise EvalError(f"{path.name}: expected a non-empty list of questions")
    questions = []
    for n, item in enumerate(raw, 1):
        ok = (
            isinstance(item, dict)
            and isinstance(item.get("question"), str)
            and isinstance(item.get("expected"), list)
            and item["expected"]
        )
        if not ok:
            raise EvalError(f"{path.name}: item {n} needs 'question' and a list 'expected'")
        questions.append(Question(item["question"], tuple(str(e) for e in item["expected"])))
    return questions


def ranked_doc_ids(index: Searchable, question: str, depth: int = 10) -> list[str]:
    """Distinct doc ids in the order their best chunk was retrieved."""
    ranked: list[str] = []
    for hit in index.search(question, k=MAX_K):
        if hit.doc_id not in ranked:
            ranked.append(hit.doc_id)
    return ranked[:depth]


def evaluate(index: Searchable, questions: Sequence[Question]) -> EvalResult:
    """Score retrieval: a question is a hit@k when an expected doc is among the first k docs."""
    if not questions:
        raise EvalError("no questions to evaluate")
    hits1 = hits3 = 0
    reciprocal = 0.0
    misses: list[Miss] = []
    for q in questions:
        ranked = ranked_doc_ids(index, q.question)
        rank = next((i for i, doc in enumerate(ranked, 1) if doc in q.expected), None)
        hits1 += rank == 1
        hits3 += rank is not None and rank <= 3
        reciprocal += 1.0 / rank if rank else 0.0
        if rank is None or rank > 3:
            misses.append(Miss(q.question, q.expected, tuple(ranked[:3])))
    n = len(questions)
    return EvalResult(n, hits1 / n, hits3 / n, reciprocal / n, misses)
