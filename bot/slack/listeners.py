"""Listeners for messages: @mentions in channels and direct messages, answered in the thread,
and `answer_in_thread`, the one path every Slack surface answers through.

Where only the asker reads the thread (a DM, the assistant panel), or everyone in the
channel may see all the asker may see, the answer is written live: a status line while
tools run, then a streamed message (`bot.slack.streaming`). Elsewhere a placeholder goes
up first and is replaced by what every member of the channel may see
(`bot.slack.disclosure`); what only the asker may see reaches them privately. Charts
follow as files where the whole answer may go. A Slack thread is one assistant thread
(`thread_id`), so follow-ups keep their context. Anything failing on the way ends as one
apology.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from slack_sdk.models.blocks import Block

from bot.assistant import Answer
from bot.progress import Finished, Started, TextDelta, ToolFinished, ToolStarted
from bot.slack.blocks import (
    CHOICE_BLOCK,
    ChoiceRef,
    FeedbackRef,
    SlackMessage,
    context,
    decode_choice,
    notice,
    render_answer,
)
from bot.slack.disclosure import (
    SENSITIVE_KPIS,
    Audience,
    AudienceScope,
    Disclosure,
    footprint_of,
    without_sensitive,
)
from bot.slack.formatting import escape, truncate
from bot.slack.streaming import Place, Status, StreamWriter, post_privately
from store.access import AccessScope, UnknownUserError

if TYPE_CHECKING:
    from bot.slack.app import SlackBot

log = logging.getLogger(__name__)

REFUSAL = (
    "Sorry, I don't know you yet, so I can't show any account data. Ask your KAM Assistant "
    "admin to add your Slack user id {slack_user_id} to the users list (column slack_user_id)."
)
APOLOGY = "Sorry, something went wrong while answering. Please try again in a minute."
EMPTY_QUESTION = "Ask me about your accounts, e.g. “How is Acme doing?”, or type `/kam help`."
CHARTS_PRIVATE = "{count} chart(s) are not shown here: ask me in a direct message to see them."
SLACK_MARKUP = re.compile(r"<([@#!]?)([^<>|]+)(?:\|([^<>]*))?>")
THINKING = "Reading the question"
NOT_YOUR_CHOICE = "Only {asker} can pick here: ask me yourself to get choices of your own."
PICKED = ":white_check_mark: You picked {choice}"
MAX_EPHEMERAL_MESSAGES = 4  # private replies through a response_url, at most
TITLE_LIMIT = 80


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


def is_private(channel: str) -> bool:
    """A DM with the bot (posting to a user id writes into it)."""
    return channel.startswith(("D", "U", "W"))


@dataclass(frozen=True)
class Delivered:
    """An answer that reached Slack: where, and whether the whole of it went to the
    conversation (else the asker alone saw all of it, privately)."""

    answer: Answer
    place: Place
    public: bool

    @property
    def whole(self) -> bool:
        """The whole answer, not an apology, is in the conversation for everyone there."""
        return self.public and self.answer.ok


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
    panel: bool = False,
) -> Delivered | None:
    """Resolve the user and answer in the thread, as the audience of `channel` may see it;
    None when nothing was answered (a stranger, or the answer could not be delivered).

    `thread_ts=None` starts a new thread (shared commands, App Home); otherwise the reply
    goes under the asker's message, live where the audience allows. In the assistant
    `panel` the first question also titles the thread.
    """
    try:
        scope = bot.resolve(slack_user_id)
    except UnknownUserError:
        refusal = notice(REFUSAL.format(slack_user_id=slack_user_id))
        bot.out.post(channel, refusal, thread_ts=thread_ts)
        return None
    audience = Audience.only(scope) if is_private(channel) else bot.audiences.of(channel, scope)
    if thread_ts is not None and bot.policy.sees_all_of(audience, scope):
        place = Place(channel, thread_ts, slack_user_id, team_id)
        return _answer_live(bot, scope, place, question, question_id, panel=panel)
    return _answer_for_audience(bot, scope, audience, channel=channel, team_id=team_id,
                                slack_user_id=slack_user_id, question=question,
                                question_id=question_id, thread_ts=thread_ts,
                                placeholder=placeholder, title=title)


# ---------------------------------------------------------------- live: status, stream


def _answer_live(bot: SlackBot, scope: AccessScope, place: Place, question: str,
                 question_id: str, *, panel: bool) -> Delivered | None:
    status = Status(bot.out.client, place)
    status.show(THINKING)
    writer = StreamWriter(bot.out, place)
    answer = Answer(APOLOGY, ok=False)
    thread = thread_id(place.team_id, place.channel, place.thread_ts)
    try:
        for event in bot.events(scope, question, thread):
            if isinstance(event, Started) and panel and event.first_turn:
                bot.set_title(place, truncate(question, TITLE_LIMIT))
            elif isinstance(event, ToolStarted):
                phrase = event.phrase()
                status.show(phrase)
                writer.task(event.call_id, phrase, "in_progress")
            elif isinstance(event, ToolFinished):
                phrase = writer.tasks.get(event.call_id, "Looking it up")
                writer.task(event.call_id, phrase, "complete" if event.ok else "error")
            elif isinstance(event, TextDelta):
                writer.text(event.text)
            elif isinstance(event, Finished):
                answer = event.answer
    except Exception:
        log.exception("the assistant failed on a question from %s", scope.user_id)
        answer = Answer(APOLOGY, ok=False)
    try:
        writer.finish(answer, question_id, ChoiceRef(place.slack_user_id, thread))
    except Exception:
        log.exception("could not deliver the answer in %s", place.channel)
        status.show("")
        _apologise(bot, place.channel, writer.ts, place.thread_ts)
        return None
    _upload_charts(bot, answer, place.channel, place.thread_ts)
    return Delivered(answer, place, public=True)


# ---------------------------------------------------------------- channels: what all may see


def _answer_for_audience(
    bot: SlackBot, scope: AccessScope, audience: Audience, *, channel: str,
    team_id: str | None, slack_user_id: str, question: str, question_id: str,
    thread_ts: str | None, placeholder: str, title: str | None,
) -> Delivered | None:
    posted = bot.out.post(channel, notice(placeholder), thread_ts=thread_ts)
    channel, answer_ts = posted.get("channel") or channel, posted["ts"]
    thread_ts = thread_ts or answer_ts
    thread = thread_id(team_id, channel, thread_ts)
    place = Place(channel, thread_ts, slack_user_id, team_id)
    status = Status(bot.out.client, place)
    try:
        answer = _answer_with_status(bot, scope, question, thread, status)
        decision = bot.policy.decide(audience, scope, footprint_of(answer, bot.accounts(scope)))
        public = _public_answer(bot, audience, scope, answer, decision, question, thread)
        ref = FeedbackRef(question_id=question_id, answer_id=f"{channel}:{answer_ts}")
        # The asker's own choices only on the asker's own answer (not on a shared one).
        choice = ChoiceRef(slack_user_id, thread) if public is answer else None
        messages = [notice(decision.note or APOLOGY)] if public is None else render_answer(
            public, title=title, feedback=ref, note=decision.note, choice=choice)
        first, *rest = messages
        bot.out.update(channel, answer_ts, first)
        for message in rest:
            bot.out.post(channel, message, thread_ts=thread_ts)
        if decision.private:
            private_ref = FeedbackRef(question_id=question_id,
                                      answer_id=f"ephemeral:{channel}:{answer_ts}")
            note = CHARTS_PRIVATE.format(count=len(answer.charts)) if answer.charts else None
            post_privately(bot.out, place, render_answer(
                answer, title=title, feedback=private_ref, note=note,
                choice=ChoiceRef(slack_user_id, thread)))
    except Exception:
        log.exception("could not deliver the answer in %s", channel)
        _apologise(bot, channel, answer_ts, thread_ts)
        return None
    finally:
        status.show("")  # the placeholder was replaced in place: Slack would keep the status
    if decision.show == "all":
        _upload_charts(bot, answer, channel, thread_ts)
    return Delivered(answer, place, public=decision.show == "all")


def _answer_with_status(bot: SlackBot, scope: AccessScope, question: str, thread: str,
                        status: Status) -> Answer:
    """The answer, with each step on the status line, without account names: not every
    member of the channel may know which accounts the asker has."""
    answer = Answer(APOLOGY, ok=False)
    for event in bot.events(scope, question, thread):
        if isinstance(event, ToolStarted):
            status.show(event.phrase(named=False))
        elif isinstance(event, Finished):
            answer = event.answer
    return answer


def _public_answer(bot: SlackBot, audience: Audience, scope: AccessScope, answer: Answer,
                   decision: Disclosure, question: str, thread: str) -> Answer | None:
    """What of `answer` goes to the channel (None: nothing but the note)."""
    if decision.show == "all" or not answer.ok:
        return answer
    if decision.show == "without_sensitive":
        return replace(answer, text=without_sensitive(answer.text), charts=[],
                       figures=[f for f in answer.figures if f.kpi not in SENSITIVE_KPIS])
    if decision.show == "shared":
        # The same question, answered for everyone present: the tools see only the accounts
        # every member may see (its own thread memory: never mixed with the asker's).
        everyone = AudienceScope.of(scope, audience.members)
        shared = bot.ask(everyone, question, f"{thread}:shared")
        if not shared.ok:
            return None
        shown = footprint_of(shared, bot.accounts(everyone))
        reach = bot.policy.shared_accounts(audience)
        if shown.sensitive and not bot.policy.may_see_sensitive(audience, reach):
            shared = replace(shared, text=without_sensitive(shared.text))
        return replace(shared, charts=[])
    return None


# ---------------------------------------------------------------- shared steps


def _upload_charts(bot: SlackBot, answer: Answer, channel: str, thread_ts: str) -> None:
    for chart in answer.charts if answer.ok else []:
        try:
            bot.out.upload(channel, thread_ts, chart, chart.stem.replace("_", " ").capitalize())
        except Exception:
            log.exception("could not upload chart %s", chart.name)


def _apologise(bot: SlackBot, channel: str, ts: str | None, thread_ts: str | None) -> None:
    try:
        if ts is None:
            bot.out.post(channel, notice(APOLOGY), thread_ts=thread_ts)
        else:
            bot.out.update(channel, ts, notice(APOLOGY))
    except Exception:
        log.exception("could not post the apology in %s", channel)


# ---------------------------------------------------------------- the listeners


def answer_mention(event, context, *, bot: SlackBot) -> None:
    """@mention in a channel: answer in the thread of the message."""
    answer_message(bot, event, context)


def is_direct_message(event) -> bool:
    """A person's own message in a DM with the bot (not an edit, not another bot)."""
    return (
        event.get("channel_type") == "im" and not event.get("subtype") and not event.get("bot_id")
    )


