"""Pydantic models of CSV rows, one per importable table (the format of docs/data-format.md).

Field names are the CSV column names; `serialization_alias` names the database
column where the two differ (money is imported in currency units and stored in
integer cents, in the account's own currency: `*_local_cents`).
"""

from __future__ import annotations

import re
import typing
from datetime import date
from decimal import Decimal
from typing import Annotated, ClassVar

from babel.numbers import list_currencies
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from store.models import (
    ActivityKind,
    BuyingRole,
    ContactStatus,
    KamCategory,
    OpportunityKind,
    OpportunityStage,
    Role,
    Severity,
    SurveyKind,
    SurveySubject,
    Tier,
)


def to_cents(amount: str) -> int:
    """'1234.5' -> 123450 for a string that matched AMOUNT_PATTERN (exact, no float)."""
    whole, _, frac = amount.partition(".")
    return int(whole + (frac + "00")[:2])


# Validated in pydantic-core (no Python call per value); converted by to_cents afterwards.
AMOUNT_PATTERN = r"^-?[0-9]{1,13}(\.[0-9]{1,2})?$"
NON_NEGATIVE_AMOUNT_PATTERN = r"^[0-9]{1,13}(\.[0-9]{1,2})?$"


def parse_bool(value: object) -> object:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"true", "yes", "1", "y", "t"}:
            return True
        if lowered in {"false", "no", "0", "n", "f"}:
            return False
        raise ValueError("expected true or false")
    return value


def currency_code(value: str) -> str:
    """An ISO 4217 code as Babel (CLDR) knows it, e.g. EUR, USD, GBP, JPY."""
    if value not in list_currencies():
        raise ValueError(
            f"unknown currency {value!r}; use an ISO 4217 code in capitals, e.g. EUR, USD or JPY"
        )
    return value


MONTH_PATTERN = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
# Up to 6 digits before the point and 8 after: 14 significant digits, exact in a double
# (SQLite's NUMERIC) and in NUMERIC(14, 8).
RATE_PATTERN = re.compile(r"[0-9]{1,6}(\.[0-9]{1,8})?")


def parse_month(value: object) -> object:
    """'2026-03' -> 2026-03-01, the first day of the month."""
    if isinstance(value, str):
        if not MONTH_PATTERN.fullmatch(value.strip()):
            raise ValueError(f"invalid month {value!r}; use YYYY-MM")
        year, month = value.strip().split("-")
        return date(int(year), int(month), 1)
    return value


def parse_rate(value: object) -> object:
    """'0.9213' -> Decimal('0.9213'): exact, positive, at most 8 decimals."""
    if not isinstance(value, str):
        return value
    if not RATE_PATTERN.fullmatch(value.strip()):
        raise ValueError(
            f"not a rate: {value!r}; use a decimal number with a dot and at most 8 decimals, "
            "e.g. 0.9213"
        )
    rate = Decimal(value.strip())
    if rate <= 0:
        raise ValueError(f"{value!r} is out of range: must be more than 0")
    return rate


Amount = Annotated[str, Field(pattern=AMOUNT_PATTERN)]
NonNegativeAmount = Annotated[str, Field(pattern=NON_NEGATIVE_AMOUNT_PATTERN)]
Flag = Annotated[bool, BeforeValidator(parse_bool)]
Id = Annotated[str, Field(min_length=1, max_length=64)]
Text = Annotated[str, Field(max_length=10_000)]
Number = Annotated[float, Field(allow_inf_nan=False)]
Currency = Annotated[str, AfterValidator(currency_code)]
Month = Annotated[date, BeforeValidator(parse_month)]
Rate = Annotated[Decimal, BeforeValidator(parse_rate)]


DateWindow = tuple[int, int]
"""How far a date may lie (years before the as-of date, years after today) before the
importer calls it a typo (store/importer.py, `Limits`)."""
EVENT_DATES: DateWindow = (20, 1)
PLANNED_DATES: DateWindow = (20, 20)  # a contract's end, an expected close: years ahead is normal
HISTORY_DATES: DateWindow = (100, 1)  # "customer since" may go back decades


