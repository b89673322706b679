"""Amounts in the reporting currency: each imported amount converted at its month's rate.

An account bills in its own currency (`accounts.currency`; empty: the reporting
currency). `fx_rates` holds one average rate per currency and month: units of the
reporting currency for one unit of the currency. The importer stores every amount
twice, as imported (`*_local_cents`) and converted (`*_cents`): one amount at the rate
of its month, rounded to the cent, half away from zero, in exact decimal arithmetic.
KPI queries then sum `*_cents` as they always did, and an answer never depends on how
the database rounds floating point.

Which month's rate an amount takes (docs/kpis.md, "Currencies"):

| table | amount | month of |
|---|---|---|
| orders | revenue, cost (per order line) | `order_date` |
| cost_to_serve | amount | `period_end` |
| opportunities | amount | `closed_on`, or `created_on` while open |
| contracts | annual_value | `start_date` (the latest month with a rate, when it starts later) |
| accounts | wallet_estimate (undated) | the latest month with a rate |
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from store.models import Account, Base, FxRate


def local_column(column: str) -> str:
    """'revenue_cents' -> 'revenue_local_cents': where the amount as imported is kept."""
    return column.removesuffix("_cents") + "_local_cents"


@dataclass(frozen=True)
class Conversion:
    """The money columns of one table (reporting-currency names) and the date column whose
    month's rate converts a row (None: the latest month's rate). A `planned` amount dated
    after the last month with a rate (a contract that starts next year) takes the latest."""

    columns: tuple[str, ...]
    date_column: Callable[[dict[str, Any]], str | None]
    planned: bool = False


def _fixed(column: str | None) -> Callable[[dict[str, Any]], str | None]:
    return lambda row: column


def _closed_or_created(row: dict[str, Any]) -> str:
    return "closed_on" if row.get("closed_on") is not None else "created_on"


# Every column a Conversion's date_column may name.
DATE_COLUMNS = ("order_date", "period_end", "closed_on", "created_on", "start_date")

CONVERSIONS: dict[str, Conversion] = {
    "accounts": Conversion(("wallet_estimate_cents",), _fixed(None)),
    "orders": Conversion(("revenue_cents", "cost_cents"), _fixed("order_date")),
    "cost_to_serve": Conversion(("amount_cents",), _fixed("period_end")),
    "opportunities": Conversion(("amount_cents",), _closed_or_created),
    "contracts": Conversion(("annual_value_cents",), _fixed("start_date"), planned=True),
}


def month_label(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def convert(cents: int, rate: Decimal) -> int:
    """cents x rate, rounded to the cent, half away from zero (exact: Decimal)."""
    return int((cents * rate).to_integral_value(rounding=ROUND_HALF_UP))


class Rates:
    """Which currency each account bills in, and the monthly rates into the reporting currency."""

    def __init__(
        self,
        reporting: str,
        currencies: dict[str, str | None],
        rates: dict[tuple[str, date], Decimal],
    ) -> None:
        self.reporting = reporting
        self._currencies = {a: c for a, c in currencies.items() if c not in (None, reporting)}
        self._rates = rates
        self._latest: dict[str, date] = {}
        for currency, month in rates:
            if month > self._latest.get(currency, date.min):
                self._latest[currency] = month

    @classmethod
    def load(cls, conn: Connection, reporting: str) -> Rates:
        """The account currencies and rates stored in the database."""
        currencies = dict(
            conn.execute(
                select(Account.account_id, Account.currency).where(Account.currency.is_not(None))
            ).all()
        )
        rates = {
            (currency, month): Decimal(rate)
            for currency, month, rate in conn.execute(
                select(FxRate.currency, FxRate.month, FxRate.rate)
            )
        }
        return cls(reporting, currencies, rates)

    def updated(
        self, currencies: Iterable[tuple[str, str | None]], rates: Iterable[dict[str, Any]]
    ) -> Rates:
        """These rates with account currencies and fx_rates rows of an import on top."""
        merged = {**self._currencies, **dict(currencies)}
        new_rates = {**self._rates, **{(r["currency"], r["month"]): r["rate"] for r in rates}}
        return Rates(self.reporting, merged, new_rates)

    def currency_of(self, account_id: str) -> str | None:
        """The account's currency when it is not the reporting currency, else None."""
        return self._currencies.get(account_id)

    @property
    def billed_abroad(self) -> bool:
        """Whether any account bills in another currency than the reporting one."""
        return bool(self._currencies)

    def accounts_in(self, currencies: set[str]) -> set[str]:
        return {a for a, c in self._currencies.items() if c in currencies}

    def rate(self, currency: str, day: date | None, planned: bool = False) -> Decimal | None:
        """The rate of `day`'s month (None: of the latest month with a rate; so too, when
        `planned`, for a day after the latest month)."""
        latest = self._latest.get(currency)
        month = latest if day is None else day.replace(day=1)
        if planned and latest is not None and month is not None and month > latest:
            month = latest
        return None if month is None else self._rates.get((currency, month))

    def coverage(self, currency: str) -> str:
        """Which months fx_rates has for `currency`, for an error message."""
        months = sorted(m for c, m in self._rates if c == currency)
        if not months:
            return f"fx_rates.csv has no {currency} rate yet"
        return (
            f"fx_rates.csv has {currency} rates for {month_label(months[0])} "
            f"to {month_label(months[-1])}"
        )

    def missing(self, table: str, row: dict[str, Any], currency: str | None) -> str | None:
        """Why `row` of `table` (in `currency`) cannot be converted; None when it can."""
        if currency is None or currency == self.reporting:
            return None
        conversion = CONVERSIONS[table]
        if all(row.get(local_column(c)) is None for c in conversion.columns):
            return None
        column = conversion.date_column(row)
        day = None if column is None else row[column]
        if self.rate(currency, day, conversion.planned) is not None:
            return None
        when = "" if day is None else f" for {month_label(day)}"
        return f"no {currency} rate{when}; {self.coverage(currency)}: add the missing months"

    def fill(self, table: str, rows: Iterable[dict[str, Any]]) -> None:
        """Set the reporting-currency columns of `rows` from their local amounts (every rate
        needed is known: the importer checked with `missing` first)."""
        conversion = CONVERSIONS[table]
        pairs = [(c, local_column(c)) for c in conversion.columns]
        abroad = self._currencies  # currency_of, without a call per row (millions of orders)
        for row in rows:
            currency = row.get("currency") if table == "accounts" else abroad.get(row["account_id"])
            if currency is None or currency == self.reporting:
                for column, local in pairs:
                    row[column] = row[local]
                continue
            dated = conversion.date_column(row)
            rate = self.rate(currency, None if dated is None else row[dated], conversion.planned)
            if rate is None:
                raise ValueError(f"no {currency} rate for a row of {table}")
            for column, local in pairs:
                row[column] = None if row[local] is None else convert(row[local], rate)


