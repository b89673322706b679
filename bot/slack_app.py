"""The Slack app: Bolt listeners over `Assistant.answer`, built by `build_slack_app`.

Every request is verified by Bolt (signature and a 5-minute timestamp window).
An Events API delivery is then claimed by its event id (`EventLedger`, in the
database, so several workers share it) and acknowledged at once; a retried
delivery of an event already claimed gets a 200 and nothing else. The claimed
event goes through Bolt again, on to its listener, in the background here or in
a worker process (`bot.answer_workers`). Slash commands and buttons are
acknowledged by their ack function; the work runs in lazy listeners on a bounded
pool of its own, so a busy assistant never delays an acknowledgement. The bot's
own messages never reach a listener (Bolt's `ignoring_self_events`).

Answers go into the thread of the question: a placeholder first, replaced in
place by the answer; charts follow as files in the same thread. A Slack thread
is one assistant thread (`thread_id`), so follow-ups keep their context.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import shlex
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from pydantic import SecretStr
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.lazy_listener import ThreadLazyListenerRunner
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session, sessionmaker

from bot.assistant import Answer
from bot.blocks import (
    FEEDBACK_HELPFUL,
    FEEDBACK_NOT_HELPFUL,
    OPEN_SUMMARY,
    FeedbackRef,
    PortfolioGlance,
    SlackMessage,
    escape,
    glance_blocks,
    home_view,
    notice,
    render_answer,
    section,
)
from bot.blocks import context as context_block
from bot.config import Settings
from bot.slack_client import ChannelPacer, SlackOut, build_web_client
from bot.slack_store import EventLedger, FeedbackStore
from store.access import AccessScope, UnknownUserError

log = logging.getLogger(__name__)

REFUSAL = (
    "Sorry, I don't know you yet, so I can't show any account data. Ask your KAM Assistant "
    "admin to add your Slack user id {slack_user_id} to the users list (column slack_user_id)."
)
APOLOGY = "Sorry, something went wrong while answering. Please try again in a minute."
NOT_IN_CHANNEL = (
    "I can't post in this channel. Invite me with `/invite @KAM Assistant`, "
    "or run the command without --share to see the answer just for you."
)
HOME_FAILED = "Sorry, I could not load your portfolio just now. Please reopen this tab later."
EMPTY_QUESTION = "Ask me about your accounts, e.g. “How is Acme doing?”, or type `/kam help`."
# A response_url takes at most five messages; keep one for the charts note.
MAX_EPHEMERAL_MESSAGES = 4
# Context flag of an event already claimed and acknowledged, on its way to the listeners.
CLAIMED = "kam_event_claimed"


class PortfolioSource(Protocol):
    def glance(self, scope: AccessScope) -> PortfolioGlance: ...


class Answers(Protocol):
    """What Slack needs of the assistant: `Assistant`, or `AnswerWorkers` in other processes."""

    def resolve(self, *, slack_user_id: str) -> AccessScope: ...

    def answer(self, user: AccessScope, text: str, thread_id: str) -> Answer: ...


@dataclass
class SlackBot:
    """What the listeners need, built once by `build_slack_app` and passed to each of them."""

    assistant: Answers
    out: SlackOut
    ledger: EventLedger
    votes: FeedbackStore
    forward: Callable[[ClaimedEvent], object]
    portfolio: PortfolioSource | None = None

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

    def name_of(self, slack_user_id: str) -> str | None:
        try:
            return self.resolve(slack_user_id).name
        except UnknownUserError:
            return None


# ---------------------------------------------------------------- pure helpers


def thread_id(team_id: str | None, channel: str, thread_ts: str) -> str:
    """The assistant thread of a Slack thread: one per workspace, channel and thread root."""
    return f"slack:{team_id or '-'}:{channel}:{thread_ts}"


SLACK_MARKUP = re.compile(r"<([@#!]?)([^<>|]+)(?:\|([^<>]*))?>")


def question_text(
    text: str, bot_user_id: str | None, name_of: Callable[[str], str | None]
) -> str:
    """A Slack message as a plain question: the bot's mention removed, other markup as words."""

    def word(match: re.Match) -> str:
        sigil, target, label = match.groups()
        if sigil == "@":
            return "" if target == bot_user_id else (name_of(target) or label or "someone")
        if sigil == "#":
            return f"#{label or target}"
        if sigil == "!":
            return f"@{label or target.split('^')[0]}".replace("@@", "@")
        return label or target

    text = SLACK_MARKUP.sub(word, text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


@dataclass(frozen=True)
class KamCommand:
    name: str
    argument: str = ""
    share: bool = False


class CommandError(ValueError):
    """The /kam text could not be understood; the message says how to fix it."""


COMMANDS: dict[str, tuple[str, str]] = {
    "summary": ("ACCOUNT", "KPIs, trend and risks of one account"),
    "qbr": ("ACCOUNT", "prep notes for a QBR with the account"),
    "plan": ("ACCOUNT", "draft an account plan (saved as a new version)"),
    "risks": ("", "your accounts at risk of churn, with the warning signs"),
    "renewals": ("[DAYS]", "contracts ending in the next DAYS days (default 90)"),
    "portfolio": ("[@user|team]", "a portfolio roll-up: yours, a colleague's or a team's"),
    "ask": ("QUESTION", "any question, as in a message to me"),
    "help": ("", "this list"),
}


def parse_command(text: str) -> KamCommand:
    """`/kam` text as a command; `--share` anywhere posts the answer to the channel."""
    try:
        words = shlex.split(text or "")
    except ValueError:
        words = (text or "").split()
    share = "--share" in words
    words = [w for w in words if w != "--share"]
    if not words:
        return KamCommand("help", share=share)
    name, argument = words[0].lower(), " ".join(words[1:]).strip()
    if name not in COMMANDS:
        raise CommandError(f"Unknown command “{name}”.")
    placeholder = COMMANDS[name][0]
    if placeholder in ("ACCOUNT", "QUESTION") and not argument:
        raise CommandError(
            f"`/kam {name}` needs {placeholder.lower()}: `/kam {name} {placeholder}`."
        )
    if name == "renewals" and argument and not (argument.isdigit() and 1 <= int(argument) <= 730):
        raise CommandError(
            "`/kam renewals` takes a number of days from 1 to 730, e.g. `/kam renewals 60`."
        )
    return KamCommand(name, argument, share)


def command_question(command: KamCommand, name_of: Callable[[str], str | None]) -> tuple[str, str]:
    """The question a command stands for, and the title of its answer."""
    arg = command.argument
    if command.name == "summary":
        return f"Summarise the account {arg}", f"{arg}: account summary"
    if command.name == "qbr":
        return f"Prep notes for my QBR with {arg}", f"{arg}: QBR prep notes"
    if command.name == "plan":
        return f"Draft an account plan for {arg}", f"{arg}: account plan (draft)"
    if command.name == "risks":
        return "Which of my accounts are at risk of churn?", "Accounts at risk"
    if command.name == "renewals":
        days = int(arg or 90)
        return (f"Which renewals are due in the next {days} days?",
                f"Renewals in the next {days} days")
    if command.name == "portfolio":
        if not arg:
            return "Summarise my portfolio", "Portfolio"
        who = question_text(arg, None, name_of)
        if arg.startswith("<@"):
            return f"Summarise the portfolio of {who}", f"Portfolio of {who}"
        return f"Summarise the portfolio of team {who}", f"Portfolio of team {who}"
    return question_text(arg, None, name_of), ""


def help_message(prefix: str = "") -> SlackMessage:
    lines = [f"`/kam {name} {args}`".replace(" `", "`") + f": {what}"
             for name, (args, what) in COMMANDS.items()]
    body = (
        (f"{escape(prefix)}\n\n" if prefix else "")
        + "*What I can do*\n"
        + "\n".join(f"• {line}" for line in lines)
        + "\nAdd `--share` to post the answer in the channel; otherwise only you see it."
        + "\nYou can also mention me in a channel or write to me directly; "
        "reply in my thread (mentioning me in channels) to follow up."
    )
    return SlackMessage("KAM Assistant help", [section(body)])


def placeholder_for(subject: str) -> str:
    subject = " ".join(subject.split())
    if len(subject) > 80:
        subject = subject[:79].rstrip() + "…"
    return f":hourglass_flowing_sand: Looking into {subject}…"


# ---------------------------------------------------------------- answering


def answer_in_thread(
    bot: SlackBot,
    *,
    team_id: str | None,
    channel: str,
    slack_user_id: str,
    question: str,
    question_id: str,
    thread_ts: str | None,
    placeholder: str,
    title: str | None = None,
) -> None:
    """Resolve the user, post a placeholder, answer, and replace the placeholder with the answer.

    `thread_ts=None` starts a new thread at the placeholder (shared commands, App Home).
    Anything failing on the way ends as one apology in place of the placeholder.
    """
    try:
        scope = bot.resolve(slack_user_id)
    except UnknownUserError:
        refusal = notice(REFUSAL.format(slack_user_id=slack_user_id))
        bot.out.post(channel, refusal, thread_ts=thread_ts)
        return
    posted = bot.out.post(channel, notice(placeholder), thread_ts=thread_ts)
    channel, answer_ts = posted.get("channel") or channel, posted["ts"]
    thread_ts = thread_ts or answer_ts
    try:
        answer = bot.ask(scope, question, thread_id(team_id, channel, thread_ts))
        ref = FeedbackRef(question_id=question_id, answer_id=f"{channel}:{answer_ts}")
        first, *rest = render_answer(answer, title=title, feedback=ref)
        bot.out.update(channel, answer_ts, first)
        for message in rest:
            bot.out.post(channel, message, thread_ts=thread_ts)
    except Exception:
        log.exception("could not deliver the answer in %s", channel)
        _apologise(bot, channel, answer_ts)
        return
    for chart in answer.charts if answer.ok else []:
        try:
            bot.out.upload(channel, thread_ts, chart, chart.stem.replace("_", " ").capitalize())
        except Exception:
            log.exception("could not upload chart %s", chart.name)


def _apologise(bot: SlackBot, channel: str, ts: str) -> None:
    try:
        bot.out.update(channel, ts, notice(APOLOGY))
    except Exception:
        log.exception("could not post the apology in %s", channel)


# ---------------------------------------------------------------- listeners


def ack_now(ack) -> None:
    """Acknowledge at once; the lazy listener does the work."""
    ack()


class AckEventsOnce(Middleware):
    """Global middleware, after Bolt's verification: acknowledge each Events API delivery at
    once, and hand the first delivery of an event id on to its listener in the background.

    A retried delivery (same event id, here or in another worker) is acknowledged with a
    200 and dropped. Returning without next() must carry a response, or Bolt answers 404
    and Slack retries. A class, not a function: Bolt calls it without argument injection,
    which matters on this path.
    """

    def __init__(self, bot: SlackBot):
        self.bot = bot

    def process(self, *, req: BoltRequest, resp: BoltResponse, next) -> BoltResponse | None:
        body = req.body
        if body.get("type") != "event_callback" or req.context.get(CLAIMED):
            return next()
        event_id = body.get("event_id")
        if event_id and not self.bot.ledger.claim(event_id):
            log.info("event %s already taken; acknowledging the retry", event_id)
            return BoltResponse(status=200, body="")
        self.bot.forward(ClaimedEvent.of(req))
        return BoltResponse(status=200, body="")


@dataclass(frozen=True)
class ClaimedEvent:
    """An Events API delivery, verified, claimed and acknowledged, on its way to a listener.

    Plain data, so it can be handed to another process (`bot.answer_workers`).
    """

    body: str | dict
    headers: dict[str, list[str]]
    mode: str = "http"

    @classmethod
    def of(cls, req: BoltRequest) -> ClaimedEvent:
        body = req.raw_body if req.mode == "http" else req.body
        return cls(body, {k: list(v) for k, v in req.headers.items()}, req.mode)

    @property
    def event_id(self) -> str | None:
        body = json.loads(self.body) if isinstance(self.body, str) else self.body
        return body.get("event_id")


def dispatch_claimed(app: App, event: ClaimedEvent) -> None:
    """Run a claimed event through Bolt again (verification included) on to its listener."""
    request = BoltRequest(
        body=event.body, headers=event.headers, context={CLAIMED: True}, mode=event.mode
    )
    try:
        response = app.dispatch(request)
    except Exception:
        log.exception("dispatching event %s failed", event.event_id)
        return
    if response.status >= 400:
        # 401: it waited longer than Slack's five-minute window (a badly overloaded bot).
        log.error("event %s not handled: status %s", event.event_id, response.status)


def answer_mention(event, context, *, bot: SlackBot) -> None:
    """@mention in a channel: answer in the thread of the message."""
    _answer_message(bot, event, context)


def is_direct_message(event) -> bool:
    """A person's own message in a DM with the bot (not an edit, not another bot)."""
    return (
        event.get("channel_type") == "im" and not event.get("subtype") and not event.get("bot_id")
    )


def answer_direct_message(event, context, *, bot: SlackBot) -> None:
    """A message in the DM with the bot: answer in its thread."""
    _answer_message(bot, event, context)


def _answer_message(bot: SlackBot, event: dict, context) -> None:
    question = question_text(event.get("text", ""), context.bot_user_id, bot.name_of)
    channel, ts = event["channel"], event["ts"]
    thread_ts = event.get("thread_ts") or ts
    if not question:
        bot.out.post(channel, notice(EMPTY_QUESTION), thread_ts=thread_ts)
        return
    answer_in_thread(
        bot,
        team_id=context.team_id,
        channel=channel,
        slack_user_id=event["user"],
        question=question,
        question_id=f"{channel}:{ts}",
        thread_ts=thread_ts,
        placeholder=placeholder_for(f"“{question}”"),
    )


def ack_kam_command(ack, command) -> None:
    """Acknowledge `/kam` with help, a usage error, or the placeholder (only the caller sees it)."""
    try:
        parsed = parse_command(command.get("text", ""))
    except CommandError as error:
        ack(**help_message(str(error)).as_kwargs())
        return
    if parsed.name == "help":
        ack(**help_message().as_kwargs())
    elif parsed.share:
        ack()
    else:
        ack(**notice(placeholder_for(parsed.argument or parsed.name)).as_kwargs())


def run_kam_command(command, context, respond, *, bot: SlackBot) -> None:
    """The work of `/kam`: shared answers go to the channel, others only to the caller."""
    try:
        parsed = parse_command(command.get("text", ""))
    except CommandError:
        return
    if parsed.name == "help":
        return
    user = command["user_id"]
    try:
        scope = bot.resolve(user)
    except UnknownUserError:
        respond(response_type="ephemeral", replace_original=False,
                **notice(REFUSAL.format(slack_user_id=user)).as_kwargs())
        return
    question, title = command_question(parsed, bot.name_of)
    question_id = f"command:{command.get('trigger_id') or uuid.uuid4().hex}"
    if not parsed.share:
        _private_answer(bot, scope, command, respond, question, title, question_id)
        return
    try:
        answer_in_thread(
            bot,
            team_id=context.team_id,
            channel=command["channel_id"],
            slack_user_id=user,
            question=question,
            question_id=question_id,
            thread_ts=None,
            placeholder=placeholder_for(parsed.argument or parsed.name),
            title=title or None,
        )
    except SlackApiError as error:
        if error.response.get("error") not in ("not_in_channel", "channel_not_found"):
            raise
        respond(response_type="ephemeral", replace_original=False, text=NOT_IN_CHANNEL)


def _private_answer(bot, scope, command, respond, question, title, question_id) -> None:
    thread = thread_id(command.get("team_id"), command["channel_id"], question_id)
    answer = bot.ask(scope, question, thread)
    ref = FeedbackRef(question_id=question_id, answer_id=f"ephemeral:{uuid.uuid4().hex}")
    messages = render_answer(answer, title=title or None, feedback=ref)
    for message in messages[:MAX_EPHEMERAL_MESSAGES]:
        respond(response_type="ephemeral", replace_original=False, **message.as_kwargs())
    notes = []
    if len(messages) > MAX_EPHEMERAL_MESSAGES:
        notes.append("The answer is longer than I can show here")
    if answer.ok and answer.charts:
        notes.append(f"{len(answer.charts)} chart(s) are not shown")
    if notes:
        text = "; ".join(notes) + ": add `--share` to post it all in the channel."
        respond(response_type="ephemeral", replace_original=False,
                text=text, blocks=[context_block(text)])


def store_feedback(body, action, respond, *, bot: SlackBot) -> None:
    """A click on helpful / not helpful: stored with the question and answer ids."""
    try:
        ref = FeedbackRef.decode(action.get("value", ""))
    except (ValueError, KeyError, TypeError):
        log.warning("feedback button with an unreadable value")
        return
    slack_user_id = body["user"]["id"]
    try:
        user_id = bot.resolve(slack_user_id).user_id
    except UnknownUserError:
        user_id = None
    helpful = action["action_id"] == FEEDBACK_HELPFUL
    bot.votes.record(
        question_id=ref.question_id,
        answer_id=ref.answer_id,
        slack_user_id=slack_user_id,
        user_id=user_id,
        helpful=helpful,
    )
    thanks = "Thanks, noted as helpful." if helpful else "Thanks, noted as not helpful."
    respond(response_type="ephemeral", replace_original=False, text=thanks)


def publish_home(event, *, bot: SlackBot) -> None:
    """App Home: the user's portfolio at a glance, with buttons to open a summary."""
    if event.get("tab", "home") != "home":
        return
    user = event["user"]
    try:
        scope = bot.resolve(user)
    except UnknownUserError:
        bot.out.publish_home(user, home_view(notice(REFUSAL.format(slack_user_id=user)).blocks))
        return
    blocks = help_message(f"Hello {scope.name}.").blocks
    if bot.portfolio is not None:
        try:
            glance = bot.portfolio.glance(scope)
            blocks = glance_blocks(glance, buttons=True) + help_message().blocks
        except Exception:
            log.exception("portfolio glance failed for %s", scope.user_id)
            blocks = notice(HOME_FAILED).blocks + blocks
    bot.out.publish_home(user, home_view(blocks))


def open_summary(body, action, *, bot: SlackBot) -> None:
    """An App Home button: the account summary, posted in the DM with the user."""
    user = body["user"]["id"]
    name = action.get("value", "")
    answer_in_thread(
        bot,
        team_id=(body.get("team") or {}).get("id"),
        channel=user,  # posting to a user id writes into the app's DM with them
        slack_user_id=user,
        question=f"Summarise the account {name}",
        question_id=f"home:{action.get('action_ts', uuid.uuid4().hex)}",
        thread_ts=None,
        placeholder=placeholder_for(name),
        title=f"{name}: account summary",
    )


def ignore(ack) -> None:
    """Events the bot receives but does not answer (edits, channel chatter) still get a 200."""
    ack()


def log_error(error, body, logger) -> None:
    logger.error("Slack request failed: %s (type %s)", error, body.get("type"), exc_info=error)


# ---------------------------------------------------------------- the factory


class WorkPools(ThreadLazyListenerRunner):
    """Bolt's lazy-listener runner on a bounded pool of its own (acks never queue behind
    answers), plus the pool that takes claimed events on to their listeners."""

    def __init__(self, logger: logging.Logger, workers: int):
        super().__init__(
            logger=logger, executor=ThreadPoolExecutor(workers, thread_name_prefix="slack-work")
        )
        self.dispatcher = ThreadPoolExecutor(2, thread_name_prefix="slack-dispatch")

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
    client: WebClient | None = None,
    pacer: ChannelPacer | None = None,
    socket_mode: bool = False,
    forward_events: Callable[[ClaimedEvent], object] | None = None,
) -> App:
    """The Bolt app for `settings`, answering with `assistant`.

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
        portfolio=portfolio,
    )
    app.use(AckEventsOnce(bot))
    app.event("app_mention")(ack=ack_now, lazy=[_bind(answer_mention, bot)])
    app.event("message", matchers=[is_direct_message])(
        ack=ack_now, lazy=[_bind(answer_direct_message, bot)]
    )
    app.event("message")(ignore)
    app.event("app_home_opened")(ack=ack_now, lazy=[_bind(publish_home, bot)])
    app.command("/kam")(ack=ack_kam_command, lazy=[_bind(run_kam_command, bot)])
    for action_id in (FEEDBACK_HELPFUL, FEEDBACK_NOT_HELPFUL):
        app.action(action_id)(ack=ack_now, lazy=[_bind(store_feedback, bot)])
    app.action(re.compile(f"^{OPEN_SUMMARY}"))(ack=ack_now, lazy=[_bind(open_summary, bot)])
    app.error(log_error)
    return app


def shutdown_slack_app(app: App, *, wait: bool = True) -> None:
    """Stop taking work; with `wait`, finish the answers already under way (for a clean exit)."""
    runner = app.listener_runner
    work = runner.lazy_listener_runner
    # In the order work flows: claimed events, then acks, then the answers they started.
    dispatcher = work.dispatcher if isinstance(work, WorkPools) else None
    for executor in (dispatcher, runner.listener_executor, work.executor):
        if executor is not None:
            executor.shutdown(wait=wait, cancel_futures=not wait)
