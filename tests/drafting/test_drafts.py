"""Account plans, QBR agendas and QBR prep notes drafted for a caller on the demo data."""

from __future__ import annotations

import re
import struct
from datetime import date

import pytest
from sqlalchemy import select

from prompts import fmt
from store.models import Account
from tools.drafting import PLAN_GUIDANCE, white_space
from tools.kpis import KpiEngine
from tools.payload import UNIT_LABELS, kpi_value

ANNA = "u_kam_anna"  # owns Acme Industrial, Globex Logistics, Northwind Traders, Initech, ...
BEN = "u_kam_ben"  # the same team, other accounts
GLOBEX = "A0003"
PLAN_SECTIONS = ["Goals", "Timeline", "Risks", "Growth opportunities", "Stakeholder actions",
                 "KPIs to track", "Sources"]
PREP_SECTIONS = ["Results vs last period", "Customer-defined KPIs", "Value delivered",
                 "Open issues and tickets", "Opportunities", "Stakeholders and who should attend",
                 "Risks and questions to ask", "Suggested agenda", "Sources"]
AGENDA_SECTIONS = ["Agenda", "Sources"]
CITATION = re.compile(r"\[[^\[\]]+ › [^\[\]]+\]")
AGENDA_ROW = re.compile(r"^\| (\d+)-(\d+) min \((\d+) min\) \| ([^|]+) \|", re.M)


def headings(markdown: str) -> list[str]:
    return re.findall(r"^## (.+)$", markdown, re.M)


def engine_value(sessions, caller, account_id: str, kpi: str) -> str:
    """A KPI from the engine, formatted the way the drafts format it."""
    with sessions() as session:
        result = KpiEngine(session, caller(ANNA).scope).account(account_id, [kpi])[kpi]
    return fmt(kpi_value(result), UNIT_LABELS[result.unit])


@pytest.mark.parametrize("account", ["Globex Logistics", "Acme Industrial", "Initech"])
def test_account_plan_has_every_required_section_in_order(drafter, caller, account):
    plan = drafter.account_plan(caller(ANNA), account)

    assert headings(plan["markdown"]) == PLAN_SECTIONS
    assert plan["kind"] == "account_plan"


@pytest.mark.parametrize("account", ["Globex Logistics", "Northwind Traders"])
def test_prep_note_has_every_required_section_in_order(drafter, caller, account):
    note = drafter.qbr_prep_note(caller(ANNA), account)

    assert headings(note["markdown"]) == PREP_SECTIONS
    assert note["kind"] == "qbr_prep_note"


def test_agenda_has_its_sections(drafter, caller):
    agenda = drafter.qbr_agenda(caller(ANNA), "Acme Industrial")

    assert headings(agenda["markdown"])[0] == "Agenda"
    assert headings(agenda["markdown"])[-1] == "Sources"
    assert agenda["kind"] == "qbr_agenda"


@pytest.mark.parametrize("account", ["A0001", "A0003", "A0004", "A0005", "A0007"])
def test_agenda_is_timed_within_60_to_90_minutes_and_adds_up(drafter, caller, account):
    agenda = drafter.qbr_agenda(caller(ANNA), account)
    rows = AGENDA_ROW.findall(agenda["markdown"])
    minutes = [int(m) for _, _, m, _ in rows]

    assert 60 <= sum(minutes) <= 90
    assert sum(minutes) == agenda["agenda"]["total_minutes"]
    assert f"Total: {sum(minutes)} minutes." in agenda["markdown"]
    assert [int(s) for s, _, _, _ in rows] == [0, *[int(e) for _, e, _, _ in rows[:-1]]]
    assert [i["minutes"] for i in agenda["agenda"]["items"]] == minutes
    assert rows[-2][3].startswith("Agree actions")  # never cut: actions close the meeting


def test_agenda_for_an_at_risk_account_up_for_renewal_has_risk_and_renewal_items(drafter, caller):
    agenda = drafter.qbr_agenda(caller(ANNA), "Globex Logistics")
    items = [i["item"] for i in agenda["agenda"]["items"]]

    assert "risk" in items and "renewal" in items
    assert items.index("risk") < items.index("opportunities")
    assert "Risk and recovery plan" in agenda["markdown"]
    assert "Contract A0003-K1 ends 2026-11-14" in agenda["markdown"]


def test_agenda_for_a_healthy_account_has_no_risk_item(drafter, caller):
    agenda = drafter.qbr_agenda(caller(ANNA), "Northwind Traders")
    items = [i["item"] for i in agenda["agenda"]["items"]]

    assert "risk" not in items and "renewal" not in items
    assert "Risk and recovery plan" not in agenda["markdown"]


