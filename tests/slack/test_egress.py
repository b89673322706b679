"""Calls to Slack: rate limits retried after Retry-After, paced posts, one apology on failure."""

from __future__ import annotations

import json

import pytest
from slack_sdk.errors import SlackApiError

from bot.assistant import Answer, Assistant
from bot.slack.blocks import notice
from bot.slack.egress import BoundedRateLimitRetry, ChannelPacer, SlackOut, build_web_client
from bot.slack.listeners import APOLOGY
from tests.support.slack import BOT_TOKEN, CHANNEL


def test_429_on_post_message_is_retried_after_retry_after_and_posted_once(slack, mock_slack):
    mock_slack.fail("chat.postMessage", status=429, headers={"Retry-After": "1"})

    slack.mention("How is Acme Industrial doing?")

    update = mock_slack.wait_for("chat.update")[0]
    first, second = mock_slack.of("chat.postMessage")
    assert second.at - first.at >= 1.0
    assert update.body["ts"] == second.reply["ts"]
    slack.drain()
    assert len(mock_slack.of("chat.postMessage")) == 2


def test_a_web_client_without_the_handler_would_fail_on_429(mock_slack):
    # What the retry handler is for: slack_sdk's defaults do not retry 429s.
    from slack_sdk import WebClient

    mock_slack.fail("chat.postMessage", status=429, headers={"Retry-After": "1"})
    with pytest.raises(SlackApiError):
        WebClient(token=BOT_TOKEN, base_url=mock_slack.url).chat_postMessage(
            channel=CHANNEL, text="hi")


def test_rate_limit_retries_are_bounded(mock_slack):
    out = SlackOut(build_web_client(BOT_TOKEN, mock_slack.url, rate_limit_retries=2),
                   ChannelPacer(0))
    mock_slack.fail("chat.postMessage", status=429, headers={"Retry-After": "0"}, times=10)

    with pytest.raises(SlackApiError):
        out.post(CHANNEL, notice("hello"))

    assert len(mock_slack.of("chat.postMessage")) == 3


def test_a_retry_after_longer_than_the_cap_is_not_waited_for(mock_slack):
    client = build_web_client(BOT_TOKEN, mock_slack.url, rate_limit_retries=3)
    mock_slack.fail("chat.postMessage", status=429, headers={"Retry-After": "600"})

    with pytest.raises(SlackApiError):
        SlackOut(client, ChannelPacer(0)).post(CHANNEL, notice("hello"))

    assert len(mock_slack.of("chat.postMessage")) == 1


def test_web_client_has_bounded_rate_limit_retries():
    client = build_web_client(BOT_TOKEN, "http://127.0.0.1:9/api/", rate_limit_retries=4)

    handlers = [h for h in client.retry_handlers if isinstance(h, BoundedRateLimitRetry)]
    assert [h.max_retry_count for h in handlers] == [4]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_posts_to_one_channel_are_paced_one_per_second():
    clock = FakeClock()
    pacer = ChannelPacer(1.0, clock=clock, sleep=clock.sleep)

    for _ in range(5):
        pacer.wait("C1")

    assert clock.now >= 4.0


def test_posts_to_different_channels_are_not_held_back():
    clock = FakeClock()
    pacer = ChannelPacer(1.0, clock=clock, sleep=clock.sleep)

    for channel in ("C1", "C2", "C3", "C4", "C5"):
        pacer.wait(channel)

    assert clock.now == 0.0


def test_an_exception_in_the_model_gives_one_apology_and_the_bot_keeps_serving(scripted,
                                                                              mock_slack):
    scripted.mention("explode please", ts="1760000200.000100")

    apology = mock_slack.wait_for("chat.update")[0].body
    assert "Sorry" in json.dumps(apology["blocks"])
    assert "feedback" not in json.dumps(apology["blocks"])

    scripted.mention("How is Acme Industrial doing?")

    assert "Acme Industrial" in json.dumps(mock_slack.wait_for("chat.update", 2)[1].body["blocks"])
    assert len(mock_slack.of("chat.postMessage")) == 2  # two placeholders, no extra messages


class ReplacedAnswer(Assistant):
    """The real assistant (same users, same store) with `answer` replaced by `reply`."""

    def __init__(self, inner: Assistant, reply):
        self.__dict__.update(inner.__dict__)
        self.reply = reply
        self.inner = inner

    def answer(self, user, text, thread_id, **streaming) -> Answer:
        # `Assistant.stream` (Slack's way to ask) reports its events through `answer`.
        return self.reply(self.inner, user, text, thread_id)


def break_on_request(inner, user, text, thread_id) -> Answer:
    if "break" in text:
        raise RuntimeError("assistant bug")
    return inner.answer(user, text, thread_id)


def test_an_exception_in_the_assistant_gives_one_apology_in_the_thread(serve, offline, mock_slack):
    slack = serve(assistant=ReplacedAnswer(offline.assistant, break_on_request))

    slack.mention("break it", ts="1760000300.000100")

    update = mock_slack.wait_for("chat.update")[0].body
    assert APOLOGY in json.dumps(update["blocks"], ensure_ascii=False)
    slack.mention("How is Acme Industrial doing?")
    mock_slack.wait_for("chat.update", 2)
    slack.drain()
    assert len(mock_slack.of("chat.postMessage")) == 2


def test_a_failed_update_ends_as_one_apology(slack, mock_slack):
    mock_slack.fail("chat.update", error="msg_too_long")

    slack.mention("How is Acme Industrial doing?")

    failed, apology = mock_slack.wait_for("chat.update", 2)
    assert APOLOGY in json.dumps(apology.body["blocks"], ensure_ascii=False)
    slack.drain()
    assert len(mock_slack.of("chat.update")) == 2
    assert len(mock_slack.of("chat.postMessage")) == 1


def test_a_long_answer_continues_in_the_thread(serve, offline, mock_slack):
    def wordy(inner, user, text, thread_id) -> Answer:
        body = "\n\n".join(f"Paragraph {i}: " + "word " * 500 for i in range(40))
        return Answer(body, citations=["Renewals › Timing"], model="scripted")

    slack = serve(assistant=ReplacedAnswer(offline.assistant, wordy))
    slack.mention("Tell me everything", ts="1760000400.000100")

    update = mock_slack.wait_for("chat.update")[0].body
    slack.drain()
    rest = mock_slack.of("chat.postMessage")[1:]
    assert rest and all(c.body["thread_ts"] == "1760000400.000100" for c in rest)
    messages = [update["blocks"]] + [c.body["blocks"] for c in rest]
    assert all(len(blocks) <= 50 for blocks in messages)
    assert "feedback" in json.dumps(messages[-1]) and "feedback" not in json.dumps(messages[0])
    text = "".join(b["text"]["text"] for m in messages for b in m if b["type"] == "section")
    assert all(f"Paragraph {i}:" in text for i in range(40))

