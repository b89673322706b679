"""Per-user rate limit: a token bucket per key in `rate_buckets`, shared by every process.

Each question takes a token; a bucket holds at most `burst` tokens and refills at
`per_minute` tokens a minute. The check is one upsert statement, so two processes
taking from the same bucket at once cannot both spend its last token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy import Engine, case, func, literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from store.db import begin_briefly
from store.models import RateBucket

log = logging.getLogger(__name__)


class RateLimit:
    """`allow(key)`: True while `key` has a token left (and spends it)."""

    def __init__(
        self,
        engine: Engine,
        *,
        per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.time,
    ):
        self.engine = engine
        self.rate = per_minute / 60
        self.burst = burst
        self.clock = clock

    def allow(self, key: str) -> bool:
        """Spend a token of `key`'s bucket; False (nothing spent) when it is empty.

        Fails open: if the database cannot take the write (locked by a long import,
        read-only), the question is allowed and a warning logged.
        """
        now = self.clock()
        try:
            with begin_briefly(self.engine) as conn:
                return bool(conn.execute(self._statement(key, now, conn.dialect.name)).scalar_one())
        except DBAPIError as error:
            log.warning("rate limit not checked (database: %s)", error.orig)
            return True

    def _statement(self, key: str, now: float, dialect: str):
        # SQLite's two-argument min/max are PostgreSQL's least/greatest.
        sqlite_ = dialect == "sqlite"
        least, greatest = (func.min, func.max) if sqlite_ else (func.least, func.greatest)
        elapsed = greatest(literal(0.0), literal(now) - RateBucket.updated_at)
        refilled = least(literal(float(self.burst)), RateBucket.tokens + elapsed * self.rate)
        insert = (sqlite.insert if sqlite_ else postgresql.insert)(RateBucket)
        return (
            insert.values(key=key, tokens=self.burst - 1.0, updated_at=now, allowed=True)
            .on_conflict_do_update(
                index_elements=[RateBucket.key],
                set_={
                    "tokens": case((refilled >= 1, refilled - 1), else_=refilled),
                    "allowed": refilled >= 1,
                    "updated_at": now,
                },
            )
            .returning(RateBucket.allowed)
        )
