"""The assistant panel: Slack's split view for AI apps, through Bolt's `Assistant`.

A user who opens a thread with the assistant gets a short greeting and suggested prompts
chosen for their role; while they view a channel that is about one of their accounts
(its name names the account, as in #acme-industrial or #acct-globex), the prompts are
about that account, and they change as the user moves between channels. Messages in the
panel are answered like direct messages, live, through the same `Assistant.answer`
(its streaming twin), and the first question titles the thread.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.slack.blocks import notice
from bot.slack.listeners import REFUSAL, answer_message, is_private
from store.access import AccessScope, UnknownUserError

if TYPE_CHECKING:
    from bot.slack.app import SlackBot

log = logging.getLogger(__name__)

GREETING = "Hi {name}. Ask me about your accounts, or pick one of the suggestions below."
PROMPTS_TITLE = "Try asking:"
MAX_PROMPTS = 4  # Slack shows at most four suggested prompts

ROLE_PROMPTS: dict[str, list[tuple[str, str]]] = {
    "kam": [
        ("My at-risk accounts", "Which of my accounts are at risk of churn?"),
        ("Prep my next QBR", "Prep notes for my next QBR"),
        ("Renewals this quarter", "Which renewals are due this quarter?"),
        ("How to run a QBR", "How should I prepare a QBR?"),
    ],
    "manager": [
        ("Team portfolio", "Summarise my team's accounts"),
        ("Biggest movers this month", "Which accounts grew the most this month?"),
        ("Who needs help", "Which of my team's accounts are at risk?"),
        ("Renewals this quarter", "Which renewals are due this quarter?"),
    ],
    "admin": [
        ("All accounts", "Summarise the portfolio"),
        ("Biggest movers this month", "Which accounts grew the most this month?"),
        ("Accounts at risk", "Which accounts are at risk of churn?"),
        ("Renewals this quarter", "Which renewals are due this quarter?"),
    ],
}
ACCOUNT_PROMPTS = [
    ("How is {name} doing?", "How is {name} doing?"),
    ("Prep the {name} QBR", "Prep notes for my QBR with {name}"),
    ("Plan for {name}", "Draft an account plan for {name}"),
]


def suggested_prompts(scope: AccessScope, account: str | None = None) -> list[dict[str, str]]:
    """Prompts for the user's role; about `account` first when they view its channel."""
    pairs = list(ROLE_PROMPTS.get(scope.role, ROLE_PROMPTS["kam"]))
    if account:
        named = [(t.format(name=account), m.format(name=account)) for t, m in ACCOUNT_PROMPTS]
        pairs = named + pairs
    return [{"title": title[:75], "message": message} for title, message in pairs[:MAX_PROMPTS]]


def _prompts_for(bot: SlackBot, thread: dict, scope: AccessScope) -> list[dict[str, str]]:
    viewing = (thread.get("context") or {}).get("channel_id")
    account = None
    if viewing and not is_private(viewing):
        account = bot.account_channel(viewing, scope)
    return suggested_prompts(scope, account)


def start_thread(event, set_suggested_prompts, *, bot: SlackBot) -> None:
    """assistant_thread_started: a greeting, and prompts for the role and the channel."""
    thread = event["assistant_thread"]
    channel, thread_ts, user = thread["channel_id"], thread["thread_ts"], thread["user_id"]
    try:
        scope = bot.resolve(user)
    except UnknownUserError:
        bot.out.post(channel, notice(REFUSAL.format(slack_user_id=user)), thread_ts=thread_ts)
        return
    bot.out.post(channel, notice(GREETING.format(name=scope.name.split()[0])),
                 thread_ts=thread_ts)
    set_suggested_prompts(prompts=_prompts_for(bot, thread, scope), title=PROMPTS_TITLE)


def change_context(event, set_suggested_prompts, *, bot: SlackBot) -> None:
    """assistant_thread_context_changed: the user moved to another channel; new prompts."""
    thread = event["assistant_thread"]
    try:
        scope = bot.resolve(thread["user_id"])
    except UnknownUserError:
        return
    set_suggested_prompts(prompts=_prompts_for(bot, thread, scope), title=PROMPTS_TITLE)


def answer_in_panel(event, context, *, bot: SlackBot) -> None:
    """A message in an assistant thread (or a reply in a DM thread): answered live."""
    answer_message(bot, event, context, panel=True)
