"""The shapes shared by the KPI modules: a result with its working, the evaluation context,
and the spec each KPI registers (which measures it needs, how it is computed per account
and rolled up for a portfolio)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any, Literal

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from store.models import Product, ValueFactor
from tools.kpi_config import ChurnConfig, KpiConfig
from tools.periods import Period, current_period, prior_period

Unit = Literal["money", "ratio", "nps", "score", "count", "label"]
"""money: integer cents; ratio: a fraction (0.25 = 25 %); nps: -100..100; score: 0..100."""

Row = Mapping[str, Any]
"""One account: its columns (account_id, name, owner_user_id, tier, region, industry,
wallet_estimate_cents) plus the measures fetched for it."""


@dataclass
class KpiResult:
    """A KPI value with the numbers it was computed from.

    `inputs` keys ending in `_cents` are money in cents and keys ending in `_ratio`
    are fractions; `value` is None when the KPI is undefined (see `note`).
    """

    kpi: str
    value: Any
    unit: Unit
    period: Period | None
    inputs: dict[str, Any] = field(default_factory=dict)
    note: str | None = None


@dataclass(frozen=True)
class Basis:
    """Everything the SQL of a measure depends on. Hashable, so the engine builds each
    family's expressions once per distinct basis and reuses them (building SQLAlchemy
    expressions costs more than running them for one account)."""

    as_of: date
    current: Period
    prior: Period
    dialect: str
    churn: ChurnConfig
    value_factors: tuple[tuple[str, float], ...]
    product_lines: tuple[str, ...]


@dataclass(frozen=True)
class Reference:
    """What the measures read from the reference tables: the strategic value factors
    (factor, weight), in name order, and the product lines on offer (every line in the
    product catalogue)."""

    value_factors: tuple[tuple[str, float], ...]
    product_lines: tuple[str, ...]

    @classmethod
    def read(cls, session: Session) -> Reference:
        factors = session.execute(
            select(ValueFactor.factor, ValueFactor.weight).order_by(ValueFactor.factor)
        )
        lines = session.execute(
            select(Product.product_line).group_by(Product.product_line).order_by(
                Product.product_line
            )
        )
        return cls(tuple((f, float(w)) for f, w in factors), tuple(line for (line,) in lines))


class Ctx:
    """What every KPI is evaluated against: the session, `as_of`, the periods and config."""

    def __init__(
        self,
        session: Session,
        as_of: date,
        config: KpiConfig,
        reference: Reference,
        *,
        current: Period | None = None,
        prior: Period | None = None,
        label: str | None = None,
    ) -> None:
        self.session = session
        self.as_of = as_of
        self.config = config
        self.value_factors = reference.value_factors
        self.product_lines = reference.product_lines
        # Period KPIs compare `current` with `prior`: by default the year ending on as_of and
        # the year before; a quarter comparison passes two quarters instead.
        self.current = current or current_period(as_of)
        self.prior = prior or prior_period(self.current)
        self.label = label  # what the period is called when asked for by name ("FY27 to date")
        self.dialect = session.get_bind().dialect.name
        self.cache: dict[str, Any] = {}

    @cached_property
    def basis(self) -> Basis:
        return Basis(self.as_of, self.current, self.prior, self.dialect, self.config.churn,
                     self.value_factors, self.product_lines)


Measures = Callable[[Basis], dict[str, ColumnElement]]


@dataclass(frozen=True)
class KpiSpec:
    """One KPI: its unit, the measure families it needs and how it is computed."""

    name: str
    unit: Unit
    description: str
    families: tuple[str, ...]
    account: Callable[[Ctx, Row], KpiResult]
    portfolio: Callable[[Ctx, Sequence[Row]], KpiResult]
    # Period KPIs can be compared between periods (year over year, quarter over quarter).
    periodic: bool = False
    # Just the value, without the working: rankings over thousands of accounts use it and
    # build the full result only for the accounts they show. Default: account(...).value.
    value: Callable[[Ctx, Row], Any] | None = None

    def value_of(self, ctx: Ctx, row: Row) -> Any:
        return self.value(ctx, row) if self.value else self.account(ctx, row).value


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, None when the denominator is zero."""
    return None if not denominator else numerator / denominator


def account_label(row: Row) -> dict[str, Any]:
    return {"account_id": row["account_id"], "name": row["name"]}


@dataclass
class KpiTrend:
    """A KPI now and in the period before, for trend arrows."""

    current: KpiResult
    prior: KpiResult

    def change(self) -> float | None:
        """Relative change for money and counts; absolute change for ratios, NPS and scores."""
        now, then = self.current.value, self.prior.value
        if not isinstance(now, int | float) or not isinstance(then, int | float):
            return None
        if self.current.unit in ("money", "count"):
            return None if then <= 0 else (now - then) / then
        return now - then
