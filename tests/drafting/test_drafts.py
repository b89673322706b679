"""Account plans, QBR agendas and QBR prep notes drafted for a caller on the demo data."""

from __future__ import annotations

import re
import struct
from datetime import date

import pytest
from sqlalchemy import select

from knowledge.index import CITATION
from prompts import Prompts, fmt, humanize
from store.access import resolve_scope
from store.db import make_engine, make_session_factory
from store.models import Account, Order, Product
from tests.support.databases import copy_database
from tests.support.drafts import RecordingGuidance, section
from tools.context import CallerContext
from tools.drafting import PLAN_GUIDANCE, Drafter, white_space
from tools.kpis import KpiEngine
from tools.payload import UNIT_LABELS, kpi_value
from tools.periods import current_period

ANNA = "u_kam_anna"  # owns Acme Industrial, Globex Logistics, Northwind Traders, Initech, ...
BEN = "u_kam_ben"  # the same team, other accounts
GLOBEX = "A0003"
PLAN_SECTIONS = ["Goals", "Timeline", "Risks", "Growth opportunities", "Stakeholder actions",
                 "KPIs to track", "Sources"]
PREP_SECTIONS = ["Results vs last period", "Customer-defined KPIs", "Value delivered",
                 "Open issues and tickets", "Opportunities", "Stakeholders and who should attend",
                 "Risks and questions to ask", "Suggested agenda", "Sources"]
AGENDA_SECTIONS = ["Agenda", "Sources"]
AGENDA_ROW = re.compile(r"^\| (\d+)-(\d+) min \((\d+) min\) \| ([^|]+) \|", re.M)


@pytest.fixture(scope="module")
def globex(demo_engine, shipped_guidance, tmp_path_factory):
    """Anna's three Globex drafts, made once for the checks that only read them."""
    home = tmp_path_factory.mktemp("globex")
    engine = make_engine(f"sqlite:///{copy_database(demo_engine, home / 'kam.db')}")
    sessions, guidance = make_session_factory(engine), RecordingGuidance(shipped_guidance)
    with sessions() as session:
        anna = CallerContext(scope=resolve_scope(session, user_id=ANNA))
    drafter = Drafter(sessions, guidance, Prompts(), home / "out")
    drafts = {"account_plan": drafter.account_plan(anna, "Globex Logistics"),
              "qbr_agenda": drafter.qbr_agenda(anna, "Globex"),
              "qbr_prep_note": drafter.qbr_prep_note(anna, "globex")}
    yield {**drafts, "searched": guidance.citations, "out_dir": home / "out"}
    engine.dispose()


def headings(markdown: str) -> list[str]:
    return re.findall(r"^## (.+)$", markdown, re.M)


def engine_value(sessions, caller, account_id: str, kpi: str) -> str:
    """A KPI from the engine, formatted the way the drafts format it."""
    with sessions() as session:
        result = KpiEngine(session, caller(ANNA).scope).account(account_id, [kpi])[kpi]
    return fmt(kpi_value(result), UNIT_LABELS[result.unit])


def test_every_draft_has_its_required_sections_in_order(globex):
    assert headings(globex["account_plan"]["markdown"]) == PLAN_SECTIONS
    assert headings(globex["qbr_prep_note"]["markdown"]) == PREP_SECTIONS
    assert headings(globex["qbr_agenda"]["markdown"])[0] == "Agenda"
    assert headings(globex["qbr_agenda"]["markdown"])[-1] == "Sources"
    assert [globex[k]["kind"] for k in ("account_plan", "qbr_agenda", "qbr_prep_note")] == [
        "account_plan", "qbr_agenda", "qbr_prep_note"]


@pytest.mark.parametrize("account", ["Acme Industrial", "Initech"])
def test_plans_of_other_accounts_have_the_same_sections(drafter, caller, account):
    assert headings(drafter.account_plan(caller(ANNA), account)["markdown"]) == PLAN_SECTIONS


def test_prep_note_of_a_healthy_account_has_the_same_sections(drafter, caller):
    note = drafter.qbr_prep_note(caller(ANNA), "Northwind Traders")

    assert headings(note["markdown"]) == PREP_SECTIONS
    assert "No open tickets." in note["markdown"]


@pytest.mark.parametrize("account", ["A0001", "A0003", "A0004", "A0007"])
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


def test_agenda_for_an_at_risk_account_up_for_renewal_has_risk_and_renewal_items(globex):
    agenda = globex["qbr_agenda"]
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


def test_prep_note_results_equal_the_kpi_engine(globex, caller, sessions):
    results = section(globex["qbr_prep_note"]["markdown"], "Results vs last period")

    for label, kpi in (("Revenue", "revenue"), ("Revenue growth", "revenue_growth"),
                       ("Gross margin", "gross_margin"), ("NPS", "nps"), ("CSAT", "csat")):
        assert f"| {label} | {engine_value(sessions, caller, GLOBEX, kpi)} |" in results, kpi


def test_plan_kpis_to_track_equal_the_kpi_engine(globex, caller, sessions):
    kpis = section(globex["account_plan"]["markdown"], "KPIs to track")

    for label, kpi in (("Revenue", "revenue"), ("Share of wallet", "share_of_wallet"),
                       ("Profitability", "profitability"), ("Churn risk", "churn_risk")):
        assert f"| {label} | {engine_value(sessions, caller, GLOBEX, kpi)}" in kpis, kpi


