"""The offline model's vocabulary (prompts/offline/lexicon.yaml) as phrase matchers.

Each group maps phrases to a canonical value ("rev" -> revenue, "key accts" -> key); a
matcher finds them in folded text at word boundaries, longest phrase first, so "revenue
growth" wins over "revenue" and "gross retention" over "retention".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml
from rapidfuzz import fuzz, process
from spellchecker import SpellChecker

from bot.agent.offline.names import fold, tokens
from prompts import PROMPTS_DIR

LEXICON_FILE = PROMPTS_DIR / "offline" / "lexicon.yaml"
# Words at least this frequent in pyspellchecker's English list are ordinary words ("stark"
# 2,950, "textiles" 409); rarer ones may be names ("halcyon" 192, "muller" 61).
COMMON_WORD_COUNT = 300


@dataclass(frozen=True)
class Hit:
    start: int  # character offsets in the folded text
    end: int
    value: str
    phrase: str


class PhraseMatcher:
    """Finds the phrases of one vocabulary group in folded text."""

    def __init__(self, phrases: dict[str, str]):
        self.phrases = {" ".join(tokens(p)): v for p, v in phrases.items() if tokens(p)}
        ordered = sorted(self.phrases, key=len, reverse=True)
        body = "|".join(re.escape(p) for p in ordered) or "(?!)"
        self.pattern = re.compile(rf"(?<![a-z0-9])(?:{body})(?![a-z0-9])")

    def find(self, text: str) -> list[Hit]:
        return [Hit(m.start(), m.end(), self.phrases[m.group(0)], m.group(0))
                for m in self.pattern.finditer(text)]

    def first(self, text: str) -> str | None:
        hits = self.find(text)
        return hits[0].value if hits else None


def _grouped(mapping: dict[str, list[str]]) -> dict[str, str]:
    return {phrase: value for value, phrases in mapping.items() for phrase in phrases}


class Lexicon:
    """The vocabulary groups of lexicon.yaml."""

    def __init__(self, path: Path = LEXICON_FILE):
        self.path = path
        self.data = yaml.safe_load(path.read_text(encoding="utf-8"))

    @cached_property
    def kpis(self) -> PhraseMatcher:
        return PhraseMatcher(_grouped(self.data["kpis"]))

    @cached_property
    def _kpi_words(self) -> dict[str, str]:
        return {p: v for p, v in self.kpis.phrases.items() if " " not in p and len(p) >= 5}

    def kpi_typo(self, word: str) -> str | None:
        """The KPI a mistyped word stands for: one letter off a one-word KPI phrase."""
        found = process.extractOne(word, list(self._kpi_words), scorer=fuzz.ratio,
                                   score_cutoff=85)
        if found is None or found[0][0] != word[0]:
            return None
        return self._kpi_words[found[0]]

    @cached_property
    def tiers(self) -> PhraseMatcher:
        return PhraseMatcher(_grouped(self.data["tiers"]))

    @cached_property
    def quadrants(self) -> PhraseMatcher:
        return PhraseMatcher(_grouped(self.data["quadrants"]))

    @cached_property
    def risk_bands(self) -> PhraseMatcher:
        return PhraseMatcher(_grouped(self.data["risk_bands"]))

    @cached_property
    def regions(self) -> dict[str, list[str]]:
        return self.data["regions"]

    @cached_property
    def direction(self) -> PhraseMatcher:
        return PhraseMatcher({**dict.fromkeys(self.data["lowest"], "lowest"),
                              **dict.fromkeys(self.data["highest"], "highest")})

    @cached_property
    def bounds(self) -> PhraseMatcher:
        return PhraseMatcher({**dict.fromkeys(self.data["below"], "below"),
                              **dict.fromkeys(self.data["above"], "above")})

    @cached_property
    def actions(self) -> PhraseMatcher:
        return PhraseMatcher(dict.fromkeys(self.data["actions_out_of_scope"], "action"))

    @cached_property
    def stopwords(self) -> set[str]:
        return {fold(w) for w in self.data["stopwords"]}

    @cached_property
    def intent_cues(self) -> dict[str, PhraseMatcher]:
        return {intent: PhraseMatcher(dict.fromkeys(words, intent))
                for intent, words in self.data["intent_cues"].items()}

    def known_words(self, *texts: str) -> set[str]:
        """Words that are not names: common English words (pyspellchecker's frequency list),
        the lexicon's, and those of `texts` (templates, examples, the guidance corpus)."""
        english = SpellChecker(language="en", distance=1).word_frequency.dictionary
        words = {w for w, count in english.items() if count >= COMMON_WORD_COUNT}
        words.update(tokens(self.path.read_text(encoding="utf-8")))
        for text in texts:
            words.update(tokens(text))
        return {w for w in words if not w.isdigit()}

    def digest(self) -> str:
        """The lexicon's text, for cache keys of what was learnt from it."""
        return self.path.read_text(encoding="utf-8")
