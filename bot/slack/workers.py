"""The work behind Slack events, in worker processes, for `kam serve`.

In one Python process, threads that compute answers (and post them) hold the
GIL for long stretches, and the threads that acknowledge Slack wait for it:
measured with 50 ms of Python work per answer, acknowledgements fell from ~900
to ~40 per second. So the serving process only verifies and acknowledges events and
forwards each one here; each worker runs the same Bolt app (`build_slack_app`) with its
own assistant from `bot.factory`, which claims the event, answers and posts to Slack.
Slash commands and buttons are acknowledged and followed up in the serving process,
which asks the workers for the answer (`answer`). Workers run at a lower CPU priority
than the serving process; thread memory is the shared SQLite checkpointer, so a
follow-up may land on any worker.

A worker that dies (killed, out of memory) breaks its pool: the pool is replaced, the
events it had not started are forwarded again (the claim in the database keeps them from
being answered twice), and the replies it left unfinished are replaced by an apology
(`on_restart`, with `PendingReplies`). Workers ignore SIGTERM and SIGINT, which a process
group receives together: the serving process stops them with `drain`, after the answers
under way are finished or the grace period is over.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from slack_bolt import App
from sqlalchemy.orm import Session, sessionmaker

from bot.assistant import Answer, Assistant
from bot.config import Settings
from bot.health import Check
from bot.slack.ingress import ClaimedEvent, dispatch_claimed, quiet_bad_signatures
from store.access import AccessScope, resolve_caller

log = logging.getLogger(__name__)

# A pool that breaks again this soon after its replacement started is not replaced at
# once (a worker that cannot start would otherwise be restarted in a tight loop).
RESTART_INTERVAL_S = 5.0
FORWARD_ATTEMPTS = 3


@dataclass
class _Worker:
    assistant: Assistant
    app: App


# What this worker process holds, built once by the pool's initializer. Worker processes
# exist only to hold it; the serving process never sets it.
_worker: _Worker | None = None


def _start_worker(
    settings: Settings, niceness: int, socket_mode: bool, deadline: Any, parent: int
) -> None:
    global _worker
    from bot.factory import build_assistant, build_decks, build_portfolio, build_services
    from bot.slack.app import build_slack_app
    from bot.slack.egress import SharedPacer, build_web_client, process_owner

    # The serving process decides when workers stop (see the module docstring).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Answers may wait a little; acknowledgements may not (Slack retries after 3 s).
    os.nice(niceness)
    logging.basicConfig(level=settings.kam_log_level, format="%(levelname)s %(name)s: %(message)s")
    quiet_bad_signatures()
    services = build_services(settings, migrate=False, create=False)
    assistant = build_assistant(settings, services, limit_users=True)
    portfolio = build_portfolio(services)
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    # slack_api_url is the serving process's ApiRelay, which keeps the replies under way.
    client = build_web_client(
        token, settings.slack_api_url, rate_limit_retries=settings.kam_slack_rate_limit_retries,
        owner=process_owner(),
    )
    app = build_slack_app(
        settings, assistant, services.sessions, portfolio=portfolio,
        decks=build_decks(settings, services.reads), socket_mode=socket_mode,
        client=client, pacer=SharedPacer(services.engine),
    )
    _worker = _Worker(assistant, app)
    threading.Thread(target=_stop_when_told, args=(deadline,), daemon=True).start()
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _stop_when_told(deadline: Any) -> None:
    """Wait until the serving process sets a deadline; finish the answers under way until
    then, and exit.

    A shared number, polled: a multiprocessing Event would do, but setting one waits for
    every process that waited on it, and a worker killed while waiting never answers.
    """
    from bot.slack.app import shutdown_slack_app

    while not deadline.value:
        time.sleep(0.2)
    worker = _current()
    finishing = threading.Thread(target=shutdown_slack_app, args=(worker.app,), daemon=True)
    finishing.start()
    finishing.join(timeout=max(0.0, deadline.value - time.time()))
    if finishing.is_alive():
        log.warning("grace period over with answers unfinished: stopping anyway")
    logging.shutdown()
    os._exit(0)


def _exit_with_parent(parent: int) -> None:
    """A worker whose serving process is gone (killed) has nobody to work for."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


