"""The offline model answers every question of the core list correctly."""

from __future__ import annotations

from pathlib import Path

from bot.agent.evaluation import load_cases, run_core_eval

CORE = Path(__file__).resolve().parents[1] / "eval" / "core_questions.yaml"


def test_core_list_has_at_least_40_questions_covering_every_kind():
    cases = load_cases(CORE)
    assert len(cases) >= 40
    tools = {tool for case in cases for tool in case.get("tools", [])}
    assert {
        "account_summary",
        "get_kpi",
        "rank_accounts",
        "at_risk_accounts",
        "renewals_due",
        "stakeholder_map",
        "compare_periods",
        "search_guidance",
        "draft_account_plan",
        "draft_qbr_agenda",
        "draft_qbr_prep_note",
    } <= tools
    assert any(case.get("thread") for case in cases)


def test_offline_model_passes_every_core_question(offline_assistant, agent_services):
    report = run_core_eval(offline_assistant, agent_services.sessions, CORE)
    failures = [
        f"{r.id}: {'; '.join(r.problems)}\n{r.answer}" for r in report.results if not r.passed
    ]
    assert not failures, "\n\n".join(failures)
    assert report.pass_rate == 1.0
