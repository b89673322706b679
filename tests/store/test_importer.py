"""CSV import: what a user sees for good and bad files (docs/data-format.md).

Errors read `file:line: column: message`, with the physical line of the CSV
file (the header is line 1). A run is all or nothing.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text

from store import importer
from store.importer import MAX_REPORTED_ERRORS, ImportFailed, import_paths


@pytest.fixture
def engine(any_engine):
    """Every test here runs on SQLite and on PostgreSQL."""
    return any_engine

ORDERS = "order_id,account_id,product_id,order_date,quantity,revenue,cost\n"


def orders(*lines: str) -> dict[str, str]:
    return {"orders.csv": ORDERS + "".join(line + "\n" for line in lines)}


# --- the header -----------------------------------------------------------------------------


def test_missing_required_column_is_reported_on_the_header_line(base_files, import_errors):
    files = {
        **base_files,
        "orders.csv": "order_id,account_id,product_id,order_date,quantity,revenue\n"
        "O1,A1,P1,2024-01-05,2,100.00\n",
    }

    assert import_errors(files) == ["orders.csv:1: cost: required column missing"]


def test_unknown_column_is_a_warning_and_the_rest_is_imported(import_files, table_rows):
    report = import_files(
        {"products.csv": "product_id,name,colour,product_line\nP1,Pressure sensor,blue,Sensors\n"}
    )

    assert [str(w) for w in report.warnings] == ["products.csv:1: colour: unknown column, ignored"]
    assert table_rows("products") == [("P1", "Pressure sensor", "Sensors")]


def test_column_named_twice_in_the_header_is_an_error(import_errors):
    files = {"products.csv": "product_id,name,name,product_line\nP1,a,b,Sensors\n"}

    assert import_errors(files) == ["products.csv:1: name: column appears twice in the header"]


# --- values ---------------------------------------------------------------------------------


def test_bad_date_is_reported_with_its_line_and_column(base_files, import_errors):
    files = {
        **base_files,
        **orders("O1,A1,P1,2024-01-05,2,100.00,60.00", "O2,A1,P1,2024-02-30,2,100.00,60.00"),
    }

    assert import_errors(files) == [
        "orders.csv:3: order_date: invalid date '2024-02-30'; use YYYY-MM-DD"
    ]


def test_date_in_another_format_is_rejected(base_files, import_errors):
    files = {**base_files, **orders("O1,A1,P1,05/01/2024,2,100.00,60.00")}

    assert import_errors(files) == [
        "orders.csv:2: order_date: invalid date '05/01/2024'; use YYYY-MM-DD"
    ]


def test_text_in_a_whole_number_column_is_reported(base_files, import_errors):
    files = {**base_files, **orders("O1,A1,P1,2024-01-05,two,100.00,60.00")}

    assert import_errors(files) == ["orders.csv:2: quantity: not a whole number: 'two'"]


def test_text_in_a_number_column_is_reported(base_files, import_errors):
    files = {
        **base_files,
        "customer_kpis.csv": "account_id,kpi_name,period_end,target,actual\n"
        "A1,On-time delivery %,2024-03-31,98,high\n",
    }

    assert import_errors(files) == ["customer_kpis.csv:2: actual: not a number: 'high'"]


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_not_a_number_and_infinity_are_rejected(value, base_files, import_errors):
    files = {
        **base_files,
        "customer_kpis.csv": "account_id,kpi_name,period_end,target,actual\n"
        f"A1,On-time delivery %,2024-03-31,{value},97\n",
    }

    assert import_errors(files) == [f"customer_kpis.csv:2: target: not a number: '{value}'"]


def test_negative_quantity_is_rejected(base_files, import_errors):
    files = {**base_files, **orders("O1,A1,P1,2024-01-05,-3,100.00,60.00")}

    assert import_errors(files) == [
        "orders.csv:2: quantity: '-3' is out of range: must be at least 0"
    ]


def test_unknown_enum_value_lists_the_allowed_values(import_errors):
    files = {"users.csv": "user_id,name,email,role\nu1,Anna Berg,anna@example.com,boss\n"}

    assert import_errors(files) == [
        "users.csv:2: role: unknown value 'boss'; expected one of 'kam', 'manager' or 'admin'"
    ]


def test_empty_required_value_is_reported_as_missing(import_errors):
    files = {"users.csv": "user_id,name,email,role\nu1,,anna@example.com,kam\n"}

    assert import_errors(files) == ["users.csv:2: name: required value missing"]


def test_empty_optional_value_is_stored_as_null(base_files, import_files, table_rows):
    import_files(
        {
            **base_files,
            "accounts.csv": "account_id,name,owner_user_id,tier,wallet_estimate,created_on\n"
            "A1,Acme Industrial,u_anna,,,\n",
        }
    )

    [account] = table_rows("accounts")
    assert account == (
        "A1", "Acme Industrial", "u_anna", None, None, None, None, None, None, None, None, None
    )


def test_text_with_quotes_tabs_backslashes_and_line_breaks_is_stored_as_written(
        base_files, import_files, table_rows):
    # PostgreSQL loads through COPY, whose text format gives tab, backslash and newline a
    # meaning of their own: they must arrive as written (and "\\N" is not NULL).
    name = 'Müller & Söhne "Nord"\tGmbH \\N C:\\temp\nzweite Zeile'
    quoted = name.replace('"', '""')
    import_files({**base_files, "accounts.csv": "account_id,name,owner_user_id\n"
                  f'A1,"{quoted}",u_anna\n'})

    [account] = table_rows("accounts")
    assert account[1] == name


def test_row_with_the_wrong_number_of_fields_is_reported(base_files, import_errors):
    files = {**base_files, **orders("O1,A1,P1,2024-01-05,2,100.00")}

    assert import_errors(files) == ["orders.csv:2: expected 7 fields, found 6"]


def test_every_error_is_reported_not_just_the_first(base_files, import_errors):
    files = {
        **base_files,
        **orders(
            "O1,A1,P1,2024-13-01,2,100.00,60.00",
            "O2,A1,P1,2024-01-05,2,100.00,60.00",
            "O3,A1,P1,2024-01-05,lots,100.00,60.00",
        ),
        "users.csv": base_files["users.csv"] + "u_x,Xavier,x@example.com,boss,,,\n",
    }

    assert import_errors(files) == [
        "users.csv:5: role: unknown value 'boss'; expected one of 'kam', 'manager' or 'admin'",
        "orders.csv:2: order_date: invalid date '2024-13-01'; use YYYY-MM-DD",
        "orders.csv:4: quantity: not a whole number: 'lots'",
    ]


def test_line_numbers_count_physical_lines_including_blank_ones(base_files, import_errors):
    files = {**base_files, **orders("O1,A1,P1,2024-01-05,2,100.00,60.00", "", "O2,A1,P1,x,2,1,1")}

    assert import_errors(files) == ["orders.csv:4: order_date: invalid date 'x'; use YYYY-MM-DD"]


# --- money ----------------------------------------------------------------------------------


def test_money_in_currency_units_is_stored_as_exact_cents(base_files, import_files, table_rows):
    import_files(
        {
            **base_files,
            **orders(
                "O1,A1,P1,2024-01-05,1,1234.5,0.07",
                "O2,A1,P1,2024-01-06,1,0.1,0",
                "O3,A1,P1,2024-01-07,1,-19.99,1000000",
            ),
        }
    )

    assert [(order_id, revenue, cost) for order_id, *_, revenue, cost in table_rows("orders")] == [
        ("O1", 123450, 7),
        ("O2", 10, 0),
        ("O3", -1999, 100000000),
    ]


@pytest.mark.parametrize("amount", ["1.234", "1,234.50", "12e3", "$12", "12."])
def test_amount_that_is_not_plain_digits_with_two_decimals_is_rejected(
    amount, base_files, import_errors
):
    files = {**base_files, **orders(f'O1,A1,P1,2024-01-05,1,"{amount}",1')}

    assert import_errors(files) == [
        f"orders.csv:2: revenue: not an amount: '{amount}'; "
        "use digits with at most 2 decimals, e.g. 1234.50"
    ]


def test_negative_cost_is_rejected(base_files, import_errors):
    files = {**base_files, **orders("O1,A1,P1,2024-01-05,1,10,-1")}

    assert import_errors(files) == [
        "orders.csv:2: cost: not an amount: '-1'; use digits with at most 2 decimals, e.g. 1234.50"
    ]


# --- keys -----------------------------------------------------------------------------------


def test_unknown_foreign_key_in_the_same_run_is_reported(base_files, import_errors):
    files = {**base_files, **orders("O1,A9,P1,2024-01-05,1,10,5")}

    assert import_errors(files) == ["orders.csv:2: account_id: unknown account 'A9'"]


def test_unknown_foreign_key_against_the_database_is_reported(
    base_files, import_files, import_errors
):
    import_files(base_files)

    assert import_errors(orders("O1,A1,P9,2024-01-05,1,10,5")) == [
        "orders.csv:2: product_id: unknown product 'P9'"
    ]


def test_foreign_key_satisfied_by_the_database_imports(base_files, import_files, table_rows):
    import_files(base_files)

    import_files(orders("O1,A1,P1,2024-01-05,1,10,5"))

    assert [row[0] for row in table_rows("orders")] == ["O1"]


def test_foreign_key_satisfied_by_another_file_of_the_same_run_imports(import_files, table_rows):
    report = import_files(
        {
            "contacts.csv": "contact_id,account_id,name\nC1,A1,Lena Park\n",
            "accounts.csv": "account_id,name,owner_user_id\nA1,Acme Industrial,u1\n",
            "users.csv": "user_id,name,email,role\nu1,Anna Berg,anna@example.com,kam\n",
        }
    )

    assert [t.table for t in report.tables] == ["users", "accounts", "contacts"]
    assert table_rows("contacts") == [("C1", "A1", "Lena Park", None, None, None, None, "active")]


def test_duplicate_id_in_a_file_names_both_lines(import_errors):
    files = {
        "products.csv": "product_id,name,product_line\n"
        "P1,Pressure sensor,Sensors\n"
        "P2,Flow sensor,Sensors\n"
        "P1,Vision sensor,Sensors\n"
    }

    assert import_errors(files) == [
        "products.csv:4: product_id: duplicate product_id 'P1' (first on line 2)"
    ]


def test_duplicate_composite_key_in_a_file_names_both_lines(base_files, import_errors):
    files = {
        **base_files,
        "cost_to_serve.csv": "account_id,period_start,period_end,amount\n"
        "A1,2024-01-01,2024-03-31,100\n"
        "A1,2024-01-01,2024-03-31,200\n",
    }

    assert import_errors(files) == [
        "cost_to_serve.csv:3: duplicate account_id/period_start/period_end "
        "'A1/2024-01-01/2024-03-31' (first on line 2)"
    ]


def test_slack_user_id_used_twice_in_a_file_is_reported(import_errors):
    files = {
        "users.csv": "user_id,name,email,role,slack_user_id\n"
        "u1,Anna Berg,anna@example.com,kam,U0KAM1\n"
        "u2,Ben Carter,ben@example.com,kam,U0KAM1\n"
    }

    assert import_errors(files) == [
        "users.csv:3: slack_user_id: duplicate slack_user_id 'U0KAM1' (first on line 2)"
    ]


def test_slack_user_id_of_another_user_in_the_database_is_reported(
    base_files, import_files, import_errors
):
    import_files(base_files)
    files = {"users.csv": "user_id,name,email,role,slack_user_id\nu_new,Nia,n@x.com,kam,U0KAM1\n"}

    assert import_errors(files) == [
        "users.csv:2: slack_user_id: slack_user_id 'U0KAM1' already belongs to user_id 'u_anna' "
        "in the database"
    ]


def test_slack_user_ids_cannot_be_swapped_in_one_import(
    base_files, import_files, import_errors, table_rows
):
    import_files(base_files)
    before = table_rows("users")
    swap = {
        "users.csv": "user_id,name,email,role,team,slack_user_id,manager_id\n"
        "u_anna,Anna Berg,anna@example.com,kam,North,U0KAM2,u_mgr\n"
        "u_ben,Ben Carter,ben@example.com,kam,North,U0KAM1,u_mgr\n"
    }

    assert import_errors(swap) == [
        "users.csv:2: slack_user_id: slack_user_id 'U0KAM2' already belongs to user_id 'u_ben' "
        "in the database",
        "users.csv:3: slack_user_id: slack_user_id 'U0KAM1' already belongs to user_id 'u_anna' "
        "in the database",
    ]
    assert table_rows("users") == before


def test_slack_user_id_moves_to_another_user_once_freed(base_files, import_files, table_rows):
    import_files(base_files)
    header = "user_id,name,email,role,team,slack_user_id,manager_id\n"

    import_files({"users.csv": header + "u_anna,Anna Berg,anna@example.com,kam,North,,u_mgr\n"})
    import_files({"users.csv": header + "u_new,Nia Okoro,nia@example.com,kam,North,U0KAM1,u_mgr\n"})

    assert {row[0]: row[5] for row in table_rows("users")} == {
        "u_anna": None,
        "u_ben": "U0KAM2",
        "u_mgr": "U0MGR1",
        "u_new": "U0KAM1",
    }


def test_manager_listed_after_their_report_imports(import_files, table_rows):
    import_files(
        {
            "users.csv": "user_id,name,email,role,team,manager_id\n"
            "u_anna,Anna Berg,anna@example.com,kam,North,u_mgr\n"
            "u_mgr,Maria Novak,maria@example.com,manager,North,u_boss\n"
            "u_boss,Ada Admin,ada@example.com,admin,,\n"
        }
    )

    assert {row[0]: row[6] for row in table_rows("users")} == {
        "u_anna": "u_mgr",
        "u_boss": None,
        "u_mgr": "u_boss",
    }


def test_circular_manager_references_are_rejected(import_errors, row_counts):
    files = {
        "users.csv": "user_id,name,email,role,manager_id\n"
        "u1,Anna Berg,anna@example.com,kam,u2\n"
        "u2,Maria Novak,maria@example.com,manager,u1\n"
    }

    assert import_errors(files) == ["users.csv: manager_id: circular references between rows"]
    assert row_counts()["users"] == 0


# --- files ----------------------------------------------------------------------------------


def test_empty_file_is_an_error(import_errors):
    assert import_errors({"products.csv": ""}) == [
        "products.csv: file is empty; expected a header row"
    ]


def test_header_only_file_is_a_warning_and_imports_nothing(
    base_files, import_files, row_counts
):
    report = import_files({**base_files, **orders()})

    assert [str(w) for w in report.warnings] == ["orders.csv: header only, no data rows"]
    assert [t.table for t in report.tables] == ["users", "accounts", "products"]
    assert row_counts()["orders"] == 0


def test_non_utf8_file_names_the_byte_and_the_line(import_errors):
    latin1 = "product_id,name,product_line\nP1,Sensor,Sensors\nP2,Capteur de débit,Sensors\n"

    assert import_errors({"products.csv": latin1.encode("latin-1")}) == [
        "products.csv: not UTF-8 (byte 0xe9 on line 3); save the file as UTF-8 and import again"
    ]


def test_utf8_with_bom_is_accepted(import_files, table_rows):
    csv_text = "product_id,name,product_line\r\nP1,Capteur de débit,Capteurs\r\n"

    import_files({"products.csv": csv_text.encode("utf-8-sig")})

    assert table_rows("products") == [("P1", "Capteur de débit", "Capteurs")]


def test_unknown_table_file_name_lists_the_valid_tables(import_errors):
    [error] = import_errors({"order.csv": ORDERS})

    assert error.startswith("order.csv: unknown table 'order'; name the file after one of: ")
    assert error.endswith("users, accounts, products, fx_rates, contacts, orders, cost_to_serve, "
                          "opportunities, contracts, surveys, tickets, activities, customer_kpis, "
                          "value_factors, account_scores")


def test_misspelt_file_in_a_folder_is_reported_not_skipped(
    engine, base_files, write_csvs, row_counts
):
    folder = write_csvs({**base_files, "order.csv": ORDERS})[0].parent

    with pytest.raises(ImportFailed) as failure:
        import_paths(engine, [folder])

    assert [str(e).split(";")[0] for e in failure.value.errors] == [
        "order.csv: unknown table 'order'"
    ]
    assert row_counts()["users"] == 0


def test_missing_path_is_reported(engine, tmp_path):
    with pytest.raises(ImportFailed) as failure:
        import_paths(engine, [tmp_path / "exports"])

    assert [str(e) for e in failure.value.errors] == [
        f"{tmp_path / 'exports'}: no such file or directory"
    ]


# --- all or nothing -------------------------------------------------------------------------


def test_file_failing_at_its_last_line_imports_nothing(
    base_files, import_files, import_errors, row_counts
):
    import_files(base_files)
    before = row_counts()
    good = [f"O{n},A1,P1,2024-01-{n:02d},1,10,5" for n in range(1, 21)]
    files = {
        "users.csv": "user_id,name,email,role\nu_new,Nia Okoro,nia@example.com,kam\n",
        "accounts.csv": "account_id,name,owner_user_id\nA3,Initech Software,u_new\n",
        **orders(*good, "O21,A3,P1,2024-01-21,1,10,5", "O22,A1,P1,2024-01-22,1,10,oops"),
    }

    assert import_errors(files) == [
        "orders.csv:23: cost: not an amount: 'oops'; use digits with at most 2 decimals, "
        "e.g. 1234.50"
    ]
    assert row_counts() == before


def test_database_conflict_on_the_last_line_imports_nothing(
    base_files, import_files, import_errors, row_counts
):
    import_files(base_files)
    before = row_counts()
    files = {
        **orders("O1,A1,P1,2024-01-05,1,10,5"),
        "users.csv": "user_id,name,email,role,slack_user_id\n"
        "u_new,Nia Okoro,nia@example.com,kam,U0NEW1\n"
        "u_late,Leo Park,leo@example.com,kam,U0MGR1\n",
    }

    assert import_errors(files) == [
        "users.csv:3: slack_user_id: slack_user_id 'U0MGR1' already belongs to user_id 'u_mgr' "
        "in the database"
    ]
    assert row_counts() == before


def test_more_than_100_errors_are_capped_in_the_message_but_all_kept(base_files, import_files):
    bad = [f"O{n},A1,P1,not-a-date,1,10,5" for n in range(1, 151)]

    with pytest.raises(ImportFailed) as failure:
        import_files({**base_files, **orders(*bad)})

    assert len(failure.value.errors) == 150
    shown = str(failure.value).splitlines()
    assert shown[0] == "150 error(s); nothing was imported. Fix them and run the import again:"
    assert shown[1] == "orders.csv:2: order_date: invalid date 'not-a-date'; use YYYY-MM-DD"
    assert len(shown) == 1 + MAX_REPORTED_ERRORS + 1
    assert shown[-1] == "... and 50 more errors"


# --- re-import ------------------------------------------------------------------------------


def test_reimporting_the_same_files_is_idempotent(base_files, import_files, snapshot):
    files = {
        **base_files,
        **orders("O1,A1,P1,2024-01-05,2,100.00,60.00", "O2,A2,P2,2024-02-10,1,4800,1000"),
    }
    import_files(files)
    first = snapshot()

    report = import_files(files)

    assert snapshot() == first
    assert [(t.table, t.inserted, t.updated, t.unchanged) for t in report.tables] == [
        ("users", 0, 0, 3),
        ("accounts", 0, 0, 2),
        ("products", 0, 0, 2),
        ("orders", 0, 0, 2),
    ]


def test_reimport_writes_only_what_changed(engine, base_files, import_files, table_rows):
    """Unchanged rows are not written again, so the monthly aggregates are not rebuilt; a
    changed order is written and its account's aggregate follows it."""
    files = {**base_files, **orders("O1,A1,P1,2024-01-05,2,100.00,60.00",
                                    "O2,A2,P2,2024-02-10,1,4800,1000")}
    import_files(files)
    with engine.begin() as conn:  # a mark only a rebuild of the aggregates would remove
        conn.execute(text("UPDATE account_monthly SET order_lines = 99"))

    import_files(files)
    assert {row[-3] for row in table_rows("account_monthly")} == {99}

    import_files({**orders("O1,A1,P1,2024-01-05,3,150.00,60.00")})
    revenue = {(r[0], r[2]) for r in table_rows("account_monthly")}
    assert ("A1", 15000) in revenue and ("A2", 480000) in revenue
    assert {(r[0], r[-3]) for r in table_rows("account_monthly")} == {("A1", 1), ("A2", 99)}


