""""What changed?" questions reach the kpi_movers tool with the KPI, direction, window and scope
they ask for, offline and through an OpenAI-compatible model (issue 16)."""

from __future__ import annotations

import json
import re
import shutil
import uuid

import pytest

from bot.factory import build_assistant, build_services
from bot.slack.blocks import markdown_blocks
from prompts import kpi_label
from tests.agent.conftest import agent_settings
from tests.agent.test_openai_path import openai_settings, tool_messages
from tests.support.mock_openai import MockOpenAI
from tools.history import TRACKED_KPIS, backfill
from tools.kpi_config import BANDS, ChurnConfig


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
    # The biggest move first: churn risk up 20 points is two steps, revenue down 8 % one.
    first = answer.text.split("\n- ")[1]
    assert first.startswith("**Churn risk**: 80/100 → 100/100 (+20 points). Why: warning sign "
                            "fired: No recent contact")


def test_causes_are_written_for_people(movers_assistant):
    [answer] = ask(movers_assistant, "u_kam_anna",
                   "which accounts got worse on churn risk over the past month")
    assert "warning sign fired: Open critical tickets" in answer.text  # as the churn answers say
    assert re.search(r'critical-severity ticket "[^"]+" opened on Sep 9, 2026', answer.text)
    for internal in ("open_critical_tickets", "open critical tickets", "2026-09-09", "None"):
        assert internal not in answer.text


def test_money_in_causes_has_no_empty_cents(movers_assistant):
    [answer] = ask(movers_assistant, "u_kam_anna", "what changed in revenue this week")
    assert "against €0 in the same days a year earlier" in answer.text
    assert "0.00" not in answer.text


def size(kpi: str, unit: str, before: float, after: float) -> float:
    """The ranking rule of tools/movers.py, from the tool's display values: the change in
    tenths of the KPI's scale, +1 per churn risk band crossed."""
    if unit == "currency":
        larger = max(abs(before), abs(after))
        return abs(after - before) / larger * 10 if larger else 0.0
    step = {"%": 10, "NPS -100..100": 20, "score 0-100": 10}[unit]
    churn = ChurnConfig()
    crossed = abs(BANDS.index(churn.band(after)) - BANDS.index(churn.band(before))) if kpi == (
        "churn_risk") else 0
    return abs(after - before) / step + crossed


@pytest.fixture(scope="module")
def month_of_moves(history_home, embedder):
    """Over the past month for Anna, through an OpenAI-compatible model: the ranked list
    (no KPI) and each tracked KPI's every move (n=20 > her 13 accounts)."""
    calls = [("kpi_movers", {"weeks": 4})] + [("kpi_movers", {"kpi": k, "weeks": 4, "n": 20})
                                              for k in TRACKED_KPIS]
    script = [{"tool_calls": calls}, {"content": "done"}]
    services = build_services(agent_settings(history_home))
    with MockOpenAI(script) as server:
        assistant = build_assistant(agent_settings(history_home, **openai_settings(server)),
                                    services, embedder)
        ask(assistant, "u_kam_anna", "what changed in my book over the past month?")
        assistant.close()
    services.close()
    ranked, *per_kpi = [json.loads(m["content"]) for m in tool_messages(server.requests[1])]
    return ranked, per_kpi


