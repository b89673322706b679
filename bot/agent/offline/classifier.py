"""The intent classifier: logistic regression over character and word n-grams of the masked
question (names as ACCOUNT / PERSON, KPI words as one token per KPI).

Chosen by measurement (docs/assistant.md, intent accuracy of the classifier alone on the
two held-out sets): n-grams 96.9 % and 93.3 %; n-grams plus MiniLM sentence embeddings
96.9 % and 94.7 %; embeddings alone 91.9 % and 88.0 %. The embeddings' gain is two
questions of 150, while they cost ~35 s more training on 2 cores and an embedding call
per question, so n-grams alone. Trained once per content of its inputs (templates,
examples, lexicon) with scikit-learn and cached in the data directory as plain arrays.

Answering does not import scikit-learn: importing it (with scipy and pandas) took 1.8 s of
the 8 s cold-start budget of `kam ask`, so `IntentModel` computes the same TF-IDF features
and softmax with numpy from the fitted vocabularies and weights (a test checks the
probabilities equal scikit-learn's).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
VERSION = "2"  # bump when the features or the model change
CHARS = (2, 5)  # character n-grams within word boundaries
WORDS = (1, 2)  # word n-grams
_SPACES = re.compile(r"\s\s+")
_WORD = re.compile(r"(?u)\b\w+\b")


def char_grams(text: str) -> list[str]:
    """scikit-learn's `char_wb` n-grams of lowercased text."""
    grams = []
    for word in _SPACES.sub(" ", text.lower()).split():
        padded = f" {word} "
        for n in range(CHARS[0], CHARS[1] + 1):
            offset = 0
            grams.append(padded[offset:offset + n])
            while offset + n < len(padded):
                offset += 1
                grams.append(padded[offset:offset + n])
            if offset == 0:
                break
    return grams


def word_grams(text: str) -> list[str]:
    """scikit-learn's word n-grams of lowercased text."""
    words = _WORD.findall(text.lower())
    grams = []
    for n in range(WORDS[0], WORDS[1] + 1):
        grams += [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]
    return grams


@dataclass
class Block:
    """One vectorizer's fitted vocabulary and idf weights."""

    vocabulary: dict[str, int]
    idf: np.ndarray

    def vector(self, grams: Sequence[str]) -> np.ndarray:
        """Sublinear tf × idf, l2-normalised, as TfidfVectorizer(sublinear_tf=True)."""
        out = np.zeros(len(self.idf))
        for gram, count in Counter(grams).items():
            index = self.vocabulary.get(gram)
            if index is not None:
                out[index] = (1.0 + math.log(count)) * self.idf[index]
        norm = np.linalg.norm(out)
        return out / norm if norm else out


class IntentModel:
    """P(intent | masked question), from fitted arrays; no scikit-learn needed."""

    def __init__(self, chars: Block, words: Block, coef: np.ndarray, intercept: np.ndarray,
                 labels: list[str]):
        self.chars, self.words = chars, words
        self.coef, self.intercept, self.labels = coef, intercept, labels

    def scores(self, text: str) -> dict[str, float]:
        features = np.concatenate([self.chars.vector(char_grams(text)),
                                   self.words.vector(word_grams(text))])
        logits = self.coef @ features + self.intercept
        if len(self.labels) == 2:  # a binary regression keeps one row: P(second) = sigmoid
            logits = np.array([0.0, logits[0]])
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        return dict(zip(self.labels, (float(p) for p in probs), strict=True))

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [max(s, key=s.__getitem__) for s in (self.scores(t) for t in texts)]

    def save(self, path: Path) -> None:
        """Arrays in an .npz beside a JSON of the vocabularies and labels (no pickle)."""
        np.savez(path.with_suffix(".npz"), chars_idf=self.chars.idf, words_idf=self.words.idf,
                 coef=self.coef, intercept=self.intercept)
        temporary = path.with_suffix(".json.tmp")  # the .json appears last, whole
        temporary.write_text(json.dumps({
            "chars": self.chars.vocabulary, "words": self.words.vocabulary,
            "labels": self.labels}), encoding="utf-8")
        temporary.replace(path.with_suffix(".json"))

    @classmethod
    def load(cls, path: Path) -> IntentModel:
        meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        with np.load(path.with_suffix(".npz")) as arrays:
            return cls(Block(meta["chars"], arrays["chars_idf"]),
                       Block(meta["words"], arrays["words_idf"]),
                       arrays["coef"], arrays["intercept"], meta["labels"])


def fit_sklearn(texts: Sequence[str], labels: Sequence[str]) -> tuple[Any, Any, Any]:
    """The two TF-IDF vectorizers and the logistic regression, fitted by scikit-learn."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=CHARS, sublinear_tf=True, min_df=2)
    words = TfidfVectorizer(analyzer="word", ngram_range=WORDS, sublinear_tf=True,
                            token_pattern=_WORD.pattern)
    features = hstack([chars.fit_transform(texts), words.fit_transform(texts)]).tocsr()
    model = LogisticRegression(C=8.0, max_iter=2000).fit(features, list(labels))
    return chars, words, model


def fit(texts: Sequence[str], labels: Sequence[str]) -> IntentModel:
    """Fit with scikit-learn; keep only the arrays."""
    chars, words, model = fit_sklearn(texts, labels)
    return IntentModel(
        Block(_plain(chars.vocabulary_), chars.idf_), Block(_plain(words.vocabulary_), words.idf_),
        model.coef_, model.intercept_, [str(c) for c in model.classes_])


def _plain(vocabulary: dict[str, Any]) -> dict[str, int]:
    return {str(k): int(v) for k, v in vocabulary.items()}


def load_or_train(
    cache_dir: Path | None, key_text: str,
    data: Callable[[], tuple[list[str], list[str]]],
) -> IntentModel:
    """The classifier for these training inputs, from the cache or trained now (and cached)."""
    key = hashlib.sha256(f"{VERSION}\n{key_text}".encode()).hexdigest()[:16]
    path = cache_dir / f"intent-classifier-{key}" if cache_dir else None
    if path is not None and path.with_suffix(".json").is_file():
        try:
            return IntentModel.load(path)
        except (OSError, ValueError, KeyError):
            log.warning("intent classifier cache %s unreadable; training again", path)
    texts, labels = data()
    model = fit(texts, labels)
    log.info("intent classifier trained on %d utterances", len(texts))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save(path)
    return model
