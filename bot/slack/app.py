"""The Slack app: `build_slack_app` wires Bolt's listeners to `Assistant.answer`.

Slash commands and buttons are acknowledged by their ack function; the work runs in
lazy listeners on a bounded pool of its own, so a busy assistant never delays an
acknowledgement. The bot's own messages never reach a listener (Bolt's
`ignoring_self_events`). Events are acknowledged by `ingress.AckEventsOnce`; the
assistant panel's events go to Bolt's `Assistant` (`bot.slack.panel`).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import SecretStr
from slack_bolt import App
from slack_bolt import Assistant as AssistantPanel
from slack_bolt.lazy_listener import ThreadLazyListenerRunner
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session, sessionmaker

from bot.assistant import Answer
from bot.config import Settings
from bot.factory import kpi_config
from bot.progress import AnswerEvent, Finished
from bot.slack.audience import Audiences, TtlCache
from bot.slack.blocks import (
    CHOICE,
    EXPLAIN,
    FEEDBACK,
    FEEDBACK_HELPFUL,
    FEEDBACK_NOT_HELPFUL,
    OPEN_SUMMARY,
)
from bot.slack.commands import ack_kam_command, run_kam_command
from bot.slack.decks import DeckSource
from bot.slack.disclosure import DisclosurePolicy
from bot.slack.egress import ChannelPacer, SlackOut, build_web_client
from bot.slack.explain import show_the_math
from bot.slack.feedback import FeedbackStore, store_feedback
from bot.slack.home import open_summary, publish_home
from bot.slack.ingress import (
    AckEventsOnce,
    ClaimedEvent,
    EventLedger,
    ack_now,
    dispatch_claimed,
    ignore,
)
from bot.slack.listeners import (
    APOLOGY,
    answer_direct_message,
    answer_mention,
    is_direct_message,
    log_error,
    pick_choice,
)
from bot.slack.panel import answer_in_panel, change_context, start_thread
from bot.slack.streaming import Place
from prompts.explanation import Explanation
from store.access import AccessScope, UnknownUserError
from tools.find import find_accounts, tokens
from tools.glance import PortfolioGlance
from tools.kpi_config import KpiConfig

log = logging.getLogger(__name__)


class PortfolioSource(Protocol):
    def glance(self, scope: AccessScope) -> PortfolioGlance: ...


class Answers(Protocol):
    """What Slack needs of the assistant: `Assistant`, or `AnswerWorkers` in other processes."""

    def resolve(self, *, slack_user_id: str) -> AccessScope: ...

    def answer(self, user: AccessScope, text: str, thread_id: str) -> Answer: ...


# Words in channel names that say what a channel is for, not which account it is about.
CHANNEL_WORDS = frozenset({
    "acct", "account", "accounts", "customer", "cust", "client", "ext", "external", "shared",
    "team", "kam", "qbr", "deal", "deals", "sales", "project", "proj", "int", "internal",
})


@dataclass
class SlackBot:
    """What the listeners need, built once by `build_slack_app` and passed to each of them."""

    assistant: Answers
    out: SlackOut
    ledger: EventLedger
    votes: FeedbackStore
    forward: Callable[[ClaimedEvent], object]
    sessions: sessionmaker[Session]
    portfolio: PortfolioSource | None = None
    decks: DeckSource | None = None
    kpi_config: KpiConfig = field(default_factory=KpiConfig)  # as the agent's tools have it
    explanation: Explanation = field(default_factory=Explanation)  # "Explain", for people
    audiences: Audiences = field(init=False)
    policy: DisclosurePolicy = field(init=False)
    _visible: TtlCache = field(init=False)

    def __post_init__(self) -> None:
        self.audiences = Audiences(self.out.client, self.resolve)
        self.policy = DisclosurePolicy(self.visible)
        self._visible = TtlCache(60.0)

    def resolve(self, slack_user_id: str) -> AccessScope:
        """The caller's scope from their verified Slack user id; UnknownUserError if unknown."""
        return self.assistant.resolve(slack_user_id=slack_user_id)

    def ask(self, scope: AccessScope, question: str, thread_id: str) -> Answer:
        """`Assistant.answer`, with any exception turned into one short apology."""
        try:
            return self.assistant.answer(scope, question, thread_id)
        except Exception:
            log.exception("the assistant failed on a question from %s", scope.user_id)
            return Answer(APOLOGY, ok=False)

    def events(self, scope: AccessScope, question: str, thread_id: str) -> Iterator[AnswerEvent]:
        """`Assistant.stream` where the assistant streams (in this process); else the answer."""
        stream = getattr(self.assistant, "stream", None)
        if stream is None:
            yield Finished(self.ask(scope, question, thread_id))
            return
        yield from stream(scope, question, thread_id)

    def name_of(self, slack_user_id: str) -> str | None:
        try:
            return self.resolve(slack_user_id).name
        except UnknownUserError:
            return None

    def visible(self, scope: AccessScope) -> frozenset[str]:
        """The account ids `scope` may see (kept a minute: the disclosure policy asks often)."""
        def load() -> frozenset[str]:
            with self.sessions() as session:
                return frozenset(session.scalars(scope.visible_account_ids()))
        return self._visible.get((scope.user_id, scope.role, scope.team), load)

    def accounts(self, scope: AccessScope) -> Callable[[str], tuple[str, str] | None]:
        """(id, name) of the account a reference means within `scope`, or None."""
        def lookup(ref: str) -> tuple[str, str] | None:
            with self.sessions() as session:
                found = find_accounts(session, scope, ref)
            return (found.match.account_id, found.match.name) if found.match else None
        return lookup

    def account_channel(self, channel: str, scope: AccessScope) -> str | None:
        """The account a channel is about, by its name (#acme-industrial), if `scope` sees it."""
        try:
            name = self.out.client.conversations_info(channel=channel)["channel"].get("name")
        except SlackApiError as error:
            log.info("no name for channel %s: %s", channel, error.response.get("error"))
            return None
        words = [w for w in tokens(name or "") if w not in CHANNEL_WORDS]
        found = self.accounts(scope)(" ".join(words)) if words else None
        return found[1] if found else None

    def set_title(self, place: Place, title: str) -> None:
        """Title an assistant thread (in the panel's history) after its first question."""
        try:
            self.out.client.assistant_threads_setTitle(
                channel_id=place.channel, thread_ts=place.thread_ts, title=title)
        except SlackApiError as error:
            log.info("no title for %s: %s", place.channel, error.response.get("error"))


