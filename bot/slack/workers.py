"""The work behind Slack events, in worker processes, for `kam serve`.

In one Python process, threads that compute answers (and post them) hold the
GIL for long stretches, and the threads that acknowledge Slack wait for it:
measured with 50 ms of Python work per answer, acknowledgements fell from ~900
to ~40 per second. So the serving process only verifies, claims and
acknowledges events and forwards each claimed event here; each worker runs the
same Bolt app (`build_slack_app`) with its own assistant from `bot.factory`,
which answers and posts to Slack. Slash commands and buttons are acknowledged
and followed up in the serving process, which asks the workers for the answer
(`answer`). Workers run at a lower CPU priority than the serving process; thread
memory is the shared SQLite checkpointer, so a follow-up may land on any worker.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from slack_bolt import App
from sqlalchemy.orm import Session, sessionmaker

from bot.assistant import Answer, Assistant
from bot.config import Settings
from bot.slack.ingress import ClaimedEvent, dispatch_claimed
from store.access import AccessScope, resolve_caller

log = logging.getLogger(__name__)


@dataclass
class _Worker:
    assistant: Assistant
    app: App


# What this worker process holds, built once by the pool's initializer. Worker processes
# exist only to hold it; the serving process never sets it.
_worker: _Worker | None = None


def _start_worker(settings: Settings, niceness: int, socket_mode: bool) -> None:
    global _worker
    from bot.factory import build_assistant, build_services
    from bot.slack.app import build_slack_app
    from tools.glance import KpiPortfolio

    # Answers may wait a little; acknowledgements may not (Slack retries after 3 s).
    os.nice(niceness)
    logging.basicConfig(level=settings.kam_log_level, format="%(levelname)s %(name)s: %(message)s")
    services = build_services(settings, migrate=False)
    assistant = build_assistant(settings, services)
    portfolio = KpiPortfolio(services.sessions, as_of=settings.kam_as_of)
    app = build_slack_app(
        settings, assistant, services.sessions, portfolio=portfolio, socket_mode=socket_mode
    )
    _worker = _Worker(assistant, app)


def _current() -> _Worker:
    if _worker is None:
        raise RuntimeError("the worker started without its assistant")
    return _worker


def _answer(user: AccessScope, text: str, thread_id: str) -> Answer:
    return _current().assistant.answer(user, text, thread_id)


def _dispatch(event: ClaimedEvent) -> None:
    dispatch_claimed(_current().app, event)


def _ready() -> bool:
    return _current() is not None


class AnswerWorkers:
    """`resolve` and `answer` like `Assistant`, and `forward` for claimed events; the work
    runs in `processes` worker processes."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        processes: int,
        *,
        niceness: int = 10,
        socket_mode: bool = False,
    ):
        self.sessions = sessions
        self.processes = processes
        self.pool = ProcessPoolExecutor(
            processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(settings, niceness, socket_mode),
        )

    def start(self) -> AnswerWorkers:
        """Start the workers and wait until they have built their assistant."""
        for ready in [self.pool.submit(_ready) for _ in range(self.processes)]:
            ready.result()
        return self

    def resolve(
        self, *, user_id: str | None = None, slack_user_id: str | None = None
    ) -> AccessScope:
        """The caller's access scope (here, not in a worker); UnknownUserError for strangers."""
        return resolve_caller(self.sessions, user_id=user_id, slack_user_id=slack_user_id)

    def answer(self, user: AccessScope, text: str, thread_id: str) -> Answer:
        try:
            return self.pool.submit(_answer, user, text, thread_id).result()
        except BrokenProcessPool:
            log.critical("a worker process died; restart `kam serve`")
            raise

    def forward(self, event: ClaimedEvent) -> None:
        """Hand a claimed event to a worker, which runs its listener."""
        self.pool.submit(_dispatch, event).add_done_callback(_log_failure)

    def close(self) -> None:
        """Finish the work handed out (workers finish their answers before they exit)."""
        self.pool.shutdown(wait=True)


def _log_failure(future: Future) -> None:
    if future.exception() is not None:
        log.error("a worker could not take an event: %s", future.exception())