def test_reimport_updates_changed_rows_and_adds_new_ones(base_files, import_files, table_rows):
    import_files(base_files)

    report = import_files(
        {
            "products.csv": "product_id,name,product_line\n"
            "P1,Pressure sensor PS-30,Sensors\n"
            "P2,Fleet analytics licence,Software\n"
            "P3,Calibration kit,Spare Parts\n"
        }
    )

    assert table_rows("products") == [
        ("P1", "Pressure sensor PS-30", "Sensors"),
        ("P2", "Fleet analytics licence", "Software"),
        ("P3", "Calibration kit", "Spare Parts"),
    ]
    [products] = report.tables
    assert (products.rows, products.inserted, products.updated, products.unchanged) == (
        3, 1, 1, 1)  # P3 new, P1 renamed, P2 as it was


# --- value factors --------------------------------------------------------------------------


def test_value_factor_weights_not_summing_to_one_are_rejected(import_errors):
    files = {
        "value_factors.csv": "factor,weight,description\n"
        "revenue_potential,0.5,Expected revenue\n"
        "relationship,0.4,Depth of relationships\n"
    }

    assert import_errors(files) == [
        "value_factors.csv: weight: weights sum to 0.9; they must sum to 1"
    ]


def test_value_factor_weights_summing_to_one_import(import_files, table_rows):
    import_files(
        {
            "value_factors.csv": "factor,weight\n"
            "revenue_potential,0.30\nprofitability,0.20\nstrategic_fit,0.20\n"
            "relationship,0.15\nco_creation,0.15\n"
        }
    )

    assert len(table_rows("value_factors")) == 5


