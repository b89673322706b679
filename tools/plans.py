"""Saved account plans: each draft is a new version in `account_plans`; list, show and diff.

Plans belong to their account, so the caller's access scope decides who sees them:
a KAM sees the plans of their own accounts only. Writing happens in `save_plan` and
`record_canvas` alone, each in one short transaction of its own.
"""

from __future__ import annotations

import difflib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store.access import AccessScope
from store.models import AccountPlan, User
from tools.find import resolve_account
from tools.selection import get_account

SAVE_ATTEMPTS = 3


class PlanNotFound(LookupError):
    """The account has no plan (or not the version asked for)."""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def save_plan(
    sessions: sessionmaker[Session],
    scope: AccessScope,
    account_id: str,
    body_markdown: str,
    status: str = "draft",
) -> dict[str, Any]:
    """Store `body_markdown` as the next version of the account's plan, created by the caller.

    The version is max + 1 for the account; the unique (account_id, version) constraint
    settles a race between two writers, and the loser retries with the next number."""
    for attempt in range(SAVE_ATTEMPTS):
        try:
            with sessions.begin() as session:
                get_account(session, scope, account_id)  # still in scope at write time
                latest = session.execute(
                    select(func.max(AccountPlan.version)).where(
                        AccountPlan.account_id == account_id)
                ).scalar_one()
                plan = AccountPlan(
                    account_id=account_id, version=(latest or 0) + 1,
                    created_by=scope.user_id, created_on=_now(),
                    body_markdown=body_markdown, status=status,
                )
                session.add(plan)
                session.flush()
                return _meta(plan)
        except IntegrityError:
            if attempt == SAVE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def plan_for_canvas(session: Session, scope: AccessScope, plan_id: int) -> dict[str, Any]:
    """One saved version, to publish as a Slack canvas: its account, version and body, and
    the canvas the account's plan was last published to (`canvas_id`, None if never)."""
    plan = session.get(AccountPlan, plan_id)
    if plan is None:
        raise PlanNotFound(f"there is no saved plan {plan_id}")
    account = get_account(session, scope, plan.account_id)
    canvas = session.scalar(
        select(AccountPlan.canvas_id)
        .where(AccountPlan.account_id == plan.account_id, AccountPlan.canvas_id.is_not(None))
        .order_by(AccountPlan.version.desc()).limit(1))
    return {"account": {"account_id": account.account_id, "name": account.name},
            "plan_id": plan.plan_id, "version": plan.version, "markdown": plan.body_markdown,
            "canvas_id": canvas}


def record_canvas(sessions: sessionmaker[Session], scope: AccessScope, plan_id: int,
                  canvas_id: str) -> None:
    """Store the canvas a plan version was published to (the account still in scope)."""
    with sessions.begin() as session:
        plan = session.get(AccountPlan, plan_id)
        if plan is None:
            raise PlanNotFound(f"there is no saved plan {plan_id}")
        get_account(session, scope, plan.account_id)
        plan.canvas_id = canvas_id


def _meta(plan: AccountPlan, author: str | None = None) -> dict[str, Any]:
    out = {"plan_id": plan.plan_id, "account_id": plan.account_id, "version": plan.version,
           "created_by": plan.created_by, "created_on": plan.created_on.isoformat(
               timespec="seconds"), "status": plan.status}
    if author is not None:
        out["created_by_name"] = author
    return out


def _plans(session: Session, scope: AccessScope, ref: str):
    """(account candidate, rows of (plan, author name) newest first) for a scoped account."""
    account = resolve_account(session, scope, ref)
    rows = session.execute(
        select(AccountPlan, User.name)
        .outerjoin(User, User.user_id == AccountPlan.created_by)
        .where(AccountPlan.account_id == account.account_id)
        .order_by(AccountPlan.version.desc())
    ).all()
    return account, rows


def _account(candidate) -> dict[str, str]:
    return {"account_id": candidate.account_id, "name": candidate.name}


def list_plans(session: Session, scope: AccessScope, ref: str) -> dict[str, Any]:
    """Every saved version of the account's plan, newest first (without the bodies)."""
    account, rows = _plans(session, scope, ref)
    return {"account": _account(account),
            "plans": [{**_meta(plan, author), "lines": len(plan.body_markdown.splitlines())}
                      for plan, author in rows]}


def show_plan(
    session: Session, scope: AccessScope, ref: str, version: int | None = None
) -> dict[str, Any]:
    """One version of the account's plan (default: the latest), with its body."""
    account, rows = _plans(session, scope, ref)
    chosen = [(p, a) for p, a in rows if version is None or p.version == version][:1]
    if not chosen:
        raise PlanNotFound(_missing(account.name, rows, version))
    plan, author = chosen[0]
    return {"account": _account(account), **_meta(plan, author), "markdown": plan.body_markdown}


def diff_plans(
    session: Session, scope: AccessScope, ref: str,
    old: int | None = None, new: int | None = None,
) -> dict[str, Any]:
    """A unified diff between two versions of the account's plan (default: the latest two)."""
    account, rows = _plans(session, scope, ref)
    by_version = {p.version: p for p, _ in rows}
    if old is None and new is None:
        if len(rows) < 2:
            raise PlanNotFound(f"{account.name} has {len(rows)} saved plan version(s); "
                               "draft another one to compare")
        new, old = rows[0][0].version, rows[1][0].version
    for version in (old, new):
        if version not in by_version:
            raise PlanNotFound(_missing(account.name, rows, version))
    a, b = by_version[old], by_version[new]
    lines = difflib.unified_diff(
        a.body_markdown.splitlines(), b.body_markdown.splitlines(),
        fromfile=f"{account.account_id} plan v{old}", tofile=f"{account.account_id} plan v{new}",
        lineterm="",
    )
    return {"account": _account(account), "old": old, "new": new, "diff": "\n".join(lines)}


def _missing(name: str, rows, version: int | None) -> str:
    if not rows:
        return f"{name} has no saved plan yet; draft one with `kam draft plan`"
    known = ", ".join(str(p.version) for p, _ in reversed(rows))
    return f"{name} has no plan version {version}; saved versions: {known}"
