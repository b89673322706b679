"""`kam serve` (the Slack bot, over HTTP or Socket Mode), `kam digest` (the weekly DMs) and
`kam doctor` (what `kam serve` depends on, checked).

`kam serve` starts only when it can answer: the database file is there with its schema
(a lost file is never replaced by an empty one), the embedding model is where the
settings say, Slack answers and accepts the token; a damaged guidance index is rebuilt.
On SIGTERM (`docker stop`, systemd, `kill`) or Ctrl-C it stops accepting, lets the answers
under way finish within KAM_SHUTDOWN_GRACE_S, replaces any that cannot with an apology,
and exits.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text
from slack_sdk import WebClient
from sqlalchemy.exc import DBAPIError

from bot.assistant import Assistant
from bot.cli import common
from bot.cli.common import console, fail, warn
from bot.config import Settings
from bot.factory import Services, build_decks, build_portfolio, build_prompts, build_services
from bot.health import (
    Check,
    Readiness,
    check_database,
    check_embedding_model,
    check_index,
    check_thread_store,
    database_identity,
)
from bot.slack.app import build_slack_app, shutdown_slack_app
from bot.slack.digest import compose_digests, post_digests
from bot.slack.egress import (
    ApiRelay,
    PendingReplies,
    SharedPacer,
    SlackOut,
    build_web_client,
    check_slack_api,
    gone,
    stale,
)
from bot.slack.ingress import ClaimedEvent, EventLedger, owed_reply, quiet_bad_signatures
from bot.slack.listeners import APOLOGY
from bot.slack.server import EVENTS_PATH, HEALTH_PATH, READY_PATH, SlackHttpServer
from bot.slack.workers import AnswerWorkers
from store.db import DatabaseMissing, ensure_schema, is_initialised, sqlite_path

log = logging.getLogger(__name__)
SETUP = "see docs/slack-setup.md"
# A reply still under way this long after its answer's time budget ran out was abandoned.
STALE_MARGIN_S = 120
STALE_SWEEP_S = 30


def _services(settings: Settings) -> Services:
    """The database for serving: never created here, migrated only when it has a schema."""
    try:
        services = build_services(settings, migrate=False, create=False)
    except DatabaseMissing:
        raise fail(
            f"the database file {sqlite_path(settings.db_url)} does not exist: restore it "
            "from a backup, or run `kam db init` (then `kam import`) to start an empty one", 1
        ) from None
    try:
        if not is_initialised(services.engine):
            raise fail("the database has no data yet: run `kam db init` and `kam import` "
                       "(or `kam demo-data`), or restore it from a backup", 1)
        ensure_schema(services.engine)
    except typer.Exit:
        services.close()
        raise
    except Exception as error:
        services.close()
        raise fail(f"cannot open the database: {str(error).splitlines()[0]}", 1) from None
    return services


def _check_credentials(settings: Settings, socket: bool) -> None:
    if settings.slack_bot_token is None:
        raise fail(f"SLACK_BOT_TOKEN is not set ({SETUP})", 2)
    if socket:
        token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
        if not token.startswith("xapp-"):
            raise fail(f"Socket Mode needs SLACK_APP_TOKEN, an app-level token xapp-… ({SETUP})", 2)
    elif settings.slack_signing_secret is None:
        raise fail(f"SLACK_SIGNING_SECRET is not set ({SETUP})", 2)


def _token(settings: Settings) -> str | None:
    return settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None


def _check_slack(settings: Settings) -> WebClient:
    """A plain client for the bot, once Slack answered and accepted the token."""
    client = build_web_client(_token(settings), settings.slack_api_url, rate_limit_retries=1,
                              timeout_s=10)
    check = check_slack_api(client)
    if not check.ok:
        raise fail(check.detail, 2 if check.detail.startswith("Slack refused") else 1)
    return client


def _check_model(settings: Settings) -> None:
    check = check_embedding_model(settings.kam_embedding_model_dir)
    if not check.ok:
        raise fail(check.detail, 2)


def _repair_index(settings: Settings) -> None:
    """Rebuild a damaged or missing guidance index before workers start (each would
    otherwise try at once)."""
    if check_index(settings.chroma_dir, settings.kam_chroma_url).ok:
        return
    from bot.factory import open_guidance_index
    from knowledge.embeddings import Embedder

    console.print("Building the guidance index…")
    open_guidance_index(settings, Embedder.from_settings(settings))


def serve_command(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default KAM_SLACK_HOST, 0.0.0.0).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default KAM_SLACK_PORT, 3000).")
    ] = None,
    socket: Annotated[
        bool, typer.Option("--socket", help="Connect out over Socket Mode (SLACK_APP_TOKEN); "
                           "host and port then serve the probes alone.")
    ] = False,
) -> None:
    """Run the Slack bot: Events API over HTTP, or Socket Mode with --socket; probes either way."""
    settings = common.settings()
    updates = {k: v for k, v in {"kam_slack_host": host, "kam_slack_port": port}.items() if v}
    settings = settings.model_copy(update=updates)
    _check_credentials(settings, socket)
    _check_model(settings)
    services = _services(settings)
    plain = _check_slack(settings)
    quiet_bad_signatures()
    identity = database_identity(settings.db_url)
    pending = PendingReplies(services.engine)
    # Replies a previous run of this host left unfinished (it was killed): apologise now.
    try:
        pending.apologise(plain, gone)
    except DBAPIError as error:
        raise fail(f"cannot write to the database: {error.orig}", 1) from None
    if not settings.kam_slack_answer_processes:
        _check_users(services)
    else:
        _repair_index(settings)
    answers = _answers(settings, services, socket, pending, plain)
    app = build_slack_app(
        settings,
        answers,
        services.sessions,
        portfolio=build_portfolio(services),
        decks=build_decks(settings, services.reads),
        socket_mode=socket,
        forward_events=answers.forward if isinstance(answers, AnswerWorkers) else None,
        client=build_web_client(
            _token(settings), settings.slack_api_url,
            rate_limit_retries=settings.kam_slack_rate_limit_retries, pending=pending,
        ),
        pacer=SharedPacer(services.engine),
    )
    checks = [
        lambda: check_database(services.engine, identity=identity),
        answers.check if isinstance(answers, AnswerWorkers) else _in_process,
        lambda: check_thread_store(settings.kam_data_dir, services.engine),
        lambda: check_index(settings.chroma_dir, settings.kam_chroma_url),
    ]
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    threading.Thread(target=_sweep_stale, args=(settings, pending, plain, stopping),
                     name="stale-replies", daemon=True).start()
    try:
        if socket:
            _serve_socket(app, settings, stopping, checks)
        else:
            _serve_http(app, settings, Readiness(checks))
    finally:
        _stop(settings, app, answers, pending, plain)
        services.close()
        logging.shutdown()
    # Threads still working on an answer past the grace period must not hold the exit.
    os._exit(0)


def _sweep_stale(settings: Settings, pending: PendingReplies, plain: WebClient,
                 stopping: threading.Event) -> None:
    """Now and then, apologise for replies no process will finish: their worker died (and
    nobody noticed yet), or their listener failed without a word."""
    after_s = settings.kam_answer_budget_s + STALE_MARGIN_S
    while not stopping.wait(STALE_SWEEP_S):
        try:
            pending.apologise(plain, lambda row: gone(row) or stale(row, after_s), APOLOGY)
        except Exception:
            log.exception("could not look for unfinished replies")


def _in_process() -> Check:
    return Check("answer workers", True, "none: answers are computed in this process")


def _check_users(services: Services) -> None:
    check = check_database(services.engine, write=False)
    if not check.ok and "no users" in check.detail:
        warn(f"the database has {check.detail}: nobody can ask yet")


def _answers(
    settings: Settings, services: Services, socket: bool, pending: PendingReplies,
    plain: WebClient,
) -> Assistant | AnswerWorkers:
    """The assistant, in worker processes (KAM_SLACK_ANSWER_PROCESSES) or in this one."""
    processes = settings.kam_slack_answer_processes
    console.print(f"Loading the assistant ({processes or 'no'} worker processes)…")
    if processes:
        ledger = EventLedger(services.engine, ttl_s=settings.kam_slack_event_ttl_s,
                             pending=pending)

        def lost(event: ClaimedEvent) -> None:
            """An event no worker could take: claim it here and apologise for it."""
            body = event.payload
            reply_to = owed_reply(body.get("event") or {})
            if reply_to and event.event_id and ledger.claim(event.event_id, reply_to):
                pending.apologise(plain, lambda row: row.event_id == event.event_id, APOLOGY)

        # The workers reach Slack through a relay here, which keeps their replies under way.
        relay = ApiRelay(settings.slack_api_url, pending).start()
        workers = AnswerWorkers(
            settings.model_copy(update={"slack_api_url": relay.url}), services.sessions,
            processes, socket_mode=socket,
            on_restart=lambda: pending.apologise(plain, gone, APOLOGY), on_lost=lost,
        )
        try:
            return workers.start()
        except BrokenProcessPool:
            raise fail("the answer workers could not start: see the lines above", 1) from None
    from bot.factory import build_assistant  # heavy: the embedding model and the index

    return build_assistant(settings, services, limit_users=True)


def _serve_http(app, settings: Settings, ready: Readiness) -> None:
    host, port = settings.kam_slack_host, settings.kam_slack_port
    secret = settings.slack_signing_secret
    server = SlackHttpServer(
        app, host, port, ready=ready,
        signing_secret=secret.get_secret_value() if secret else None,
    )
    console.print(
        f"KAM Assistant listening on http://{host}:{port}{EVENTS_PATH} "
        f"(probes: {HEALTH_PATH}, {READY_PATH}); Ctrl-C to stop."
    )
    # uvicorn takes SIGTERM and SIGINT while it runs: it stops accepting, answers the
    # requests under way and returns here.
    server.serve_forever()


def _serve_socket(app, settings: Settings, stopping: threading.Event,
                  checks: list[Callable[[], Check]]) -> None:
    """Take events over Socket Mode; serve the probes alone on host:port, /readyz also
    checking that the socket is connected."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    token = settings.slack_app_token.get_secret_value()  # type: ignore[union-attr]
    handler = SocketModeHandler(app, token)
    handler.connect()

    def connected() -> Check:
        ok = handler.client.is_connected()
        return Check("Socket Mode", ok, "connected" if ok else "not connected: reconnecting")

    host, port = settings.kam_slack_host, settings.kam_slack_port
    probes = SlackHttpServer(None, host, port, ready=Readiness([*checks, connected]))
    try:
        probes.start()
    except RuntimeError:
        handler.close()
        raise fail(f"cannot serve the probes on {host}:{port}: is the port in use? "
                   "Set KAM_SLACK_PORT or --port", 1) from None
    console.print(f"KAM Assistant connected over Socket Mode (probes: http://{host}:{port}"
                  f"{HEALTH_PATH}, {READY_PATH}); Ctrl-C to stop.")
    stopping.wait()
    probes.shutdown()
    handler.close()


