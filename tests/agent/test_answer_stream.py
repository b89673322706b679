"""`Assistant.stream`, the streaming twin of `Assistant.answer`: tool calls as they start
and finish, the text as it is written, and last the very answer `answer` gives."""

from __future__ import annotations

import uuid

import pytest

from bot.progress import Finished, Started, TextDelta, ToolFinished, ToolStarted


def streamed(assistant, question: str, user: str = "u_kam_anna", thread: str | None = None):
    return list(assistant.stream(user, question, thread or uuid.uuid4().hex))


def test_each_tool_call_is_reported_before_its_result_and_the_answer_comes_last(
    offline_assistant,
):
    events = streamed(offline_assistant, "Summarise my team's accounts", user="u_mgr_north")

    assert isinstance(events[0], Started) and isinstance(events[-1], Finished)
    started = [e for e in events if isinstance(e, ToolStarted)]
    finished = [e for e in events if isinstance(e, ToolFinished)]
    assert [e.name for e in started] == [c.name for c in events[-1].answer.tool_calls]
    assert {e.call_id for e in finished} == {e.call_id for e in started}
    for done in finished:
        assert events.index(done) > next(
            events.index(e) for e in started if e.call_id == done.call_id)
    assert all(e.ok for e in finished)


@pytest.mark.parametrize(
    "question",
    ["How is Acme Industrial doing?", "Which of my accounts are at risk of churn?",
     "How should I prepare a QBR?", "What is the gross margin of Acme Industrial?"],
)
def test_the_streamed_text_is_the_answer_answer_gives(offline_assistant, question):
    events = streamed(offline_assistant, question)

    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    answer = offline_assistant.answer("u_kam_anna", question, uuid.uuid4().hex)
    assert text == answer.text == events[-1].answer.text
    assert [c.name for c in events[-1].answer.tool_calls] == [c.name for c in answer.tool_calls]


def test_a_tool_call_about_an_account_names_it_for_the_status_line(offline_assistant):
    events = streamed(offline_assistant, "How is Acme Industrial doing?")

    (call,) = [e for e in events if isinstance(e, ToolStarted)]
    assert call.subject == "Acme Industrial"
    assert call.phrase() == "Summarising Acme Industrial"
    assert call.phrase(named=False) == "Summarising the account"


def test_only_the_first_question_of_a_thread_is_a_first_turn(offline_assistant):
    thread = uuid.uuid4().hex

    first = streamed(offline_assistant, "How is Acme Industrial doing?", thread=thread)
    second = streamed(offline_assistant, "and last year?", thread=thread)

    assert first[0] == Started(first_turn=True) and second[0] == Started(first_turn=False)


def test_a_stranger_gets_the_refusal_and_no_tool_runs(offline_assistant):
    events = streamed(offline_assistant, "How is Acme Industrial doing?", user="u_nobody")

    assert [type(e) for e in events] == [Started, Finished]
    assert not events[-1].answer.ok and "don't know you" in events[-1].answer.text


@pytest.mark.parametrize(
    ("name", "args", "subject", "phrase"),
    [
        ("get_kpi", {"kpi": "gross_margin"}, "Globex Logistics",
         "Computing gross margin for Globex Logistics"),
        ("rank_accounts", {"kpi": "nrr"}, None, "Ranking accounts by NRR"),
        ("search_guidance", {"query": "QBR"}, None, "Searching the KAM guidance"),
        ("some_new_tool", {}, None, "Looking it up"),
    ],
)
def test_each_tool_has_a_phrase_for_people(name, args, subject, phrase):
    assert ToolStarted("1", name, args, subject).phrase() == phrase


def test_kam_chat_prints_each_step_then_the_answer(offline_assistant):
    from bot.cli.ask import show_stream
    from bot.cli.common import console

    with console.capture() as captured:
        answer = show_stream(offline_assistant.stream(
            "u_kam_anna", "How is Acme Industrial doing?", uuid.uuid4().hex))

    printed = captured.get()
    assert "· Summarising Acme Industrial…" in printed
    assert "Acme Industrial" in printed.split("Summarising Acme Industrial…")[1]
    assert answer.ok and "tools: account_summary" in printed


def test_what_answer_raises_the_stream_raises(offline_assistant, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("store down")

    monkeypatch.setattr(offline_assistant, "answer", broken)

    with pytest.raises(RuntimeError, match="store down"):
        streamed(offline_assistant, "How is Acme Industrial doing?")


def test_an_openai_model_is_asked_to_stream_and_its_answer_is_the_same(make_assistant):
    from tests.support.mock_openai import MockOpenAI

    script = [
        {"tool_calls": [("get_kpi", {"kpi": "nps", "account": "Globex"})]},
        {"content": "Globex Logistics has an NPS of -100 over the last 12 months."},
    ]
    with MockOpenAI(script) as server:
        assistant = make_assistant(
            kam_llm="openai", kam_model="mock-model", openai_api_key="sk-test",
            openai_base_url=server.base_url, kam_llm_timeout_s=2.0, kam_llm_max_retries=0)
        events = streamed(assistant, "What is the NPS of Globex?")

    assert [r.get("stream") for r in server.requests] == [True, True]
    (call,) = [e for e in events if isinstance(e, ToolStarted)]
    assert call.phrase() == "Computing NPS for Globex Logistics"
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == events[-1].answer.text == (
        "Globex Logistics has an NPS of -100 over the last 12 months.")
