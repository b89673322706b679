"""What the customer says and measures: NPS (company and KAM), CSAT and customer-defined KPIs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from functools import lru_cache
from statistics import fmean
from typing import Any

from sqlalchemy import Select, func, select

from store.models import CustomerKpi
from tools import measures as m
from tools.kpi_types import Basis, Ctx, KpiResult, KpiSpec, Row, ratio
from tools.selection import AccountSet

PROMOTER_MIN = 9
DETRACTOR_MAX = 6
CSAT_GOOD_MIN = 4


def survey_measures(b: Basis) -> dict:
    p = b.current
    out = {}
    for prefix, subject in (("nps", "company"), ("kam_nps", "kam")):
        out[f"{prefix}_n"] = m.survey_count(p, "nps", subject=subject)
        out[f"{prefix}_promoters"] = m.survey_count(p, "nps", subject=subject, low=PROMOTER_MIN)
        out[f"{prefix}_detractors"] = m.survey_count(
            p, "nps", subject=subject, high=DETRACTOR_MAX
        )
    out["csat_n"] = m.survey_count(p, "csat")
    out["csat_good"] = m.survey_count(p, "csat", low=CSAT_GOOD_MIN)
    return out


def _nps(kpi: str, ctx: Ctx, rows: Sequence[Row], inputs: dict) -> KpiResult:
    prefix = "nps" if kpi == "nps" else "kam_nps"
    n = sum(int(r[f"{prefix}_n"]) for r in rows)
    promoters = sum(int(r[f"{prefix}_promoters"]) for r in rows)
    detractors = sum(int(r[f"{prefix}_detractors"]) for r in rows)
    inputs = {**inputs, "responses": n, "promoters": promoters,
              "passives": n - promoters - detractors, "detractors": detractors,
              "subject": "company" if kpi == "nps" else "kam"}
    value = None if not n else 100 * (promoters - detractors) / n
    note = "undefined: no NPS responses in the period" if value is None else None
    return KpiResult(kpi, value, "nps", ctx.current, inputs, note)


def _csat(ctx: Ctx, rows: Sequence[Row], inputs: dict) -> KpiResult:
    n = sum(int(r["csat_n"]) for r in rows)
    good = sum(int(r["csat_good"]) for r in rows)
    inputs = {**inputs, "responses": n, "scoring_4_or_5": good}
    value = ratio(good, n)
    note = "undefined: no CSAT responses in the period" if value is None else None
    return KpiResult("csat", value, "ratio", ctx.current, inputs, note)


def _accounts(rows: Sequence[Row]) -> dict:
    return {"accounts": len(rows)}


# -- customer-defined KPIs --------------------------------------------------------------------


def achievement(target: float, actual: float, higher_is_better: bool) -> float | None:
    """actual / target, or target / actual when lower is better; None when dividing by 0."""
    return ratio(actual, target) if higher_is_better else ratio(target, actual)


@lru_cache(maxsize=256)
def _latest_customer_kpis(accounts: AccountSet, as_of: date) -> Select:
    latest = CustomerKpi.__table__.alias("latest")
    return (
        select(CustomerKpi)
        .where(
            CustomerKpi.account_id.in_(accounts.ids()),
            CustomerKpi.period_end
            == select(func.max(latest.c.period_end))
            .where(
                latest.c.account_id == CustomerKpi.account_id,
                latest.c.kpi_name == CustomerKpi.kpi_name,
                latest.c.period_end <= as_of,
            )
            .scalar_subquery(),
        )
        .order_by(CustomerKpi.account_id, CustomerKpi.kpi_name)
    )


def load_customer_kpis(
    ctx: Ctx, accounts: AccountSet, params: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """The latest value (period_end on or before as_of) of each customer KPI, per account."""
    stmt = _latest_customer_kpis(accounts, ctx.as_of)
    out: dict[str, dict[str, Any]] = {}
    for kpi in ctx.session.execute(stmt, params).scalars():
        out.setdefault(kpi.account_id, {"customer_kpis": []})["customer_kpis"].append(
            {
                "kpi_name": kpi.kpi_name,
                "period_end": kpi.period_end.isoformat(),
                "target": kpi.target,
                "actual": kpi.actual,
                "higher_is_better": kpi.higher_is_better,
                "achievement_ratio": achievement(kpi.target, kpi.actual, kpi.higher_is_better),
            }
        )
    return out


def _mean_achievement(row: Row) -> float | None:
    values = [k["achievement_ratio"] for k in row.get("customer_kpis", [])]
    values = [v for v in values if v is not None]
    return fmean(values) if values else None


def customer_kpis(ctx: Ctx, row: Row) -> KpiResult:
    kpis = row.get("customer_kpis", [])
    met = sum(1 for k in kpis if (k["achievement_ratio"] or 0) >= 1)
    inputs = {"kpis": kpis, "met": met, "measured": len(kpis)}
    value = _mean_achievement(row)
    note = ("mean achievement over the latest value of each customer KPI (1 = on target)"
            if value is not None else "undefined: no customer-defined KPIs recorded")
    return KpiResult("customer_kpis", value, "ratio", None, inputs, note)


def customer_kpis_portfolio(ctx: Ctx, rows: Sequence[Row]) -> KpiResult:
    means = [v for v in (_mean_achievement(r) for r in rows) if v is not None]
    below = sum(
        1
        for r in rows
        if any((k["achievement_ratio"] or 0) < 1 for k in r.get("customer_kpis", []))
    )
    inputs = {**_accounts(rows), "accounts_with_kpis": len(means),
              "accounts_with_a_kpi_below_target": below}
    value = fmean(means) if means else None
    return KpiResult("customer_kpis", value, "ratio", None, inputs,
                     "mean over accounts of their mean achievement (1 = on target)")


SPECS = [
    KpiSpec("nps", "nps",
            "Company NPS: % promoters (9-10) - % detractors (0-6) of NPS responses in the period.",
            ("surveys",), lambda c, r: _nps("nps", c, [r], {}),
            lambda c, rs: _nps("nps", c, rs, _accounts(rs)), periodic=True),
    KpiSpec("kam_nps", "nps",
            "KAM NPS: NPS of responses about the key account manager (subject kam) in the period.",
            ("surveys",), lambda c, r: _nps("kam_nps", c, [r], {}),
            lambda c, rs: _nps("kam_nps", c, rs, _accounts(rs)), periodic=True),
    KpiSpec("csat", "ratio", "Share of CSAT responses in the period scoring 4 or 5.",
            ("surveys",), lambda c, r: _csat(c, [r], {}),
            lambda c, rs: _csat(c, rs, _accounts(rs)), periodic=True),
    KpiSpec("customer_kpis", "ratio",
            "Customer-defined KPIs: achievement = actual/target (target/actual when lower is "
            "better) for the latest period_end.",
            ("customer_kpis",), customer_kpis, customer_kpis_portfolio),
]
MEASURES = {"surveys": survey_measures}
LOADERS = {"customer_kpis": load_customer_kpis}