def _stop(settings: Settings, app, answers: Assistant | AnswerWorkers,
          pending: PendingReplies, plain: WebClient) -> None:
    """Finish the answers under way within the grace period; apologise for the rest."""
    grace = settings.kam_shutdown_grace_s
    deadline = time.time() + grace
    console.print(f"Stopping: finishing the answers under way (up to {grace:.0f} s)…")
    if isinstance(answers, AnswerWorkers):
        answers.drain(deadline)
    finishing = threading.Thread(target=shutdown_slack_app, args=(app,), daemon=True)
    finishing.start()
    finishing.join(timeout=max(0.0, deadline - time.time()))
    if isinstance(answers, AnswerWorkers):
        # Workers exit by the deadline themselves; the margin covers their last messages.
        answers.wait_stopped(deadline - time.time() + 3)
    else:
        answers.close()
    own = pending.owner
    apologies = pending.apologise(plain, lambda row: row.owner == own or gone(row))
    console.print(f"Stopped; {apologies} unfinished answer(s) replaced by an apology.")


def doctor_command() -> None:
    """Check what `kam serve` needs, as its /readyz does: the database, the thread store,
    the guidance index, the embedding model and Slack (exit 1 if anything fails)."""
    settings = common.settings()
    checks = [*_doctor_store(settings),
              check_index(settings.chroma_dir, settings.kam_chroma_url),
              check_embedding_model(settings.kam_embedding_model_dir)]
    if settings.slack_bot_token is not None:
        checks.append(check_slack_api(build_web_client(
            _token(settings), settings.slack_api_url, rate_limit_retries=1, timeout_s=10)))
    else:
        checks.append(Check("Slack API", False, f"SLACK_BOT_TOKEN is not set ({SETUP})"))
    table = Table("check", "", "detail", title="kam doctor")
    for check in checks:
        mark = Text("ok", "green") if check.ok else Text("FAIL", "bold red")
        table.add_row(check.name, mark, check.detail)
    console.print(table)
    failed = [c.name for c in checks if not c.ok]
    if failed:
        raise fail(f"{len(failed)} check(s) failed: {', '.join(failed)}", 1)