class Row(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)
    # Date columns whose window is not EVENT_DATES.
    date_windows: ClassVar[dict[str, DateWindow]] = {}

    @classmethod
    def date_columns(cls) -> dict[str, DateWindow]:
        """Every date column with the window its dates must fall in."""
        return {
            name: cls.date_windows.get(name, EVENT_DATES)
            for name, f in cls.model_fields.items()
            if f.annotation is date or date in typing.get_args(f.annotation)
        }

    @classmethod
    def amount_columns(cls) -> dict[str, str]:
        """The money columns, CSV name -> database name: currency units -> integer cents."""
        return {
            name: f.serialization_alias
            for name, f in cls.model_fields.items()
            if f.serialization_alias and f.serialization_alias.endswith("_cents")
        }


class UserRow(Row):
    user_id: Id
    name: Text
    email: Text
    role: Role
    team: str | None = None
    slack_user_id: str | None = None
    manager_id: Id | None = None


class AccountRow(Row):
    date_windows: ClassVar[dict[str, DateWindow]] = {"created_on": HISTORY_DATES}

    account_id: Id
    name: Text
    owner_user_id: Id
    industry: str | None = None
    region: str | None = None
    tier: Tier | None = None
    wallet_estimate: NonNegativeAmount | None = Field(
        None, serialization_alias="wallet_estimate_local_cents"
    )
    currency: Currency | None = None
    kam_category: KamCategory | None = None
    parent_account_id: Id | None = None
    created_on: date | None = None


class ContactRow(Row):
    contact_id: Id
    account_id: Id
    name: Text
    title: str | None = None
    department: str | None = None
    buying_role: BuyingRole | None = None
    relationship_strength: Annotated[int, Field(ge=1, le=5)] | None = None
    status: ContactStatus = "active"


class ProductRow(Row):
    product_id: Id
    name: Text
    product_line: Text


class OrderRow(Row):
    order_id: Id
    account_id: Id
    product_id: Id
    order_date: date
    quantity: Annotated[int, Field(ge=0)]
    revenue: Amount = Field(serialization_alias="revenue_local_cents")
    cost: NonNegativeAmount = Field(serialization_alias="cost_local_cents")


class FxRateRow(Row):
    month: Month
    currency: Currency
    rate: Rate


class CostToServeRow(Row):
    account_id: Id
    period_start: date
    period_end: date
    amount: NonNegativeAmount = Field(serialization_alias="amount_local_cents")

    @model_validator(mode="after")
    def _period_order(self) -> CostToServeRow:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        return self


class OpportunityRow(Row):
    date_windows: ClassVar[dict[str, DateWindow]] = {"expected_close": PLANNED_DATES}

    opportunity_id: Id
    account_id: Id
    kind: OpportunityKind
    product_id: Id | None = None
    amount: NonNegativeAmount = Field(serialization_alias="amount_local_cents")
    stage: OpportunityStage
    created_on: date
    closed_on: date | None = None
    expected_close: date | None = None


class ContractRow(Row):
    date_windows: ClassVar[dict[str, DateWindow]] = {"end_date": PLANNED_DATES}

    contract_id: Id
    account_id: Id
    start_date: date
    end_date: date
    annual_value: NonNegativeAmount = Field(serialization_alias="annual_value_local_cents")
    auto_renew: Flag = False

    @model_validator(mode="after")
    def _dates_in_order(self) -> ContractRow:
        if self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


class SurveyRow(Row):
    response_id: Id
    account_id: Id
    contact_id: Id | None = None
    responded_on: date
    kind: SurveyKind
    score: Annotated[int, Field(ge=0, le=10)]
    subject: SurveySubject = "company"
    comment: Text | None = None

    @model_validator(mode="after")
    def _score_in_scale(self) -> SurveyRow:
        if self.kind == "csat" and not 1 <= self.score <= 5:
            raise ValueError("csat score must be 1-5")
        return self


class TicketRow(Row):
    ticket_id: Id
    account_id: Id
    opened_on: date
    closed_on: date | None = None
    severity: Severity
    subject: Text | None = None


class ActivityRow(Row):
    activity_id: Id
    account_id: Id
    contact_id: Id | None = None
    user_id: Id | None = None
    kind: ActivityKind
    occurred_on: date
    notes: Text | None = None


class CustomerKpiRow(Row):
    account_id: Id
    kpi_name: Text
    period_end: date
    target: Number
    actual: Number
    higher_is_better: Flag = True


class ValueFactorRow(Row):
    factor: Id
    weight: Annotated[float, Field(gt=0, le=1)]
    description: Text | None = None


class AccountScoreRow(Row):
    account_id: Id
    factor: Id
    score: Annotated[int, Field(ge=1, le=5)]
    scored_on: date
    scored_by: str | None = None
