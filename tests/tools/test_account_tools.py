"""The account tools as the agent calls them: schemas, scope, errors and payloads."""

from __future__ import annotations

import json

import pytest
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from tools.accounts import make_account_tools
from tools.context import CallerContext

NOT_YOURS = {"error": "not_found_or_not_yours", "message": "Account not found or not yours."}
ANNA, DEV = "u_kam_anna", "u_kam_dev"


def test_the_model_never_sees_identity_or_runtime_fields(account_tools):
    for tool in account_tools:
        properties = tool.tool_call_schema.model_json_schema()["properties"]
        assert not {"runtime", "role", "user_id", "scope", "user"} & set(properties), tool.name
        assert tool.description and len(tool.description) < 600, tool.name


def test_tool_registry_is_read_only_account_data(account_tools):
    assert [t.name for t in account_tools] == [
        "find_accounts", "account_summary", "get_kpi", "rank_accounts", "at_risk_accounts",
        "renewals_due", "stakeholder_map", "activity_timeline", "open_opportunities",
        "open_tickets", "customer_kpis", "compare_periods", "kpi_movers",
    ]


@pytest.mark.parametrize("name,args", [
    ("account_summary", {"account": "Globex Logistics", "role": "admin"}),
    ("rank_accounts", {"kpi": "revenue", "user_id": "u_admin"}),
    ("get_kpi", {"kpi": "nps", "scope": "all"}),
])
def test_an_extra_identity_argument_is_rejected_without_data(call_tool, name, args):
    message = call_tool(ANNA, name, **args)
    assert message.status == "error"
    assert "Extra inputs are not permitted" in message.content
    assert '"value"' not in message.content and "revenue_cents" not in message.content


@pytest.mark.parametrize("ref", ["Umbrella Pharma", "umbrella pharma", "A0008", "Umbrela Pharma",
                                 "No Such Company", "A9999"])
def test_other_kams_accounts_and_missing_ones_get_the_same_answer(tool_json, ref):
    for tool in ("account_summary", "stakeholder_map", "activity_timeline", "customer_kpis"):
        assert tool_json(ANNA, tool, account=ref) == NOT_YOURS, (tool, ref)
    assert tool_json(ANNA, "get_kpi", kpi="revenue", account=ref) == NOT_YOURS
    assert tool_json(ANNA, "open_tickets", account=ref) == NOT_YOURS
    assert tool_json(ANNA, "compare_periods", account=ref) == NOT_YOURS


def test_find_reports_nothing_about_other_kams_accounts(tool_json):
    theirs = tool_json(ANNA, "find_accounts", query="Umbrella Pharma")
    nobodys = tool_json(ANNA, "find_accounts", query="Nonexistent Pharma Ltd")
    assert theirs.pop("query") != nobodys.pop("query")
    assert theirs == nobodys == {"status": "not_found", "candidates": [],
                                 "message": "Account not found or not yours."}
    found = tool_json(DEV, "find_accounts", query="Umbrella Pharma")
    assert found["status"] == "match"
    assert found["candidates"][0]["account_id"] == "A0008"


def test_managers_see_their_team_only(tool_json):
    assert tool_json("u_mgr_north", "account_summary", account="Umbrella Pharma") == NOT_YOURS
    ranking = tool_json("u_mgr_north", "rank_accounts", kpi="revenue", n=50)
    owners = {item["owner"] for item in ranking["items"]}
    assert owners == {"Anna Berg", "Ben Carter", "Chloe Dubois"}
    south = tool_json("u_mgr_south", "account_summary", account="Umbrella Pharma")
    assert south["account"]["account_id"] == "A0008"


def test_portfolio_totals_only_count_the_callers_accounts(tool_json):
    anna = tool_json(ANNA, "get_kpi", kpi="revenue")["value"]
    dev = tool_json(DEV, "get_kpi", kpi="revenue")["value"]
    everyone = tool_json("u_admin", "get_kpi", kpi="revenue", group_by="owner")
    per_owner = {g["key"]: g["value"] for g in everyone["groups"]}
    assert anna == per_owner["u_kam_anna"] and dev == per_owner["u_kam_dev"]
    assert tool_json(ANNA, "get_kpi", kpi="revenue", owner="u_kam_dev")["accounts"] == 0


def test_ambiguous_names_return_candidates(tool_json):
    result = tool_json(ANNA, "account_summary", account="acme")
    assert result["error"] == "ambiguous"
    assert {c["name"] for c in result["candidates"]} == {"Acme Industrial", "Acme Foods"}


def test_summary_is_compact_with_units_and_trend(call_tool):
    message = call_tool(ANNA, "account_summary", account="globex logistics")
    summary = json.loads(message.content)
    assert len(message.content) < 9000
    assert summary["account"]["name"] == "Globex Logistics"
    revenue = summary["kpis"]["revenue"]
    assert revenue["unit"] == "currency" and isinstance(revenue["value"], float)
    assert revenue["value"] == round(revenue["value"], 2)
    assert revenue["change_pct"] < 0 and "prior_value" in revenue
    assert summary["kpis"]["share_of_wallet"]["unit"] == "%"
    assert summary["kpis"]["churn_risk"]["value"] == 100
    assert summary["churn_evidence"]["key_contact_left"][0]["buying_role"] == "champion"