def _doctor_store(settings: Settings) -> list[Check]:
    """The database, and the thread store (a file, or tables in PostgreSQL)."""
    try:
        services = build_services(settings, migrate=False, create=False)
    except DatabaseMissing as error:
        return [Check("database", False, f"{error}: restore it from a backup, or run "
                      "`kam db init` (then `kam import`)"),
                check_thread_store(settings.kam_data_dir)]
    try:
        return [check_database(services.engine, identity=database_identity(settings.db_url)),
                check_thread_store(settings.kam_data_dir, services.engine)]
    finally:
        services.close()


def digest_command(
    post: Annotated[bool, typer.Option("--post", help="Send the digests as DMs.")] = False,
    only: Annotated[
        str | None, typer.Option(help="Only the digest for this Slack user id (to try it out).")
    ] = None,
) -> None:
    """The weekly digest of at-risk accounts and renewals due, for every KAM and manager.

    Without --post, prints what would be sent. Run it from cron, e.g. Mondays at 08:00:
    `0 8 * * 1 cd /srv/kam && .venv/bin/kam digest --post`.
    """
    settings = common.settings()
    if post and settings.slack_bot_token is None:
        raise fail(f"SLACK_BOT_TOKEN is not set ({SETUP})", 2)
    services = _services(settings)
    try:
        digests = compose_digests(services.reads, build_portfolio(services))
        if only:
            digests = [d for d in digests if d.slack_user_id == only]
            if not digests:
                raise fail(f"no KAM or manager has the Slack user id {only}", 1)
        if not post:
            prompts = build_prompts(settings)
            for digest in digests:
                console.print(digest.text(prompts))
                console.print()
            console.print(f"{len(digests)} digest(s) composed; add --post to send them.")
            return
        client = build_web_client(
            settings.slack_bot_token.get_secret_value(),  # type: ignore[union-attr]
            settings.slack_api_url,
            rate_limit_retries=settings.kam_slack_rate_limit_retries,
        )
        run = post_digests(SlackOut(client), digests, services.engine)
        skipped = f"; {run.skipped} already sent this week" if run.skipped else ""
        console.print(f"Sent {run.sent} digest(s){skipped}.")
        if run.failed:
            raise fail(f"{len(run.failed)} not sent (see the log): {', '.join(run.failed)}", 1)
    finally:
        services.close()
