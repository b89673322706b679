"""Money as people read it: Babel's currency formats for the locale, whole units from 1,000."""

from __future__ import annotations

import pytest

from prompts import Prompts, money, working


@pytest.mark.parametrize(
    ("value", "currency", "locale", "shown"),
    [
        (1157321.87, "EUR", "en", "€1,157,322"),
        (1157321.87, "EUR", "de", "1.157.322\u00a0€"),
        (48200000, "JPY", "en", "¥48,200,000"),
        (12.5, "JPY", "en", "¥12"),  # the yen has no cents
        (12.5, "EUR", "en", "€12.50"),
        (0.0, "EUR", "en", "€0"),  # no cents where there are none
        (12.0, "EUR", "en", "€12"),
        (-2500, "GBP", "en", "-£2,500"),
        (1250000, "USD", "en", "$1,250,000"),
        (1250000, "SGD", "en", "SGD1,250,000"),  # never a bare "$" for other dollars
        (48200000, "JPY", "ja", "￥48,200,000"),
        (None, "EUR", "en", "n/a"),
    ],
)
def test_money_is_written_in_the_currency_as_the_locale_writes_it(value, currency, locale, shown):
    assert money(value, currency, locale) == shown


def test_without_a_currency_money_stays_the_bare_number():
    assert (money(1157321.87), money(12.5), money(0)) == ("1,157,322", "12.50", "0")


def test_the_working_line_writes_money_in_the_reporting_currency():
    line = working({"revenue_cents": 1, "revenue": 1157321.87, "cost": 613932.0}, currency="EUR")

    assert line == "Working: revenue cents: 1; revenue: €1,157,322; cost: €613,932."


def test_templates_write_money_in_the_currency_and_locale_of_their_prompts():
    prompts = Prompts(currency="EUR", locale="de")
    template = prompts.env.from_string(
        "{{ 1157321.87 | money }} / {{ 1250000 | money(currency='USD') }} / "
        "{{ 1157321.87 | fmt('currency') }}"
    )

    assert template.render() == "1.157.322\u00a0€ / 1.250.000\u00a0$ / 1.157.322\u00a0€"
