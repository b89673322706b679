"""Who may see which accounts.

A KAM sees the accounts they own; a manager sees the accounts owned by anyone on
their team (and their own); an admin sees all. The scope is resolved from the
caller's identity only and applied inside SQL, so no argument a model passes can
widen it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, or_, select, true
from sqlalchemy.orm import Session, sessionmaker

from store.models import Account, User


class UnknownUserError(LookupError):
    """The caller is not a known user; they get a refusal and no data."""


@dataclass(frozen=True)
class AccessScope:
    """The resolved identity of a caller and the accounts they may see."""

    user_id: str
    name: str
    role: str
    team: str | None

    @property
    def sees_everything(self) -> bool:
        return self.role == "admin"

    def account_clause(self) -> ColumnElement[bool]:
        """A WHERE clause over `accounts` that keeps only the accounts in scope."""
        if self.role == "admin":
            return true()
        if self.role == "manager":
            team_members = select(User.user_id).where(
                or_(User.team == self.team, User.manager_id == self.user_id)
                if self.team
                else User.manager_id == self.user_id
            )
            return or_(
                Account.owner_user_id == self.user_id,
                Account.owner_user_id.in_(team_members),
            )
        return Account.owner_user_id == self.user_id

    def visible_account_ids(self) -> Select[str]:
        """A subquery of the account ids in scope, for `X.account_id.in_(...)`."""
        return select(Account.account_id).where(self.account_clause())

    def apply(self, stmt: Select, account_id_column: ColumnElement[str]) -> Select:
        """Restrict any query to rows whose `account_id_column` is in scope."""
        if self.role == "admin":
            return stmt
        return stmt.where(account_id_column.in_(self.visible_account_ids()))

    def can_see(self, session: Session, account_id: str) -> bool:
        stmt = select(Account.account_id).where(
            Account.account_id == account_id, self.account_clause()
        )
        return session.execute(stmt).first() is not None


def resolve_scope(
    session: Session, *, user_id: str | None = None, slack_user_id: str | None = None
) -> AccessScope:
    """Resolve the caller by user id or Slack user id; raise UnknownUserError if unknown."""
    if user_id is None and slack_user_id is None:
        raise UnknownUserError("no user given")
    stmt = select(User)
    if user_id is not None:
        stmt = stmt.where(User.user_id == user_id)
    else:
        stmt = stmt.where(User.slack_user_id == slack_user_id)
    user = session.execute(stmt).scalar_one_or_none()
    if user is None:
        raise UnknownUserError(f"unknown user {user_id or slack_user_id}")
    return AccessScope(user_id=user.user_id, name=user.name, role=user.role, team=user.team)


def resolve_caller(
    sessions: sessionmaker[Session], *, user_id: str | None = None, slack_user_id: str | None = None
) -> AccessScope:
    """`resolve_scope` in a session of its own (for a caller arriving from Slack or the CLI)."""
    with sessions() as session:
        return resolve_scope(session, user_id=user_id, slack_user_id=slack_user_id)
