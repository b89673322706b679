"""The weekly digest DMed to each KAM and manager, under the recipient's own access scope:
what changed since the week before (the accounts whose churn risk moved most, with the
causes; for managers the KAMs whose book moved most), then renewals due and top risks, each
account with a button that opens its summary in a thread (tools/glance.py, tools/movers.py).
`kam digest` prints them; `kam digest --post` sends them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.slack.blocks import SlackMessage, context, plain
from bot.slack.egress import SlackOut
from bot.slack.home import glance_blocks
from prompts import Prompts
from store.access import resolve_scope
from store.models import User
from tools.glance import KpiPortfolio, PortfolioGlance

log = logging.getLogger(__name__)

DIGEST_ROLES = ("kam", "manager")


@dataclass
class Digest:
    """One recipient's digest: who gets it, and the message."""

    slack_user_id: str
    name: str
    role: str
    glance: PortfolioGlance

    def message(self) -> SlackMessage:
        blocks = glance_blocks(self.glance, buttons=True, growth=False)
        blocks.append(context("Weekly digest from the KAM Assistant · `/kam help` for more"))
        return SlackMessage(plain(f"Weekly digest: {self.glance.title}"), blocks)

    def text(self, prompts: Prompts) -> str:
        """The digest as plain text, for `kam digest` without --post."""
        return prompts.render(
            "weekly_digest.md.j2",
            recipient=self.name,
            slack_user_id=self.slack_user_id,
            g=self.glance,
        )


def compose_digests(sessions: sessionmaker[Session], portfolio: KpiPortfolio) -> list[Digest]:
    """A digest for every KAM and manager with a Slack user id, under their own scope."""
    with sessions() as session:
        users = session.execute(
            select(User.user_id, User.slack_user_id)
            .where(User.role.in_(DIGEST_ROLES), User.slack_user_id.is_not(None))
            .order_by(User.role, User.user_id)
        ).all()
        scopes = [
            (slack_id, resolve_scope(session, user_id=uid))
            for uid, slack_id in users
            if slack_id is not None  # always, as the query asks; says so to the type checker
        ]
    return [
        Digest(slack_id, scope.name, scope.role, portfolio.glance(scope, changes=True))
        for slack_id, scope in scopes
    ]


def post_digests(out: SlackOut, digests: list[Digest]) -> tuple[int, list[str]]:
    """DM each digest; returns how many went out and the Slack ids that failed (logged)."""
    sent, failed = 0, []
    for digest in digests:
        try:
            out.post(digest.slack_user_id, digest.message())
            sent += 1
        except Exception as error:
            log.error("digest for %s not sent: %s", digest.slack_user_id, error)
            failed.append(digest.slack_user_id)
    return sent, failed