def test_agenda_gets_a_renewal_item_when_the_meeting_is_within_120_days_of_the_end(
    drafter, caller
):
    # Northwind's contract ends 2027-07-27: far from as_of, but close to a QBR in April 2027.
    agenda = drafter.qbr_agenda(caller(ANNA), "Northwind Traders", meeting=date(2027, 4, 1))

    assert "renewal" in [i["item"] for i in agenda["agenda"]["items"]]
    assert agenda["agenda"]["date"] == "2027-04-01"
    assert "Meeting on 2027-04-01" in agenda["markdown"]


def test_prep_note_results_equal_the_kpi_engine(drafter, caller, sessions, section):
    results = section(drafter.qbr_prep_note(caller(ANNA), "Globex")["markdown"],
                      "Results vs last period")

    for label, kpi in (("Revenue", "revenue"), ("Revenue growth", "revenue_growth"),
                       ("Gross margin", "gross_margin"), ("NPS", "nps"), ("CSAT", "csat")):
        assert f"| {label} | {engine_value(sessions, caller, GLOBEX, kpi)} |" in results, kpi


def test_plan_kpis_to_track_equal_the_kpi_engine(drafter, caller, sessions, section):
    kpis = section(drafter.account_plan(caller(ANNA), "Globex")["markdown"], "KPIs to track")

    for label, kpi in (("Revenue", "revenue"), ("Share of wallet", "share_of_wallet"),
                       ("Profitability", "profitability"), ("Churn risk", "churn_risk")):
        assert f"| {label} | {engine_value(sessions, caller, GLOBEX, kpi)}" in kpis, kpi


def test_numbers_follow_the_as_of_date(drafter, caller, sessions, section):
    as_of = date(2026, 6, 30)
    note = drafter.qbr_prep_note(caller(ANNA), "Globex", as_of=as_of)
    with sessions() as session:
        result = KpiEngine(session, caller(ANNA).scope, as_of=as_of).account(
            GLOBEX, ["revenue"])["revenue"]

    assert note["as_of"] == "2026-06-30"
    assert f"| Revenue | {fmt(kpi_value(result), 'currency')} |" in section(
        note["markdown"], "Results vs last period")


def test_globex_plan_lists_every_churn_sign_as_a_risk_with_evidence(
    drafter, caller, sessions, section
):
    risks = section(drafter.account_plan(caller(ANNA), "Globex")["markdown"], "Risks")
    with sessions() as session:
        churn = KpiEngine(session, caller(ANNA).scope).account(GLOBEX, ["churn_risk"])
    signs = churn["churn_risk"].inputs["signs_fired"]

    assert len(signs) == 7  # the demo story: every warning sign fires
    for sign in signs:
        name = sign["sign"].replace("_", " ").capitalize()
        assert f"**{name}** (+{sign['points']} points)" in risks
    assert "Churn risk 100/100 (high): 7 of 7 warning signs" in risks
    assert "A0003-T900" in risks and "Yuki Meyer" in risks and "A0003-K1" in risks


def test_plan_timeline_runs_through_the_next_four_quarters(drafter, caller, section):
    timeline = section(drafter.account_plan(caller(ANNA), "Globex")["markdown"], "Timeline")

    quarters = re.findall(r"^\*\*(\d{4}-Q\d)\*\*", timeline, re.M)
    assert quarters == ["2026-Q4", "2027-Q1", "2027-Q2", "2027-Q3"]
    q4 = timeline.split("**2027-Q1**")[0]
    assert "on 2026-11-14: contract A0003-K1 ends" in q4
    assert "on 2027-02-19: close upsell opportunity A0003-OP01" in timeline.split("**2027-Q2**")[0]


def test_plan_growth_lists_white_space_and_open_opportunities(drafter, caller, section):
    growth = section(drafter.account_plan(caller(ANNA), "Initech")["markdown"],
                     "Growth opportunities")

    assert "White space: **" in growth and "of similar accounts" in growth
    assert "Open upsell opportunity A0005-OP02" in growth


def test_white_space_is_the_share_of_similar_accounts_across_the_store(sessions, caller):
    with sessions() as session:
        engine = KpiEngine(session, caller(ANNA).scope)
        initech = session.get(Account, "A0005")
        space = white_space(engine, "A0005", ["Sensors", "Services"])
        similar = session.execute(select(Account.account_id).where(
            Account.account_id != "A0005",
            (Account.industry == initech.industry) | (Account.tier == initech.tier))).all()

    lines = {x["product_line"]: x for x in space["lines"]}
    assert set(lines) == {"Controllers", "Software", "Spare Parts"}  # offered minus bought
    assert 5 <= space["similar_accounts"] <= len(similar)
    assert len(similar) > len([a for a in similar if a[0] in ("A0001", "A0003")])
    for line in lines.values():
        assert line["share_pct"] == round(
            100 * line["similar_accounts_buying"] / space["similar_accounts"], 1)


