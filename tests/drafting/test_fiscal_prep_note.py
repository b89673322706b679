"""The QBR prep note reviews the last complete fiscal quarter and names it in fiscal terms."""

from __future__ import annotations

from datetime import date

from prompts import Prompts, money
from store.access import resolve_scope
from tools.drafting import Drafter
from tools.kpi_config import KpiConfig
from tools.kpis import KpiEngine
from tools.periods import Period

ANNA = "u_kam_anna"


def test_prep_note_reviews_the_last_complete_fiscal_quarter(sessions, guidance, out_dir,
                                                            caller):
    # Fiscal years from February: as of 2026-09-30 the last complete quarter is May-July,
    # Q2 of FY27 (Feb 2026 - Jan 2027), not the calendar Q3.
    drafter = Drafter(sessions, guidance, Prompts(currency="EUR", fiscal_start=2), out_dir,
                      KpiConfig(fiscal_year_start=2))

    note = drafter.qbr_prep_note(caller(ANNA), "Globex")["markdown"]

    with sessions() as session:
        engine = KpiEngine(session, resolve_scope(session, user_id=ANNA))
        quarter = Period(date(2026, 5, 1), date(2026, 7, 31))
        revenue = engine.account("A0003", ["revenue"], engine.context(current=quarter))
    dash = "\u2009–\u2009"
    assert (f"Last complete quarter, Q2 FY27 (May 1{dash}Jul 31, 2026), against the quarter "
            f"before, Q1 FY27 (Feb 1{dash}Apr 30, 2026): revenue "
            f"{money(revenue['revenue'].value / 100, 'EUR')} vs ") in note