def test_the_ranked_list_is_the_biggest_moves_of_every_kpi_by_size(month_of_moves):
    ranked, per_kpi = month_of_moves
    moves = {(b["kpi"], i["account_id"]): (size(b["kpi"], b["unit"], i["before"], i["after"]),
                                           i["worse"], TRACKED_KPIS.index(b["kpi"]), i["name"])
             for result in per_kpi for b in result["movers"] for i in b["items"]}
    shown = [(i["kpi"], i["account_id"]) for i in ranked["ranked"]]
    sizes = [moves[key][0] for key in shown]
    # Sizes from display values (ratios rounded to 0.1 points) may differ by a hundredth.
    assert [i["size"] for i in ranked["ranked"]] == pytest.approx(sizes, abs=0.01)
    assert all(a >= b - 0.01 for a, b in zip(sizes, sizes[1:], strict=False))
    assert max(m[0] for key, m in moves.items() if key not in shown) <= sizes[-1] + 0.01
    for a, b in zip(ranked["ranked"], ranked["ranked"][1:], strict=False):
        ka, kb = moves[(a["kpi"], a["account_id"])], moves[(b["kpi"], b["account_id"])]
        if ka[0] == pytest.approx(kb[0], abs=1e-9):  # a tie: worse first, the KPI's place, name
            assert (not ka[1], ka[2], ka[3]) <= (not kb[1], kb[2], kb[3])
    assert len(shown) == 8 and ranked["other_moves"] == len(moves) - 8
    assert [i["kpi"] for i in ranked["ranked"][:3]] == ["churn_risk"] * 3  # bands crossed
    assert ranked["ranked"][1]["worse"] and not ranked["ranked"][2]["worse"]  # a 2.0 tie


def test_a_book_wide_question_answers_with_the_ranked_list_and_the_other_moves(
        movers_assistant, month_of_moves):
    ranked, _ = month_of_moves
    [answer] = ask(movers_assistant, "u_kam_anna", "what changed in my book over the past month?")
    assert movers_args(answer) == {"weeks": 4}
    total = len(ranked["ranked"]) + ranked["other_moves"]
    assert answer.text.startswith(f"**What changed for your accounts: the 8 biggest of {total} "
                                  "moves**")
    lines = re.findall(r"^\d+\. (.+?): (.+?) \S+ → ", answer.text, re.MULTILINE)
    assert lines == [(i["name"], kpi_label(i["kpi"])) for i in ranked["ranked"]]
    assert f"\n{ranked['other_moves']} other moves (" in answer.text
    assert 'ask "what changed in ' in answer.text
    assert answer.text.count("\n") < 20  # short enough for Slack


def test_the_ranked_answer_shows_in_slack_without_raw_markdown(movers_assistant):
    [answer] = ask(movers_assistant, "u_mgr_north", "what changed this week?")
    shown = json.dumps([b.to_dict() for b in markdown_blocks(answer.text)], ensure_ascii=False)
    assert "*What changed for your accounts: the 8 biggest of " in shown
    assert "**" not in shown and "](" not in shown and "\\n#" not in shown
    assert "1. " in shown and "other moves (" in shown


def test_a_kpi_the_history_does_not_keep_is_said_with_the_nearest_answer(movers_assistant):
    [answer] = ask(movers_assistant, "u_kam_anna", "how did nrr change")
    assert answer.text.startswith("**NRR is not in the weekly KPI history**")
    kept = answer.text.split("the history keeps ", 1)[1].split(".", 1)[0]
    for kpi in TRACKED_KPIS:
        assert kpi_label(kpi).lower() in kept.lower()
    assert [(c.name, c.args.get("kpi")) for c in answer.tool_calls] == [("get_kpi", "nrr")]
    assert "NRR of your 13 accounts: " in answer.text
    assert "compare this year with last year" in answer.text


def test_a_tracked_kpi_asked_with_an_untracked_one_still_gets_its_moves(movers_assistant):
    [answer] = ask(movers_assistant, "u_kam_anna", "how did grr and nps change this month")
    assert [(c.name, c.args.get("kpi")) for c in answer.tool_calls] == [
        ("kpi_movers", "nps"), ("get_kpi", "grr")]
    assert answer.text.startswith("**GRR is not in the weekly KPI history**")
    assert "Below: how NPS moved, then GRR as it stands." in answer.text
    grr = next(line for line in answer.text.splitlines() if line.startswith("**GRR of "))
    assert "to date" not in grr  # its own 12 months, not the movers' window


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
