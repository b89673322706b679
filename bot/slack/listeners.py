"""Listeners for messages: @mentions in channels and direct messages, answered in the thread.

A placeholder goes up first and is replaced in place by the answer; charts follow as
files in the same thread. A Slack thread is one assistant thread (`thread_id`), so
follow-ups keep their context. Anything failing on the way ends as one apology.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.slack.blocks import FeedbackRef, notice, render_answer
from store.access import UnknownUserError

if TYPE_CHECKING:
    from bot.slack.app import SlackBot

log = logging.getLogger(__name__)

REFUSAL = (
    "Sorry, I don't know you yet, so I can't show any account data. Ask your KAM Assistant "
    "admin to add your Slack user id {slack_user_id} to the users list (column slack_user_id)."
)
APOLOGY = "Sorry, something went wrong while answering. Please try again in a minute."
EMPTY_QUESTION = "Ask me about your accounts, e.g. “How is Acme doing?”, or type `/kam help`."
SLACK_MARKUP = re.compile(r"<([@#!]?)([^<>|]+)(?:\|([^<>]*))?>")


def thread_id(team_id: str | None, channel: str, thread_ts: str) -> str:
    """The assistant thread of a Slack thread: one per workspace, channel and thread root."""
    return f"slack:{team_id or '-'}:{channel}:{thread_ts}"


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


def placeholder_for(subject: str) -> str:
    subject = " ".join(subject.split())
    if len(subject) > 80:
        subject = subject[:79].rstrip() + "…"
    return f":hourglass_flowing_sand: Looking into {subject}…"


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


def log_error(error, body, logger) -> None:
    logger.error("Slack request failed: %s (type %s)", error, body.get("type"), exc_info=error)
