"""`/kam`: its grammar (`parse_command`), the ack (help, usage errors, a placeholder) and the
work: answers only the caller sees, or with `--share` posted in the channel's thread; with
`--canvas`, `/kam plan` also publishes the plan as a Slack canvas (`bot.slack.canvas`)."""

from __future__ import annotations

import shlex
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError

from bot.slack import decks
from bot.slack.blocks import (
    ChoiceRef,
    FeedbackRef,
    SlackMessage,
    escape,
    notice,
    section,
)
from bot.slack.canvas import publish_plans
from bot.slack.listeners import (
    REFUSAL,
    Delivered,
    answer_in_thread,
    placeholder_for,
    question_text,
    respond_privately,
    thread_id,
)
from bot.slack.streaming import post_privately
from store.access import UnknownUserError

if TYPE_CHECKING:
    from bot.slack.app import SlackBot

NOT_IN_CHANNEL = (
    "I can't post in this channel. Invite me with `/invite @KAM Assistant`, "
    "or run the command without --share to see the answer just for you."
)
# A response_url takes at most five messages; keep one for the charts note.


@dataclass(frozen=True)
class KamCommand:
    name: str
    argument: str = ""
    share: bool = False
    deck: bool = False  # `/kam qbr ACCOUNT --deck`: the QBR deck (PPTX) too
    canvas: bool = False  # `/kam plan`: publish the plan as a Slack canvas too


CANVAS_ONLY_FOR_PLANS = (
    "`--canvas` publishes an account plan: use it with `/kam plan ACCOUNT --canvas`.")


class CommandError(ValueError):
    """The /kam text could not be understood; the message says how to fix it."""


COMMANDS: dict[str, tuple[str, str]] = {
    "summary": ("ACCOUNT", "KPIs, trend and risks of one account"),
    "qbr": ("ACCOUNT", "prep notes for a QBR with the account; add `--deck` for the slides "
            "(PPTX)"),
    "plan": ("ACCOUNT", "draft an account plan (saved as a new version); add `--canvas` to "
                        "publish it as a Slack canvas, updated by later versions"),
    "risks": ("", "your accounts at risk of churn, with the warning signs"),
    "renewals": ("[DAYS]", "contracts ending in the next DAYS days (default 90)"),
    "portfolio": ("[@user|team]", "a portfolio roll-up: yours, a colleague's or a team's"),
    "ask": ("QUESTION", "any question, as in a message to me"),
    "help": ("", "this list"),
}


def parse_command(text: str) -> KamCommand:
    """`/kam` text as a command; `--share` anywhere posts the answer to the channel, `--deck`
    (with `qbr` only) adds the QBR deck, and `--canvas` (with `plan` only) publishes the plan
    as a canvas."""
    try:
        words = shlex.split(text or "")
    except ValueError:
        words = (text or "").split()
    share, deck, canvas = "--share" in words, "--deck" in words, "--canvas" in words
    words = [w for w in words if w not in ("--share", "--deck", "--canvas")]
    if not words:
        if canvas:
            raise CommandError(CANVAS_ONLY_FOR_PLANS)
        return KamCommand("help", share=share)
    name, argument = words[0].lower(), " ".join(words[1:]).strip()
    if name not in COMMANDS:
        raise CommandError(f"Unknown command “{name}”.")
    if deck and name != "qbr":
        raise CommandError(f"`--deck` goes with `/kam qbr ACCOUNT`, not with `/kam {name}`.")
    if canvas and name != "plan":
        raise CommandError(CANVAS_ONLY_FOR_PLANS)
    placeholder = COMMANDS[name][0]
    if placeholder in ("ACCOUNT", "QUESTION") and not argument:
        raise CommandError(
            f"`/kam {name}` needs {placeholder.lower()}: `/kam {name} {placeholder}`."
        )
    if name == "renewals" and argument and not (argument.isdigit() and 1 <= int(argument) <= 730):
        raise CommandError(
            "`/kam renewals` takes a number of days from 1 to 730, e.g. `/kam renewals 60`."
        )
    return KamCommand(name, argument, share, deck, canvas)


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
        + "\nAdd `--share` to post the answer in the channel; otherwise only you see it "
        "(and a `--deck` comes to our direct messages)."
        + "\nYou can also mention me in a channel or write to me directly; "
        "reply in my thread (mentioning me in channels) to follow up."
    )
    return SlackMessage("KAM Assistant help", [section(body)])


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
        _private_answer(bot, scope, command, respond, question, title, question_id,
                        canvas=parsed.canvas)
        if parsed.deck:
            decks.send_privately(bot, scope, parsed.argument, user, respond)
        return
    try:
        delivered = answer_in_thread(
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
        return
    if parsed.canvas and delivered is not None and delivered.answer.ok:
        note = publish_plans(bot, scope, user, context.team_id, delivered.answer.saved_plans)
        if delivered.public:
            bot.out.post(delivered.place.channel, note, thread_ts=delivered.place.thread_ts)
        else:  # the channel did not see the whole plan: nor does it see where it is
            post_privately(bot.out, delivered.place, [note])
    if parsed.deck and delivered is not None:
        _deck_in_thread(bot, scope, parsed.argument, delivered)


def _deck_in_thread(bot, scope, account: str, delivered: Delivered) -> None:
    """The deck goes where the whole prep note went; elsewhere the thread says why not."""
    place = delivered.place
    if delivered.whole:
        decks.attach_to_thread(bot, scope, account, place.channel, place.thread_ts)
    else:
        decks.refuse_in_thread(bot, account, place.channel, place.thread_ts)


def _private_answer(bot, scope, command, respond, question, title, question_id, *,
                    canvas: bool) -> None:
    thread = thread_id(command.get("team_id"), command["channel_id"], question_id)
    answer = bot.ask(scope, question, thread)
    ref = FeedbackRef(question_id=question_id, answer_id=f"ephemeral:{uuid.uuid4().hex}")
    respond_privately(respond, answer, title=title or None, feedback=ref,
                      choice=ChoiceRef(command["user_id"], thread))
    if canvas and answer.ok:
        note = publish_plans(bot, scope, command["user_id"], command.get("team_id"),
                             answer.saved_plans)
        respond(response_type="ephemeral", replace_original=False, **note.as_kwargs())
