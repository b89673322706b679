"""What each Slack audience may see of an answer: one policy for every surface (DESIGN §9).

A direct message, the assistant panel and an answer only the asker sees show everything
the asker may see. A channel sees only what every human in it may see: the intersection
of their access scopes. Nothing of an account goes to a channel shared with another
company (Slack Connect) or holding people the store does not know. Gross margin, cost to
serve, profitability and CLV go to a channel only when everyone in it is a manager or
admin of those accounts. What the asker may see but the channel may not goes to the
asker privately, and the channel gets a line saying so.

`DisclosurePolicy` decides, from the audience (`Audience`, read by `bot.slack.audience`)
and what an answer shows (`Footprint`, read from its tool calls). It needs only a way to
list the accounts a scope sees, so it is tested on its own.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, Select, and_, false

from bot.assistant import Answer
from store.access import AccessScope

SENSITIVE_KPIS = frozenset({"gross_margin", "profitability", "cost_to_serve", "clv"})
SENSITIVE_TERMS = re.compile(
    r"margin|cost[ -]to[ -]serve|profitab|\bCLV\b|lifetime value", re.IGNORECASE)
SENIOR_ROLES = frozenset({"manager", "admin"})
GUIDANCE_TOOLS = frozenset({"search_guidance"})
TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
NAMED_ACCOUNTS = 3  # a public line names at most this many accounts

EXTERNAL = ("I've sent you the answer privately: this channel is shared with people "
            "outside the company.")
STRANGERS = ("I've sent you the answer privately: some members of this channel are not "
             "set up in the KAM Assistant.")
HIDDEN = "I've sent you the answer privately: some members of this channel can't see {what}."
SHARED = ("This shows only the accounts everyone in this channel may see; I've sent you "
          "the full answer privately.")
SENSITIVE = ("I've sent you the margin and profitability figures privately: they are shown "
             "in a channel only when everyone in it manages the account.")


@dataclass(frozen=True)
class Audience:
    """Who reads what is posted in a conversation."""

    members: tuple[AccessScope, ...]  # the known people in it, the asker always among them
    private: bool = False  # only the asker: a DM, the panel, an answer only they see
    external: bool = False  # shared with another company (Slack Connect)
    strangers: int = 0  # people in it whom the store does not know

    @classmethod
    def only(cls, asker: AccessScope) -> Audience:
        return cls((asker,), private=True)


@dataclass(frozen=True)
class Footprint:
    """What an answer shows, read from its tool calls."""

    accounts: frozenset[str] = frozenset()  # the accounts it is about (ids)
    names: tuple[str, ...] = ()  # their names, for the public line
    portfolio: bool = False  # it read across the asker's accounts (lists, roll-ups)
    guidance: bool = False  # it quotes the KAM guidance
    sensitive: bool = False  # it shows margin, cost to serve, profitability or CLV
    asked_sensitive: bool = False  # a sensitive KPI was what the question asked for
    drafts: bool = False  # it drafted (and saved) a plan, agenda or prep note

    @property
    def shows_accounts(self) -> bool:
        return bool(self.accounts) or self.portfolio


Show = Literal["all", "without_sensitive", "shared", "nothing"]


@dataclass(frozen=True)
class Disclosure:
    """What the conversation gets (`show`), whether the asker also gets the whole answer
    privately, and the public line that says so."""

    show: Show
    private: bool = False
    note: str | None = None


SHOW_ALL = Disclosure("all")


class DisclosurePolicy:
    """Decides what of an answer an audience may see, over the members' `AccessScope`s.

    `visible(scope)` lists the account ids a scope may see (cached by the caller).
    """

    def __init__(self, visible: Callable[[AccessScope], frozenset[str]]):
        self.visible = visible

    def shared_accounts(self, audience: Audience) -> frozenset[str]:
        """The accounts every member may see; none with strangers or another company."""
        if audience.external or audience.strangers or not audience.members:
            return frozenset()
        seen = [self.visible(member) for member in audience.members]
        return frozenset.intersection(*seen)

    def may_see_sensitive(self, audience: Audience, accounts: Iterable[str]) -> bool:
        """Whether everyone present is a manager or admin of all of `accounts`."""
        if audience.private:
            return True
        if audience.external or audience.strangers:
            return False
        wanted = frozenset(accounts)
        return all(m.role in SENIOR_ROLES and wanted <= self.visible(m)
                   for m in audience.members)

    def sees_all_of(self, audience: Audience, asker: AccessScope) -> bool:
        """Whether the audience may see anything the asker may (answers can go out live)."""
        if audience.private:
            return True
        mine = self.visible(asker)
        return mine <= self.shared_accounts(audience) and self.may_see_sensitive(audience, mine)

    def decide(self, audience: Audience, asker: AccessScope, footprint: Footprint) -> Disclosure:
        """What of an answer with `footprint`, asked by `asker`, the audience gets."""
        if audience.private:
            return SHOW_ALL
        if audience.external:
            shows = footprint.shows_accounts or footprint.guidance
            return Disclosure("nothing", True, EXTERNAL) if shows else SHOW_ALL
        if not footprint.shows_accounts:
            return SHOW_ALL  # guidance is for everyone (DESIGN §9); clarifications too
        if audience.strangers:
            return Disclosure("nothing", True, STRANGERS)
        shared = self.shared_accounts(audience)
        reach = self.visible(asker) if footprint.portfolio else footprint.accounts
        hidden = reach - shared
        if hidden:
            if footprint.portfolio and not footprint.drafts and reach & shared:
                return Disclosure("shared", True, SHARED)
            return Disclosure("nothing", True, HIDDEN.format(what=_what(footprint)))
        if footprint.sensitive and not self.may_see_sensitive(audience, reach):
            show: Show = "nothing" if footprint.asked_sensitive else "without_sensitive"
            return Disclosure(show, True, SENSITIVE)
        return SHOW_ALL


def _what(footprint: Footprint) -> str:
    names = footprint.names
    if footprint.portfolio or not names or len(names) > NAMED_ACCOUNTS:
        return "all of these accounts"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def footprint_of(answer: Answer, account: Callable[[str], tuple[str, str] | None]) -> Footprint:
    """What `answer` shows, from its tool calls; `account(ref)` is the (id, name) a reference
    stands for in the asker's scope, or None (a tool cannot show what the asker cannot see)."""
    accounts: dict[str, str] = {}
    portfolio = guidance = asked = drafts = False
    for call in answer.tool_calls:
        if call.name in GUIDANCE_TOOLS:
            guidance = True
            continue
        drafts = drafts or call.name.startswith("draft_")
        asked = asked or str(call.args.get("kpi", "")) in SENSITIVE_KPIS
        ref = call.args.get("account")
        if isinstance(ref, str) and ref.strip():
            if (found := account(ref)) is not None:
                accounts[found[0]] = found[1]
        else:
            portfolio = True
    return Footprint(
        accounts=frozenset(accounts), names=tuple(accounts.values()), portfolio=portfolio,
        guidance=guidance, sensitive=asked or bool(SENSITIVE_TERMS.search(answer.text)),
        asked_sensitive=asked, drafts=drafts,
    )


