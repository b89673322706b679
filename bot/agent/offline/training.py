"""The intent classifier's training set: generated utterances plus hand-written examples.

`generate` fills the templates of prompts/offline/training.yaml with account names (the
demo data generator's name parts, so they look like real ones), KPI words from the
lexicon, periods, colleagues' first names and counts, deterministically from a seed; a
share of them is typed carelessly (lowercase, no punctuation, a dropped or swapped
letter), as Slack messages are. `examples` adds prompts/offline/examples.yaml and the
training part of the understanding dev set. Everything is masked (`reading.mask`) with
names from the same generator before the classifier sees it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import yaml

from bot.agent.offline.lexicon import Lexicon
from bot.agent.offline.names import NameIndex, named
from bot.agent.offline.reading import Names, find_words
from knowledge.index import SHIPPED_CORPUS_DIR
from prompts import PROMPTS_DIR
from store.demo import END, NAME_A, NAME_B, STORIES, USERS

OFFLINE_DIR = PROMPTS_DIR / "offline"
TEMPLATES = OFFLINE_DIR / "training.yaml"
EXAMPLES = OFFLINE_DIR / "examples.yaml"
DEV_TRAIN = OFFLINE_DIR / "understanding_train.yaml"
PER_TEMPLATE = 12
PERIODS = ["ytd", "this year", "last year", "in 2025", "fy25", "last quarter", "q3", "q2", "h1",
           "last month", "since march", "between march and june", "last 6 months",
           "past 12 months", "ltm", "so far this year", "last qtr", "this quarter", ""]
REGIONS = ["emea", "apac", "latam", "north america", "europe"]
TIERS = ["key", "strategic", "growth", "maintain"]
INDUSTRIES = ["software", "healthcare", "logistics", "retail", "energy", "manufacturing"]
FIELD = re.compile(r"\{(\w+)\}")


def account_names() -> list[str]:
    """Names that look like customers' (the demo generator's parts, and its story names)."""
    return [s.name for s in STORIES] + [f"{a} {b}" for a in NAME_A for b in NAME_B]


def first_names() -> list[str]:
    return [name.split()[0] for _, name, *_ in USERS]


def _typed(rng: random.Random, name: str) -> str:
    """An account name as people type it: whole, first word, two words, lowercase, a typo."""
    parts = name.split()
    roll = rng.random()
    if roll < 0.35:
        name = parts[0]
    elif roll < 0.5 and len(parts) > 2:
        name = " ".join(parts[:2])
    return name.lower() if rng.random() < 0.7 else name


def _careless(rng: random.Random, text: str) -> str:
    """Lowercase, no final punctuation, sometimes a letter dropped or swapped in one word."""
    if rng.random() < 0.6:
        text = text.lower().rstrip("?.!")
    if rng.random() < 0.2:
        words = text.split()
        i = rng.randrange(len(words))
        word = words[i]
        if len(word) > 4 and word.isalpha():
            j = rng.randrange(1, len(word) - 1)
            word = word[:j] + word[j + 1] + word[j] + word[j + 2:] if rng.random() < 0.5 \
                else word[:j] + word[j + 1:]
            words[i] = word
        text = " ".join(words)
    return text


def _fill(values: dict[str, str], match: re.Match[str]) -> str:
    return values[match.group(1)]


def generate(lexicon: Lexicon, seed: int = 7, per_template: int = PER_TEMPLATE) -> \
        list[tuple[str, str]]:
    """(utterance, intent) pairs from every template, `per_template` fillings each."""
    rng = random.Random(seed)
    templates = yaml.safe_load(TEMPLATES.read_text(encoding="utf-8"))
    kpi_words = {kpi: words for kpi, words in lexicon.data["kpis"].items()}
    money = kpi_words["revenue"] + kpi_words["gross_margin"]
    accounts, people = account_names(), first_names()
    out = []
    for intent, lines in templates.items():
        for template in lines:
            seen: set[str] = set()
            for _ in range(per_template):
                values = {
                    "a": _typed(rng, rng.choice(accounts)),
                    "a2": _typed(rng, rng.choice(accounts)),
                    "k": rng.choice(kpi_words[rng.choice(list(kpi_words))]),
                    "mk": rng.choice(money),
                    "p": rng.choice(PERIODS),
                    "who": rng.choice(people).lower(),
                    "n": str(rng.choice([3, 5, 10, 20, 30, 60, 90])),
                    "region": rng.choice(REGIONS),
                    "tier": rng.choice(TIERS),
                    "industry": rng.choice(INDUSTRIES),
                }
                text = FIELD.sub(partial(_fill, values), template)
                text = _careless(rng, " ".join(text.split()))
                if text not in seen:
                    seen.add(text)
                    out.append((text, intent))
    return out


def examples(dev_train: Path = DEV_TRAIN) -> Iterator[tuple[str, str]]:
    """Hand-written examples: examples.yaml and the dev set's training part."""
    for intent, questions in yaml.safe_load(EXAMPLES.read_text(encoding="utf-8")).items():
        for question in questions:
            yield question, intent
    if dev_train.is_file():
        for item in yaml.safe_load(dev_train.read_text(encoding="utf-8")):
            yield item["question"], item["intent"]


def vocabulary_texts() -> list[str]:
    """Texts whose words are ordinary words, not names: the templates, the examples and the
    guidance corpus (thousands of everyday business words)."""
    texts = [TEMPLATES.read_text(encoding="utf-8"), EXAMPLES.read_text(encoding="utf-8")]
    texts += [p.read_text(encoding="utf-8") for p in sorted(SHIPPED_CORPUS_DIR.glob("*.md"))]
    return texts


def digest_inputs() -> str:
    """Everything the classifier learns from, as text, for its cache key."""
    return "\n".join(p.read_text(encoding="utf-8") for p in (TEMPLATES, EXAMPLES, DEV_TRAIN)
                     if p.is_file())


def training_names(lexicon: Lexicon) -> Names:
    """The names training utterances are masked with: the generator's own."""
    common = lexicon.stopwords
    return Names(
        accounts=NameIndex([named(f"T{i}", n) for i, n in enumerate(account_names())], common),
        elsewhere=NameIndex([], common),
        people=NameIndex([named(uid, name) for uid, name, *_ in USERS], common | {"team"}),
        teams={}, regions={}, industries={}, account_names={}, user_roles={}, user_names={},
        as_of=END,
    )


def training_set(lexicon: Lexicon) -> tuple[list[str], list[str]]:
    """Masked utterances and their intents: generated and hand-written."""
    names = training_names(lexicon)
    pairs = generate(lexicon) + list(examples())
    texts = [find_words(text, names, lexicon).masked for text, _ in pairs]
    return texts, [intent for _, intent in pairs]