class WorkPools(ThreadLazyListenerRunner):
    """Bolt's lazy-listener runner on a bounded pool of its own (acks never queue behind
    answers), plus the pool that takes claimed events on to their listeners."""

    def __init__(self, logger: logging.Logger, workers: int):
        super().__init__(
            logger=logger, executor=ThreadPoolExecutor(workers, thread_name_prefix="slack-work")
        )
        self.dispatcher = ThreadPoolExecutor(2, thread_name_prefix="slack-dispatch")
        self.on_shutdown: list[Callable[[], object]] = []  # after the work is done

    def dispatch(self, app: App, event: ClaimedEvent) -> None:
        self.dispatcher.submit(dispatch_claimed, app, event)


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value else ""


def _bind(function: Callable, bot: SlackBot) -> Callable:
    """`function` with `bot` filled in; Bolt still sees (and injects) its other arguments."""
    return functools.update_wrapper(functools.partial(function, bot=bot), function)


def build_slack_app(
    settings: Settings,
    assistant: Answers,
    sessions: sessionmaker[Session],
    *,
    portfolio: PortfolioSource | None = None,
    decks: DeckSource | None = None,
    client: WebClient | None = None,
    pacer: ChannelPacer | None = None,
    socket_mode: bool = False,
    forward_events: Callable[[ClaimedEvent], object] | None = None,
) -> App:
    """The Bolt app for `settings`, answering with `assistant`.

    `decks` makes the QBR decks of `/kam qbr ACCOUNT --deck`.
    `client` defaults to a WebClient on `settings.slack_api_url` with rate-limit retries.
    Claimed events go on to their listeners in this process, or through `forward_events`
    (`AnswerWorkers.forward`: to the worker processes, which run this same app).
    Request verification is always on; Socket Mode requests are not signed (the
    WebSocket is authenticated by the app token) and Bolt skips the check for them.
    """
    token = _secret(settings.slack_bot_token)
    secret = _secret(settings.slack_signing_secret)
    if not token:
        raise ValueError("SLACK_BOT_TOKEN is not set: see docs/slack-setup.md")
    if not secret and not socket_mode:
        raise ValueError("SLACK_SIGNING_SECRET is not set: see docs/slack-setup.md")
    client = client or build_web_client(
        token, settings.slack_api_url, rate_limit_retries=settings.kam_slack_rate_limit_retries
    )
    app = App(
        client=client,  # carries the token
        signing_secret=secret or "socket-mode-requests-are-not-signed",
        process_before_response=False,
        request_verification_enabled=True,
        ignoring_self_events_enabled=True,
        listener_executor=ThreadPoolExecutor(32, thread_name_prefix="slack-ack"),
    )
    pools = WorkPools(app.logger, settings.kam_slack_workers)
    app.listener_runner.lazy_listener_runner = pools
    bot = SlackBot(
        assistant=assistant,
        out=SlackOut(client, pacer),
        ledger=EventLedger(sessions.kw["bind"], ttl_s=settings.kam_slack_event_ttl_s),
        votes=FeedbackStore(sessions),
        forward=forward_events or functools.partial(pools.dispatch, app),
        sessions=sessions,
        portfolio=portfolio,
        decks=decks,
        kpi_config=kpi_config(settings),
        explanation=Explanation(settings.kam_reporting_currency, settings.kam_locale,
                                settings.kam_fiscal_year_start),
    )
    pools.on_shutdown.append(bot.ledger.close)  # its connection goes back to the pool
    app.use(AckEventsOnce(bot))
    panel = AssistantPanel(logger=app.logger)
    panel.thread_started(lazy=[_bind(start_thread, bot)])(ack_now)
    panel.thread_context_changed(lazy=[_bind(change_context, bot)])(ack_now)
    panel.user_message(lazy=[_bind(answer_in_panel, bot)])(ack_now)
    app.assistant(panel)
    app.event("app_mention")(ack=ack_now, lazy=[_bind(answer_mention, bot)])
    app.event("message", matchers=[is_direct_message])(
        ack=ack_now, lazy=[_bind(answer_direct_message, bot)]
    )
    app.event("message")(ignore)
    app.event("app_home_opened")(ack=ack_now, lazy=[_bind(publish_home, bot)])
    app.command("/kam")(ack=ack_kam_command, lazy=[_bind(run_kam_command, bot)])
    for action_id in (FEEDBACK, FEEDBACK_HELPFUL, FEEDBACK_NOT_HELPFUL):
        app.action(action_id)(ack=ack_now, lazy=[_bind(store_feedback, bot)])
    app.action(re.compile(f"^{OPEN_SUMMARY}"))(ack=ack_now, lazy=[_bind(open_summary, bot)])
    app.action(re.compile(f"^{CHOICE}"))(ack=ack_now, lazy=[_bind(pick_choice, bot)])
    app.action(EXPLAIN)(ack=ack_now, lazy=[_bind(show_the_math, bot)])
    app.error(log_error)
    return app


def shutdown_slack_app(app: App, *, wait: bool = True) -> None:
    """Stop taking work; with `wait`, finish the answers already under way (for a clean exit)."""
    runner = app.listener_runner
    work = runner.lazy_listener_runner
    # In the order work flows: claimed events, then acks, then the answers they started.
    dispatcher = work.dispatcher if isinstance(work, WorkPools) else None
    answers = work.executor if isinstance(work, ThreadLazyListenerRunner) else None
    for executor in (dispatcher, runner.listener_executor, answers):
        if executor is not None:
            executor.shutdown(wait=wait, cancel_futures=not wait)
    for release in work.on_shutdown if isinstance(work, WorkPools) else []:
        release()
