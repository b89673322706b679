"""The QBR deck (`kam draft deck`): every section, read back with python-pptx, the figures of
the prep note's own tools, text that fits its boxes, and the caller's scope."""

from __future__ import annotations

from pathlib import Path

import pytest
from pptx import Presentation
from pptx.util import Pt
from sqlalchemy import delete, update
from typer.testing import CliRunner

from bot.cli import app
from prompts import Prompts, fmt, money
from store.access import resolve_scope
from store.models import Account, Contact, CustomerKpi
from tools.deck import QbrDecks
from tools.deck_fit import overflows
from tools.drafting import qbr_facts
from tools.kpi_config import KpiConfig
from tools.kpis import KpiEngine

ANNA, BEN = "u_kam_anna", "u_kam_ben"
SECTIONS = ("Agenda", "Results vs last period", "Results: KPIs against the 12 months before",
            "Customer-defined KPIs", "Value delivered", "Risks", "Opportunities",
            "Stakeholders and who attends")


@pytest.fixture
def decks(sessions, out_dir) -> QbrDecks:
    return QbrDecks(sessions, Prompts(currency="EUR"), out_dir)


def slide_texts(slide) -> list[str]:
    texts = []
    for shape in slide.shapes:
        if shape.has_text_frame:
            texts.extend(p.text for p in shape.text_frame.paragraphs)
        if shape.has_table:
            texts.extend(c.text for row in shape.table.rows for c in row.cells)
    return texts


def titled(deck, title: str):
    return next(s for s in deck.slides if s.shapes[0].text_frame.text == title)


def test_deck_has_every_section_and_python_pptx_reads_it_back(decks, caller):
    result = decks.draft(caller(ANNA), "Globex")

    deck = Presentation(result["path"])
    titles = [s.shapes[0].text_frame.text for s in deck.slides]
    assert titles[0] == "Globex Logistics"
    assert [t for t in titles[1:] if "(continued)" not in t] == list(SECTIONS)
    assert [s["title"] for s in result["slides"]] == titles
    assert "Quarterly business review · date to be agreed" in slide_texts(deck.slides[0])


def test_deck_figures_are_the_prep_note_tools_results(decks, sessions, caller):
    deck = Presentation(decks.draft(caller(ANNA), "Globex")["path"])

    with sessions() as session:
        qbr = qbr_facts(KpiEngine(session, resolve_scope(session, user_id=ANNA)), "Globex")
    chart = next(s for s in titled(deck, "Results vs last period").shapes if s.has_chart).chart
    revenue, margin = chart.plots[0].series
    quarters = qbr["revenue"]["quarters"]
    assert list(revenue.values) == [q["revenue_cents"] / 100 for q in quarters]
    assert list(margin.values) == [q["gross_margin_cents"] / 100 for q in quarters]
    assert list(chart.plots[0].categories)[-1] == "Q3 2026"
    assert chart.value_axis.tick_labels.number_format == '"€"#,##0'
    kpis = qbr["f"]["kpis"]
    table = next(s for s in titled(deck, "Results: KPIs against the 12 months before").shapes
                 if s.has_table).table
    rows = {r.cells[0].text: [c.text for c in r.cells] for r in table.rows}
    assert rows["Revenue"][1:3] == [money(kpis["revenue"]["value"], "EUR"),
                                    money(kpis["revenue"]["prior_value"], "EUR")]
    assert rows["NPS"][1] == fmt(kpis["nps"]["value"], kpis["nps"]["unit"])
    q = qbr["quarter"]["kpis"]["revenue"]
    bullets = " ".join(slide_texts(titled(deck, "Results vs last period")))
    assert f"revenue {money(q['value'], 'EUR')} against {money(q['base_value'], 'EUR')}" in bullets
    customer = " ".join(slide_texts(titled(deck, "Customer-defined KPIs")))
    for k in qbr["f"]["customer_kpis"]:
        assert f"{k['latest']['achievement_pct']:.1f}%" in customer


