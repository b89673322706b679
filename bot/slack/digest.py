"""The weekly digest DMed to each KAM and manager, under the recipient's own access scope:
the book's revenue in the last complete fiscal quarter against the same quarter a year
earlier, what changed since the week before (the accounts whose churn risk moved most, with
the causes; for managers the KAMs whose book moved most), then renewals due, top risks and
the accounts that grew most in that quarter, each account with a button that opens its
summary in a thread (tools/glance.py, tools/movers.py). Money and periods as answers write
them (reporting currency, KAM_LOCALE, fiscal quarters).
`kam digest` prints them; `kam digest --post` sends them, each at most once a week however
many replicas run it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.slack.blocks import SlackMessage, context, plain
from bot.slack.egress import SlackOut
from bot.slack.home import glance_blocks
from prompts import Prompts
from store.access import resolve_scope
from store.models import DigestSend, User
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
        blocks = glance_blocks(self.glance, buttons=True)
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


def post_digests(out: SlackOut, digests: list[Digest], engine: Engine,
                 week: str | None = None) -> DigestRun:
    """DM each digest not yet sent this ISO week (`week`, default the current one).

    Each recipient's digest is claimed in the database before it is sent, so that cron
    running on several replicas at once sends it once; a send that fails gives its claim
    back (logged), for the next run to retry.
    """
    week = week or iso_week(datetime.now(UTC).date())
    run = DigestRun()
    for digest in digests:
        if not _claim(engine, week, digest.slack_user_id):
            run.skipped += 1
            continue
        try:
            out.post(digest.slack_user_id, digest.message())
            run.sent += 1
        except Exception as error:
            log.error("digest for %s not sent: %s", digest.slack_user_id, error)
            run.failed.append(digest.slack_user_id)
            with engine.begin() as conn:
                conn.execute(delete(DigestSend).where(DigestSend.week == week,
                                                      DigestSend.slack_user_id ==
                                                      digest.slack_user_id))
    return run


@dataclass
class DigestRun:
    sent: int = 0
    skipped: int = 0  # sent this week already (by this or another replica)
    failed: list[str] = field(default_factory=list)


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _claim(engine: Engine, week: str, slack_user_id: str) -> bool:
    try:
        with engine.begin() as conn:
            conn.execute(insert(DigestSend).values(
                week=week, slack_user_id=slack_user_id,
                claimed_at=datetime.now(UTC).replace(tzinfo=None)))
    except IntegrityError:
        return False
    return True
