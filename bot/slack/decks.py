"""`/kam qbr ACCOUNT --deck`: the QBR deck (PPTX), made under the asker's scope, uploaded with
`files_upload_v2` to the thread of the prep note, or for a private answer to the asker's
direct messages with the bot. When it cannot be attached, the asker is told why in words;
the prep note stands either way."""

from __future__ import annotations

import logging
import tempfile
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from slack_sdk.errors import SlackApiError

from bot.slack.blocks import context, notice
from store.access import AccessScope
from tools.context import CallerContext

if TYPE_CHECKING:
    from bot.slack.app import SlackBot

log = logging.getLogger(__name__)

NOT_ATTACHED = "I could not attach the QBR deck: {why}."
HIDDEN = ("not everyone in this channel may see all of its figures; run `/kam qbr {account} "
          "--deck` without --share to get it in our direct messages")
NOT_SET_UP = "decks are not set up on this server"
REFUSED = "Slack refused the upload ({error})"
NO_SCOPE = ("the app may not upload files (Slack said {error}); ask your Slack admin to add "
            "the files:write scope, see docs/slack-setup.md")
UNREACHABLE = "Slack could not be reached for the upload; try again in a minute"
BROKEN = "making it failed; the details are in the bot's log"
IN_DMS = "The QBR deck for {name} is in our direct messages."
DECK_TITLE = "QBR deck: {name}"


class DeckSource(Protocol):
    """`tools.deck.QbrDecks`: a deck for a caller, or an error dict."""

    def draft(self, context: CallerContext, account: str, meeting: date | None = None,
              as_of: date | None = None, path: Path | None = None) -> dict[str, Any]: ...


def attach_to_thread(bot: SlackBot, scope: AccessScope, account: str, channel: str,
                     thread_ts: str) -> None:
    """Upload the deck into the thread; if it cannot be, say why in the thread."""
    why = _upload(bot, scope, account, channel, thread_ts)
    if why is not None:
        bot.out.post(channel, notice(NOT_ATTACHED.format(why=why)), thread_ts=thread_ts)


def refuse_in_thread(bot: SlackBot, account: str, channel: str, thread_ts: str) -> None:
    """The channel could not see the whole answer, so it gets no deck: say so."""
    why = HIDDEN.format(account=account)
    bot.out.post(channel, notice(NOT_ATTACHED.format(why=why)), thread_ts=thread_ts)


def send_privately(bot: SlackBot, scope: AccessScope, account: str, slack_user_id: str,
                   respond) -> None:
    """The deck in the asker's direct messages with the bot (a private answer has no thread),
    and a private line saying where it went, or why it is not there."""
    def tell(text: str) -> None:
        respond(response_type="ephemeral", replace_original=False, text=text,
                blocks=[context(text)])

    with tempfile.TemporaryDirectory(prefix="kam-deck-") as folder:
        made = _make(bot, scope, account, Path(folder))
        if isinstance(made, str):
            tell(NOT_ATTACHED.format(why=made))
            return
        path, name = made
        try:
            posted = bot.out.post(slack_user_id, notice(DECK_TITLE.format(name=name)))
        except SlackApiError as error:
            tell(NOT_ATTACHED.format(why=_refusal(error)))
            return
        why = _send(bot, path, name, posted.get("channel") or slack_user_id, posted["ts"])
    tell(IN_DMS.format(name=name) if why is None else NOT_ATTACHED.format(why=why))


def _upload(bot: SlackBot, scope: AccessScope, account: str, channel: str,
            thread_ts: str) -> str | None:
    with tempfile.TemporaryDirectory(prefix="kam-deck-") as folder:
        made = _make(bot, scope, account, Path(folder))
        if isinstance(made, str):
            return made
        return _send(bot, *made, channel, thread_ts)


def _make(bot: SlackBot, scope: AccessScope, account: str, folder: Path
          ) -> tuple[Path, str] | str:
    """(the deck's file, the account's name), or why there is none."""
    if bot.decks is None:
        return NOT_SET_UP
    try:
        result = bot.decks.draft(CallerContext(scope=scope), account,
                                 path=folder / "qbr-deck.pptx")
    except Exception:
        log.exception("could not make the QBR deck of %r for %s", account, scope.user_id)
        return BROKEN
    if "error" in result:
        return str(result["message"]).rstrip(".")
    path = Path(result["path"])
    named = path.rename(folder / f"{result['account']['account_id']}-qbr-deck.pptx")
    return named, result["account"]["name"]


def _send(bot: SlackBot, path: Path, name: str, channel: str, thread_ts: str) -> str | None:
    try:
        bot.out.upload(channel, thread_ts, path, DECK_TITLE.format(name=name))
    except SlackApiError as error:
        log.warning("QBR deck upload refused in %s: %s", channel, error.response.get("error"))
        return _refusal(error)
    except Exception:
        log.exception("QBR deck upload failed in %s", channel)
        return UNREACHABLE
    return None


def _refusal(error: SlackApiError) -> str:
    code = str(error.response.get("error") or "no reason given")
    if code in ("missing_scope", "not_allowed_token_type", "no_permission"):
        return NO_SCOPE.format(error=code)
    return REFUSED.format(error=code)
