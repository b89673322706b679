"""The runtime context every tool receives: who is asking. Never built from model arguments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from store.access import AccessScope


@dataclass(frozen=True)
class CallerContext:
    """Passed to the agent as `context=`; tools read it via `runtime.context`.

    `deadline` is a `time.monotonic()` value after which no further model call starts.
    """

    scope: AccessScope
    as_of: date | None = None
    thread_id: str | None = None
    deadline: float | None = None
