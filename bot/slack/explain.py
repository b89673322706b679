"""Show the math: the "Explain" action under an answer's figures (`blocks.explain_block`).

Whoever presses it sees, privately, how the figure was computed: the formula, the inputs
with their values, the period, the as-of date and the rows read from each source table,
from the KPI engine's own result (`tools.explain`), never from the model's text. It is
computed again under the presser's own scope: in a channel, a colleague who may not see
the account is told so, privately, and sees nothing of it. The action carries only the
KPI, the account id and the as-of date.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_sdk.models.blocks import Block

from bot.slack.blocks import SlackMessage, decode_figure, notice, section
from bot.slack.formatting import chunks, escape, truncate
from bot.slack.listeners import REFUSAL
from bot.slack.streaming import Place, post_privately
from prompts.explanation import Explanation
from store.access import UnknownUserError
from tools.explain import explain_figure

if TYPE_CHECKING:
    from bot.slack.app import SlackBot

log = logging.getLogger(__name__)

NOT_YOURS = ("You can't see the account behind this figure, so I can't show you its math. "
             "Ask the account's owner, or your manager, if you need it.")
SECTION_LIMIT = 3000
FALLBACK_LIMIT = 300
INDENT = "\u2003"  # an em space: Slack keeps it where it trims leading spaces


def show_the_math(body, action, respond, *, bot: SlackBot) -> None:
    """An answer's figure picked for "Explain": its math, privately, under the presser's scope."""
    value = action.get("value") or (action.get("selected_option") or {}).get("value") or ""
    try:
        figure = decode_figure(value)
    except (ValueError, KeyError, TypeError):
        log.warning("an Explain action carried an unreadable value: %r", value[:200])
        return
    user = body["user"]["id"]
    try:
        scope = bot.resolve(user)
    except UnknownUserError:
        _privately(bot, body, respond, notice(REFUSAL.format(slack_user_id=user)))
        return
    data = explain_figure(bot.sessions, scope, figure, bot.kpi_config)
    if data is None:
        log.info("%s may not see the account of an Explain action", scope.user_id)
        _privately(bot, body, respond, notice(NOT_YOURS))
        return
    _privately(bot, body, respond, explanation_message(data, bot.explanation))


def explanation_message(data: dict[str, Any], text: Explanation) -> SlackMessage:
    """An explanation as one message: the figure in bold, then its working line by line."""
    headline = escape(text.headline(data))
    lines = [_indented(escape(line)) for line in text.lines(data)]
    blocks: list[Block] = [section(f"*:abacus: {headline}*"),
              *(section(piece) for piece in chunks("\n".join(lines), SECTION_LIMIT))]
    return SlackMessage(truncate(headline, FALLBACK_LIMIT), blocks)


def _indented(line: str) -> str:
    body = line.lstrip(" ")
    return INDENT * (len(line) - len(body)) + body


def _privately(bot: SlackBot, body: dict, respond, message: SlackMessage) -> None:
    """To the presser alone: through the response_url under a private (`/kam`) answer, else
    as an ephemeral message in the answer's thread."""
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    if container.get("is_ephemeral") or not channel:
        respond(response_type="ephemeral", replace_original=False, **message.as_kwargs())
        return
    thread_ts = container.get("thread_ts") or container.get("message_ts") or ""
    post_privately(bot.out, Place(channel, thread_ts, body["user"]["id"]), [message])
