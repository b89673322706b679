"""Behaviour of the assistant with the embedded offline model."""

from __future__ import annotations

import uuid

from bot.agent.offline.model import OFFLINE_MARK
from store.access import resolve_scope
from tools.kpis import KpiEngine


def thread() -> str:
    return uuid.uuid4().hex


def test_every_answer_says_it_comes_from_the_offline_model(offline_assistant):
    for question in ("How is Globex doing?", "How should I prepare a QBR?", "Tell me a joke"):
        answer = offline_assistant.answer("u_kam_anna", question, thread())
        assert OFFLINE_MARK in answer.text
        assert answer.model == "offline"


def test_numbers_in_a_summary_equal_the_kpi_engine(offline_assistant, agent_services):
    answer = offline_assistant.answer("u_kam_anna", "How is Northwind Traders doing?", thread())
    with agent_services.sessions() as session:
        scope = resolve_scope(session, user_id="u_kam_anna")
        kpis = KpiEngine(session, scope).account("A0004", ["revenue", "share_of_wallet"])
    assert f"{kpis['revenue'].value / 100:,.0f}" in answer.text
    assert f"{kpis['share_of_wallet'].value * 100:.1f}%" in answer.text


def test_unknown_user_gets_a_refusal_and_no_data(offline_assistant):
    answer = offline_assistant.answer("u_stranger", "How is Globex doing?", thread())
    assert not answer.ok
    assert "Globex" not in answer.text and not answer.tool_calls


def test_thread_memory_survives_a_restart(make_assistant):
    first = make_assistant()
    conversation = thread()
    first.answer("u_kam_anna", "What is the NPS of Northwind Traders?", conversation)
    first.close()
    second = make_assistant()
    answer = second.answer("u_kam_anna", "and last year?", conversation)
    assert [c.name for c in answer.tool_calls] == ["get_kpi"]
    assert answer.tool_calls[0].args["account"] == "A0004"  # Northwind Traders, resolved
    # "last year": the previous calendar year, named with its dates
    assert "2025 (Jan 1\u2009–\u2009Dec 31, 2025)" in answer.text


def test_threads_are_private_to_each_user(offline_assistant):
    shared = thread()
    offline_assistant.answer("u_kam_anna", "What is the NPS of Globex?", shared)
    answer = offline_assistant.answer("u_kam_ben", "and last year?", shared)
    assert "Globex" not in answer.text


def test_guidance_answers_cite_their_sources(offline_assistant):
    answer = offline_assistant.answer("u_kam_anna", "How do I map stakeholders?", thread())
    assert answer.citations
    assert all(" › " in c for c in answer.citations)


def test_injected_instructions_in_stored_notes_are_shown_as_data(offline_assistant):
    answer = offline_assistant.answer("u_kam_anna", "Recent activity at Acme Foods", thread())
    assert "ignore previous instructions" in answer.text  # quoted as a note, not obeyed
    assert "Umbrella Pharma" not in answer.text
