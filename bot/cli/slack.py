"""`kam serve` (the Slack bot, over HTTP or Socket Mode) and `kam digest` (the weekly DMs)."""

from __future__ import annotations

import logging
import signal
from typing import Annotated

import typer
from sqlalchemy import text

from bot.assistant import Assistant
from bot.cli import common
from bot.cli.common import console, fail
from bot.config import Settings
from bot.factory import Services, build_services
from bot.slack.app import build_slack_app, shutdown_slack_app
from bot.slack.digest import compose_digests, post_digests
from bot.slack.egress import SlackOut, build_web_client
from bot.slack.server import EVENTS_PATH, HEALTH_PATH, SlackHttpServer
from bot.slack.workers import AnswerWorkers
from prompts import Prompts
from store.db import is_initialised
from tools.glance import KpiPortfolio

log = logging.getLogger(__name__)
SETUP = "see docs/slack-setup.md"


def _services(settings: Settings) -> Services:
    services = build_services(settings)
    if not is_initialised(services.engine):
        raise fail("the database has no data yet: run `kam demo-data` or `kam import` first", 1)
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


def _healthy(services: Services):
    def check() -> bool:
        with services.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True

    return check


def _stop(signum, frame) -> None:
    """SIGTERM (docker stop, systemd) ends serving like Ctrl-C: answers under way finish."""
    raise KeyboardInterrupt


def serve_command(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default KAM_SLACK_HOST, 0.0.0.0).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default KAM_SLACK_PORT, 3000).")
    ] = None,
    socket: Annotated[
        bool, typer.Option("--socket", help="Connect out over Socket Mode (SLACK_APP_TOKEN).")
    ] = False,
) -> None:
    """Run the Slack bot: Events API over HTTP, or Socket Mode with --socket."""
    settings = common.settings()
    updates = {k: v for k, v in {"kam_slack_host": host, "kam_slack_port": port}.items() if v}
    settings = settings.model_copy(update=updates)
    _check_credentials(settings, socket)
    services = _services(settings)
    assistant = _answers(settings, services, socket)
    app = build_slack_app(
        settings,
        assistant,
        services.sessions,
        portfolio=KpiPortfolio(services.sessions, as_of=settings.kam_as_of),
        socket_mode=socket,
        forward_events=assistant.forward if isinstance(assistant, AnswerWorkers) else None,
    )
    signal.signal(signal.SIGTERM, _stop)
    try:
        if socket:
            _serve_socket(app, settings)
        else:
            _serve_http(app, settings, services)
    except KeyboardInterrupt:
        console.print("Stopping: finishing the answers under way…")
    finally:
        shutdown_slack_app(app)
        assistant.close()
        services.close()


def _answers(settings: Settings, services: Services, socket: bool) -> Assistant | AnswerWorkers:
    """The assistant, in worker processes (KAM_SLACK_ANSWER_PROCESSES) or in this one."""
    processes = settings.kam_slack_answer_processes
    console.print(f"Loading the assistant ({processes or 'no'} worker processes)…")
    if processes:
        return AnswerWorkers(settings, services.sessions, processes, socket_mode=socket).start()
    from bot.factory import build_assistant  # heavy: the embedding model and the index

    return build_assistant(settings, services)


def _serve_http(app, settings: Settings, services: Services) -> None:
    host, port = settings.kam_slack_host, settings.kam_slack_port
    server = SlackHttpServer(app, host, port, healthy=_healthy(services))
    console.print(
        f"KAM Assistant listening on http://{host}:{port}{EVENTS_PATH} "
        f"(health: {HEALTH_PATH}); Ctrl-C to stop."
    )
    server.serve_forever()


def _serve_socket(app, settings: Settings) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    token = settings.slack_app_token.get_secret_value()  # type: ignore[union-attr]
    console.print("KAM Assistant connected over Socket Mode; Ctrl-C to stop.")
    SocketModeHandler(app, token).start()


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
        portfolio = KpiPortfolio(services.sessions, as_of=settings.kam_as_of)
        digests = compose_digests(services.sessions, portfolio)
        if only:
            digests = [d for d in digests if d.slack_user_id == only]
            if not digests:
                raise fail(f"no KAM or manager has the Slack user id {only}", 1)
        if not post:
            prompts = Prompts()
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
        sent, failed = post_digests(SlackOut(client), digests)
        console.print(f"Sent {sent} digest(s).")
        if failed:
            raise fail(f"{len(failed)} not sent (see the log): {', '.join(failed)}", 1)
    finally:
        services.close()
