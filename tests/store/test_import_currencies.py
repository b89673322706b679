"""Accounts in their own currency: fx_rates.csv, its checks, and amounts converted at import."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from store.importer import ImportFailed, import_paths
from store.models import Account, AccountMonthly, Contract, Order

ACCOUNTS = (
    "account_id,name,owner_user_id,wallet_estimate,currency\n"
    "A1,Acme Industrial,u_anna,1000000,\n"
    "A2,Globex Logistics,u_ben,500000,USD\n"
)
RATES = "month,currency,rate\n2026-01,USD,0.9213\n2026-02,USD,0.9001\n"
ORDERS = (
    "order_id,account_id,product_id,order_date,quantity,revenue,cost\n"
    "O1,A1,P1,2026-01-05,1,1000.00,600.00\n"
    "O2,A2,P1,2026-01-31,1,1000.00,600.00\n"
    "O3,A2,P2,2026-02-01,1,0.05,0.00\n"
    "O4,A2,P1,2026-02-27,1,-200.00,0.00\n"
)


@pytest.fixture
def files(base_files):
    return {**base_files, "accounts.csv": ACCOUNTS, "fx_rates.csv": RATES, "orders.csv": ORDERS}


def order_amounts(engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        stmt = select(
            Order.order_id, Order.revenue_cents, Order.revenue_local_cents, Order.cost_cents
        )
        return {row[0]: tuple(row[1:]) for row in conn.execute(stmt)}


def monthly(engine) -> list[tuple]:
    with engine.connect() as conn:
        stmt = select(
            AccountMonthly.account_id,
            AccountMonthly.month,
            AccountMonthly.revenue_cents,
            AccountMonthly.revenue_local_cents,
        ).order_by(AccountMonthly.account_id, AccountMonthly.month)
        return [tuple(row) for row in conn.execute(stmt)]


def test_an_order_in_another_currency_is_converted_at_its_months_rate(engine, files, import_files):
    import_files(files)

    assert order_amounts(engine) == {
        "O1": (100000, 100000, 60000),  # the reporting currency: as imported
        "O2": (92130, 100000, 55278),  # 1000.00 USD x 0.9213
        "O3": (5, 5, 0),  # 0.05 x 0.9001 = 0.045005 -> 0.05 (rounded to the cent)
        "O4": (-18002, -20000, 0),  # a credit note: -200.00 x 0.9001
    }


def test_a_half_cent_rounds_away_from_zero(engine, base_files, import_files):
    rates = "month,currency,rate\n2026-01,USD,0.5\n"
    lines = "O1,A2,P1,2026-01-05,1,0.01,0.01\nO2,A2,P1,2026-01-06,1,-0.01,0.00\n"
    import_files(
        {
            **base_files,
            "accounts.csv": ACCOUNTS,
            "fx_rates.csv": rates,
            "orders.csv": ORDERS.splitlines()[0] + "\n" + lines,
        }
    )

    assert order_amounts(engine) == {"O1": (1, 1, 1), "O2": (-1, -1, 0)}


def test_monthly_aggregate_sums_converted_and_local_amounts(engine, files, import_files):
    import_files(files)

    assert [(a, m.isoformat(), rc, lc) for a, m, rc, lc in monthly(engine)] == [
        ("A1", "2026-01-01", 100000, 100000),
        ("A2", "2026-01-01", 92130, 100000),
        ("A2", "2026-02-01", 5 - 18002, 5 - 20000),
    ]


def test_wallet_estimate_is_converted_at_the_latest_months_rate(engine, files, import_files):
    import_files(files)

    with engine.connect() as conn:
        stmt = select(
            Account.account_id,
            Account.wallet_estimate_cents,
            Account.wallet_estimate_local_cents,
            Account.currency,
        )
        accounts = {row[0]: tuple(row[1:]) for row in conn.execute(stmt)}
    assert accounts == {
        "A1": (100000000, 100000000, None),
        "A2": (45005000, 50000000, "USD"),  # 500,000 USD x 0.9001 (2026-02)
    }


def test_a_missing_month_is_an_error_naming_file_line_currency_and_gap(
    files, import_errors, row_counts
):
    files["fx_rates.csv"] = "month,currency,rate\n2025-11,USD,0.95\n2026-01,USD,0.9213\n"

    errors = import_errors(files)

    assert errors == [
        "orders.csv:4: order_date: no USD rate for 2026-02; fx_rates.csv has USD rates for "
        "2025-11 to 2026-01: add the missing months",
        "orders.csv:5: order_date: no USD rate for 2026-02; fx_rates.csv has USD rates for "
        "2025-11 to 2026-01: add the missing months",
    ]
    assert row_counts()["orders"] == 0
    assert row_counts()["fx_rates"] == 0


def test_an_account_in_another_currency_without_any_rate_is_an_error(files, import_errors):
    del files["fx_rates.csv"]
    files["orders.csv"] = ORDERS.splitlines()[0] + "\n"  # no orders: the wallet still needs one

    assert import_errors(files) == [
        "accounts.csv:3: currency: no USD rate; fx_rates.csv has no USD rate yet: "
        "add the missing months"
    ]


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (
            "2026-03,USX,0.9",
            "fx_rates.csv:2: currency: unknown currency 'USX'; use an ISO 4217 "
            "code in capitals, e.g. EUR, USD or JPY",
        ),
        (
            "2026-03,usd,0.9",
            "fx_rates.csv:2: currency: unknown currency 'usd'; use an ISO 4217 "
            "code in capitals, e.g. EUR, USD or JPY",
        ),
        ("2026-03,USD,0", "fx_rates.csv:2: rate: '0' is out of range: must be more than 0"),
        (
            "2026-03,USD,-0.9",
            "fx_rates.csv:2: rate: not a rate: '-0.9'; use a decimal number "
            "with a dot and at most 8 decimals, e.g. 0.9213",
        ),
        ("2026-3,USD,0.9", "fx_rates.csv:2: month: invalid month '2026-3'; use YYYY-MM"),
        (
            "2026-03,EUR,1",
            "fx_rates.csv:2: currency: EUR is the reporting currency "
            "(KAM_REPORTING_CURRENCY): rates are into it, so it needs none; "
            "remove the line",
        ),
    ],
)
def test_a_bad_rate_line_is_reported(base_files, import_errors, line, error):
    assert import_errors({**base_files, "fx_rates.csv": f"month,currency,rate\n{line}\n"}) == [
        error
    ]


def test_an_unknown_account_currency_is_reported(base_files, import_errors):
    accounts = "account_id,name,owner_user_id,currency\nA1,Acme Industrial,u_anna,EURO\n"

    assert import_errors({**base_files, "accounts.csv": accounts}) == [
        "accounts.csv:2: currency: unknown currency 'EURO'; use an ISO 4217 code in capitals, "
        "e.g. EUR, USD or JPY"
    ]


def test_a_corrected_rate_converts_the_stored_amounts_again(engine, files, import_files):
    import_files(files)

    import_files({"fx_rates.csv": "month,currency,rate\n2026-01,USD,0.9300\n"})

    assert order_amounts(engine)["O2"] == (93000, 100000, 55800)
    assert monthly(engine)[1][2:] == (93000, 100000)


def test_moving_an_account_to_another_currency_converts_its_stored_amounts(
    engine, base_files, import_files
):
    import_files({**base_files, "orders.csv": ORDERS.replace("A2,", "A1,")})
    accounts = "account_id,name,owner_user_id,currency\nA1,Acme Industrial,u_anna,USD\n"

    import_files({"accounts.csv": accounts, "fx_rates.csv": RATES})

    assert order_amounts(engine)["O2"] == (92130, 100000, 55278)
    assert monthly(engine)[0][2:] == (2 * 92130, 200000)  # O1 and O2, both in January


def test_moving_an_account_to_a_currency_without_rates_for_its_orders_is_refused(
    engine, base_files, import_files, import_errors
):
    import_files({**base_files, "orders.csv": ORDERS.replace("A2,", "A1,")})
    accounts = "account_id,name,owner_user_id,currency\nA1,Acme Industrial,u_anna,GBP\n"

    errors = import_errors(
        {"accounts.csv": accounts, "fx_rates.csv": "month,currency,rate\n2026-01,GBP,1.17\n"}
    )

    assert errors == [
        "accounts.csv:2: currency: no GBP rate for 2026-02, months of amounts already imported "
        "for A1; fx_rates.csv has GBP rates for 2026-01 to 2026-01: add the missing months"
    ]
    assert order_amounts(engine)["O2"] == (100000, 100000, 60000)


def test_rates_are_into_the_reporting_currency_given_to_the_import(engine, base_files, write_csvs):
    accounts = "account_id,name,owner_user_id,currency\nA1,Acme Industrial,u_anna,EUR\n"
    rates = "month,currency,rate\n2026-01,EUR,1.0850\n"
    order = (
        "order_id,account_id,product_id,order_date,quantity,revenue,cost\n"
        "O1,A1,P1,2026-01-05,1,1000.00,0\n"
    )
    paths = write_csvs(
        {**base_files, "accounts.csv": accounts, "fx_rates.csv": rates, "orders.csv": order}
    )

    with pytest.raises(ImportFailed):
        import_paths(engine, paths)  # EUR reporting: a EUR rate is refused
    import_paths(engine, paths, reporting_currency="USD")

    assert order_amounts(engine)["O1"] == (108500, 100000, 0)


def test_a_contract_starting_after_the_last_rate_takes_the_latest_rate(engine, files,
                                                                       import_files):
    contracts = "contract_id,account_id,start_date,end_date,annual_value\n" \
                "K1,A2,2026-07-01,2027-06-30,1000.00\n"
    import_files({**files, "contracts.csv": contracts})

    with engine.connect() as conn:
        stmt = select(Contract.annual_value_cents, Contract.annual_value_local_cents)
        assert tuple(conn.execute(stmt).one()) == (90010, 100000)  # the 2026-02 rate


def test_a_contract_starting_before_the_first_rate_is_an_error(files, import_errors):
    contracts = "contract_id,account_id,start_date,end_date,annual_value\n" \
                "K1,A2,2025-12-01,2026-11-30,1000.00\n"

    assert import_errors({**files, "contracts.csv": contracts}) == [
        "contracts.csv:2: start_date: no USD rate for 2025-12; fx_rates.csv has USD rates for "
        "2026-01 to 2026-02: add the missing months"
    ]
