"""The engine against an independent pandas computation from the demo CSVs, every account,
for a month-end and a mid-month as_of (exercising the partial-month edges)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from store.access import resolve_scope
from tools.kpis import KpiEngine
from tools.periods import current_period, prior_period

KPIS = ["revenue", "revenue_growth", "gross_margin", "share_of_wallet", "nps", "csat"]


@pytest.fixture(scope="module")
def csv(demo_dir):
    def cents(series: pd.Series) -> pd.Series:
        return (series.astype(float) * 100).round().astype("int64")

    orders = pd.read_csv(demo_dir / "orders.csv", parse_dates=["order_date"],
                         dtype={"revenue": str, "cost": str})
    orders["revenue_cents"] = cents(orders["revenue"])
    orders["cost_cents"] = cents(orders["cost"])
    accounts = pd.read_csv(demo_dir / "accounts.csv", dtype={"wallet_estimate": str})
    accounts["wallet_cents"] = cents(accounts["wallet_estimate"].fillna("0"))
    surveys = pd.read_csv(demo_dir / "surveys.csv", parse_dates=["responded_on"])
    return orders, accounts.set_index("account_id"), surveys


def in_period(column: pd.Series, period) -> pd.Series:
    return column.between(pd.Timestamp(period.start), pd.Timestamp(period.end))


def expected(csv, as_of: date) -> pd.DataFrame:
    orders, accounts, surveys = csv
    cur, pri = current_period(as_of), prior_period(current_period(as_of))
    now = orders[in_period(orders.order_date, cur)].groupby("account_id")
    out = pd.DataFrame(index=accounts.index)
    out["rev"] = now.revenue_cents.sum()
    out["cost"] = now.cost_cents.sum()
    out["prior"] = orders[in_period(orders.order_date, pri)].groupby("account_id") \
        .revenue_cents.sum()
    out = out.fillna(0).astype("int64")
    out["wallet"] = accounts.wallet_cents
    in_cur = surveys[in_period(surveys.responded_on, cur)]
    nps = in_cur[(in_cur.kind == "nps") & (in_cur.subject == "company")].groupby("account_id")
    out["nps"] = nps.score.apply(lambda s: 100 * ((s >= 9).mean() - (s <= 6).mean()))
    csat = in_cur[in_cur.kind == "csat"].groupby("account_id")
    out["csat"] = csat.score.apply(lambda s: (s >= 4).mean())
    return out


@pytest.mark.parametrize("as_of", [date(2026, 9, 30), date(2026, 5, 17), date(2026, 5, 28)])
def test_engine_matches_pandas_for_every_account(any_demo_sessions, csv, as_of):
    want = expected(csv, as_of)
    with any_demo_sessions() as session:
        engine = KpiEngine(session, resolve_scope(session, user_id="u_admin"), as_of=as_of)
        got = engine.accounts(KPIS)
        portfolio = engine.portfolio(["grr", "nrr", "revenue"])

    assert set(got) == set(want.index)
    for account_id, row in want.iterrows():
        kpis = got[account_id]
        assert kpis["revenue"].value == row.rev, account_id
        assert kpis["gross_margin"].value == row.rev - row.cost, account_id
        growth = None if row.prior <= 0 else (row.rev - row.prior) / row.prior
        assert kpis["revenue_growth"].value == pytest.approx(growth), account_id
        assert kpis["share_of_wallet"].value == pytest.approx(row.rev / row.wallet), account_id
        for name in ("nps", "csat"):
            value = None if pd.isna(row[name]) else row[name]
            assert kpis[name].value == pytest.approx(value), (account_id, name)

    base = want[want.prior > 0]
    grr = base[["rev", "prior"]].min(axis=1).sum() / base.prior.sum()
    nrr = base.rev.sum() / base.prior.sum()
    assert portfolio["grr"].value == pytest.approx(grr)
    assert portfolio["nrr"].value == pytest.approx(nrr)
    assert portfolio["revenue"].value == want.rev.sum()
