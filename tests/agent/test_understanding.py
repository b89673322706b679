"""The offline model understands questions as KAMs type them, and never answers another
question than the one asked (issue 11). Measured on held-out dev sets written blind."""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

import pytest

from bot.agent import understanding
from bot.agent.understanding import Renamer, UnderstandingReport
from bot.assistant import Assistant
from bot.factory import build_assistant, build_services
from store.demo import generate
from store.importer import import_paths
from tests.agent.conftest import agent_settings

EVAL = Path(__file__).resolve().parents[1] / "eval" / "understanding"
HELDOUT = EVAL / "heldout.yaml"  # used for error analysis while building the reader
BLIND = EVAL / "heldout2.yaml"  # never read by the developers: only its score is looked at
# What must never reach a person: Python reprs, None, raw field names.
INTERNALS = re.compile(r"\bNone\b(?! of)|\{'|\[\{|'\w+':|\b\w+_(cents|ratio|pct|id)\b|\bnan\b")


def ask(assistant: Assistant, user: str, *questions: str):
    thread = uuid.uuid4().hex
    return [assistant.answer(user, q, thread) for q in questions]


@pytest.fixture(scope="module")
def blind(offline_assistant, agent_services) -> UnderstandingReport:
    return understanding.run(offline_assistant, agent_services.sessions, BLIND)


@pytest.fixture(scope="module")
def heldout(offline_assistant, agent_services) -> UnderstandingReport:
    return understanding.run(offline_assistant, agent_services.sessions, HELDOUT)


@pytest.fixture(scope="module")
def intl(tmp_path_factory, demo_dir: Path, guidance_home: Path, embedder):
    """The same data set with international names, and an assistant on it."""
    home = tmp_path_factory.mktemp("intl-home")
    generate(home / "demo", names="intl")
    shutil.copytree(guidance_home / "chroma", home / "data" / "chroma")
    settings = agent_settings(home)
    services = build_services(settings)
    import_paths(services.engine, [home / "demo"])
    assistant = build_assistant(settings, services, embedder)
    yield assistant, services, Renamer.from_demo(demo_dir, home / "demo")
    assistant.close()
    services.close()


def test_blind_held_out_questions_meet_the_targets(blind):
    assert blind.rate("intent_ok") >= 0.97
    assert blind.rate("request_ok") >= 0.93


def test_first_held_out_set_meets_the_targets(heldout):
    assert heldout.rate("intent_ok") >= 0.97
    assert heldout.rate("request_ok") >= 0.93


def test_other_names_with_accents_score_within_two_points(blind, intl):
    assistant, services, rename = intl
    other = understanding.run(assistant, services.sessions, BLIND, rename=rename)
    assert abs(other.rate("request_ok") - blind.rate("request_ok")) <= 0.02


def test_no_answer_shows_python_reprs_none_or_field_names(blind, heldout):
    leaked = [(case.id, match.group(0)) for report in (blind, heldout)
              for case in report.results if (match := INTERNALS.search(case.answer))]
    assert leaked == []


def test_names_are_matched_without_accents_apostrophes_or_in_full(intl):
    assistant, _, _ = intl
    for question, account in (("muller maschinenbau rev", "A0001"), ("o hara rev ytd", "A0004"),
                              ("o'hara's margin", "A0004"), ("halcyon hosp nps", "A0005"),
                              ("aalesund gm", "A0003"), ("alesund logistik csat", "A0003")):
        (answer,) = ask(assistant, "u_kam_anna", question)
        assert [c.args["account"] for c in answer.tool_calls] == [account], question


def test_an_account_the_caller_cannot_see_is_never_swapped_for_a_similar_one(offline_assistant):
    for question in ("how is stark doing", "umbrella pharma rev", "rev for cyberdyne",
                     "What is the revenue of A0008?"):
        (answer,) = ask(offline_assistant, "u_kam_anna", question)
        assert answer.tool_calls == [], question
        assert "can't find" in answer.text


def test_requests_to_act_run_no_tool_and_write_nothing(offline_assistant):
    for question in ("book a meeting with Globex next tuesday",
                     "update crm: set Initech tier to key",
                     "email the cfo at initech the renewal terms",
                     "forecast next year for globex"):
        (answer,) = ask(offline_assistant, "u_kam_anna", question)
        assert answer.tool_calls == [], question
        assert "can't do that" in answer.text


def test_two_things_asked_are_both_answered(offline_assistant):
    (answer,) = ask(offline_assistant, "u_kam_anna", "revenue and nps for globex")
    assert [(c.name, c.args["kpi"]) for c in answer.tool_calls] == [
        ("get_kpi", "revenue"), ("get_kpi", "nps")]
    assert "Revenue of Globex Logistics" in answer.text and "NPS of Globex Logistics" in answer.text


def test_compare_two_accounts_on_one_kpi(offline_assistant):
    (answer,) = ask(offline_assistant, "u_kam_anna", "compare globex and initech on margin")
    assert {c.args["account"] for c in answer.tool_calls} == {"A0003", "A0005"}


def test_a_colleague_by_first_name_and_teams_side_by_side(offline_assistant):
    (ben,) = ask(offline_assistant, "u_mgr_north", "GRR for Ben's accounts")
    assert ben.tool_calls[0].args == {"kpi": "grr", "owner": "u_kam_ben"}
    assert "Ben Carter's" in ben.text
    (teams,) = ask(offline_assistant, "u_admin", "north vs south revenue")
    assert teams.tool_calls[0].args == {"kpi": "revenue", "group_by": "team"}


