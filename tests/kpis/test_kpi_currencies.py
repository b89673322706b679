"""Money KPIs with accounts in four currencies, against an independent pandas computation
from the CSV files: every account, to the cent, in EUR and in USD reporting, for a
month-end and a mid-month as_of and for a fiscal year starting in April."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest

from store.access import resolve_scope
from store.db import make_engine, make_session_factory, upgrade
from store.importer import import_paths
from tools.kpis import KpiEngine
from tools.periods import Period, current_period, prior_period

CURRENCIES = ["EUR", "USD", "GBP", "JPY"]
FIRST_MONTH = date(2023, 12, 1)
MONTHS = 31  # 2023-12 .. 2026-06
KPIS = ["revenue", "revenue_growth", "gross_margin", "profitability", "share_of_wallet",
        "upsell_cross_sell"]


def month(index: int) -> date:
    year, m = divmod(FIRST_MONTH.month - 1 + index, 12)
    return date(FIRST_MONTH.year + year, m + 1, 1)


def eur_rates() -> dict[tuple[str, str], Decimal]:
    """Units of EUR per unit of each currency, per month: a random walk, 4 or 7 decimals."""
    rng = random.Random(11)
    level = {"USD": 0.92, "GBP": 1.16, "JPY": 0.0064}
    rates = {}
    for index in range(MONTHS):
        label = month(index).isoformat()[:7]
        for currency, value in level.items():
            level[currency] = value * (1 + rng.uniform(-0.03, 0.03))
            digits = 7 if currency == "JPY" else 4
            rates[label, currency] = Decimal(f"{level[currency]:.{digits}f}")
    return rates


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def write_data(folder: Path, reporting: str) -> None:
    """Users, products, 12 accounts (3 per currency) with orders, cost to serve and won
    upsells over 31 months, and fx_rates.csv into `reporting`."""
    rng = random.Random(5)
    folder.mkdir()
    (folder / "users.csv").write_text("user_id,name,email,role\nu1,Ada Admin,a@x.com,admin\n")
    (folder / "products.csv").write_text("product_id,name,product_line\nP1,Sensor,Sensors\n"
                                         "P2,Licence,Software\n")
    accounts = ["account_id,name,owner_user_id,wallet_estimate,currency"]
    orders = ["order_id,account_id,product_id,order_date,quantity,revenue,cost"]
    cts = ["account_id,period_start,period_end,amount"]
    opps = ["opportunity_id,account_id,kind,amount,stage,created_on,closed_on"]
    for number in range(12):
        account = f"A{number:02d}"
        currency = CURRENCIES[number % 4]
        scale = 150 if currency == "JPY" else 1
        wallet = rng.randint(200_000, 900_000) * scale
        accounts.append(f"{account},Account {number},u1,{wallet},"
                        f"{'' if currency == 'EUR' and number == 0 else currency}")
        for index in range(MONTHS):
            first = month(index)
            for line in range(rng.randint(0, 4)):
                day = first + timedelta(days=rng.randint(0, 27))
                revenue = rng.randint(-5_000, 400_000) * scale  # cents, some credit notes
                cost = rng.randint(0, max(revenue, 0)) if revenue > 0 else 0
                orders.append(f"O{account}{index:02d}{line},{account},P{1 + line % 2},"
                              f"{day.isoformat()},1,{money(revenue)},{money(cost)}")
            if index % 3 == 2:
                start, end = month(index - 2), month(index + 1) - timedelta(days=1)
                cts.append(f"{account},{start},{end},{money(rng.randint(1, 900_000) * scale)}")
            if rng.random() < 0.15:
                closed = first + timedelta(days=rng.randint(0, 27))
                opps.append(f"OP{account}{index:02d},{account},upsell,"
                            f"{money(rng.randint(100, 90_000_00) * scale)},won,{first},{closed}")
    (folder / "accounts.csv").write_text("\n".join(accounts) + "\n")
    (folder / "orders.csv").write_text("\n".join(orders) + "\n")
    (folder / "cost_to_serve.csv").write_text("\n".join(cts) + "\n")
    (folder / "opportunities.csv").write_text("\n".join(opps) + "\n")
    rates = ["month,currency,rate"]
    for (label, currency), rate in eur_rates().items():
        if reporting == "EUR":
            rates.append(f"{label},{currency},{rate}")
    if reporting == "USD":  # cross rates through EUR, 8 decimals
        table = eur_rates()
        for (label, currency), rate in table.items():
            if currency != "USD":
                rates.append(f"{label},{currency},{rate / table[label, 'USD']:.8f}")
        for label in sorted({label for label, _ in table}):
            rates.append(f"{label},EUR,{1 / table[label, 'USD']:.8f}")
    (folder / "fx_rates.csv").write_text("\n".join(rates) + "\n")


# -- the independent computation: pandas over the CSV files, exact decimals per row --------


def to_cents(amount: str) -> int:
    return int(Decimal(amount) * 100)


def converted(frame: pd.DataFrame, amount: str, day: str, accounts: pd.DataFrame,
              rates: pd.DataFrame, reporting: str) -> pd.Series:
    """Each row's amount in cents of the reporting currency at its month's rate."""
    currency = frame.account_id.map(accounts.currency).fillna(reporting)
    months = frame[day].dt.strftime("%Y-%m")
    keyed = rates.set_index(["month", "currency"]).rate
    values = []
    for cents, cur, label in zip(frame[amount].map(to_cents), currency, months, strict=True):
        rate = Decimal(1) if cur == reporting else Decimal(keyed[label, cur])
        values.append(int((cents * rate).to_integral_value(rounding=ROUND_HALF_UP)))
    return pd.Series(values, index=frame.index, dtype="int64")


def expected(folder: Path, reporting: str, current: Period, prior: Period) -> pd.DataFrame:
    read = {"dtype": str, "keep_default_na": False}
    accounts = pd.read_csv(folder / "accounts.csv", **read).set_index("account_id")
    accounts["currency"] = accounts.currency.replace("", reporting)
    rates = pd.read_csv(folder / "fx_rates.csv", **read)
    orders = pd.read_csv(folder / "orders.csv", **read)
    orders["order_date"] = pd.to_datetime(orders.order_date)
    orders["rev"] = converted(orders, "revenue", "order_date", accounts, rates, reporting)
    orders["cost"] = converted(orders, "cost", "order_date", accounts, rates, reporting)
    cts = pd.read_csv(folder / "cost_to_serve.csv", **read)
    for column in ("period_start", "period_end"):
        cts[column] = pd.to_datetime(cts[column])
    cts["amount_rc"] = converted(cts, "amount", "period_end", accounts, rates, reporting)
    opps = pd.read_csv(folder / "opportunities.csv", **read)
    opps["closed_on"] = pd.to_datetime(opps.closed_on)
    opps["amount_rc"] = converted(opps, "amount", "closed_on", accounts, rates, reporting)

    def within(column: pd.Series, period: Period) -> pd.Series:
        return column.between(pd.Timestamp(period.start), pd.Timestamp(period.end))

    now = orders[within(orders.order_date, current)].groupby("account_id")
    out = pd.DataFrame(index=accounts.index)
    out["rev"] = now.rev.sum()
    out["cost"] = now.cost.sum()
    out["prior"] = orders[within(orders.order_date, prior)].groupby("account_id").rev.sum()
    out["won"] = opps[within(opps.closed_on, current)].groupby("account_id").amount_rc.sum()
    out = out.fillna(0).astype("int64")
    latest = rates.sort_values("month").groupby("currency").rate.last()
    out["wallet"] = [
        to_cents(w) if c == reporting
        else int((to_cents(w) * Decimal(latest[c])).to_integral_value(rounding=ROUND_HALF_UP))
        for w, c in zip(accounts.wallet_estimate, accounts.currency, strict=True)
    ]
    out["cts"] = 0
    for account_id, rows in cts.groupby("account_id"):
        total = Fraction(0)
        for start, end, amount in zip(rows.period_start, rows.period_end, rows.amount_rc,
                                      strict=True):
            lo, hi = max(start.date(), current.start), min(end.date(), current.end)
            if lo <= hi:
                total += Fraction(amount) * ((hi - lo).days + 1) / ((end - start).days + 1)
        out.loc[account_id, "cts"] = round(total)
    return out


@pytest.fixture(scope="module", params=["EUR", "USD"])
def data(request, tmp_path_factory):
    reporting = request.param
    root = tmp_path_factory.mktemp(f"currencies-{reporting}")
    write_data(root / "csv", reporting)
    engine = make_engine(f"sqlite:///{root / 'kam.db'}")
    upgrade(engine)
    import_paths(engine, [root / "csv"], reporting_currency=reporting)
    yield root / "csv", reporting, make_session_factory(engine)
    engine.dispose()


def periods(case: str) -> tuple[Period, Period]:
    if case == "fiscal year from April":  # FY26 = 2025-04-01 .. 2026-03-31, FY25 before it
        return Period(date(2025, 4, 1), date(2026, 3, 31)), Period(date(2024, 4, 1),
                                                                   date(2025, 3, 31))
    as_of = {"month end": date(2026, 6, 30), "mid-month": date(2026, 5, 17)}[case]
    return current_period(as_of), prior_period(current_period(as_of))


@pytest.mark.parametrize("case", ["month end", "mid-month", "fiscal year from April"])
def test_money_kpis_match_pandas_to_the_cent_for_every_account(data, case):
    folder, reporting, sessions = data
    current, prior = periods(case)
    want = expected(folder, reporting, current, prior)
    with sessions() as session:
        engine = KpiEngine(session, resolve_scope(session, user_id="u1"), as_of=current.end)
        ctx = engine.context(current, prior)
        got = engine.accounts(KPIS, ctx=ctx)
        portfolio = engine.portfolio(["revenue", "gross_margin", "grr", "nrr"], ctx=ctx)

    assert set(got) == set(want.index)
    for account_id, row in want.iterrows():
        kpis = got[account_id]
        assert kpis["revenue"].value == row.rev, account_id
        assert kpis["gross_margin"].value == row.rev - row.cost, account_id
        growth = None if row.prior <= 0 else (row.rev - row.prior) / row.prior
        assert kpis["revenue_growth"].value == pytest.approx(growth), account_id
        profit = kpis["profitability"].inputs
        assert profit["cost_to_serve_cents"] == row.cts, account_id
        assert kpis["share_of_wallet"].value == pytest.approx(row.rev / row.wallet), account_id
        assert kpis["upsell_cross_sell"].inputs["won_amount_cents"] == row.won, account_id
    base = want[want.prior > 0]
    assert portfolio["revenue"].value == want.rev.sum()
    assert portfolio["gross_margin"].value == (want.rev - want.cost).sum()
    assert portfolio["grr"].value == pytest.approx(
        base[["rev", "prior"]].min(axis=1).sum() / base.prior.sum()
    )
    assert portfolio["nrr"].value == pytest.approx(base.rev.sum() / base.prior.sum())


def test_the_data_set_has_every_currency_and_conversions_that_matter(data):
    folder, reporting, _ = data
    accounts = pd.read_csv(folder / "accounts.csv", dtype=str, keep_default_na=False)
    orders = pd.read_csv(folder / "orders.csv", dtype=str)
    billed = orders.groupby("account_id").revenue.apply(lambda s: sum(map(to_cents, s)))
    everything = Period(FIRST_MONTH, month(MONTHS - 1).replace(day=30))
    want = expected(folder, reporting, everything, everything)
    # An empty currency is the reporting currency, whichever it is.
    in_reporting = accounts.currency.replace("", reporting) == reporting

    assert set(accounts.currency) == {"", *CURRENCIES}
    assert (want.rev[~in_reporting.values] != billed[~in_reporting.values]).all()
    assert (want.rev[in_reporting.values] == billed[in_reporting.values]).all()


def local_revenue(folder: Path, period: Period) -> pd.Series:
    """Revenue per account in its own currency (cents, as billed), from orders.csv."""
    orders = pd.read_csv(folder / "orders.csv", dtype=str)
    days = pd.to_datetime(orders.order_date)
    inside = days.between(pd.Timestamp(period.start), pd.Timestamp(period.end))
    return orders[inside].assign(cents=orders.revenue.map(to_cents)).groupby(
        "account_id").cents.sum()


@pytest.mark.parametrize("case", ["month end", "fiscal year from April"])
def test_constant_currency_growth_matches_pandas_for_accounts_and_the_roll_up(data, case):
    folder, reporting, sessions = data
    current, prior = periods(case)
    want = expected(folder, reporting, current, prior)
    accounts = pd.read_csv(folder / "accounts.csv", dtype=str, keep_default_na=False)
    abroad = set(accounts.account_id[~accounts.currency.isin(["", reporting])])
    now, then = local_revenue(folder, current), local_revenue(folder, prior)
    # Current revenue at the prior period's rates: own-currency revenue x (reported prior /
    # own-currency prior); accounts in the reporting currency as reported.
    restated = {a: now.get(a, 0) * want.prior[a] / then[a] if a in abroad and then.get(a, 0) > 0
                else want.rev[a] for a in want.index}
    with sessions() as session:
        engine = KpiEngine(session, resolve_scope(session, user_id="u1"), as_of=current.end)
        ctx = engine.context(current, prior)
        got = engine.accounts(["revenue_growth"], ctx=ctx)
        portfolio = engine.portfolio(["revenue_growth"], ctx=ctx)["revenue_growth"]

    assert abroad and len(abroad) < len(want)
    for account_id, kpis in got.items():
        inputs = kpis["revenue_growth"].inputs
        if account_id not in abroad:
            assert "constant_currency_growth_ratio" not in inputs, account_id
            continue
        own = (now.get(account_id, 0) - then[account_id]) / then[account_id]
        assert inputs["constant_currency_growth_ratio"] == pytest.approx(own), account_id
        assert inputs["constant_currency_growth_ratio"] != pytest.approx(
            kpis["revenue_growth"].value), account_id  # the exchange rates moved
    total_prior = want.prior.sum()
    assert portfolio.inputs["constant_currency_growth_ratio"] == pytest.approx(
        (sum(restated.values()) - total_prior) / total_prior)
