"""Reading a question for the offline model: which intent, and which account, KPI, number, period.

Intents are matched with the local embedding model against each intent's
description and example questions (prompts/offline/intents.yaml); slots are
filled by matching the text against the names in the store that the caller may
see, and against a small vocabulary of KPI names, periods and numbers.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz

from knowledge.embeddings import TextEmbedder

NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twenty": 20,
}
LOW_WORDS = ("lowest", "bottom", "worst", "least", "weakest", "smallest", "lowest-scoring")
HIGH_WORDS = ("top", "highest", "best", "most", "biggest", "largest", "strongest")
WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9&.-]*(?:'(?![sS]\b)[A-Za-z]+)*")
ACCOUNT_ID = re.compile(r"\b[Aa]\d{4,5}\b")


@dataclass(frozen=True)
class Intent:
    name: str
    tools: tuple[str, ...]
    examples: tuple[str, ...]
    needs_account: bool = False


@dataclass
class Route:
    intent: Intent
    score: float
    runner_up: float


class IntentRouter:
    """Nearest intent by cosine similarity of the question to each intent's examples."""

    def __init__(
        self, embedder: TextEmbedder, intents: Sequence[Intent], cache_dir: Path | None = None
    ):
        self.intents = list(intents)
        texts = [example for intent in self.intents for example in intent.examples]
        self.owner = np.array([i for i, intent in enumerate(self.intents) for _ in intent.examples])
        self.matrix = self._example_vectors(embedder, texts, cache_dir)
        self.embedder = embedder

    @staticmethod
    def _example_vectors(
        embedder: TextEmbedder, texts: list[str], cache_dir: Path | None
    ) -> np.ndarray:
        """Embed the examples, or load them from a cache keyed by the examples and model."""
        model = str(getattr(embedder, "model_dir", type(embedder).__name__))
        key = hashlib.sha256("\n".join([model, *texts]).encode()).hexdigest()[:16]
        path = cache_dir / f"intents-{key}.npy" if cache_dir else None
        if path is not None and path.is_file():
            return np.load(path)
        matrix = np.asarray(embedder.embed(texts), dtype=np.float32)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, matrix)
        return matrix

    def route(self, text: str) -> Route:
        vector = np.asarray(self.embedder.embed([text])[0], dtype=np.float32)
        scores = self.matrix @ vector
        best = np.full(len(self.intents), -1.0, dtype=np.float32)
        np.maximum.at(best, self.owner, scores)
        order = np.argsort(-best)
        return Route(self.intents[order[0]], float(best[order[0]]), float(best[order[1]]))


@dataclass
class NameMatch:
    """Names in the text that match known names, best first."""

    matches: list[str] = field(default_factory=list)
    mention: str | None = None


def words_of(text: str) -> list[str]:
    """Words, with possessive 's dropped ("Globex's" -> "Globex")."""
    return [w for w in WORD.findall(text) if w.lower() != "s"]


def _ngrams(words: list[str], longest: int = 4) -> list[str]:
    return [
        " ".join(words[i : i + n]) for n in range(longest, 0, -1) for i in range(len(words) - n + 1)
    ]


# A name's first word alone ("Globex") identifies it, unless the word is an ordinary one
# that questions use for other things ("team North", "the blue chips").
COMMON_FIRST_WORDS = {
    "north",
    "south",
    "east",
    "west",
    "central",
    "blue",
    "red",
    "green",
    "silver",
    "golden",
    "black",
    "white",
    "global",
    "general",
    "united",
    "national",
    "international",
    "first",
    "new",
    "team",
    "key",
    "top",
    "best",
    "prime",
    "summit",
    "union",
    "liberty",
    "pioneer",
}


def match_names(
    text: str, names: Sequence[str], threshold: float = 86, first_words: bool = True
) -> NameMatch:
    """Find which of `names` the text mentions: whole names, or a name's distinctive first word.

    Tolerates case and small typos ('globx' -> 'Globex Logistics'). When a mention
    fits several names equally ('Acme'), all of them are returned.
    """
    words = words_of(text)
    grams = [g.lower() for g in _ngrams(words)]
    scored: dict[str, tuple[float, str]] = {}
    for name in names:
        lowered = name.lower()
        first = lowered.split()[0]
        best = (0.0, "")
        for gram in grams:
            full = fuzz.ratio(gram, lowered)
            # A lone first word counts only if it is distinctive (4+ letters).
            short = (
                fuzz.ratio(gram, first) - 2
                if first_words
                and len(first) >= 4
                and first not in COMMON_FIRST_WORDS
                and " " not in gram
                else 0
            )
            score = max(full, short)
            if score > best[0]:
                best = (score, gram)
        if best[0] >= threshold:
            scored[name] = best
    if not scored:
        return NameMatch()
    top = max(score for score, _ in scored.values())
    winners = [name for name, (score, _) in scored.items() if score >= top - 3]
    winners.sort(key=lambda n: (-scored[n][0], n))
    return NameMatch(winners, scored[winners[0]][1])


def capitalised_phrase(text: str, ignore: set[str]) -> str | None:
    """A capitalised phrase that is not at the start of the text and not a known word.

    Used to pass an unrecognised account name to the lookup tool, so that an
    account the caller may not see gets 'not found or not yours' from the tool.
    """
    words = words_of(text)
    phrase: list[str] = []
    for index, word in enumerate(words):
        if word[0].isupper() and index > 0 and word.lower() not in ignore:
            phrase.append(word)
        elif phrase:
            break
    return " ".join(phrase) or None


def find_number(text: str) -> int | None:
    """The first small count in the text ('top 5', 'three accounts')."""
    for word in WORD.findall(text.lower()):
        if word.isdigit() and 0 < int(word) <= 500:
            return int(word)
        if word in NUMBER_WORDS:
            return NUMBER_WORDS[word]
    return None


def find_days(text: str) -> int | None:
    """A horizon in days: 'in 90 days', 'next 3 months', 'this quarter', 'this month'."""
    lowered = text.lower()
    match = re.search(r"(\d{1,4})\s*(day|week|month)s?", lowered)
    if match:
        count, unit = int(match.group(1)), match.group(2)
        return count * {"day": 1, "week": 7, "month": 30}[unit]
    if "quarter" in lowered:
        return 90
    if "month" in lowered:
        return 30
    if "year" in lowered:
        return 365
    return None


def find_direction(text: str) -> str | None:
    lowered = text.lower()
    if any(re.search(rf"\b{w}\b", lowered) for w in LOW_WORDS):
        return "asc"
    if any(re.search(rf"\b{w}\b", lowered) for w in HIGH_WORDS):
        return "desc"
    return None


def find_vocabulary(text: str, vocabulary: dict[str, str]) -> str | None:
    """The canonical term whose longest synonym occurs in the text (word boundaries)."""
    lowered = f" {text.lower()} "
    best: tuple[int, str] | None = None
    for phrase, canonical in vocabulary.items():
        if re.search(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", lowered) and (
            best is None or len(phrase) > best[0]
        ):
            best = (len(phrase), canonical)
    return best[1] if best else None


def find_account_id(text: str) -> str | None:
    match = ACCOUNT_ID.search(text)
    return match.group(0).upper() if match else None
