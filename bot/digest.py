"""The portfolio at a glance (App Home) and the weekly digest DMed to each KAM and manager.

Both read the KPI engine (tools/portfolio.py) under the recipient's own access
scope: a KAM's digest holds their accounts, a manager's their team's, with a
line per KAM. `kam digest` prints them; `kam digest --post` sends them.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import (
    HomeItem,
    PortfolioGlance,
    SlackMessage,
    context,
    glance_blocks,
    plain,
)
from bot.slack_client import SlackOut
from prompts import Prompts
from store.access import AccessScope, resolve_scope
from store.models import User
from tools.kpis import KpiEngine
from tools.portfolio import Renewal, at_risk_accounts, rank_accounts, renewals_due

log = logging.getLogger(__name__)

DIGEST_ROLES = ("kam", "manager")


def _money(cents: int) -> str:
    return f"{cents / 100:,.0f}"


def _words(name: str) -> str:
    return name.replace("_", " ")


def _owner(scope: AccessScope, owner_name: str | None) -> str:
    return f" ({owner_name})" if owner_name and scope.role != "kam" else ""


class KpiPortfolio:
    """Top risks, renewals due and growing accounts for one person, from the KPI engine."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        as_of: date | None = None,
        top: int = 5,
        renewal_days: int = 90,
    ):
        self.sessions = sessions
        self.as_of = as_of
        self.top = top
        self.renewal_days = renewal_days

    def glance(self, scope: AccessScope) -> PortfolioGlance:
        with self.sessions() as session:
            engine = KpiEngine(session, scope, as_of=self.as_of)
            risks = at_risk_accounts(engine, n=500)
            _, renewals = renewals_due(engine, days=self.renewal_days)
            growth = rank_accounts(engine, "revenue_growth", n=self.top, order="highest")
        return PortfolioGlance(
            title=_title(scope),
            risks=[
                HomeItem(
                    r.account_id,
                    r.name + _owner(scope, r.owner_name),
                    f"{r.result.inputs['band']} risk ({r.result.value}/100): "
                    + ", ".join(_words(s["sign"]) for s in r.result.inputs["signs_fired"]),
                )
                for r in risks.items[: self.top]
            ],
            renewals=[_renewal_item(scope, r) for r in renewals[: self.top]],
            growth=[
                HomeItem(
                    g.account_id,
                    g.name + _owner(scope, g.owner_name),
                    f"revenue {g.result.value:+.0%} on the year before",
                )
                for g in growth.items
                if g.result.value is not None and g.result.value > 0
            ],
            as_of=engine.as_of,
            renewal_days=self.renewal_days,
            by_owner=_per_owner(
                scope, [r.owner_name for r in risks.items], [r.owner_name for r in renewals]
            ),
        )


def _title(scope: AccessScope) -> str:
    if scope.role == "manager":
        return f"{scope.name}: your team's portfolio"
    if scope.role == "admin":
        return f"{scope.name}: all accounts"
    return f"{scope.name}: your portfolio"


def _renewal_item(scope: AccessScope, r: Renewal) -> HomeItem:
    detail = (
        f"ends {r.end_date.isoformat()} (in {r.days_left} days), {_money(r.annual_value_cents)} "
        f"a year, {r.risk.inputs['band']} risk"
    )
    if not r.open_renewal_opportunity and not r.auto_renew:
        detail += ", no renewal opportunity open"
    return HomeItem(r.account_id, r.name + _owner(scope, r.owner_name), detail)


def _per_owner(scope: AccessScope, risk_owners: list, renewal_owners: list) -> list[str]:
    if scope.role == "kam":
        return []
    risks, renewals = Counter(risk_owners), Counter(renewal_owners)
    owners = sorted({*risks, *renewals} - {None})
    return [
        f"{o}: {risks[o]} at risk, {renewals[o]} renewal{'' if renewals[o] == 1 else 's'} due"
        for o in owners
    ]


# ---------------------------------------------------------------- the weekly digest


@dataclass
class Digest:
    """One recipient's digest: who gets it, and the message."""

    slack_user_id: str
    name: str
    role: str
    glance: PortfolioGlance

    def message(self) -> SlackMessage:
        blocks = glance_blocks(self.glance, buttons=False, growth=False)
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
        scopes = [(slack_id, resolve_scope(session, user_id=uid)) for uid, slack_id in users]
    return [
        Digest(slack_id, scope.name, scope.role, portfolio.glance(scope))
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
