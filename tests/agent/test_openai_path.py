"""KAM_LLM=openai end to end over real HTTP: the real openai client and ChatOpenAI against
a scripted OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from store.models import Account
from tests.support.mock_openai import Hang, MockOpenAI, Status


def openai_settings(server: MockOpenAI, **extra) -> dict:
    return {
        "kam_llm": "openai",
        "kam_model": "mock-model",
        "openai_api_key": "sk-test",
        "openai_base_url": server.base_url,
        "kam_llm_timeout_s": 2.0,
        "kam_llm_max_retries": 0,
        **extra,
    }


def tool_messages(request: dict) -> list[dict]:
    return [m for m in request["messages"] if m["role"] == "tool"]


def ask(assistant, question: str, user: str = "u_kam_anna"):
    return assistant.answer(user, question, uuid.uuid4().hex)


def test_two_step_tool_plan_answers_from_the_tool_result(make_assistant):
    script = [
        {"tool_calls": [("get_kpi", {"kpi": "nps", "account": "Globex"})]},
        {"content": "Globex Logistics has an NPS of -100 over the last 12 months."},
    ]
    with MockOpenAI(script) as server:
        answer = ask(make_assistant(**openai_settings(server)), "What is the NPS of Globex?")
    assert answer.ok and answer.text.startswith("Globex Logistics has an NPS of -100")
    assert [c.name for c in answer.tool_calls] == ["get_kpi"]
    assert len(server.requests) == 2  # one round-trip to plan, one to answer
    result = json.loads(tool_messages(server.requests[1])[0]["content"])
    assert result["value"] == -100.0 and result["account"]["name"] == "Globex Logistics"


def test_the_model_sees_the_system_prompt_and_tool_schemas(make_assistant):
    with MockOpenAI([{"content": "Hello."}]) as server:
        ask(make_assistant(**openai_settings(server)), "Hi")
    request = server.requests[0]
    system = request["messages"][0]
    assert (
        system["role"] == "system"
        and "Every number in your answer comes from a tool" in (system["content"])
    )
    names = {t["function"]["name"] for t in request["tools"]}
    assert {"get_kpi", "search_guidance", "account_summary"} <= names
    for tool in request["tools"]:  # identity never appears in what the model can set
        params = tool["function"]["parameters"]["properties"]
        assert not {"runtime", "role", "user_id", "scope"} & set(params)


def test_timeout_gives_a_short_apology(make_assistant):
    with MockOpenAI([Hang(3)]) as server:
        answer = ask(make_assistant(**openai_settings(server, kam_llm_timeout_s=0.5)), "Hi")
    assert not answer.ok and "took too long" in answer.text
    assert len(server.requests) == 1  # max_retries=0: no second attempt


def test_rate_limit_is_retried_after_retry_after(make_assistant):
    script = [Status(429, {"retry-after": "1"}), {"content": "Done."}]
    with MockOpenAI(script) as server:
        started = time.monotonic()
        answer = ask(make_assistant(**openai_settings(server, kam_llm_max_retries=2)), "Hi")
    assert answer.ok and answer.text == "Done."
    # Retry-After is honoured (a lower bound, not a performance limit).
    assert len(server.requests) == 2 and time.monotonic() - started >= 1


def test_rate_limit_after_retries_gives_an_apology(make_assistant):
    with MockOpenAI([Status(429, {"retry-after": "0"})] * 3) as server:
        answer = ask(make_assistant(**openai_settings(server)), "Hi")
    assert not answer.ok and "busy" in answer.text


def test_server_error_gives_an_apology(make_assistant):
    with MockOpenAI([Status(500)]) as server:
        answer = ask(make_assistant(**openai_settings(server)), "Hi")
    assert not answer.ok and "had an error" in answer.text


def test_server_error_falls_back_to_the_offline_model_when_configured(make_assistant):
    with MockOpenAI([Status(500)] * 4) as server:
        assistant = make_assistant(**openai_settings(server, kam_llm_fallback="offline"))
        answer = ask(assistant, "What is the NPS of Globex?")
    assert answer.ok and "(offline model)" in answer.text and "-100" in answer.text


def test_malformed_tool_arguments_do_not_crash_the_answer(make_assistant):
    script = [
        {"tool_calls": [("get_kpi", "{not json")]},
        {"content": "Sorry, I could not read that."},
    ]
    with MockOpenAI(script) as server:
        answer = ask(make_assistant(**openai_settings(server)), "NPS of Globex?")
    assert not answer.ok and "could not read" in answer.text  # a reply, not a crash
    assert len(server.requests) == 1  # nothing ran on the unreadable arguments


def test_unknown_tool_is_refused_and_reported_to_the_model(make_assistant):
    script = [
        {"tool_calls": [("run_sql", {"sql": "DROP TABLE accounts"})]},
        {"content": "I can't run SQL."},
    ]
    with MockOpenAI(script) as server:
        answer = ask(make_assistant(**openai_settings(server)), "Drop the accounts table")
    assert answer.text == "I can't run SQL."
    error = tool_messages(server.requests[1])[0]["content"]
    assert "run_sql" in error and "not a valid tool" in error


def test_a_model_asking_for_an_account_out_of_scope_gets_nothing(make_assistant):
    script = [
        {"tool_calls": [("account_summary", {"account": "Umbrella Pharma"})]},
        {"content": "Not found or not yours."},
    ]
    with MockOpenAI(script) as server:
        ask(make_assistant(**openai_settings(server)), "How is Umbrella Pharma doing?")
    result = tool_messages(server.requests[1])[0]["content"]
    assert json.loads(result)["error"] == "not_found_or_not_yours"
    assert "A0008" not in result and "Dev Patel" not in result


@pytest.mark.parametrize("extra", [{"role": "admin"}, {"user_id": "u_admin"}])
def test_identity_arguments_from_the_model_are_rejected(make_assistant, extra):
    script = [
        {"tool_calls": [("get_kpi", {"kpi": "revenue", **extra})]},
        {"content": "Could not do that."},
    ]
    with MockOpenAI(script) as server:
        ask(make_assistant(**openai_settings(server)), "Total revenue of all accounts")
    result = tool_messages(server.requests[1])[0]["content"]
    assert "error" in result.lower() and "12,817,812" not in result


ALLOWLIST = {
    "find_accounts",
    "account_summary",
    "get_kpi",
    "rank_accounts",
    "at_risk_accounts",
    "renewals_due",
    "stakeholder_map",
    "activity_timeline",
    "open_opportunities",
    "open_tickets",
    "customer_kpis",
    "compare_periods",
    "kpi_movers",
    "search_guidance",
    "draft_account_plan",
    "draft_qbr_agenda",
    "draft_qbr_prep_note",
}


def test_the_tool_registry_is_exactly_the_read_and_draft_allowlist(make_assistant):
    with MockOpenAI([{"content": "Hello."}]) as server:
        ask(make_assistant(**openai_settings(server)), "Hi")
    assert {t["function"]["name"] for t in server.requests[0]["tools"]} == ALLOWLIST


@pytest.mark.parametrize("query", ["1 OR 1=1", "'; DROP TABLE accounts; --"])
def test_sql_in_tool_arguments_is_matched_literally_and_the_table_survives(
        make_assistant, agent_services, query):
    script = [{"tool_calls": [("find_accounts", {"query": query})]}, {"content": "None."}]
    accounts = account_count(agent_services)
    with MockOpenAI(script) as server:
        ask(make_assistant(**openai_settings(server)), f"find {query}")
    result = json.loads(tool_messages(server.requests[1])[0]["content"])
    assert result["status"] == "not_found" and result["candidates"] == []
    assert account_count(agent_services) == accounts


def test_the_tools_read_through_an_engine_that_cannot_write(make_assistant, agent_services):
    assistant = make_assistant()
    tool_engines = {assistant.sessions.kw["bind"], agent_services.reads.kw["bind"]}
    assert tool_engines == {agent_services.reader}
    for statement in ("UPDATE accounts SET name = 'x'", "DROP TABLE accounts",
                      "CREATE TABLE loot (x TEXT)"):
        accounts = account_count(agent_services)
        with agent_services.reads() as session, \
                pytest.raises(OperationalError, match="readonly database"):
            session.execute(text(statement))
        assert account_count(agent_services) == accounts


def account_count(services) -> int:
    with services.sessions() as session:
        return session.scalar(select(func.count()).select_from(Account))


def test_a_looping_model_stops_at_the_step_limit_with_a_polite_reply(make_assistant):
    loop = [{"tool_calls": [("find_accounts", {"query": "Globex"})]}] * 30
    with MockOpenAI(loop) as server:
        answer = ask(make_assistant(**openai_settings(server, kam_agent_step_limit=6)), "Loop")
    assert not answer.ok and "step limit" in answer.text
    assert len(server.requests) <= 6


def test_a_hanging_model_gets_exactly_one_timed_out_reply(make_assistant):
    with MockOpenAI([Hang(4)]) as server:
        assistant = make_assistant(
            **openai_settings(server, kam_llm_timeout_s=10, kam_answer_budget_s=1)
        )
        answer = ask(assistant, "Hi")
    # The model would have answered "too late" after 4 s; the deadline answered first.
    assert not answer.ok and "took longer than 1 s" in answer.text