def test_follow_ups_keep_the_thread(offline_assistant):
    nps, csat, initech, agenda = ask(offline_assistant, "u_kam_anna", "nps for globex?",
                                     "and csat?", "what about initech",
                                     "ok draft me a qbr agenda for them")
    assert csat.tool_calls[0].args == {"kpi": "csat", "account": "A0003"}
    assert initech.tool_calls[0].args == {"kpi": "csat", "account": "A0005"}
    assert [c.name for c in agenda.tool_calls] == ["draft_qbr_agenda"]
    assert agenda.tool_calls[0].args["account"] == "A0005"


@pytest.mark.parametrize("reply", ["the foods one", "2", "the second one", "#2"])
def test_an_ambiguous_name_gets_a_question_and_the_reply_picks(offline_assistant, reply):
    question, picked = ask(offline_assistant, "u_kam_anna", "acme rev?", reply)
    assert not question.tool_calls
    assert question.choices == ["Acme Industrial (A0001)", "Acme Foods (A0002)"]
    assert picked.tool_calls[0].args == {"kpi": "revenue", "account": "A0002"}
    assert picked.choices == []


def test_the_answer_states_the_period_it_used(offline_assistant):
    (answer,) = ask(offline_assistant, "u_kam_anna", "what did globex bring in over q2")
    assert answer.tool_calls[0].args["start"] == "2026-04-01"
    assert "Q2 2026 (Apr 1\u2009–\u2009Jun 30, 2026)" in answer.text


def test_guidance_without_an_account_is_answered_with_sources(offline_assistant):
    for question in ("how should i get ready for a quarterly business review?",
                     "how do i handle a detractor", "difference between GRR and NRR"):
        (answer,) = ask(offline_assistant, "u_kam_anna", question)
        assert [c.name for c in answer.tool_calls] == ["search_guidance"], question
        assert answer.citations


def test_another_teams_name_is_refused_rather_than_answered_with_ones_own(offline_assistant):
    (answer,) = ask(offline_assistant, "u_mgr_north", "renewals for team South")
    assert answer.tool_calls == []
    assert "can't show team South" in answer.text


def test_grown_vs_last_year_is_growth_and_this_year_vs_last_compares(offline_assistant):
    grown, compared = (ask(offline_assistant, "u_kam_anna", q)[0] for q in (
        "how much has Globex grown vs the previous year", "compare northwind this year vs last"))
    assert [(c.name, c.args.get("kpi")) for c in grown.tool_calls] == [
        ("get_kpi", "revenue_growth")]
    assert [c.name for c in compared.tool_calls] == ["compare_periods"]


def test_a_new_filter_in_a_follow_up_replaces_the_old_one(offline_assistant):
    _, ranked = ask(offline_assistant, "u_mgr_north", "GRR for Ben's accounts",
                    "rank my kams by nrr")
    assert ranked.tool_calls[0].args == {"kpi": "nrr", "group_by": "owner"}


def test_a_lost_account_is_called_lost_with_its_last_order(offline_assistant):
    # South Motors (A0018) bought in the prior year and has not ordered since 2025-07-23.
    summary, risk = (ask(offline_assistant, "u_kam_anna", q)[0]
                     for q in ("how is south motors doing", "is south motors at risk"))
    for answer in (summary, risk):
        assert "lost account" in answer.text.lower()
        assert "2025-07-23" in answer.text


@pytest.mark.parametrize(("question", "args"), [
    ("my bottom 4 for csat", {"kpi": "csat", "order": "lowest", "n": 4}),
    ("strongest 3 on nrr", {"kpi": "nrr", "n": 3}),
    ("poorest growth accounts", {"kpi": "revenue_growth", "order": "lowest"}),
    ("best 5 growth accounts by margin", {"kpi": "gross_margin", "n": 5, "tier": "growth"}),
])
def test_a_count_or_direction_ranks_and_growth_after_a_direction_is_the_kpi(
        offline_assistant, question, args):
    (answer,) = ask(offline_assistant, "u_kam_anna", question)
    assert [(c.name, c.args) for c in answer.tool_calls] == [("rank_accounts", args)], question


def test_how_a_measure_is_worked_out_is_guidance_wherever_it_is_asked(offline_assistant):
    for question in ("csat, how is that measured?", "what is grr and how is it computed"):
        (answer,) = ask(offline_assistant, "u_kam_anna", question)
        assert [c.name for c in answer.tool_calls] == ["search_guidance"], question


def test_moving_or_handing_over_an_account_is_a_request_to_act(offline_assistant):
    for question in ("move globex to ben", "pls hand over initech to chloe in the crm"):
        (answer,) = ask(offline_assistant, "u_kam_anna", question)
        assert answer.tool_calls == [] and "can't do that" in answer.text, question


def test_the_customers_own_kpis_over_a_book_are_rolled_up(offline_assistant):
    book, one = (ask(offline_assistant, "u_kam_anna", q)[0] for q in (
        "customer kpis on target across the book?", "customer kpis for globex"))
    assert [(c.name, c.args) for c in book.tool_calls] == [("get_kpi", {"kpi": "customer_kpis"})]
    assert [(c.name, c.args) for c in one.tool_calls] == [("customer_kpis", {"account": "A0003"})]


def test_a_qbr_agenda_gets_the_meeting_day_named(offline_assistant):
    named, later = ask(offline_assistant, "u_kam_anna", "nps for initech",
                       "ok draft a qbr agenda for them, the meeting is 9 february")
    assert named.tool_calls[0].args == {"kpi": "nps", "account": "A0005"}
    assert [(c.name, c.args) for c in later.tool_calls] == [
        ("draft_qbr_agenda", {"account": "A0005", "date": "2027-02-09"})]
