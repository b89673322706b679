"""The KPI engine (DESIGN §5): every KPI for one account or a portfolio, with its working.

    engine = KpiEngine(session, scope)                  # as_of: the latest order date
    engine.account("A0003", ["churn_risk", "revenue"])  # {"churn_risk": KpiResult, ...}
    engine.portfolio(["nrr", "grr"], AccountFilter(tier="key"))

Each KPI (see `SPECS`) declares the measure families it needs; the engine adds
them as correlated subqueries to one SELECT over the caller's accounts, so the
aggregation happens in the database, whether for one account or for all of them.
Definitions and thresholds: docs/kpis.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from functools import cached_property, lru_cache
from types import MappingProxyType
from typing import Any

from sqlalchemy import ColumnElement, Select
from sqlalchemy.orm import Session

from store.access import AccessScope
from store.models import Account
from tools import churn, customer, financials, value
from tools import measures as m
from tools.kpi_config import ChurnConfig, ClvConfig, KpiConfig
from tools.kpi_types import Basis, Ctx, KpiResult, KpiSpec, Reference
from tools.periods import Period, resolve_as_of
from tools.selection import AccountFilter, AccountNotFound, AccountSet, get_account

__all__ = [
    "ChurnConfig", "ClvConfig", "Ctx", "KPI_NAMES", "KpiConfig", "KpiEngine", "KpiResult",
    "SPECS", "UnknownKpi",
]

SPECS: dict[str, KpiSpec] = {
    spec.name: spec
    for spec in (*financials.SPECS, *customer.SPECS, *churn.SPECS, *value.SPECS)
}
KPI_NAMES = tuple(SPECS)
MEASURES = {**financials.MEASURES, **customer.MEASURES, **churn.MEASURES, **value.MEASURES}
LOADERS = {**customer.LOADERS}


class UnknownKpi(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown KPI {name!r}; use one of: {', '.join(KPI_NAMES)}")


def spec(name: str) -> KpiSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise UnknownKpi(name) from None


@lru_cache(maxsize=256)
def family_measures(family: str, basis: Basis) -> Mapping[str, ColumnElement]:
    """The SQL expressions of one measure family; immutable, so reused across calls."""
    return MappingProxyType(MEASURES[family](basis))


@lru_cache(maxsize=128)  # ~0.3 MB each with its measures: a few dozen MB at most
def kpi_statement(needed: tuple[str, ...], basis: Basis, accounts: AccountSet) -> Select:
    """The SELECT of the measure families `needed` over `accounts`, built once per distinct
    arguments (see AccountSet: a hundred correlated subqueries cost more to build and hash
    than to run for one account)."""
    exprs: dict[str, ColumnElement] = {}
    for family in needed:
        if family in MEASURES:
            exprs.update(family_measures(family, basis))
    return m.with_measures(accounts.select(), exprs)


def families(kpis: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for name in kpis:
        for family in spec(name).families:
            seen[family] = None
    return list(seen)


class KpiEngine:
    """KPIs for the accounts the caller may see, as of one date."""

    def __init__(
        self,
        session: Session,
        scope: AccessScope,
        *,
        as_of: date | None = None,
        config: KpiConfig | None = None,
    ) -> None:
        self.session = session
        self.scope = scope
        self.as_of = resolve_as_of(session, as_of)
        self.config = config or KpiConfig()
        self._checked: dict[str, Account] = {}

    @cached_property
    def reference(self) -> Reference:
        """The reference tables every context reads, once per engine."""
        return Reference.read(self.session)

    def checked_account(self, account_id: str) -> Account:
        """The account if the caller may see it, else AccountNotFound; looked up once per
        engine (an account summary checks the same account for each of its parts)."""
        if account_id not in self._checked:
            self._checked[account_id] = get_account(self.session, self.scope, account_id)
        return self._checked[account_id]

    def context(
        self, current: Period | None = None, prior: Period | None = None, label: str | None = None
    ) -> Ctx:
        """An evaluation context; by default the year ending on as_of and the year before."""
        as_of = current.end if current else self.as_of
        return Ctx(self.session, as_of, self.config, self.reference,
                   current=current, prior=prior, label=label)

    def rows(
        self, kpis: Sequence[str], flt: AccountFilter | None = None, ctx: Ctx | None = None
    ) -> tuple[Ctx, dict[str, dict[str, Any]]]:
        """The account columns and measures `kpis` need, for every account in scope and filter."""
        ctx = ctx or self.context()
        needed = families(kpis)
        accounts, params = AccountSet.of(self.scope, flt)
        rows = m.fetch(self.session, kpi_statement(tuple(needed), ctx.basis, accounts), params)
        for family in needed:
            if family in LOADERS and rows:
                for account_id, extra in LOADERS[family](ctx, accounts, params).items():
                    if account_id in rows:
                        rows[account_id].update(extra)
        return ctx, rows

    def accounts(
        self, kpis: Sequence[str], flt: AccountFilter | None = None, ctx: Ctx | None = None
    ) -> dict[str, dict[str, KpiResult]]:
        """{account_id: {kpi: result}} for every account in scope and filter."""
        ctx, rows = self.rows(kpis, flt, ctx)
        return {
            account_id: {k: spec(k).account(ctx, row) for k in kpis}
            for account_id, row in rows.items()
        }

    def account(
        self, account_id: str, kpis: Sequence[str] = KPI_NAMES, ctx: Ctx | None = None
    ) -> dict[str, KpiResult]:
        """KPIs of one account; AccountNotFound if it does not exist or is not the caller's."""
        results = self.accounts(kpis, AccountFilter(account_ids=(account_id,)), ctx)
        if account_id not in results:
            raise AccountNotFound()
        return results[account_id]

    def portfolio(
        self, kpis: Sequence[str], flt: AccountFilter | None = None, ctx: Ctx | None = None
    ) -> dict[str, KpiResult]:
        """Roll-ups over every account in scope and filter."""
        ctx, rows = self.rows(kpis, flt, ctx)
        return rollup(ctx, kpis, list(rows.values()))


def rollup(ctx: Ctx, kpis: Sequence[str], rows: Sequence[dict[str, Any]]) -> dict[str, KpiResult]:
    return {k: spec(k).portfolio(ctx, rows) for k in kpis}
