""""What changed?" questions reach the kpi_movers tool with the KPI, direction, window and scope
they ask for, offline and through an OpenAI-compatible model (issue 16)."""

from __future__ import annotations

import json
import shutil
import uuid

import pytest

from bot.factory import build_assistant, build_services
from tests.agent.conftest import agent_settings
from tests.agent.test_openai_path import openai_settings, tool_messages
from tests.support.mock_openai import MockOpenAI
from tools.history import backfill


@pytest.fixture(scope="module")
def history_home(tmp_path_factory, agent_home):
    """The agent's demo database with a year of weekly KPI snapshots."""
    home = tmp_path_factory.mktemp("movers-home")
    shutil.copy(agent_home / "kam.db", home / "kam.db")
    shutil.copytree(agent_home / "data", home / "data")
    services = build_services(agent_settings(home))
    backfill(services.sessions, 52)
    services.close()
    return home


@pytest.fixture(scope="module")
def movers_assistant(history_home, embedder):
    services = build_services(agent_settings(history_home))
    assistant = build_assistant(agent_settings(history_home), services, embedder)
    yield assistant
    assistant.close()
    services.close()


def ask(assistant, user: str, *questions: str):
    thread = uuid.uuid4().hex
    return [assistant.answer(user, q, thread) for q in questions]


def movers_args(answer) -> dict:
    calls = [c for c in answer.tool_calls if c.name == "kpi_movers"]
    assert len(calls) == 1, answer.tool_calls
    return {k: v for k, v in calls[0].args.items() if k != "as_of"}


@pytest.mark.parametrize(("question", "args"), [
    ("what changed in my book since last week?", {}),
    ("which accounts got worse this month", {"direction": "worse", "since": "2026-08-31"}),
    ("biggest movers in churn risk", {"kpi": "churn_risk"}),
    ("whose nps dropped", {"kpi": "nps", "direction": "worse"}),
    ("did churn risk go down anywhere in the last 3 weeks", {"kpi": "churn_risk",
                                                             "direction": "better", "weeks": 3}),
    ("anything change for globex?", {"account": "A0003"}),
    ("top 2 csat improvements over the past month", {"kpi": "csat", "direction": "better",
                                                     "n": 2, "weeks": 4}),
    ("what changed at acme foods since our last qbr", {"account": "A0002",
                                                       "since": "2026-06-09"}),
])
def test_movers_questions_route_to_kpi_movers(movers_assistant, question, args):
    [answer] = ask(movers_assistant, "u_kam_anna", question)
    assert answer.intent == "movers" and movers_args(answer) == args


@pytest.mark.parametrize("question", [
    "what's changed at northwind compared with a year ago",
    "engagement at globex keeps dropping, what do i do?",
    "list accts with growth worse than -10%",
    "which accounts are declining",
    "what is the nps of globex",
    "change the owner of globex to ben",
])
def test_questions_that_are_not_about_change_never_reach_movers(movers_assistant, question):
    [answer] = ask(movers_assistant, "u_kam_anna", question)
    assert answer.intent != "movers"
    assert "kpi_movers" not in [c.name for c in answer.tool_calls]


def test_the_answer_gives_the_figures_causes_and_the_dates_compared(movers_assistant):
    [answer] = ask(movers_assistant, "u_kam_anna", "what changed for globex over the past month")
    assert answer.text.startswith("**What changed for Globex Logistics")
    assert "over the last 4 weeks (Sep 6\u2009–\u200930, 2026)" in answer.text  # snapshots compared
    assert "**Churn risk**: 80/100 → 100/100 (+20 points). Why: warning sign fired" in answer.text


def test_a_movers_follow_up_keeps_the_window_and_direction(movers_assistant):
    first, second = ask(movers_assistant, "u_kam_anna",
                        "which accts got worse on churn risk this month", "and csat?")
    assert movers_args(first) == {"kpi": "churn_risk", "direction": "worse",
                                  "since": "2026-08-31"}
    assert second.intent == "movers"
    assert movers_args(second) == {"kpi": "csat", "direction": "worse", "since": "2026-08-31"}


def test_a_manager_asks_about_one_kams_book(movers_assistant):
    [answer] = ask(movers_assistant, "u_mgr_north",
                   "what moved on ben's accounts since the last qbr")
    assert movers_args(answer) == {"owner": "u_kam_ben", "since": "2026-06-30"}
    assert "QBR dates differ by account" in answer.text  # says which period it used


def test_a_kam_naming_another_kam_is_refused(movers_assistant):
    [answer] = ask(movers_assistant, "u_kam_ben", "what changed for anna's accounts this week")
    assert "Anna Berg's accounts are outside what you can see" in answer.text
    assert "Globex" not in answer.text and "A0003" not in answer.text


def test_a_kam_naming_another_team_is_refused(movers_assistant):
    [answer] = ask(movers_assistant, "u_kam_dev", "team north movers this week")
    assert "I can't show team North" in answer.text and not answer.tool_calls


def test_history_that_does_not_go_back_far_enough_is_said(movers_assistant):
    [answer] = ask(movers_assistant, "u_kam_anna", "globex changes since the last qbr")
    assert movers_args(answer) == {"account": "A0003", "since": "2025-08-04"}
    assert "since the last QBR with Globex Logistics on 2025-08-04" in answer.text
    assert "history starts on" in answer.text and "`kam snapshot`" in answer.text


def test_without_history_the_answer_says_what_to_run(offline_assistant):
    [answer] = ask(offline_assistant, "u_kam_anna", "what changed in my book since last week?")
    assert [c.name for c in answer.tool_calls] == ["kpi_movers"]
    assert "not enough KPI history" in answer.text and "run `kam snapshot` weekly" in answer.text


def test_openai_model_calls_kpi_movers_and_answers_from_its_result(history_home, embedder):
    script = [
        {"tool_calls": [("kpi_movers", {"kpi": "churn_risk", "direction": "worse", "weeks": 4})]},
        {"content": "Globex Logistics: churn risk 80 -> 100 since Sep 6."},
    ]
    services = build_services(agent_settings(history_home))
    with MockOpenAI(script) as server:
        settings = agent_settings(history_home, **openai_settings(server))
        assistant = build_assistant(settings, services, embedder)
        [answer] = ask(assistant, "u_kam_anna", "which accounts got worse on churn this month?")
        assistant.close()
    services.close()
    system = server.requests[0]["messages"][0]["content"]
    assert "`kpi_movers`" in system
    description = next(t["function"]["description"] for t in server.requests[0]["tools"]
                       if t["function"]["name"] == "kpi_movers")
    assert "what changed" in description
    result = json.loads(tool_messages(server.requests[1])[0]["content"])
    globex = result["movers"][0]["items"][0]
    assert (globex["name"], globex["before"], globex["after"]) == ("Globex Logistics", 80, 100)
    assert answer.ok and answer.text.startswith("Globex Logistics: churn risk 80 -> 100")
