"""`Assistant.answer` in worker processes, for `kam serve` with a CPU-bound (offline) model.

In one Python process, threads that compute answers hold the GIL for long
stretches, and the threads that acknowledge Slack wait for it: measured with
50 ms of Python work per answer, acknowledgements fell from ~900 to ~40 per
second. With the answers in worker processes, the serving process only
verifies, acknowledges and posts; each worker builds its own assistant with
`bot.factory` (thread memory is the shared SQLite checkpointer, so a follow-up
may land on any worker) and runs at a lower CPU priority than the serving process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from sqlalchemy.orm import Session, sessionmaker

from bot.assistant import Answer, Assistant
from bot.config import Settings
from store.access import AccessScope, resolve_scope

log = logging.getLogger(__name__)

# The assistant of this worker process, built once by the pool's initializer. Worker
# processes exist only to hold it; the serving process never sets it.
_worker_assistant: Assistant | None = None


def _start_worker(settings: Settings, niceness: int) -> None:
    global _worker_assistant
    # Answers may wait a little; acknowledgements may not (Slack retries after 3 s).
    os.nice(niceness)
    from bot.factory import build_assistant
    from bot.services import build_services

    logging.basicConfig(level=settings.kam_log_level, format="%(levelname)s %(name)s: %(message)s")
    services = build_services(settings, migrate=False)
    _worker_assistant = build_assistant(settings, services)


def _answer(user: AccessScope, text: str, thread_id: str) -> Answer:
    assert _worker_assistant is not None, "worker started without its assistant"
    return _worker_assistant.answer(user, text, thread_id)


def _ready() -> bool:
    return _worker_assistant is not None


class AnswerWorkers:
    """`resolve` and `answer` like `Assistant`; answers are computed in `processes` workers."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        processes: int,
        *,
        niceness: int = 10,
    ):
        self.sessions = sessions
        self.processes = processes
        self.pool = ProcessPoolExecutor(
            processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(settings, niceness),
        )

    def start(self) -> AnswerWorkers:
        """Start every worker and wait until each has built its assistant."""
        for ready in [self.pool.submit(_ready) for _ in range(self.processes)]:
            ready.result()
        return self

    def resolve(
        self, *, user_id: str | None = None, slack_user_id: str | None = None
    ) -> AccessScope:
        """The caller's access scope (here, not in a worker); UnknownUserError for strangers."""
        with self.sessions() as session:
            return resolve_scope(session, user_id=user_id, slack_user_id=slack_user_id)

    def answer(self, user: AccessScope, text: str, thread_id: str) -> Answer:
        try:
            return self.pool.submit(_answer, user, text, thread_id).result()
        except BrokenProcessPool:
            log.critical("an answer worker died; restart `kam serve`")
            raise

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
