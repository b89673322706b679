"""Imports that cannot hurt (issue 12): an interrupted bulk load leaves the database as it
was, values outside sanity ranges are ordinary errors with their line, every error of
every file comes out in one pass, and a bad row already in the database cannot break the
KPIs.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from store import importer
from store.access import resolve_scope
from store.db import make_session_factory
from store.importer import BULK_ROWS, MAX_FIELD_CHARS, ImportFailed, Limits, import_paths
from tools.kpis import KPI_NAMES, KpiEngine
from tools.periods import resolve_as_of
from tools.portfolio import at_risk_accounts, rank_accounts, renewals_due

ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 12, 1)
ORDERS = "order_id,account_id,product_id,order_date,quantity,revenue,cost\n"
ORDER_INDEXES = {"ix_orders_account_date", "ix_orders_order_date"}


def orders(*lines: str) -> dict[str, str]:
    return {"orders.csv": ORDERS + "".join(line + "\n" for line in lines)}


def errors_of(engine, paths, limits: Limits | None = None) -> list[str]:
    with pytest.raises(ImportFailed) as failure:
        import_paths(engine, paths, limits=limits or Limits(TODAY))
    return [str(issue) for issue in failure.value.errors]


def order_indexes(engine) -> set[str]:
    return {index["name"] for index in inspect(engine).get_indexes("orders")}


def drop_order_indexes(engine) -> None:
    """What an import killed mid-load used to leave behind."""
    with engine.begin() as conn:
        for name in ORDER_INDEXES:
            conn.execute(text(f"DROP INDEX {name}"))


# --- an interrupted bulk load --------------------------------------------------------------


def test_a_bulk_import_after_one_killed_mid_load_works_and_rebuilds_the_indexes(
    engine, import_files, base_files, monkeypatch, row_counts
):
    import_files(base_files)
    drop_order_indexes(engine)
    monkeypatch.setattr(importer, "BULK_ROWS", 2)

    import_files(orders("O1,A1,P1,2026-01-05,2,100.00,60.00", "O2,A2,P2,2026-02-05,1,50,20"))

    assert row_counts()["orders"] == 2
    assert order_indexes(engine) == ORDER_INDEXES


def test_an_import_of_any_table_rebuilds_missing_indexes(engine, import_files, base_files):
    import_files(base_files)
    drop_order_indexes(engine)

    import_files({"products.csv": base_files["products.csv"]})

    assert order_indexes(engine) == ORDER_INDEXES


def test_a_bulk_load_failing_after_the_indexes_were_dropped_leaves_them_in_place(
    engine, import_files, base_files, monkeypatch, row_counts
):
    import_files(base_files)
    monkeypatch.setattr(importer, "BULK_ROWS", 2)

    def crash(*_args, **_kwargs):
        raise RuntimeError("the power went out")

    monkeypatch.setattr(importer, "execute_many", crash)
    with pytest.raises(RuntimeError):
        import_files(orders("O1,A1,P1,2026-01-05,2,100.00,60.00", "O2,A2,P2,2026-02-05,1,50,20"))

    assert order_indexes(engine) == ORDER_INDEXES
    assert row_counts()["orders"] == 0


KILL_AT_THE_FIRST_ORDER_INSERT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from sqlalchemy import event
    from store.db import make_engine
    from store.importer import import_paths

    engine = make_engine(sys.argv[1])

    @event.listens_for(engine, "before_cursor_execute")
    def die(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO orders"):
            os.kill(os.getpid(), signal.SIGKILL)

    import_paths(engine, [Path(sys.argv[2])])
    """
)


