"""Mentions and direct messages, answered by the offline assistant on the demo data: in a
channel a placeholder, then the answer in the thread, with KPI fields, sources and the
as-of date; in a direct message the answer streamed into its thread."""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import select

from store.models import Activity
from tests.support.mock_slack import BOT_ID, BOT_USER_ID
from tests.support.slack import ADA, ANNA, BEN, CHANNEL, MARIA, STRANGER


def answer_blocks(mock, count: int = 1) -> list[dict]:
    """The blocks of the `count`-th answer (the chat.update that replaced its placeholder)."""
    return mock.wait_for("chat.update", count)[count - 1].body["blocks"]


def shown(blocks: list[dict]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def streamed_answer(mock, count: int = 1) -> str:
    """The text of the `count`-th streamed answer, once its stream is closed."""
    stop = mock.wait_for("chat.stopStream", count)[count - 1]
    return mock.streamed(stop.body["ts"])


def test_mention_gets_a_placeholder_then_the_answer_in_its_thread(slack, mock_slack):
    reply = slack.mention("How is Acme Industrial doing?", ts="1760000001.000100")

    assert reply.status == 200
    placeholder = mock_slack.wait_for("chat.postMessage")[0]
    update = mock_slack.wait_for("chat.update")[0].body
    assert placeholder.body["channel"] == CHANNEL
    assert placeholder.body["thread_ts"] == "1760000001.000100"
    assert "Looking into" in placeholder.body["text"]
    assert (update["channel"], update["ts"]) == (CHANNEL, placeholder.reply["ts"])
    assert "Acme Industrial" in shown(update["blocks"])
    assert "Numbers as of 2026-09-30 · model: offline" in shown(update["blocks"])
    slack.drain()
    assert len(mock_slack.of("chat.postMessage")) == 1


def test_account_summary_shows_kpis_as_fields(slack, mock_slack):
    # Everyone here manages Acme, so its margin may be posted; the admin sees more than the
    # manager, so the answer goes through the placeholder (and its KPI fields).
    mock_slack.channel("C0LEADS001", [MARIA, ADA], name="leads")
    slack.mention("How is Acme Industrial doing?", user=ADA, channel="C0LEADS001")

    blocks = answer_blocks(mock_slack)
    labels = [f["text"].split("\n")[0] for b in blocks for f in b.get("fields", [])]
    assert {"*Revenue*", "*Gross margin*", "*Share of wallet*", "*Churn risk*"} <= set(labels)


def test_advice_comes_with_its_sources(slack, mock_slack):
    slack.mention("What should I do about falling engagement at Globex Logistics?")

    blocks = answer_blocks(mock_slack)
    assert blocks[0]["type"] == "header"
    assert "Globex Logistics" in blocks[0]["text"]["text"]
    sources = next(b for b in blocks if b["type"] == "context" and "Sources" in shown([b]))
    assert "[Churn warning signs and the save plan › " in shown([sources])


def test_answer_has_feedback_buttons_naming_question_and_answer(slack, mock_slack):
    slack.mention("How is Acme Industrial doing?", ts="1760000002.000100")

    blocks = answer_blocks(mock_slack)
    (buttons,) = next(b for b in blocks if b.get("block_id") == "feedback")["elements"]
    assert (buttons["type"], buttons["action_id"]) == ("feedback_buttons", "feedback")
    placeholder = mock_slack.of("chat.postMessage")[0]
    question, answer = f"{CHANNEL}:1760000002.000100", f"{CHANNEL}:{placeholder.reply['ts']}"
    assert json.loads(buttons["positive_button"]["value"]) == {"q": question, "a": answer, "h": 1}
    assert json.loads(buttons["negative_button"]["value"]) == {"q": question, "a": answer, "h": 0}


def test_answer_is_sent_without_link_names_or_unfurls(slack, mock_slack):
    slack.mention("How is Acme Industrial doing?")

    mock_slack.wait_for("chat.update")
    for call in mock_slack.of("chat.postMessage"):
        assert call.body["link_names"] is False
        assert call.body["unfurl_links"] is False and call.body["unfurl_media"] is False
    assert mock_slack.of("chat.update")[0].body["link_names"] is False


def test_direct_message_is_answered_in_its_thread(slack, mock_slack):
    slack.direct_message("Which of my accounts are at risk of churn?", ts="1760000003.000100")

    start = mock_slack.wait_for("chat.startStream")[0].body
    assert start["channel"] == "D0ANNA001"
    assert start["thread_ts"] == "1760000003.000100"
    assert "Globex Logistics" in streamed_answer(mock_slack)


def test_follow_up_in_the_thread_keeps_the_context(slack, mock_slack):
    root = "1760000004.000100"
    slack.direct_message("How is Acme Industrial doing?", ts=root)
    streamed_answer(mock_slack)

    slack.direct_message("and last year?", thread_ts=root)

    follow_up = streamed_answer(mock_slack, 2)
    assert "Acme Industrial" in follow_up and "2025-01-01 to 2025-12-31" in follow_up
    assert mock_slack.of("chat.startStream")[1].body["thread_ts"] == root


def test_a_new_thread_starts_without_context(slack, mock_slack):
    slack.direct_message("How is Acme Industrial doing?", ts="1760000005.000100")
    streamed_answer(mock_slack)

    slack.direct_message("and last year?", ts="1760000006.000100")

    assert "Acme Industrial" not in streamed_answer(mock_slack, 2)


def test_unknown_slack_user_gets_a_refusal_and_no_data(slack, mock_slack):
    slack.mention("How is Acme Industrial doing?", user=STRANGER)

    posted = mock_slack.wait_for("chat.postMessage")
    slack.drain()
    assert len(mock_slack.of("chat.postMessage")) == 1 and mock_slack.of("chat.update") == []
    text = shown(posted[0].body["blocks"])
    assert "don't know you yet" in text and STRANGER in text
    assert "Acme" not in text and "revenue" not in text.lower()


def test_kam_asking_about_another_kams_account_gets_no_data(slack, mock_slack):
    slack.mention("How is Globex Logistics doing?", user=BEN)

    text = shown(answer_blocks(mock_slack))
    assert "A0003" not in text and "1,300,880" not in text and "100/100" not in text


def test_markup_planted_in_stored_notes_is_escaped(slack, mock_slack, offline):
    planted = ("Call <!channel> and <@U0KAM00002> now, <!here|here>, <!subteam^S0123|@kams>, "
               "see <https://evil.example|the deck> @everyone & co")
    with offline.sessions.begin() as session:
        # Northwind Traders (Anna's) is looked at by no other test.
        if session.scalar(select(Activity).where(Activity.activity_id == "PLANTED1")) is None:
            session.add(Activity(activity_id="PLANTED1", account_id="A0004", user_id="u_kam_anna",
                                 kind="call", occurred_on=date(2026, 9, 30), notes=planted))

    slack.mention("Recent activity at Northwind Traders")

    text = shown(answer_blocks(mock_slack))
    assert "Call &lt;!channel&gt; and &lt;@U0KAM00002&gt;" in text
    sent = mock_slack.bodies()
    for raw in ("<!channel>", "<@U0KAM00002>", "<!here", "<!subteam", "<https://", "<!"):
        assert raw not in sent
    assert "@everyone" not in sent  # defused with an invisible joiner


def test_markup_in_the_question_never_reaches_slack_unescaped(scripted, mock_slack):
    scripted.mention("tell <!channel> about <https://evil.example|this> &lt;@U1&gt;")

    answer_blocks(mock_slack)
    sent = mock_slack.bodies()
    assert "<!channel>" not in sent and "<https://" not in sent and "<@U1>" not in sent


def test_chart_is_uploaded_into_the_thread(scripted, mock_slack):
    scripted.mention("How is Acme Industrial doing? With a chart", ts="1760000007.000100")

    complete = mock_slack.wait_for("files.completeUploadExternal")[0].body
    assert complete["thread_ts"] == "1760000007.000100"
    assert complete["channel_id"] == CHANNEL
    assert json.loads(complete["files"])[0]["title"] == "Revenue by quarter"
    upload = mock_slack.of("files.getUploadURLExternal")[0]
    assert upload.body["filename"] == "revenue_by_quarter.png"
    assert any(c.method.startswith("/upload/F") for c in mock_slack.calls)


def test_the_bots_own_messages_are_ignored(slack, mock_slack):
    own = slack.direct_message("How is Acme Industrial doing?", user=BOT_USER_ID)
    bot_message = slack.event({
        "type": "message", "channel_type": "im", "bot_id": BOT_ID, "subtype": "bot_message",
        "text": "How is Acme Industrial doing?", "ts": slack.next_ts(), "channel": "D0ANNA001",
    })

    assert (own.status, bot_message.status) == (200, 200)
    slack.drain()
    assert mock_slack.of("chat.postMessage") == []


def test_channel_messages_without_a_mention_are_acknowledged_and_ignored(slack, mock_slack):
    reply = slack.event({"type": "message", "channel_type": "channel", "user": ANNA,
                         "text": "How is Acme Industrial doing?", "ts": slack.next_ts(),
                         "channel": CHANNEL})

    assert reply.status == 200
    slack.drain()
    assert mock_slack.of("chat.postMessage") == []


def test_an_empty_mention_gets_a_hint(slack, mock_slack):
    slack.mention("")

    assert "/kam help" in shown(mock_slack.wait_for("chat.postMessage")[0].body["blocks"])