def answer_direct_message(event, context, *, bot: SlackBot) -> None:
    """A message in the DM with the bot: answer in its thread."""
    answer_message(bot, event, context)


def answer_message(bot: SlackBot, event: dict, context, *, panel: bool = False) -> None:
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
        panel=panel,
    )


def pick_choice(body, action, respond, *, bot: SlackBot) -> None:
    """A numbered choice pressed: answered as if the asker had replied with its number, in
    the thread it was offered in (privately where it was offered privately)."""
    number, label, ref = decode_choice(action.get("value") or "{}")
    user = body["user"]["id"]
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id", "")
    thread_ts = container.get("thread_ts") or (body.get("message") or {}).get("thread_ts")
    if user != ref.asker:
        respond(response_type="ephemeral", replace_original=False, **notice(
            NOT_YOUR_CHOICE.format(asker=bot.name_of(ref.asker) or "the person who asked")
        ).as_kwargs())
        return
    picked = f"{number}. {label}"
    if container.get("is_ephemeral") or not thread_ts:
        # Offered in a private reply (`/kam`): answered privately in the same conversation.
        scope = bot.resolve(user)
        answer = bot.ask(scope, str(number), ref.thread)
        respond(response_type="ephemeral", replace_original=True,
                **notice(PICKED.format(choice=picked)).as_kwargs())
        respond_privately(respond, answer, choice=ref)
        return
    _mark_picked(bot, channel, body.get("message") or {}, picked)
    answer_in_thread(
        bot, team_id=(body.get("team") or {}).get("id"), channel=channel, slack_user_id=user,
        question=str(number), question_id=f"choice:{action.get('action_ts', '')}",
        thread_ts=thread_ts, placeholder=placeholder_for(label),
    )


def respond_privately(respond, answer: Answer, *, title: str | None = None,
                      feedback: FeedbackRef | None = None, choice: ChoiceRef | None = None
                      ) -> None:
    """An answer through a `response_url`, seen by the user alone: at most
    MAX_EPHEMERAL_MESSAGES messages, then a line saying what could not be shown."""
    messages = render_answer(answer, title=title, feedback=feedback, choice=choice)
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
                text=text, blocks=[context(text)])


def _mark_picked(bot: SlackBot, channel: str, message: dict, picked: str) -> None:
    """The offer, with its buttons replaced by what was picked (nobody presses twice)."""
    ts = message.get("ts")
    if not ts:
        return
    blocks = [block for raw in message.get("blocks") or []
              if raw.get("block_id") != CHOICE_BLOCK and (block := Block.parse(raw)) is not None]
    blocks.append(context(PICKED.format(choice=escape(picked))))
    try:
        bot.out.update(channel, ts, SlackMessage(message.get("text") or picked, blocks))
    except Exception:
        log.exception("could not mark the choice picked in %s", channel)


def log_error(error, body, logger) -> None:
    logger.error("Slack request failed: %s (type %s)", error, body.get("type"), exc_info=error)
