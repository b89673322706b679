"""The drafting tools as the agent calls them (a ToolNode with the caller's context), and the
offline model's answer templates that show their results."""

from __future__ import annotations

from bot.agent.offline.request import Request
from bot.agent.offline.writing import OFFLINE_MARK, write_answer
from prompts import Prompts
from tools.drafting import make_drafting_tools

ANNA, BEN = "u_kam_anna", "u_kam_ben"


def test_the_model_sees_only_the_account_and_dates(sessions, guidance, out_dir):
    tools = {t.name: t for t in make_drafting_tools(sessions, guidance, Prompts(), out_dir)}

    assert set(tools) == {"draft_account_plan", "draft_qbr_agenda", "draft_qbr_prep_note"}
    props = {name: set(t.tool_call_schema.model_json_schema()["properties"])
             for name, t in tools.items()}
    assert props == {"draft_account_plan": {"account", "as_of"},
                     "draft_qbr_agenda": {"account", "date", "as_of"},
                     "draft_qbr_prep_note": {"account", "as_of"}}
    assert all(len(t.description) < 300 for t in tools.values())


def test_plan_tool_returns_compact_json_with_the_saved_version(call_tool, saved_plans):
    result = call_tool(ANNA, "draft_account_plan", account="Globex")

    assert set(result) == {"account", "as_of", "kind", "markdown", "citations", "charts", "plan"}
    assert result["account"] == {"account_id": "A0003", "name": "Globex Logistics",
                                 "owner": "Anna Berg", "tier": "key"}
    assert result["kind"] == "account_plan" and result["charts"] == []
    assert result["plan"]["version"] == 1 and result["plan"]["status"] == "draft"
    assert saved_plans("A0003")[0].created_by == ANNA


def test_agenda_tool_takes_the_meeting_date(call_tool):
    result = call_tool(ANNA, "draft_qbr_agenda", account="Acme Industrial", date="2026-10-20")

    assert result["kind"] == "qbr_agenda"
    assert result["agenda"]["date"] == "2026-10-20"
    assert "plan" not in result


def test_prep_tool_returns_the_chart_path(call_tool, out_dir):
    result = call_tool(ANNA, "draft_qbr_prep_note", account="Globex")

    assert result["charts"] == [str(out_dir / "A0003-revenue.png")]
    assert (out_dir / "A0003-revenue.png").is_file()


def test_out_of_scope_account_gets_the_account_tools_error_and_no_plan(call_tool, saved_plans):
    result = call_tool(BEN, "draft_account_plan", account="Globex Logistics")

    assert result == {"error": "not_found_or_not_yours",
                      "message": "Account not found or not yours."}
    assert saved_plans("A0003") == []


def test_identity_arguments_from_the_model_are_rejected(call_tool, saved_plans):
    result = call_tool(BEN, "draft_account_plan", account="Globex", user_id=ANNA)

    assert result["status"] == "error" and "user_id" in result["tool_error"]
    assert saved_plans("A0003") == []


def written(intent: str, tool: str, result: dict) -> str:
    """The offline model's answer for one draft result."""
    return write_answer(Prompts(), Request(intent=intent), [(tool, result)])


def test_offline_plan_answer_shows_the_draft_and_the_saved_version(call_tool):
    result = call_tool(ANNA, "draft_account_plan", account="Globex")
    text = written("draft_plan", "draft_account_plan", result)

    assert text.startswith(result["markdown"].strip())
    assert "Saved as version 1 of the account plan for Globex Logistics (draft)" in text
    assert text.rstrip().endswith(OFFLINE_MARK)


def test_offline_prep_answer_mentions_the_chart(call_tool):
    result = call_tool(ANNA, "draft_qbr_prep_note", account="Globex")
    text = written("draft_prep", "draft_qbr_prep_note", result)

    assert "## Suggested agenda" in text
    assert f"Chart: revenue by quarter, attached ({result['charts'][0]})" in text
    assert text.rstrip().endswith(OFFLINE_MARK)


def test_offline_agenda_answer_is_the_agenda(call_tool):
    result = call_tool(ANNA, "draft_qbr_agenda", account="Acme Industrial")
    text = written("draft_agenda", "draft_qbr_agenda", result)

    assert " min" in text and "## Agenda" in text
    assert text.rstrip().endswith(OFFLINE_MARK)