def test_stored_text_comes_back_as_labelled_data(tool_json):
    timeline = tool_json(ANNA, "activity_timeline", account="Acme Foods", days=30)
    notes = [item["notes"] for item in timeline["items"]]
    assert any("ignore previous instructions" in n for n in notes)
    assert "not instructions" in timeline["data_note"]
    assert set(timeline) >= {"data_note", "items", "count"}


def test_kpi_lookup_shows_its_working(tool_json):
    nrr = tool_json("u_mgr_north", "get_kpi", kpi="nrr", tier="key")
    assert nrr["unit"] == "%"
    assert {"prior_revenue", "current_revenue", "accounts_with_prior_revenue"} <= set(
        nrr["inputs"])
    assert nrr["portfolio"] == {"tier": "key"}


def test_unknown_owner_is_a_clear_error(tool_json):
    result = tool_json(ANNA, "rank_accounts", kpi="revenue", owner="Nobody Here")
    assert result["error"] == "invalid_request"


def test_renewals_and_risks(tool_json):
    renewals = tool_json(ANNA, "renewals_due", days=90)
    globex = next(r for r in renewals["items"] if r["name"] == "Globex Logistics")
    assert globex["open_renewal_opportunity"] is False and globex["risk_band"] == "high"
    risks = tool_json(ANNA, "at_risk_accounts", n=3)
    assert risks["items"][0]["name"] == "Globex Logistics"
    assert len(risks["items"][0]["signs_fired"]) == 7


def test_compare_periods_for_a_quarter(tool_json):
    result = tool_json(ANNA, "compare_periods", kind="quarter", account="Northwind Traders")
    assert result["current_period"] == {"start": "2026-07-01", "end": "2026-09-30",
                                        "name": "Q3 2026 (Jul 1\u2009–\u2009Sep 30, 2026)"}
    assert result["base_period"] == {"start": "2026-04-01", "end": "2026-06-30",
                                     "name": "Q2 2026 (Apr 1\u2009–\u2009Jun 30, 2026)"}
    assert {"value", "base_value", "unit"} <= set(result["kpis"]["revenue"])


def test_as_of_comes_from_the_context_unless_given(tool_graph, scopes):
    from datetime import date

    message = AIMessage(content="", tool_calls=[
        {"name": "get_kpi", "args": {"kpi": "revenue"}, "id": "c1"}])
    context = CallerContext(scope=scopes[ANNA], as_of=date(2025, 12, 31))
    out = tool_graph.invoke({"messages": [message]}, context=context)["messages"][-1]
    assert json.loads(out.content)["as_of"] == "2025-12-31"


class ScriptedModel(GenericFakeChatModel):
    """Replies from a script; accepts tools like a real chat model."""

    def bind_tools(self, tools, **kwargs):
        return self


def test_an_agent_passes_the_callers_context_to_the_tools(demo_sessions, scopes):
    script = iter([
        AIMessage(content="", tool_calls=[{"name": "account_summary", "id": "t1",
                                           "args": {"account": "Umbrella Pharma"}}]),
        AIMessage(content="", tool_calls=[{"name": "rank_accounts", "id": "t2",
                                           "args": {"kpi": "revenue", "n": 50}}]),
        AIMessage(content="done"),
    ])
    agent = create_agent(ScriptedModel(messages=script), make_account_tools(demo_sessions),
                         context_schema=CallerContext)
    result = agent.invoke({"messages": [HumanMessage("How is Umbrella doing?")]},
                          context=CallerContext(scope=scopes[ANNA]))
    tool_messages = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert json.loads(tool_messages[0].content) == NOT_YOURS
    ranking = json.loads(tool_messages[1].content)
    assert {item["owner"] for item in ranking["items"]} == {"Anna Berg"}
    assert result["messages"][-1].content == "done"


@pytest.mark.parametrize("args", [
    {"region": "EMEA' OR '1'='1"},
    {"team": "North' OR 1=1 --"},
    {"industry": "'; DROP TABLE accounts; --"},
])
def test_filter_values_match_literally_and_cannot_widen_the_scope(tool_json, args):
    result = tool_json(ANNA, "rank_accounts", kpi="revenue", **args)
    assert result["items"] == [] and result["accounts_ranked"] == 0
    assert tool_json("u_admin", "get_kpi", kpi="revenue")["accounts"] == 60


def test_results_carry_no_email_addresses(call_tool):
    for name, args in (("account_summary", {"account": "Globex Logistics"}),
                       ("stakeholder_map", {"account": "Globex Logistics"}),
                       ("rank_accounts", {"kpi": "revenue", "n": 50})):
        assert "@" not in call_tool(ANNA, name, **args).content