def test_drafts_never_name_accounts_outside_the_callers_scope(drafter, caller, sessions):
    with sessions() as session:
        others = session.execute(
            select(Account.name).where(Account.owner_user_id != ANNA)).scalars().all()
    texts = [drafter.account_plan(caller(ANNA), "Initech")["markdown"],
             drafter.qbr_prep_note(caller(ANNA), "Globex")["markdown"]]

    assert others
    for text in texts:
        assert not [name for name in others if name in text]


def test_second_plan_for_an_account_is_version_two(drafter, caller, saved_plans):
    first = drafter.account_plan(caller(ANNA), "Globex")
    second = drafter.account_plan(caller(ANNA), "Globex")

    assert (first["plan"]["version"], second["plan"]["version"]) == (1, 2)
    rows = saved_plans(GLOBEX)
    assert [(r.version, r.created_by, r.status) for r in rows] == [
        (1, ANNA, "draft"), (2, ANNA, "draft")]
    assert rows[1].body_markdown == second["markdown"]
    assert rows[1].plan_id == second["plan"]["plan_id"]


def test_versions_count_per_account(drafter, caller, saved_plans):
    drafter.account_plan(caller(ANNA), "Globex")
    other = drafter.account_plan(caller(ANNA), "Initech")

    assert other["plan"]["version"] == 1
    assert [r.version for r in saved_plans("A0005")] == [1]


def test_kam_drafting_for_another_kams_account_gets_not_found_and_nothing_is_saved(
    drafter, caller, saved_plans, out_dir
):
    results = [drafter.account_plan(caller(BEN), "Globex Logistics"),
               drafter.account_plan(caller(BEN), GLOBEX),
               drafter.qbr_agenda(caller(BEN), "Globex"),
               drafter.qbr_prep_note(caller(BEN), "Globex")]

    for result in results:
        assert result == {"error": "not_found_or_not_yours",
                          "message": "Account not found or not yours."}
    assert saved_plans(GLOBEX) == []
    assert not (out_dir / f"{GLOBEX}-revenue.png").exists()


def test_ambiguous_account_asks_which_one_and_saves_nothing(drafter, caller, saved_plans):
    result = drafter.account_plan(caller(ANNA), "Acme")

    assert result["error"] == "ambiguous"
    assert {c["account_id"] for c in result["candidates"]} == {"A0001", "A0002"}
    assert saved_plans("A0001") == [] and saved_plans("A0002") == []


def test_manager_drafts_for_the_team(drafter, caller, saved_plans):
    plan = drafter.account_plan(caller("u_mgr_north"), "Globex")

    assert plan["plan"]["version"] == 1
    assert saved_plans(GLOBEX)[0].created_by == "u_mgr_north"


def test_prep_note_writes_a_valid_png_revenue_chart(drafter, caller, out_dir, section):
    note = drafter.qbr_prep_note(caller(ANNA), "Globex")
    chart = out_dir / f"{GLOBEX}-revenue.png"

    assert note["charts"] == [str(chart)]
    data = chart.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 300 and height > 150
    assert str(chart) in section(note["markdown"], "Results vs last period")


@pytest.mark.parametrize("kind", ["account_plan", "qbr_agenda", "qbr_prep_note"])
def test_citations_look_like_title_and_section_and_come_from_the_guidance_search(
    drafter, caller, guidance, kind, section
):
    result = getattr(drafter, kind)(caller(ANNA), "Globex")
    in_text = set(CITATION.findall(result["markdown"]))

    assert result["citations"]
    assert all(CITATION.fullmatch(c) for c in result["citations"])
    assert set(result["citations"]) <= guidance.citations
    assert in_text == set(result["citations"])
    sources = section(result["markdown"], "Sources")
    assert all(c in sources for c in result["citations"])


def test_plan_searches_guidance_for_each_section(drafter, caller, guidance):
    drafter.account_plan(caller(ANNA), "Globex")

    assert [q for q, _, _ in guidance.queries] == [q for _, q, _ in PLAN_GUIDANCE]


def test_drafts_say_so_when_no_guidance_is_indexed(sessions, caller, out_dir):
    class Empty:
        def search(self, query, k=4, topic=None):
            return []

    from prompts import Prompts
    from tools.drafting import Drafter

    plan = Drafter(sessions, Empty(), Prompts(), out_dir).account_plan(caller(ANNA), "Globex")

    assert plan["citations"] == []
    assert "No guidance is indexed yet" in plan["markdown"]
    assert plan["plan"]["version"] == 1
