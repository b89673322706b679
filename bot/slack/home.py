"""App Home: the user's portfolio at a glance, with buttons that open an account summary."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from slack_sdk.models.blocks import Block

from bot.slack.blocks import (
    OPEN_SUMMARY,
    SECTION_LIMIT,
    actions,
    button,
    context,
    escape,
    header,
    inline_mrkdwn,
    notice,
    section,
    truncate,
)
from bot.slack.commands import help_message
from bot.slack.listeners import REFUSAL, answer_in_thread, placeholder_for
from prompts import day_name
from store.access import UnknownUserError
from tools.glance import Changes, HomeItem, PortfolioGlance

if TYPE_CHECKING:
    from bot.slack.app import SlackBot

log = logging.getLogger(__name__)

HOME_FAILED = "Sorry, I could not load your portfolio just now. Please reopen this tab later."


def _item_lines(items: Sequence[HomeItem], empty: str) -> str:
    if not items:
        return f"_{escape(empty)}_"
    return "\n".join(f"• *{escape(i.name)}*: {inline_mrkdwn(i.detail)}" for i in items)


def glance_blocks(glance: PortfolioGlance, *, buttons: bool) -> list[Block]:
    """The portfolio at a glance: top risks, renewals due, accounts growing, a line per KAM.
    With the week's changes (the digest), it opens with the book's last complete fiscal
    quarter, the biggest movers and the KAMs whose book moved most, then renewals, risks
    and the accounts that grew most in that quarter."""
    risks = (":warning: Top risks", glance.risks, "No account at medium or high churn risk.")
    renewals = (f":spiral_calendar_pad: Renewals in the next {glance.renewal_days} days",
                glance.renewals, "No contract ends in this window.")
    grew = (f":chart_with_upwards_trend: {glance.growth_heading}", glance.growth,
            "No account grew.")
    groups = [risks, renewals]
    blocks: list[Block] = [header(glance.title)]
    if glance.quarter:
        blocks.append(section(truncate(f":bar_chart: {escape(glance.quarter)}", SECTION_LIMIT)))
    if glance.changes is not None:
        blocks += _item_blocks([_movers_group(glance.changes, glance.locale)], buttons)
        if glance.changes.books:
            lines = "\n".join(f"• {escape(line)}" for line in glance.changes.books)
            blocks.append(section(truncate(f"*KAMs whose book moved most*\n{lines}",
                                           SECTION_LIMIT)))
        groups = [renewals, risks]
    blocks += _item_blocks([*groups, grew], buttons)
    if glance.by_owner:
        lines = "\n".join(f"• {escape(line)}" for line in glance.by_owner)
        blocks.append(section(truncate(f"*Per KAM*\n{lines}", SECTION_LIMIT)))
    if glance.as_of:
        as_of = day_name(glance.as_of, glance.locale)
        blocks.append(context(f":calendar: Numbers as of {as_of}"))
    return blocks


def _movers_group(changes: Changes, locale: str) -> tuple[str, list[HomeItem], str]:
    if changes.since is None:
        return (":arrows_counterclockwise: Biggest movers", [],
                changes.note or "No KPI history yet.")
    since = day_name(changes.since, locale)
    return (f":arrows_counterclockwise: Biggest movers since {since}",
            changes.movers, "No account's churn risk changed.")


def _item_blocks(groups: list[tuple[str, list[HomeItem], str]], buttons: bool) -> list[Block]:
    blocks: list[Block] = []
    for heading, items, empty in groups:
        blocks.append(section(truncate(f"*{heading}*\n{_item_lines(items, empty)}",
                                       SECTION_LIMIT)))
        if buttons and items:
            blocks.append(actions([
                # action ids must differ within a block; the listener matches the prefix
                button(f"Summary: {item.name}", f"{OPEN_SUMMARY}:{n}", item.account_id)
                for n, item in enumerate(items[:5])
            ]))
    return blocks


def home_view(blocks: list[Block]) -> dict:
    """An App Home `view` payload for views.publish (validated by slack_sdk)."""
    return {"type": "home", "blocks": [block.to_dict() for block in blocks[:100]]}


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