# --- the monthly order aggregate ------------------------------------------------------------

GROUP_BY_ORDERS = """
    SELECT o.account_id, {month}, p.product_line,
           SUM(o.revenue_cents), SUM(o.cost_cents), SUM(o.quantity), COUNT(*)
    FROM orders o JOIN products p ON p.product_id = o.product_id
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""
ORDER_MONTHLY = """
    SELECT account_id, month, product_line, revenue_cents, cost_cents, quantity, order_lines
    FROM order_monthly ORDER BY 1, 2, 3
"""
ACCOUNT_GROUP_BY_ORDERS = """
    SELECT o.account_id, {month}, SUM(o.revenue_cents), SUM(o.cost_cents), COUNT(*)
    FROM orders o GROUP BY 1, 2 ORDER BY 1, 2
"""
ACCOUNT_MONTHLY = """
    SELECT account_id, month, revenue_cents, cost_cents, order_lines
    FROM account_monthly ORDER BY 1, 2
"""
MONTH_START = {"sqlite": "date(o.order_date, 'start of month')",
               "postgresql": "CAST(date_trunc('month', o.order_date) AS date)"}


def query(engine, sql: str) -> list[tuple]:
    """Rows as plain values on either backend (dates as ISO text, sums as int)."""
    with engine.connect() as conn:
        rows = conn.execute(text(sql.format(month=MONTH_START[conn.dialect.name]))).all()
    return [tuple(v.isoformat() if isinstance(v, date) else int(v) if isinstance(v, Decimal)
                  else v for v in row) for row in rows]


def monthly_matches_orders(engine) -> bool:
    """Both aggregates (per product line, per account) equal a GROUP BY over the order lines."""
    return (query(engine, ORDER_MONTHLY) == query(engine, GROUP_BY_ORDERS)
            and query(engine, ACCOUNT_MONTHLY) == query(engine, ACCOUNT_GROUP_BY_ORDERS))


def account_monthly(engine) -> list[tuple]:
    return query(engine, ACCOUNT_MONTHLY)


ORDER_LINES = (
    "O1,A1,P1,2024-01-05,2,100.00,60.00",
    "O2,A1,P1,2024-01-20,1,50.50,30.00",
    "O3,A1,P2,2024-01-31,1,4800,1000",
    "O4,A1,P1,2024-02-01,3,150,90",
    "O5,A2,P2,2024-02-29,1,4800,1000",
)


def test_monthly_aggregate_equals_a_group_by_over_orders(base_files, import_files, engine):
    import_files({**base_files, **orders(*ORDER_LINES)})

    assert monthly_matches_orders(engine)
    assert query(engine, ORDER_MONTHLY)[0] == ("A1", "2024-01-01", "Sensors", 15050, 9000, 3, 2)


def test_monthly_aggregate_follows_a_changed_revenue(base_files, import_files, engine):
    import_files({**base_files, **orders(*ORDER_LINES)})

    import_files(orders("O2,A1,P1,2024-01-20,1,75.25,30.00"))

    assert monthly_matches_orders(engine)
    assert query(engine, ORDER_MONTHLY)[0][3] == 17525


def test_monthly_aggregate_follows_an_order_moved_to_another_account(
    base_files, import_files, engine
):
    import_files({**base_files, **orders(*ORDER_LINES)})

    import_files(orders("O4,A2,P1,2024-02-01,3,150,90"))

    assert monthly_matches_orders(engine)


def test_monthly_aggregate_follows_a_product_moved_to_another_line(
    base_files, import_files, engine
):
    import_files({**base_files, **orders(*ORDER_LINES)})

    import_files({"products.csv": "product_id,name,product_line\nP1,Pressure sensor,Services\n"})

    assert monthly_matches_orders(engine)


def test_account_monthly_sums_every_product_line_of_a_month(base_files, import_files, engine):
    import_files({**base_files, **orders(*ORDER_LINES)})

    assert monthly_matches_orders(engine)
    assert account_monthly(engine) == [
        ("A1", "2024-01-01", 495050, 109000, 3),
        ("A1", "2024-02-01", 15000, 9000, 1),
        ("A2", "2024-02-01", 480000, 100000, 1),
    ]


def test_account_monthly_follows_an_order_moved_to_another_account(
    base_files, import_files, engine
):
    import_files({**base_files, **orders(*ORDER_LINES)})

    import_files(orders("O4,A2,P1,2024-02-01,3,150,90"))

    assert monthly_matches_orders(engine)
    assert account_monthly(engine) == [
        ("A1", "2024-01-01", 495050, 109000, 3),
        ("A2", "2024-02-01", 495000, 109000, 2),
    ]


def test_monthly_aggregates_rebuilt_in_full_match_the_incremental_ones(
    base_files, import_files, engine, monkeypatch
):
    monkeypatch.setattr(importer, "INCREMENTAL_AGGREGATE_LIMIT", 0)
    import_files({**base_files, **orders(*ORDER_LINES)})

    import_files(orders("O4,A2,P1,2024-02-01,3,150,90", "O1,A2,P2,2024-03-05,2,100.00,60.00"))

    assert monthly_matches_orders(engine)
    assert account_monthly(engine)[-1] == ("A2", "2024-03-01", 10000, 6000, 1)
