"""Finding the caller's accounts by id or by a (misspelt, partial, any-case) name.

Only accounts in the caller's scope are ever candidates, so a name that matches
someone else's account gets exactly the answer a name that matches nothing gets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.access import AccessScope
from store.models import Account
from tools.selection import AccountNotFound

MIN_SCORE = 80.0
CLEAR_LEAD = 10.0
_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Candidate:
    account_id: str
    name: str
    owner_user_id: str
    tier: str | None
    score: float


@dataclass(frozen=True)
class Found:
    """`match` when one account is meant; otherwise the closest `candidates` (maybe none)."""

    query: str
    match: Candidate | None
    candidates: list[Candidate]


class AmbiguousAccount(LookupError):
    def __init__(self, found: Found) -> None:
        super().__init__(f"{len(found.candidates)} accounts match {found.query!r}")
        self.found = found


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _scores(query: list[str], names: list[str]) -> list[float]:
    """Per name: the mean over query words of the best fuzzy match among the name's words."""
    vocabulary = {t for name in names for t in tokens(name)}
    best = {q: {t: fuzz.ratio(q, t) for t in vocabulary} for q in set(query)}
    out = []
    for name in names:
        words = tokens(name) or [""]
        out.append(sum(max(best[q].get(w, 0.0) for w in words) for q in query) / len(query))
    return out


def find_accounts(session: Session, scope: AccessScope, query: str, limit: int = 5) -> Found:
    """Exact id, then exact name, then fuzzy words; ambiguous queries return candidates."""
    text = query.strip()
    columns = (Account.account_id, Account.name, Account.owner_user_id, Account.tier)
    in_scope = select(*columns).where(scope.account_clause())

    def candidate(row, score: float) -> Candidate:
        return Candidate(row.account_id, row.name, row.owner_user_id, row.tier, round(score, 1))

    # Exact id or name first, in SQL: no need to load every name the caller can see.
    for column in (Account.account_id, Account.name):
        exact = session.execute(in_scope.where(func.lower(column) == text.lower())).all()
        if len(exact) == 1:
            hit = candidate(exact[0], 100)
            return Found(query, hit, [hit])
    wanted = tokens(text)
    rows = session.execute(in_scope).all() if wanted else []
    if not rows:
        return Found(query, None, [])
    scores = _scores(wanted, [row.name for row in rows])
    ranked = sorted(
        (
            (score, fuzz.ratio(text.lower(), row.name.lower()), row)
            for score, row in zip(scores, rows, strict=True)
            if score >= MIN_SCORE
        ),
        key=lambda item: (-item[0], -item[1], item[2].name),
    )
    candidates = [candidate(row, score) for score, _, row in ranked[:limit]]
    clear = len(ranked) == 1 or (ranked and ranked[0][0] - ranked[1][0] >= CLEAR_LEAD)
    return Found(query, candidates[0] if clear else None, candidates)


def resolve_account(session: Session, scope: AccessScope, ref: str) -> Candidate:
    """The one account `ref` means; AccountNotFound or AmbiguousAccount otherwise."""
    found = find_accounts(session, scope, ref)
    if found.match is not None:
        return found.match
    if not found.candidates:
        raise AccountNotFound()
    raise AmbiguousAccount(found)