def test_chart_names_fiscal_quarters_as_the_prep_note_does(sessions, out_dir, caller):
    decks = QbrDecks(sessions, Prompts(currency="EUR", fiscal_start=2), out_dir,
                     KpiConfig(fiscal_year_start=2))
    deck = Presentation(decks.draft(caller(ANNA), "Globex")["path"])

    chart = next(s for s in titled(deck, "Results vs last period").shapes if s.has_chart).chart
    # Fiscal years from February: data to 2026-09-30 ends in Q3 FY27 (Aug-Oct), under way.
    assert list(chart.plots[0].categories)[-2:] == ["Q2 FY27", "Q3 FY27 to date"]


@pytest.mark.parametrize("account", ["Globex", "Acme Industrial", "A0010", "A0020"])
def test_demo_decks_fit_every_box_on_their_slides(decks, caller, account):
    assert overflows(Path(decks.draft(caller("u_admin"), account)["path"])) == []


def test_overflow_check_fails_a_box_too_small_for_its_text(decks, caller, tmp_path):
    deck = Presentation(decks.draft(caller(ANNA), "Globex")["path"])
    box = list(titled(deck, "Value delivered").shapes)[1]
    box.height = Pt(40)
    squeezed = tmp_path / "squeezed.pptx"
    deck.save(str(squeezed))

    (problem,) = overflows(squeezed)
    assert problem.startswith(f"slide 6, {box.name}: text needs ")


def test_long_names_and_long_lists_stay_on_their_slides(decks, sessions, caller):
    long_name = "The Extraordinarily Long-Named International Holding Company of Logistics " \
                "and Chemical Distribution Services (Northern Hemisphere Division)"
    with sessions.begin() as session:
        session.execute(update(Account).where(Account.account_id == "A0003")
                        .values(name=long_name))
        session.add_all(Contact(contact_id=f"A0003-X{i:02d}", account_id="A0003",
                                name=f"Maximiliana Alexandrovna Featherstonehaugh-{i}",
                                title="Senior Vice President of Global Procurement Excellence",
                                department="Procurement", buying_role="influencer",
                                relationship_strength=3, status="active") for i in range(40))

    result = decks.draft(caller(ANNA), "A0003")

    path = Path(result["path"])
    assert overflows(path) == []
    deck = Presentation(str(path))
    stakeholders = [s for s in deck.slides
                    if s.shapes[0].text_frame.text.startswith("Stakeholders")]
    assert len(stakeholders) == 3 and "(continued)" in stakeholders[1].shapes[0].text_frame.text
    assert any(t.startswith("… and ") and t.endswith(" more.")
               for t in slide_texts(stakeholders[-1]))
    name_shown = deck.slides[0].shapes[0].text_frame.text
    assert name_shown == long_name or name_shown.endswith("…")


def test_empty_sections_say_so_in_words(decks, sessions, caller):
    with sessions.begin() as session:
        session.execute(delete(CustomerKpi).where(CustomerKpi.account_id == "A0003"))

    deck = Presentation(decks.draft(caller(ANNA), "Globex")["path"])

    assert "No customer-defined KPIs are recorded." in " ".join(
        slide_texts(titled(deck, "Customer-defined KPIs")))
    assert "No customer-defined KPI is on target or improving" in " ".join(
        slide_texts(titled(deck, "Value delivered")))


def test_kam_cannot_make_a_deck_for_another_kams_account(decks, caller, out_dir):
    result = decks.draft(caller(BEN), "Globex")

    assert result["error"] == "not_found_or_not_yours"
    assert not out_dir.exists() or not list(out_dir.glob("*.pptx"))


def test_kam_draft_deck_writes_the_pptx_and_lists_its_slides(cli_home, tmp_path):
    out = tmp_path / "globex.pptx"
    result = CliRunner().invoke(app, ["draft", "deck", "Globex", "--as-user", ANNA, "--date",
                                      "2026-10-20", "--out", str(out)], env=cli_home)

    assert result.exit_code == 0, result.output
    assert f"Wrote {out}: QBR deck for Globex Logistics" in " ".join(result.output.split())
    assert "2. Agenda" in result.output and "9. Stakeholders and who attends" in result.output
    assert "Quarterly business review · meeting on 2026-10-20" in slide_texts(
        Presentation(str(out)).slides[0])
    refused = CliRunner().invoke(app, ["draft", "deck", "Globex", "--as-user", BEN],
                                 env=cli_home)
    assert refused.exit_code == 1 and "Account not found or not yours" in refused.output