@pytest.mark.slow
def test_an_import_killed_with_sigkill_mid_load_keeps_the_indexes_and_the_next_one_works(
    engine, import_files, base_files, tmp_path, row_counts
):
    import_files(base_files)
    path = tmp_path / "orders.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(ORDERS.strip().split(","))
        out.writerows(
            (
                f"O{i}",
                f"A{i % 2 + 1}",
                "P1",
                f"2026-{i % 12 + 1:02d}-{i % 28 + 1:02d}",
                1,
                "10",
                "5",
            )
            for i in range(BULK_ROWS)
        )

    killed = subprocess.run(
        [sys.executable, "-c", KILL_AT_THE_FIRST_ORDER_INSERT, str(engine.url), str(path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert order_indexes(engine) == ORDER_INDEXES
    assert row_counts()["orders"] == 0
    import_paths(engine, [path], limits=Limits(TODAY))
    assert row_counts()["orders"] == BULK_ROWS
    assert order_indexes(engine) == ORDER_INDEXES


# --- sanity ranges -------------------------------------------------------------------------


def test_an_order_dated_9999_12_31_is_an_error_with_its_line(engine, write_csvs, base_files):
    files = {**base_files, **orders("O1,A1,P1,2026-01-05,2,100,60", "O2,A1,P1,9999-12-31,2,100,60")}

    assert errors_of(engine, write_csvs(files)) == [
        "orders.csv:3: order_date: date 9999-12-31 is out of range: must be from 2006-12-01 "
        "to 2027-12-01; check the year (kam import --allow-any-date accepts it)"
    ]


def test_an_order_dated_more_than_a_year_ahead_is_an_error(engine, write_csvs, base_files):
    files = {**base_files, **orders("O1,A1,P1,2027-12-01,2,100,60", "O2,A1,P1,2062-09-30,2,100,60")}

    assert [e.split(": must")[0] for e in errors_of(engine, write_csvs(files))] == [
        "orders.csv:3: order_date: date 2062-09-30 is out of range"
    ]


def test_an_order_older_than_20_years_before_the_as_of_date_is_an_error(
    engine, write_csvs, base_files
):
    files = {**base_files, **orders("O1,A1,P1,2000-06-30,2,100,60", "O2,A1,P1,2000-06-29,2,100,60")}

    errors = errors_of(engine, write_csvs(files), Limits(TODAY, as_of=date(2020, 6, 30)))

    assert [e.split(" is out")[0] for e in errors] == ["orders.csv:3: order_date: date 2000-06-29"]


def test_allow_any_date_accepts_a_date_far_ahead_but_not_past_2999(
    engine, write_csvs, base_files, table_rows
):
    files = {**base_files, **orders("O1,A1,P1,2062-09-30,2,100,60", "O2,A1,P1,9999-12-31,2,100,60")}
    anything = Limits(TODAY, any_date=True)

    assert errors_of(engine, write_csvs(files), anything) == [
        "orders.csv:3: order_date: date 9999-12-31 is out of range: must be from 1900-01-01 "
        "to 2999-12-31"
    ]
    import_paths(
        engine,
        write_csvs({**base_files, **orders("O1,A1,P1,2062-09-30,2,100,60")}),
        limits=anything,
    )
    assert [row[3] for row in table_rows("orders")] == [date(2062, 9, 30)]


def test_contracts_may_end_and_opportunities_close_years_ahead(
    engine, write_csvs, base_files, row_counts
):
    files = {
        **base_files,
        "contracts.csv": "contract_id,account_id,start_date,end_date,annual_value\n"
        "K1,A1,2026-01-01,2031-12-31,1000\n",
        "opportunities.csv": "opportunity_id,account_id,kind,amount,stage,created_on,"
        "expected_close\nOP1,A1,renewal,1000,open,2026-11-01,2031-12-31\n",
    }

    import_paths(engine, write_csvs(files), limits=Limits(TODAY))

    assert (row_counts()["contracts"], row_counts()["opportunities"]) == (1, 1)


def test_an_account_may_be_a_customer_for_decades(import_files, base_files):
    files = {
        **base_files,
        "accounts.csv": "account_id,name,owner_user_id,created_on\n"
        "A1,Acme Industrial,u_anna,1968-04-01\n",
    }

    assert import_files(files).total_rows == 6


def test_an_amount_above_the_cap_is_an_error_with_its_line(engine, write_csvs, base_files):
    files = {
        **base_files,
        **orders(
            "O1,A1,P1,2026-01-05,2,1000000000.00,60", "O2,A1,P1,2026-01-05,2,9999999999999.99,60"
        ),
    }

    assert errors_of(engine, write_csvs(files)) == [
        "orders.csv:3: revenue: 9999999999999.99 is out of range: must be at most 1000000000.00 "
        "(the KAM_MAX_AMOUNT setting)"
    ]


def test_a_credit_note_beyond_the_cap_is_an_error(engine, write_csvs, base_files):
    files = {**base_files, **orders("O1,A1,P1,2026-01-05,2,-1000000000.01,60")}

    assert errors_of(engine, write_csvs(files)) == [
        "orders.csv:2: revenue: -1000000000.01 is out of range: must be at least -1000000000.00 "
        "(the KAM_MAX_AMOUNT setting)"
    ]


def test_the_amount_cap_is_configurable(engine, write_csvs, base_files):
    files = {
        **base_files,
        "contracts.csv": "contract_id,account_id,start_date,end_date,annual_value\n"
        "K1,A1,2026-01-01,2026-12-31,100.00\nK2,A1,2026-01-01,2026-12-31,100.01\n",
    }

    errors = errors_of(engine, write_csvs(files), Limits(TODAY, max_amount_cents=100_00))

    assert [e.split(" is out")[0] for e in errors] == ["contracts.csv:3: annual_value: 100.01"]


def test_ten_thousand_huge_orders_are_errors_not_an_integer_overflow(
    engine, write_csvs, base_files, row_counts
):
    lines = [f"O{i},A1,P1,2026-01-05,1,9999999999999.99,0" for i in range(10_000)]

    with pytest.raises(ImportFailed) as failure:
        import_paths(engine, write_csvs({**base_files, **orders(*lines)}), limits=Limits(TODAY))

    assert len(failure.value.errors) == 10_000
    assert "orders.csv:2: revenue: 9999999999999.99 is out of range" in str(failure.value)
    assert "... and 9900 more errors" in str(failure.value)
    assert row_counts()["orders"] == 0


def test_a_million_character_value_is_an_error_with_its_line(engine, write_csvs, base_files):
    notes = "x" * 1_000_000
    files = {
        **base_files,
        "activities.csv": "activity_id,account_id,kind,occurred_on,notes\n"
        "E1,A1,call,2026-01-05,fine\n"
        f"E2,A1,call,2026-01-05,{notes}\n"
        "E3,A1,lunch,2026-01-05,the line after it is still checked\n",
    }

    assert errors_of(engine, write_csvs(files)) == [
        "activities.csv:3: a value is longer than 10,000 characters",
        "activities.csv:4: kind: unknown value 'lunch'; expected one of 'meeting', 'call', "
        "'email', 'qbr' or 'visit'",
    ]


def test_a_value_of_exactly_the_cap_is_accepted_and_the_csv_limit_restored(
    import_files, base_files
):
    before = csv.field_size_limit()
    files = {
        **base_files,
        "activities.csv": "activity_id,account_id,kind,occurred_on,notes\n"
        f"E1,A1,call,2026-01-05,{'x' * MAX_FIELD_CHARS}\n",
    }

    assert import_files(files).total_rows == 8
    assert csv.field_size_limit() == before


# --- every error of every file in one pass -------------------------------------------------


def test_a_date_error_in_orders_does_not_hide_an_unknown_account_in_contacts(
    engine, write_csvs, base_files
):
    files = {
        **base_files,
        "contacts.csv": "contact_id,account_id,name\nC1,A1,Lena Park\nC2,A99,Ghost Contact\n",
        **orders("O1,A1,P1,2024-02-30,2,100,60", "O2,A98,P1,2024-02-01,2,100,60"),
    }

    assert sorted(errors_of(engine, write_csvs(files))) == [
        "contacts.csv:3: account_id: unknown account 'A99'",
        "orders.csv:2: order_date: invalid date '2024-02-30'; use YYYY-MM-DD",
        "orders.csv:3: account_id: unknown account 'A98'",
    ]


def test_a_rejected_row_is_not_reported_again_as_unknown_elsewhere(engine, write_csvs, base_files):
    files = {
        **base_files,
        "accounts.csv": "account_id,name,owner_user_id,tier\n"
        "A1,Acme,u_anna,key\nA3,Initech,u_anna,gold\n",
        "contacts.csv": "contact_id,account_id,name\nC1,A3,Lena Park\n",
    }

    assert errors_of(engine, write_csvs(files)) == [
        "accounts.csv:3: tier: unknown value 'gold'; expected one of 'key', 'strategic', "
        "'growth' or 'maintain'"
    ]


def test_a_file_with_a_broken_header_does_not_turn_every_reference_into_an_error(
    engine, write_csvs, base_files
):
    files = {
        **base_files,
        "accounts.csv": "account_id,name\nA1,Acme\nA3,Initech\n",
        "contacts.csv": "contact_id,account_id,name\nC1,A3,Lena Park\nC2,A1,Tom Field\n",
    }

    assert errors_of(engine, write_csvs(files)) == [
        "accounts.csv:1: owner_user_id: required column missing"
    ]


def test_errors_of_one_file_come_in_line_order(engine, write_csvs, base_files):
    files = {
        **base_files,
        **orders("O1,A1,P1,2062-01-05,2,100,60", "O2,A1,P1,2026-01-05,two,100,60"),
    }

    assert [e.split(":")[1] for e in errors_of(engine, write_csvs(files))] == ["2", "3"]


# --- a bad row already in the database cannot break the KPIs -------------------------------


def add_order(engine, order_id: str, day: str) -> None:
    """An order written by an older importer that had no date range."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO orders (order_id, account_id, product_id, order_date, quantity, "
                "revenue_cents, cost_cents) VALUES (:id, 'A1', 'P1', :day, 1, 100000, 0)"
            ),
            {"id": order_id, "day": day},
        )
        importer.refresh_order_aggregates(conn, None, "sqlite")


def test_the_default_as_of_date_ignores_orders_dated_in_the_future(
    engine, import_files, base_files
):
    import_files({**base_files, **orders("O1,A1,P1,2026-09-30,2,100,60")})
    add_order(engine, "O2", "2062-09-30")

    with make_session_factory(engine)() as session:
        assert resolve_as_of(session, None, today=TODAY) == date(2026, 9, 30)
        assert resolve_as_of(session, None, today=date(2070, 1, 1)) == date(2062, 9, 30)
        assert resolve_as_of(session, date(2025, 1, 31), today=TODAY) == date(2025, 1, 31)


def test_the_default_as_of_date_is_today_when_every_order_is_in_the_future(
    engine, import_files, base_files
):
    import_files(base_files)
    add_order(engine, "O1", "9999-12-31")

    with make_session_factory(engine)() as session:
        assert resolve_as_of(session, None, today=TODAY) == TODAY


def test_kpi_answers_survive_an_order_dated_9999_12_31_in_the_database(
    engine, import_files, base_files
):
    import_files({**base_files, **orders("O1,A1,P1,2026-09-30,2,100,60")})
    add_order(engine, "O2", "9999-12-31")

    with make_session_factory(engine)() as session:
        kpis = KpiEngine(session, resolve_scope(session, user_id="u_mgr"))
        _, rows = kpis.rows(list(KPI_NAMES))
        ranking = rank_accounts(kpis, "revenue")
        at_risk_accounts(kpis)
        renewals_due(kpis)

    assert kpis.as_of <= date.today()
    assert set(rows) == {"A1", "A2"}
    assert ranking.items[0].account_id == "A1"