def reconvert(conn: Connection, rates: Rates, account_ids: set[str]) -> None:
    """Convert again every stored amount of `account_ids` (their currency or rates changed).

    An amount never converted (`*_local_cents` NULL, written before the currency columns)
    is in its account's former currency, the reporting currency: it becomes the local one.
    """
    if not account_ids:
        return
    ids = sorted(account_ids)
    for table_name, conversion in CONVERSIONS.items():
        table = Base.metadata.tables[table_name]
        key = [c.name for c in table.primary_key.columns]
        pairs = [(c, local_column(c)) for c in conversion.columns]
        wanted = {*key, "account_id", "currency", *DATE_COLUMNS, *(n for p in pairs for n in p)}
        columns = [c for c in table.c if c.name in wanted]
        stmt = (
            update(table)
            .where(*(table.c[k] == bindparam(f"key_{k}") for k in key))
            .values({n: bindparam(f"new_{n}") for p in pairs for n in p})
        )
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            found = conn.execute(select(*columns).where(table.c.account_id.in_(part))).mappings()
            rows = [dict(row) for row in found]
            if not rows:
                continue
            for row in rows:
                for column, local in pairs:
                    if row[local] is None:
                        row[local] = row[column]
            rates.fill(table_name, rows)
            conn.execute(
                stmt,
                [
                    {
                        **{f"key_{k}": row[k] for k in key},
                        **{f"new_{n}": row[n] for p in pairs for n in p},
                    }
                    for row in rows
                ],
            )
