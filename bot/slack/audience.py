"""Who is in a Slack conversation, as the disclosure policy needs it (`Audience`).

`conversations.info` says whether a channel is shared with another company (Slack
Connect); `conversations.members` lists who is in it, and each member is looked up in the
store by Slack user id. Members the store does not know are looked up once with
`users.info`: apps and deactivated accounts read nothing, anyone else is a stranger.
Answers come faster than memberships change, so each channel's audience is kept for
`ttl_s` seconds (60 by default); the price is that someone who joined a minute ago may
see the answer to a question asked before they joined. If Slack cannot tell who is in a
channel, the channel is treated as holding strangers: nothing of an account goes there.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.disclosure import Audience
from store.access import AccessScope, UnknownUserError

log = logging.getLogger(__name__)

MAX_MEMBERS = 1000  # beyond this a channel is too public for account data anyway
T = TypeVar("T")


class TtlCache:
    """A small thread-safe cache whose entries expire after `ttl_s` seconds."""

    def __init__(self, ttl_s: float, *, clock: Callable[[], float] = time.monotonic,
                 size: int = 5000):
        self.ttl_s = ttl_s
        self.clock = clock
        self.size = size
        self._items: dict[object, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def get(self, key: object, make: Callable[[], T]) -> T:
        now = self.clock()
        with self._lock:
            hit = self._items.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]  # type: ignore[return-value]
        value = make()
        with self._lock:
            if len(self._items) >= self.size:
                self._items = {k: v for k, v in self._items.items() if v[0] > now}
            self._items[key] = (now + self.ttl_s, value)
        return value


class Audiences:
    """The audience of a conversation for an asker, from Slack and the store."""

    def __init__(
        self,
        client: WebClient,
        resolve: Callable[[str], AccessScope],
        *,
        ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.client = client
        self.resolve = resolve  # Slack user id -> scope; UnknownUserError for strangers
        self._channels = TtlCache(ttl_s, clock=clock)
        self._people = TtlCache(ttl_s * 10, clock=clock)
        self._me: str | None = None

    def bot_user_id(self) -> str | None:
        """The bot's own user id (auth.test, once): it is in every channel it answers in."""
        if self._me is None:
            try:
                self._me = str(self.client.auth_test()["user_id"])
            except SlackApiError:
                return None
        return self._me

    def of(self, channel: str, asker: AccessScope) -> Audience:
        """Who reads `channel`: only the asker in a DM; otherwise its members."""
        if channel.startswith("D"):  # the asker's DM with the bot
            return Audience.only(asker)
        members, external, strangers = self._channels.get(channel, lambda: self._read(channel))
        if not any(m.user_id == asker.user_id for m in members):
            members = (*members, asker)
        return Audience(members, external=external, strangers=strangers)

    def _read(self, channel: str) -> tuple[tuple[AccessScope, ...], bool, int]:
        try:
            info = self.client.conversations_info(channel=channel)["channel"]
            ids = self._member_ids(channel)
        except SlackApiError as error:
            log.warning("cannot tell who is in %s (%s): no account data goes there",
                        channel, error.response.get("error"))
            return (), False, 1
        external = bool(info.get("is_ext_shared") or info.get("is_pending_ext_shared"))
        known: list[AccessScope] = []
        strangers = 0
        me = self.bot_user_id()
        for slack_user_id in ids:
            if slack_user_id == me:
                continue
            person = self._people.get(slack_user_id, functools.partial(self._person, slack_user_id))
            if isinstance(person, AccessScope):
                known.append(person)
            elif person == "stranger":
                strangers += 1
        if len(ids) >= MAX_MEMBERS:
            strangers += 1
        return tuple(known), external, strangers

    def _member_ids(self, channel: str) -> list[str]:
        ids: list[str] = []
        cursor = None
        while len(ids) < MAX_MEMBERS:
            page = self.client.conversations_members(channel=channel, limit=200, cursor=cursor)
            ids.extend(page.get("members") or [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return ids

    def _person(self, slack_user_id: str) -> AccessScope | str:
        """The member's scope, "app" for bots and deactivated accounts, else "stranger"."""
        try:
            return self.resolve(slack_user_id)
        except UnknownUserError:
            pass
        try:
            user = self.client.users_info(user=slack_user_id)["user"]
        except SlackApiError:
            return "stranger"
        return "app" if user.get("is_bot") or user.get("deleted") else "stranger"
