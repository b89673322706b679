"""A question back with numbered choices ("Which one do you mean? 1. … 2. …") shows them as
buttons; the asker's press is answered as if they had replied with the number, in the same
conversation, and the offer then shows what was picked. Nobody else can pick for them."""

from __future__ import annotations

import json

from tests.support.slack import ANNA, BEN, CHANNEL

DM = "D0ANNA001"


def blocks_of(body: dict) -> list[dict]:
    blocks = body.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def choice_buttons(body: dict) -> list[dict]:
    return [e for b in blocks_of(body) if b.get("block_id") == "choices" for e in b["elements"]]


def offer_in_dm(slack, mock_slack, thread_ts: str) -> tuple[dict, list[dict]]:
    slack.direct_message("acme rev?", channel=DM, ts=thread_ts)
    stop = mock_slack.wait_for("chat.stopStream")[0].body
    assert "Which one do you mean" in mock_slack.streamed(stop["ts"])
    message = {"ts": stop["ts"], "thread_ts": thread_ts, "text": "Which one do you mean?",
               "blocks": blocks_of(stop)}
    return message, choice_buttons(stop)


def test_the_choices_are_buttons_and_a_press_answers_in_the_thread(slack, mock_slack):
    message, buttons = offer_in_dm(slack, mock_slack, "1760000300.000100")
    assert [b["text"]["text"] for b in buttons] == [
        "1. Acme Industrial (A0001)", "2. Acme Foods (A0002)"]

    slack.action(buttons[1]["action_id"], buttons[1]["value"], channel=DM, message=message,
                 response_url=mock_slack.hook_url("choice"))

    stops = mock_slack.wait_for("chat.stopStream", 2)
    answer = mock_slack.streamed(stops[1].body["ts"])
    assert "Acme Foods" in answer and "Revenue" in answer and "Acme Industrial" not in answer
    (start,) = [c for c in mock_slack.of("chat.startStream")
                if c.reply["ts"] == stops[1].body["ts"]]
    assert start.body["thread_ts"] == "1760000300.000100"
    (update,) = [c for c in mock_slack.of("chat.update") if c.body["ts"] == message["ts"]]
    shown = json.dumps(blocks_of(update.body), ensure_ascii=False)
    assert "You picked 2. Acme Foods (A0002)" in shown and "kam_choice_" not in shown


def test_someone_else_cannot_pick_for_the_asker(slack, mock_slack):
    message, buttons = offer_in_dm(slack, mock_slack, "1760000301.000100")

    slack.action(buttons[0]["action_id"], buttons[0]["value"], user=BEN, channel=DM,
                 message=message, response_url=mock_slack.hook_url("choice"))

    (refusal,) = mock_slack.wait_for("/hooks/choice")
    assert "Only Anna Berg can pick" in refusal.body["text"]
    slack.drain()
    assert len(mock_slack.of("chat.stopStream")) == 1  # nothing more was answered


def test_a_private_kam_answer_offers_buttons_answered_privately(slack, mock_slack):
    slack.command("ask acme rev?", user=ANNA, channel=CHANNEL,
                  response_url=mock_slack.hook_url("cmd"))
    (offer,) = mock_slack.wait_for("/hooks/cmd")
    buttons = choice_buttons(offer.body)
    assert len(buttons) == 2

    slack.action(buttons[0]["action_id"], buttons[0]["value"], channel=CHANNEL, ephemeral=True,
                 message={"ts": "1760000302.000100"}, response_url=mock_slack.hook_url("pick"))

    picked, answer = mock_slack.wait_for("/hooks/pick", 2)
    assert picked.body["replace_original"] and "You picked 1. Acme Industrial" in \
        picked.body["text"]
    assert "Acme Industrial" in answer.body["text"] and not answer.body.get("replace_original")
    assert mock_slack.of("chat.postMessage") == []  # nothing went to the channel
