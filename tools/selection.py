"""Which accounts a query covers: the caller's scope, always, narrowed by optional filters.

Every account query in tools/ starts from `scoped_accounts`, so the scope of
DESIGN §9 is part of the SQL and no filter can widen it. An account outside the
scope and an account that does not exist give the same `AccountNotFound`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Any

from sqlalchemy import BindParameter, Select, String, bindparam, func, select
from sqlalchemy.orm import Session

from store.access import AccessScope
from store.models import Account, User

NOT_FOUND_MESSAGE = "Account not found or not yours."
# Accounts bound when a statement built once runs (see AccountSet): one account, by the
# parameter "account_id", or a list, by ACCOUNT_IDS.
ACCOUNT_IDS = "account_ids"
ACCOUNT_ID: BindParameter[str] = bindparam("account_id", type_=String)
ACCOUNT_ID_LIST: BindParameter[str] = bindparam(ACCOUNT_IDS, type_=String, expanding=True)


class AccountNotFound(LookupError):
    """The account does not exist or is outside the caller's scope (deliberately the same)."""

    def __init__(self) -> None:
        super().__init__(NOT_FOUND_MESSAGE)


@dataclass(frozen=True)
class AccountFilter:
    """Narrows the caller's accounts; every field is optional and they combine with AND."""

    account_ids: tuple[str, ...] | None = None
    owner_user_id: str | None = None
    team: str | None = None
    region: str | None = None
    tier: str | None = None
    industry: str | None = None

    def describe(self) -> dict[str, object]:
        """The filters that are set, for showing the working."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items() if v}


ACCOUNT_COLUMNS = (
    Account.account_id,
    Account.name,
    Account.owner_user_id,
    Account.tier,
    Account.region,
    Account.industry,
    Account.wallet_estimate_cents,
)


def _same_text(column, value: str):
    return func.lower(column) == value.strip().lower()


def scoped_accounts(scope: AccessScope, flt: AccountFilter | None = None) -> Select:
    """`SELECT <account columns> FROM accounts` restricted to the scope and the filter."""
    stmt = select(*ACCOUNT_COLUMNS).where(scope.account_clause())
    flt = flt or AccountFilter()
    if flt.account_ids is not None:
        stmt = stmt.where(Account.account_id.in_(flt.account_ids))
    if flt.owner_user_id:
        stmt = stmt.where(Account.owner_user_id == flt.owner_user_id)
    if flt.team:
        members = select(User.user_id).where(_same_text(User.team, flt.team))
        stmt = stmt.where(Account.owner_user_id.in_(members))
    if flt.region:
        stmt = stmt.where(_same_text(Account.region, flt.region))
    if flt.tier:
        stmt = stmt.where(_same_text(Account.tier, flt.tier))
    if flt.industry:
        stmt = stmt.where(_same_text(Account.industry, flt.industry))
    return stmt


@dataclass(frozen=True)
class AccountSet:
    """The accounts a statement covers, as a hashable key: the scope, the filter without its
    account ids and whether there are ids, which are bound when the statement runs.

    Statements built from it can be built once and reused (`functools.lru_cache` on the
    builder): building SQLAlchemy statements, and hashing them for its compiled cache,
    costs more than running them for one account, and a reused statement keeps its hash.

        accounts, params = AccountSet.of(scope, AccountFilter(account_ids=("A00042",)))
        session.execute(build(accounts), params)
    """

    scope: AccessScope
    flt: AccountFilter = field(default_factory=AccountFilter)
    by_ids: bool = False

    @classmethod
    def of(
        cls, scope: AccessScope, flt: AccountFilter | None = None
    ) -> tuple[AccountSet, dict[str, Any]]:
        """The set for `scope` and `flt`, and the parameters to run its statements with."""
        flt = flt or AccountFilter()
        if flt.account_ids is None:
            return cls(scope, flt), {}
        return cls(scope, replace(flt, account_ids=None), True), {
            ACCOUNT_IDS: list(flt.account_ids)}

    def select(self) -> Select:
        """`scoped_accounts` of the set, the ids bound to ACCOUNT_IDS."""
        stmt = scoped_accounts(self.scope, self.flt)
        if self.by_ids:
            stmt = stmt.where(Account.account_id.in_(ACCOUNT_ID_LIST))
        return stmt

    def ids(self) -> Select:
        """The account ids of the set, for `X.account_id.in_(...)`."""
        return self.select().with_only_columns(Account.account_id)


@lru_cache(maxsize=256)
def _account_in_scope(scope: AccessScope) -> Select:
    return select(Account).where(Account.account_id == ACCOUNT_ID, scope.account_clause())


def get_account(session: Session, scope: AccessScope, account_id: str) -> Account:
    """The account if it exists and is in scope; otherwise AccountNotFound (same for both)."""
    account = session.execute(
        _account_in_scope(scope), {"account_id": account_id}
    ).scalar_one_or_none()
    if account is None:
        raise AccountNotFound()
    return account


def owner_names(session: Session, user_ids: set[str]) -> dict[str, str]:
    """user_id -> display name, for the owners shown in results."""
    if not user_ids:
        return {}
    rows = session.execute(select(User.user_id, User.name).where(User.user_id.in_(user_ids)))
    return {user_id: name for user_id, name in rows}
