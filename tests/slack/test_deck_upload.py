"""`/kam qbr ACCOUNT --deck`: the QBR deck (PPTX) is uploaded with files_upload_v2 to the thread
of the prep note (or to the asker's DMs for a private answer); when it cannot be, the prep
note still comes and the asker is told why, in words."""

from __future__ import annotations

import io
import json

import pytest
from pptx import Presentation

from bot.slack.commands import CommandError, parse_command
from prompts import Prompts
from tests.support.slack import ANNA, BEN, CHANNEL, MARIA
from tools.deck import QbrDecks


@pytest.fixture
def decked(serve, offline, tmp_path):
    """The app with the offline assistant and QBR decks on the same database."""
    return serve(decks=QbrDecks(offline.sessions, Prompts(currency="EUR"), tmp_path / "out"))


def text_of(payload: dict) -> str:
    return json.dumps(payload.get("blocks", []), ensure_ascii=False) + payload.get("text", "")


def uploaded_deck(mock_slack, file_id: str):
    return Presentation(io.BytesIO(mock_slack.uploads[file_id]))


def deck_upload(mock_slack) -> dict:
    """The files.completeUploadExternal call that shared a deck (charts are uploaded too)."""
    def decks() -> list[dict]:
        return [c.body for c in mock_slack.of("files.completeUploadExternal")
                if "QBR deck" in c.body["files"]]
    mock_slack.wait_until(lambda: bool(decks()))
    return decks()[0]


def replied_saying(mock_slack, words: str) -> str:
    """The private reply (through the response_url) that says `words`."""
    def found() -> list[str]:
        return [text_of(c.body) for c in mock_slack.of("/hooks/cmd") if words in text_of(c.body)]
    mock_slack.wait_until(lambda: bool(found()))
    return found()[0]


def posted_saying(mock_slack, words: str) -> dict:
    def found() -> list[dict]:
        return [c.body for c in mock_slack.of("chat.postMessage") if words in text_of(c.body)]
    mock_slack.wait_until(lambda: bool(found()))
    return found()[0]


def test_deck_flag_belongs_to_qbr_alone():
    assert parse_command("qbr Acme Industrial --deck --share") == parse_command(
        "qbr --share Acme Industrial --deck")
    command = parse_command("qbr Acme Industrial --deck")
    assert (command.name, command.argument, command.deck, command.share) == (
        "qbr", "Acme Industrial", True, False)
    with pytest.raises(CommandError, match="`--deck` goes with `/kam qbr ACCOUNT`"):
        parse_command("summary Acme Industrial --deck")


def test_shared_qbr_with_deck_uploads_the_pptx_to_the_prep_note_thread(decked, mock_slack):
    # Margins go to a channel only where everyone manages the account: Maria's team's.
    mock_slack.channel(CHANNEL, [MARIA])

    decked.command("qbr Acme Industrial --deck --share", user=MARIA,
                   response_url=mock_slack.hook_url())

    placeholder = mock_slack.wait_for("chat.postMessage")[0]
    thread = placeholder.reply["ts"]
    note = mock_slack.wait_for("chat.update")[0].body
    assert "QBR prep note" in text_of(note) or "Results vs last period" in text_of(note)
    complete = deck_upload(mock_slack)
    assert complete["channel_id"] == CHANNEL and complete["thread_ts"] == thread
    (uploaded,) = json.loads(complete["files"])
    assert uploaded["title"] == "QBR deck: Acme Industrial"
    deck = uploaded_deck(mock_slack, uploaded["id"])
    assert deck.slides[0].shapes[0].text_frame.text == "Acme Industrial"
    decked.drain()
    assert not any("could not attach" in text_of(c.body) for c in mock_slack.of("chat.postMessage"))


@pytest.mark.parametrize(("error", "why"), [
    ("missing_scope", "ask your Slack admin to add the files:write scope"),
    ("invalid_channel", "Slack refused the upload (invalid_channel)"),
])
def test_a_failed_upload_still_gives_the_prep_note_and_says_why(decked, mock_slack, error, why):
    mock_slack.channel(CHANNEL, [MARIA])
    mock_slack.fail("files.completeUploadExternal", error=error, times=3)

    decked.command("qbr Acme Industrial --deck --share", user=MARIA,
                   response_url=mock_slack.hook_url())

    thread = mock_slack.wait_for("chat.postMessage")[0].reply["ts"]
    assert "Acme Industrial" in text_of(mock_slack.wait_for("chat.update")[0].body)
    said = posted_saying(mock_slack, "I could not attach the QBR deck: ")
    assert said["thread_ts"] == thread and why in text_of(said)
    assert not any("QBR deck" in c.body["files"]
                   for c in mock_slack.of("files.completeUploadExternal") if c.reply.get("ok"))


def test_no_deck_in_a_channel_where_someone_may_not_see_the_account(decked, mock_slack):
    mock_slack.channel("C0MIXED001", [ANNA, BEN])

    decked.command("qbr Acme Industrial --deck --share", channel="C0MIXED001",
                   response_url=mock_slack.hook_url())

    thread = mock_slack.wait_for("chat.postMessage")[0].reply["ts"]
    said = posted_saying(mock_slack, "not everyone in this channel may see all of its figures")
    assert said["thread_ts"] == thread
    decked.drain()
    assert mock_slack.of("files.getUploadURLExternal") == [] and mock_slack.uploads == {}


def test_private_qbr_with_deck_sends_it_to_the_askers_direct_messages(decked, mock_slack):
    decked.command("qbr Acme Industrial --deck", response_url=mock_slack.hook_url())

    complete = deck_upload(mock_slack)
    intro = next(c for c in mock_slack.of("chat.postMessage") if c.body["channel"] == ANNA)
    assert complete["channel_id"] == intro.reply["channel"]  # the DM the intro opened
    assert complete["thread_ts"] == intro.reply["ts"]
    replied_saying(mock_slack, "The QBR deck for Acme Industrial is in our direct messages.")
    assert "QBR prep note: Acme Industrial" in text_of(mock_slack.of("/hooks/cmd")[0].body)
    assert mock_slack.of("chat.postMessage")[0].body["channel"] != CHANNEL


def test_kam_gets_no_deck_of_another_kams_account(decked, mock_slack):
    decked.command("qbr Stark Components --deck", response_url=mock_slack.hook_url())

    replied_saying(mock_slack, "I could not attach the QBR deck: Account not found or not yours")
    decked.drain()
    assert mock_slack.of("files.getUploadURLExternal") == [] and mock_slack.uploads == {}
    assert all("Stark Components" not in text_of(c.body) for c in mock_slack.of("chat.postMessage"))
