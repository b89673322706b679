"""The OpenAI model's bounds and its fallback to the offline model (KAM_LLM_FALLBACK=offline),
over real HTTP against the scripted OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import uuid

from bot.agent.models import NOT_AN_ANSWER, build_openai_model
from bot.config import Settings
from tests.support.mock_openai import Hang, Html, MockOpenAI, Status


def openai_settings(server: MockOpenAI, **extra) -> dict:
    return {"kam_llm": "openai", "kam_model": "mock-model", "openai_api_key": "sk-test",
            "openai_base_url": server.base_url, **extra}


def ask(assistant, question: str = "What is the NPS of Globex?"):
    return assistant.answer("u_kam_anna", question, uuid.uuid4().hex)


def test_with_a_fallback_the_primary_gets_no_retries_and_a_short_timeout():
    settings = Settings(_env_file=None, kam_llm="openai", openai_api_key="sk-test",
                        kam_llm_fallback="offline")

    model = build_openai_model(settings)

    # At the defaults (30 s x 3 attempts) a hanging model used up the whole 90 s budget.
    assert model.max_retries == 0
    assert model.request_timeout == settings.kam_llm_fallback_timeout_s
    assert model.request_timeout * settings.kam_agent_step_limit < settings.kam_answer_budget_s * 2


def test_a_hanging_model_reaches_the_offline_fallback_well_within_the_budget(make_assistant):
    with MockOpenAI([Hang(5)] * 5) as server:
        assistant = make_assistant(**openai_settings(
            server, kam_llm_fallback="offline", kam_llm_fallback_timeout_s=0.5,
            kam_answer_budget_s=20))
        answer = ask(assistant)

    assert answer.ok and "(offline model)" in answer.text and "-100" in answer.text
    assert len(server.requests) == 1


def test_a_failing_model_is_tried_once_per_answer_then_the_fallback_answers(make_assistant):
    with MockOpenAI([Status(500)] * 10) as server:
        assistant = make_assistant(**openai_settings(server, kam_llm_fallback="offline"))
        answer = ask(assistant)

    assert answer.ok and "(offline model)" in answer.text
    assert len(server.requests) == 1  # not once per step, not three times per step


def test_an_html_page_instead_of_a_completion_falls_back(make_assistant):
    with MockOpenAI([Html()]) as server:
        assistant = make_assistant(**openai_settings(server, kam_llm_fallback="offline"))
        answer = ask(assistant)

    assert answer.ok and "(offline model)" in answer.text and "-100" in answer.text


def test_an_html_page_without_a_fallback_is_one_honest_line(make_assistant):
    with MockOpenAI([Html()]) as server:
        answer = ask(make_assistant(**openai_settings(server, kam_llm_max_retries=0)))

    assert not answer.ok and answer.text == NOT_AN_ANSWER


def test_the_model_is_asked_for_at_most_max_tokens(make_assistant):
    with MockOpenAI([{"content": "Hello."}]) as server:
        ask(make_assistant(**openai_settings(server, kam_llm_max_tokens=321)), "Hi")

    request = server.requests[0]
    assert request.get("max_tokens", request.get("max_completion_tokens")) == 321


def test_an_html_page_while_streaming_falls_back_too(make_assistant):
    with MockOpenAI([Html()]) as server:
        assistant = make_assistant(**openai_settings(server, kam_llm_fallback="offline"))
        events = list(assistant.stream("u_kam_anna", "What is the NPS of Globex?",
                                       uuid.uuid4().hex))

    answer = events[-1].answer
    assert server.requests[0]["stream"] is True
    assert answer.ok and "(offline model)" in answer.text and "-100" in answer.text
