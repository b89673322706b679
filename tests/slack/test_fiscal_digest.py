"""The weekly digest's period figures are the last complete fiscal quarter's, named in fiscal
terms, with money in the reporting currency as KAM_LOCALE writes it."""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import func, select

from bot.slack.digest import compose_digests
from prompts import Prompts
from store.access import resolve_scope
from store.models import Account, Order
from tools.glance import KpiPortfolio
from tools.kpi_config import KpiConfig

DASH = "\u2009–\u2009"


def book_revenue(sessions, owner: str, start: date, end: date) -> int:
    with sessions() as session:
        return session.scalar(
            select(func.sum(Order.revenue_cents))
            .join(Account, Account.account_id == Order.account_id)
            .where(Account.owner_user_id == owner, Order.order_date.between(start, end)))


def digest_of(sessions, config: KpiConfig, **portfolio):
    digests = compose_digests(sessions, KpiPortfolio(sessions, config=config, **portfolio))
    return next(d for d in digests if d.name == "Anna Berg")


def test_digest_in_us_dollars_german_and_an_april_fiscal_year(slack_sessions):
    config = KpiConfig(fiscal_year_start=4, reporting_currency="USD", locale="de")

    digest = digest_of(slack_sessions, config)

    now = book_revenue(slack_sessions, "u_kam_anna", date(2026, 7, 1), date(2026, 9, 30))
    then = book_revenue(slack_sessions, "u_kam_anna", date(2025, 7, 1), date(2025, 9, 30))
    dollars = f"{round(now / 100):,}".replace(",", ".") + "\u00a0$"  # de: 3.082.821 $
    line = (f"Q2 FY27 (1. Juli{DASH}30. Sept. 2026): revenue {dollars}, "
            f"{(now - then) / then:+.0%} on Q2 FY26 (1. Juli{DASH}30. Sept. 2025)")
    text = digest.text(Prompts(currency="USD", locale="de", fiscal_start=4))
    blocks = json.dumps([b.to_dict() for b in digest.message().blocks], ensure_ascii=False)
    assert line in text and line in blocks
    assert f"Growing accounts in Q2 FY27 (1. Juli{DASH}30. Sept. 2026)" in blocks
    assert "\u00a0$ a year" in blocks  # renewals in dollars too
    assert "ends 14.11.2026 (in 45 days)" in blocks  # and their dates as German writes them
    assert "Numbers as of 30.09.2026" in blocks
    assert "€" not in blocks and "EUR" not in blocks


def test_digest_quarter_across_the_year_boundary(slack_sessions):
    # Fiscal years from November, as of 2026-01-31: the last complete quarter is
    # Nov 2025 - Jan 2026 (Q1 FY26), against Nov 2024 - Jan 2025.
    config = KpiConfig(fiscal_year_start=11, reporting_currency="EUR")

    digest = digest_of(slack_sessions, config, as_of=date(2026, 1, 31))

    now = book_revenue(slack_sessions, "u_kam_anna", date(2025, 11, 1), date(2026, 1, 31))
    line = (f"Q1 FY26 (Nov 1, 2025{DASH}Jan 31, 2026): revenue €{round(now / 100):,}, ")
    assert line in digest.glance.quarter
    assert digest.glance.quarter.endswith(f"on Q1 FY25 (Nov 1, 2024{DASH}Jan 31, 2025)")


def test_app_home_growth_stays_the_last_twelve_months(slack_sessions):
    config = KpiConfig(fiscal_year_start=4, reporting_currency="EUR")
    portfolio = KpiPortfolio(slack_sessions, config=config)

    with slack_sessions() as session:
        glance = portfolio.glance(resolve_scope(session, user_id="u_kam_anna"))

    assert glance.quarter is None and glance.growth_heading == "Growing accounts"
    assert all(i.detail.endswith("on the year before") for i in glance.growth)