def without_sensitive(markdown: str) -> str:
    """The answer without its margin, cost-to-serve, profitability and CLV figures: lines
    (with what is indented under them), table rows and table columns that name them."""
    lines = markdown.split("\n")
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if TABLE_ROW.match(line):
            end = i
            while end < len(lines) and TABLE_ROW.match(lines[end]):
                end += 1
            kept.extend(_table_without_sensitive(lines[i:end]))
            i = end
        elif SENSITIVE_TERMS.search(line):
            depth = len(line) - len(line.lstrip())
            i += 1
            while i < len(lines) and lines[i].strip() and (
                    len(lines[i]) - len(lines[i].lstrip()) > depth):
                i += 1
        else:
            kept.append(line)
            i += 1
    return "\n".join(kept)


def _table_without_sensitive(rows: list[str]) -> list[str]:
    """A markdown table without the rows and columns that name a sensitive figure."""
    cells = [row.strip().strip("|").split("|") for row in rows]
    drop = {i for i, cell in enumerate(cells[0]) if SENSITIVE_TERMS.search(cell)}
    kept = [
        "|" + "|".join(c for i, c in enumerate(row) if i not in drop) + "|"
        for row, raw in zip(cells, rows, strict=True)
        if TABLE_RULE.match(raw) or not SENSITIVE_TERMS.search(row[0])
    ]
    body = [row for row in kept[1:] if not TABLE_RULE.match(row)]
    return kept if body and len(drop) < len(cells[0]) else []


@dataclass(frozen=True)
class AudienceScope(AccessScope):
    """The accounts every member of an audience may see, as one scope the tools apply like
    any other: the intersection of the members' scopes (for what a channel may see)."""

    members: tuple[AccessScope, ...] = ()

    @classmethod
    def of(cls, asker: AccessScope, members: Iterable[AccessScope]) -> AudienceScope:
        people = tuple(members)
        key = hashlib.sha256(",".join(sorted(m.user_id for m in people)).encode()).hexdigest()
        # Its own id: thread memory and cached names are never the asker's.
        return cls(user_id=f"audience:{key[:16]}", name=asker.name, role=asker.role,
                   team=asker.team, members=people)

    @property
    def sees_everything(self) -> bool:
        return bool(self.members) and all(m.sees_everything for m in self.members)

    def account_clause(self) -> ColumnElement[bool]:
        if not self.members:
            return false()
        return and_(*(m.account_clause() for m in self.members))

    def apply(self, stmt: Select, account_id_column: ColumnElement[str]) -> Select:
        if self.sees_everything:
            return stmt
        return stmt.where(account_id_column.in_(self.visible_account_ids()))
