"""Names in a question as people type them: accounts, colleagues, teams, regions, industries.

Text is folded before matching (lowercase, accents off, `&` as "and", apostrophes
dropped), so "muller" finds Müller, "o hara" and "o'hara" find O'Hara & Daughters and
"aalesund" finds Ålesund. A mention starts at a name's first word and may stop early
("globex", "wayne retail"), abbreviate a later word ("halcyon hosp", "beacon mfg") or
carry one typo per word ("intiech", "northwnd"). A first word alone counts only when it
is not an ordinary word that questions use for other things ("north", "blue", "key").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz

# Special letters NFKD does not take apart.
_LETTERS = str.maketrans({"ø": "o", "æ": "ae", "å": "aa", "ß": "ss", "œ": "oe", "đ": "d",
                          "ł": "l", "þ": "th", "ð": "d", "ı": "i"})
_TOKEN = re.compile(r"(?:(?<![a-z0-9])-(?=\d))?[a-z0-9]+(?:\.[a-z0-9]+)*%?")
# Business abbreviations people type for the later words of a name.
ABBREVIATIONS = {
    "mfg": "manufacturing", "manuf": "manufacturing", "intl": "international",
    "int": "international", "grp": "group", "corp": "corporation", "co": "company",
    "hosp": "hospital", "svcs": "services", "svc": "services", "sys": "systems",
    "tech": "technologies", "techs": "technologies", "ind": "industrial", "inds": "industries",
    "chem": "chemicals", "chems": "chemicals", "pharm": "pharma", "log": "logistics",
    "logi": "logistics", "comp": "components", "elec": "electric", "util": "utilities",
    "utils": "utilities", "dyn": "dynamics", "aero": "aerospace", "auto": "automotive",
}


def fold(text: str) -> str:
    """Lowercase, accents off, "&" as "and", apostrophes out: the form all matching uses."""
    text = text.lower().translate(_LETTERS)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("&", " and ").replace("’", "'")
    text = re.sub(r"'s\b", "", text)  # possessives: "globex's" -> "globex"
    return text.replace("'", "")


def tokens(text: str) -> list[str]:
    """The folded words of `text` ("O'Hara's" -> ["ohara"])."""
    return _TOKEN.findall(fold(text))


def _word_matches(typed: str, word: str) -> float:
    """How well a typed word stands for a name's word: 1 exact, less for prefixes and typos."""
    if typed == word:
        return 1.0
    if ABBREVIATIONS.get(typed) == word or (typed in ABBREVIATIONS and word.startswith(typed)):
        return 0.95
    if len(typed) >= 3 and word.startswith(typed):
        return 0.9
    if len(typed) >= 4 and len(word) >= 4 and typed[0] == word[0]:
        # One typo: a letter dropped, added or swapped; short words only by a swap.
        ratio = fuzz.ratio(typed, word)
        if ratio >= 85 or (ratio >= 80 and (len(word) >= 6 or sorted(typed) == sorted(word))):
            return 0.85
    return 0.0


@dataclass(frozen=True)
class Named:
    """Something a question can name: an account, a person, a team, a region, an industry."""

    key: str  # account id, user id, team, region or industry value
    label: str  # as shown to people
    words: tuple[str, ...]
    first_alone: bool = True  # whether the first word alone may name it


@dataclass
class Mention:
    """Where in the question a name was typed, and every name it may stand for."""

    start: int
    end: int  # token positions, end exclusive
    text: str
    keys: list[str] = field(default_factory=list)
    score: float = 0.0


class NameIndex:
    """Finds mentions of a set of names in a question's tokens."""

    def __init__(self, names: Iterable[Named | list[Named]], common: set[str]):
        flat = [n for item in names for n in (item if isinstance(item, list) else [item])]
        self.names = [n for n in flat if n.words]
        self.common = common
        self.by_first: dict[str, list[Named]] = {}
        self._first_cache: dict[str, list[Named]] = {}
        for named in self.names:
            self.by_first.setdefault(named.words[0], []).append(named)

    def _span(self, words: Sequence[str], at: int, named: Named) -> tuple[int, float]:
        """How many tokens from `at` match `named` from its first word, and how well."""
        matched, quality = 0, 0.0
        for offset, word in enumerate(named.words):
            if at + offset >= len(words):
                break
            got = _word_matches(words[at + offset], word)
            if got == 0.0:
                break
            matched, quality = matched + 1, quality + got
        return matched, quality

    def _named_from(self, typed: str) -> list[Named]:
        """Names whose first word the typed word may stand for (cached per word)."""
        hit = self._first_cache.get(typed)
        if hit is None:
            hit = [n for first, names in self.by_first.items() if _word_matches(typed, first)
                   for n in names]
            self._first_cache[typed] = hit
        return hit

    def find(self, words: Sequence[str]) -> list[Mention]:
        """Non-overlapping mentions, longest and best first, then in reading order."""
        found: list[Mention] = []
        for at in range(len(words)):
            typed = words[at]
            scored: dict[str, tuple[float, int]] = {}
            for named in self._named_from(typed):
                count, quality = self._span(words, at, named)
                whole = count == len(named.words)
                if count == 1 and not whole:
                    # A first word alone: distinctive words only, typed in full or nearly.
                    if not named.first_alone or typed in self.common or len(typed) < 3:
                        continue
                    if quality < 0.85 or (len(typed) < len(named.words[0]) and quality < 1.0
                                          and len(typed) < 4):
                        continue
                elif count == 1 and typed in self.common and quality < 1.0:
                    continue
                # Whole names beat partial ones; exact words beat typos and prefixes.
                score = count + quality / 10 + (0.5 if whole else 0.0) - len(named.words) / 100
                scored[named.key] = max(scored.get(named.key, (0.0, 0)), (score, count))
            if not scored:
                continue
            best = max(s for s, _ in scored.values())
            keys = sorted(k for k, (s, _) in scored.items() if s >= best - 0.06)
            span = max(c for k, (s, c) in scored.items() if k in keys)
            found.append(Mention(at, at + span, " ".join(words[at:at + span]), keys, best))
        found.sort(key=lambda m: (-(m.end - m.start), -m.score, m.start))
        taken: set[int] = set()
        kept = []
        for mention in found:
            if taken.isdisjoint(range(mention.start, mention.end)):
                kept.append(mention)
                taken.update(range(mention.start, mention.end))
        return sorted(kept, key=lambda m: m.start)


def named(key: str, label: str, first_alone: bool = True) -> list[Named]:
    """How `label` may be typed: folded, and with any apostrophe as a space ("o hara")."""
    forms = [Named(key, label, tuple(tokens(label)), first_alone)]
    if "'" in label or "’" in label:
        spaced = tuple(tokens(label.replace("'", " ").replace("’", " ")))
        forms.append(Named(key, label, spaced, first_alone))
    return forms
