"""The retrieval eval: the metrics, the question file, and the target on the shipped corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.eval import EvalError, Question, evaluate, load_questions
from knowledge.index import Hit

QUESTIONS = Path(__file__).resolve().parents[1] / "eval" / "retrieval_questions.yaml"

HIT_AT_3_TARGET = 0.90


class RankedIndex:
    """Returns fixed chunk rankings per question, to check the arithmetic."""

    def __init__(self, rankings: dict[str, list[str]]) -> None:
        self.rankings = rankings

    def search(self, query: str, k: int = 4, topic: str | None = None) -> list[Hit]:
        return [Hit(f"{d}:{i}", d, d, "", "", 1.0) for i, d in enumerate(self.rankings[query])][:k]


def test_metrics_count_distinct_documents_in_rank_order():
    index = RankedIndex(
        {
            "first": ["a", "b"],  # rank 1
            "third": ["x", "x", "y", "a"],  # two chunks of x count once: a is rank 3
            "missed": ["x", "y", "z", "a"],  # rank 4: a miss for hit@3, 1/4 for MRR
            "absent": ["x"],
        }
    )
    questions = [Question(q, ("a",)) for q in ("first", "third", "missed", "absent")]

    result = evaluate(index, questions)

    assert result.count == 4
    assert result.hit_at_1 == 0.25
    assert result.hit_at_3 == 0.5
    assert result.mrr == pytest.approx((1 + 1 / 3 + 1 / 4 + 0) / 4)
    assert [m.question for m in result.misses] == ["missed", "absent"]
    assert result.misses[0].retrieved == ("x", "y", "z")


def test_any_expected_document_counts_as_a_hit():
    result = evaluate(RankedIndex({"q": ["b", "a"]}), [Question("q", ("a", "b"))])
    assert result.hit_at_1 == 1.0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "expected a non-empty list"),
        ("- question: q\n", "item 1 needs 'question' and a list 'expected'"),
        ("- question: q\n  expected: a\n", "item 1 needs"),
        ("- [unclosed", "bad YAML"),
    ],
)
def test_malformed_question_files_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "q.yaml"
    path.write_text(content)
    with pytest.raises(EvalError, match=message):
        load_questions(path)


def test_shipped_question_set_is_large_and_labels_existing_documents(shipped_index):
    questions = load_questions(QUESTIONS)
    doc_ids = {d.doc_id for d in shipped_index.documents()}

    assert len(questions) >= 50
    unknown = {e for q in questions for e in q.expected} - doc_ids
    assert not unknown, f"labels name documents that do not exist: {unknown}"


def test_retrieval_meets_the_hit_at_3_target_on_the_shipped_corpus(shipped_index):
    result = evaluate(shipped_index, load_questions(QUESTIONS))

    misses = "\n".join(
        f"  {m.question} -> {m.retrieved} (want {m.expected})" for m in result.misses
    )
    assert result.hit_at_3 >= HIT_AT_3_TARGET, f"hit@3 {result.hit_at_3:.3f}; misses:\n{misses}"
    assert result.hit_at_1 <= result.hit_at_3 and 0 < result.mrr <= 1