def _current() -> _Worker:
    if _worker is None:
        raise RuntimeError("the worker started without its assistant")
    return _worker


def _answer(user: AccessScope, text: str, thread_id: str) -> Answer:
    return _current().assistant.answer(user, text, thread_id)


def _dispatch(event: ClaimedEvent) -> None:
    dispatch_claimed(_current().app, event)


def _ready() -> int:
    _current()
    return os.getpid()


class AnswerWorkers:
    """`resolve` and `answer` like `Assistant`, and `forward` for claimed events; the work
    runs in `processes` worker processes, replaced when one of them dies."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        processes: int,
        *,
        niceness: int = 10,
        socket_mode: bool = False,
        on_restart: Callable[[], object] | None = None,
        on_lost: Callable[[ClaimedEvent], object] | None = None,
    ):
        self.settings = settings
        self.sessions = sessions
        self.processes = processes
        self.niceness = niceness
        self.socket_mode = socket_mode
        self.on_restart = on_restart
        self.on_lost = on_lost
        self.restarts = 0
        self._context = multiprocessing.get_context("spawn")
        # When the workers must be done (time.time()); 0 while serving. Lock-free: a worker
        # killed while holding a lock would block everyone else.
        self._deadline = self._context.RawValue("d", 0.0)
        self._draining = threading.Event()
        self._lock = threading.Lock()
        self._restarted_at = 0.0
        self.pool = self._new_pool()
        self._up: list[Future] = []  # the new workers' first answers, after a restart

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.processes,
            mp_context=self._context,
            initializer=_start_worker,
            initargs=(self.settings, self.niceness, self.socket_mode, self._deadline,
                      os.getpid()),
        )

    def start(self) -> AnswerWorkers:
        """Start the workers and wait until they have built their assistant."""
        for ready in self._spawn(self.pool):
            ready.result()
        return self

    def _spawn(self, pool: ProcessPoolExecutor) -> list[Future]:
        # One call per worker: the pool starts a process per call while none is idle.
        return [pool.submit(_ready) for _ in range(self.processes)]

    def resolve(
        self, *, user_id: str | None = None, slack_user_id: str | None = None
    ) -> AccessScope:
        """The caller's access scope (here, not in a worker); UnknownUserError for strangers."""
        return resolve_caller(self.sessions, user_id=user_id, slack_user_id=slack_user_id)

    def answer(self, user: AccessScope, text: str, thread_id: str) -> Answer:
        """The answer, from a worker; asked again once if the worker died meanwhile."""
        pool, future = self._submit(_answer, user, text, thread_id)
        try:
            return future.result()
        except BrokenProcessPool:
            self._restart(pool)  # the question died with its worker: ask the new ones
        return self._submit(_answer, user, text, thread_id)[1].result()

    def forward(self, event: ClaimedEvent, attempt: int = 1) -> None:
        """Hand a claimed event to a worker, which runs its listener. Never waits (it runs
        on the acknowledgement path): a broken pool is replaced in the background."""
        pool = self.pool
        try:
            future = pool.submit(_dispatch, event)
        except RuntimeError as error:  # BrokenProcessPool, or a pool already replaced
            self._retry(pool, event, attempt, error)
            return
        future.add_done_callback(lambda done: self._forwarded(done, pool, event, attempt))

    def _forwarded(self, future: Future, pool: ProcessPoolExecutor, event: ClaimedEvent,
                   attempt: int) -> None:
        error = CancelledError() if future.cancelled() else future.exception()
        if error is not None:
            self._retry(pool, event, attempt, error)

    def _retry(self, pool: ProcessPoolExecutor, event: ClaimedEvent, attempt: int,
               error: BaseException) -> None:
        # Not taken, or taken by the worker that died (then claimed in the database, and
        # the next worker drops it): safe to hand on again.
        if isinstance(error, RuntimeError | CancelledError) and attempt < FORWARD_ATTEMPTS \
                and not self._draining.is_set():
            threading.Thread(target=self._forward_again, args=(pool, event, attempt),
                             daemon=True).start()
            return
        log.error("event %s not handed to a worker: %s", event.event_id, error)
        if self.on_lost is not None:
            self.on_lost(event)

    def _forward_again(self, pool: ProcessPoolExecutor, event: ClaimedEvent, attempt: int) -> None:
        self._restart(pool)
        self.forward(event, attempt + 1)

    def _submit(self, function: Callable, *args: Any) -> tuple[ProcessPoolExecutor, Future]:
        pool = self.pool
        try:
            return pool, pool.submit(function, *args)
        except BrokenProcessPool:
            self._restart(pool)
            pool = self.pool
            return pool, pool.submit(function, *args)

    def _restart(self, broken: ProcessPoolExecutor) -> None:
        """Replace `broken` with a new pool (once, whoever notices first)."""
        with self._lock:
            if self.pool is not broken or self._draining.is_set():
                return
            wait = self._restarted_at + RESTART_INTERVAL_S - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            log.error("an answer worker died; starting new workers")
            broken.shutdown(wait=False, cancel_futures=True)
            self.pool = self._new_pool()
            self._up = self._spawn(self.pool)
            self._restarted_at = time.monotonic()
            self.restarts += 1
        if self.on_restart is not None:
            threading.Thread(target=self._after_restart, daemon=True).start()

    def _after_restart(self) -> None:
        try:
            self.on_restart()  # type: ignore[misc]
        except Exception:
            log.exception("clean-up after a worker restart failed")

    def check(self, timeout_s: float = 5.0) -> Check:
        """Readiness: the workers are up (a dead one is replaced here if nobody noticed)."""
        name = "answer workers"
        if self._draining.is_set():
            return Check(name, False, "stopping")
        if not all(up.done() for up in self._up):
            return Check(name, False, f"restarting after a worker died ({self.restarts} so far)")
        pool = self.pool
        # The pool itself may take seconds to notice a worker killed while it was busy;
        # the workers are this process's only multiprocessing children.
        if len(multiprocessing.active_children()) < self.processes:
            self._restart(pool)
            return Check(name, False, "a worker died; new workers are starting")
        pool, probe = self._submit(_ready)
        try:
            probe.result(timeout=timeout_s)
        except BrokenProcessPool:
            self._restart(pool)
            return Check(name, False, "a worker died; new workers are starting")
        except TimeoutError:
            return Check(name, True, f"{self.processes} busy (no reply within {timeout_s:.0f} s)")
        restarts = f"; restarted {self.restarts} time(s)" if self.restarts else ""
        return Check(name, True, f"{self.processes} up{restarts}")

    def drain(self, deadline: float) -> None:
        """Tell the workers to finish their answers under way by `deadline` (time.time())
        and exit; take no more work."""
        self._draining.set()
        self._deadline.value = deadline

    def wait_stopped(self, timeout_s: float) -> bool:
        """After `drain`: wait until every worker has exited; False if some still run.

        Workers exit on their own once drained. The pool is not shut down before: that
        ends a worker's main thread, and with it the answers its other threads are writing.
        """
        deadline = time.monotonic() + timeout_s
        while multiprocessing.active_children() and time.monotonic() < deadline:
            time.sleep(0.1)
        stopped = not multiprocessing.active_children()
        self.pool.shutdown(wait=stopped, cancel_futures=True)
        return stopped

    def close(self) -> None:
        """Finish the work handed out (workers finish their answers before they exit)."""
        if not self._draining.is_set():
            self.drain(time.time() + self.settings.kam_shutdown_grace_s)
        self.wait_stopped(self.settings.kam_shutdown_grace_s + 5)