def test_numbers_follow_the_as_of_date(drafter, caller, sessions):
    as_of = date(2026, 6, 30)
    note = drafter.qbr_prep_note(caller(ANNA), "Globex", as_of=as_of)
    with sessions() as session:
        result = KpiEngine(session, caller(ANNA).scope, as_of=as_of).account(
            GLOBEX, ["revenue"])["revenue"]

    assert note["as_of"] == "2026-06-30"
    assert f"| Revenue | {fmt(kpi_value(result), 'currency')} |" in section(
        note["markdown"], "Results vs last period")


def test_globex_plan_lists_every_churn_sign_as_a_risk_with_evidence(globex, caller, sessions):
    risks = section(globex["account_plan"]["markdown"], "Risks")
    with sessions() as session:
        churn = KpiEngine(session, caller(ANNA).scope).account(GLOBEX, ["churn_risk"])
    signs = churn["churn_risk"].inputs["signs_fired"]

    assert len(signs) == 7  # the demo story: every warning sign fires
    for sign in signs:
        name = humanize(sign["sign"])
        assert f"**{name}** (+{sign['points']} points)" in risks
    assert "Churn risk 100/100 (high): 7 of 7 warning signs" in risks
    assert "A0003-T900" in risks and "Yuki Meyer" in risks and "A0003-K1" in risks


def test_plan_timeline_runs_through_the_next_four_quarters(globex):
    timeline = section(globex["account_plan"]["markdown"], "Timeline")

    quarters = re.findall(r"^\*\*(\d{4}-Q\d)\*\*", timeline, re.M)
    assert quarters == ["2026-Q4", "2027-Q1", "2027-Q2", "2027-Q3"]
    q4 = timeline.split("**2027-Q1**")[0]
    assert "on 2026-11-14: contract A0003-K1 ends" in q4
    assert "on 2027-02-19: close upsell opportunity A0003-OP01" in timeline.split("**2027-Q2**")[0]


def test_plan_growth_lists_white_space_and_open_opportunities(drafter, caller):
    growth = section(drafter.account_plan(caller(ANNA), "Initech")["markdown"],
                     "Growth opportunities")

    assert "White space: **" in growth and "of similar accounts" in growth
    assert "Open upsell opportunity A0005-OP02" in growth


def test_white_space_is_the_share_of_similar_accounts_across_the_store(sessions, caller):
    """Worked out from the order lines: similar = same industry or tier, any owner."""
    with sessions() as session:
        engine = KpiEngine(session, caller(ANNA).scope)
        space = white_space(engine, "A0005", ["Sensors", "Services"])
        initech = session.get(Account, "A0005")
        period = current_period(engine.as_of)
        bought = session.execute(
            select(Order.account_id, Product.product_line, Account.owner_user_id)
            .join(Product, Product.product_id == Order.product_id)
            .join(Account, Account.account_id == Order.account_id)
            .where(Order.account_id != "A0005",
                   (Account.industry == initech.industry) | (Account.tier == initech.tier),
                   Order.order_date.between(period.start, period.end))).all()
    buyers = {account for account, _, _ in bought}
    by_line = {line: len({a for a, x, _ in bought if x == line})
               for line in ("Controllers", "Software", "Spare Parts")}

    assert {owner for _, _, owner in bought} - {ANNA}  # peers beyond the caller's scope count
    assert space["similar_accounts"] == len(buyers)
    assert {x["product_line"]: x["similar_accounts_buying"] for x in space["lines"]} == by_line
    for line in space["lines"]:
        assert line["share_pct"] == round(100 * by_line[line["product_line"]] / len(buyers), 1)
    shares = [x["share_pct"] for x in space["lines"]]
    assert shares == sorted(shares, reverse=True)


def test_drafts_never_name_accounts_outside_the_callers_scope(globex, sessions):
    with sessions() as session:
        others = session.execute(
            select(Account.name).where(Account.owner_user_id != ANNA)).scalars().all()
    texts = [globex[kind]["markdown"] for kind in ("account_plan", "qbr_agenda", "qbr_prep_note")]

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


def test_prep_note_writes_a_valid_png_revenue_chart(globex):
    note = globex["qbr_prep_note"]
    chart = globex["out_dir"] / f"{GLOBEX}-revenue.png"

    assert note["charts"] == [str(chart)]
    data = chart.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 300 and height > 150
    assert str(chart) in section(note["markdown"], "Results vs last period")


@pytest.mark.parametrize("kind", ["account_plan", "qbr_agenda", "qbr_prep_note"])
def test_citations_look_like_title_and_section_and_come_from_the_guidance_search(globex, kind):
    result = globex[kind]
    in_text = {m[0] for m in CITATION.finditer(result["markdown"])}

    assert result["citations"]
    assert all(CITATION.fullmatch(c) for c in result["citations"])
    assert set(result["citations"]) <= globex["searched"]
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

    plan = Drafter(sessions, Empty(), Prompts(), out_dir).account_plan(caller(ANNA), "Globex")

    assert plan["citations"] == []
    assert "No guidance is indexed yet" in plan["markdown"]
    assert plan["plan"]["version"] == 1
