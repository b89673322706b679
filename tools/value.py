"""Relationship and value KPIs: penetration, strategic value score and the selection matrix."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import fmean

from sqlalchemy import ColumnElement, and_, func, or_, select

from store.models import AccountScore, Activity, Contact, Order, OrderMonthly, Product
from tools import measures as m
from tools.kpi_types import Basis, Ctx, KpiResult, KpiSpec, Row, ratio
from tools.periods import Period, month_split

QUADRANTS = ("strategic", "develop", "maintain", "opportunistic")
ATTRACTIVENESS_SPLIT = 50.0
STRENGTH_SPLIT = 0.5
ENGAGED_ROLES = ("decision_maker", "economic_buyer")


# -- measures ---------------------------------------------------------------------------------


def _engaged(role: str, period: Period) -> ColumnElement[int]:
    """Active contacts in `role` with at least one activity with them in `period`."""
    return func.coalesce(
        select(func.count())
        .select_from(Contact)
        .where(
            Contact.account_id == m.ACCOUNT,
            Contact.status == "active",
            Contact.buying_role == role,
            select(Activity.activity_id)
            .where(
                Activity.account_id == Contact.account_id,
                Activity.contact_id == Contact.contact_id,
                Activity.occurred_on.between(period.start, period.end),
            )
            .exists(),
        )
        .scalar_subquery(),
        0,
    )


def _active(*where: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(
        select(func.count())
        .select_from(Contact)
        .where(Contact.account_id == m.ACCOUNT, Contact.status == "active", *where)
        .scalar_subquery(),
        0,
    )


def contact_measures(b: Basis) -> dict:
    out = {
        "ct_active": _active(),
        "ct_strength": m.active_contact_strength(),
        "ct_departments": select(func.count(func.distinct(Contact.department)))
        .where(Contact.account_id == m.ACCOUNT, Contact.status == "active")
        .scalar_subquery(),
    }
    for role in ENGAGED_ROLES:
        out[f"ct_{role}"] = _active(Contact.buying_role == role)
        out[f"ct_{role}_engaged"] = _engaged(role, b.current)
    return out


def _bought(line: str, period: Period) -> ColumnElement[bool]:
    split = month_split(period)
    tests = []
    if split.first_month is not None:
        tests.append(
            select(OrderMonthly.account_id)
            .where(
                OrderMonthly.account_id == m.ACCOUNT,
                OrderMonthly.month.between(split.first_month, split.last_month),
                OrderMonthly.product_line == line,
            )
            .exists()
        )
    for edge in split.edges:
        tests.append(
            select(Order.order_id)
            .join(Product, Product.product_id == Order.product_id)
            .where(
                Order.account_id == m.ACCOUNT,
                Order.order_date.between(edge.start, edge.end),
                Product.product_line == line,
            )
            .exists()
        )
    return or_(*tests)


def line_measures(b: Basis) -> dict:
    return {f"line:{line}": _bought(line, b.current) for line in b.product_lines}


def score_measures(b: Basis) -> dict:
    """The latest score (on or before as_of) per value factor."""
    out = {}
    for factor, _ in b.value_factors:
        out[f"score:{factor}"] = (
            select(AccountScore.score)
            .where(
                and_(
                    AccountScore.account_id == m.ACCOUNT,
                    AccountScore.factor == factor,
                    AccountScore.scored_on <= b.as_of,
                )
            )
            .order_by(AccountScore.scored_on.desc())
            .limit(1)
            .scalar_subquery()
        )
    return out


MEASURES = {"contacts": contact_measures, "lines": line_measures, "scores": score_measures}


# -- penetration ------------------------------------------------------------------------------


def _lines_bought(ctx: Ctx, row: Row) -> list[str]:
    return [line for line in ctx.product_lines if row[f"line:{line}"]]


def penetration(ctx: Ctx, row: Row) -> KpiResult:
    bought = _lines_bought(ctx, row)
    inputs = {
        "product_lines_bought": bought,
        "product_lines_offered": len(ctx.product_lines),
        "departments_with_active_contact": int(row["ct_departments"] or 0),
    }
    for role in ENGAGED_ROLES:
        inputs[f"{role}s_active"] = int(row[f"ct_{role}"])
        inputs[f"{role}s_engaged_12m"] = int(row[f"ct_{role}_engaged"])
    value = ratio(len(bought), len(ctx.product_lines))
    return KpiResult("penetration", value, "ratio", ctx.current, inputs,
                     "product lines bought in the period / product lines offered")


def penetration_portfolio(ctx: Ctx, rows: Sequence[Row]) -> KpiResult:
    values = [penetration(ctx, r) for r in rows]
    both = sum(
        1 for r in rows if all(int(r[f"ct_{role}_engaged"]) > 0 for role in ENGAGED_ROLES)
    )
    inputs = {"accounts": len(rows), "accounts_with_decision_maker_and_economic_buyer_engaged":
              both, "product_lines_offered": len(ctx.product_lines)}
    value = fmean(v.value for v in values) if values and ctx.product_lines else None
    return KpiResult("penetration", value, "ratio", ctx.current, inputs,
                     "mean product-line penetration of the accounts")


# -- strategic value --------------------------------------------------------------------------


def strategic_value(ctx: Ctx, row: Row) -> KpiResult:
    factors, missing = [], []
    for factor, weight in ctx.value_factors:
        score = row[f"score:{factor}"]
        if score is None:
            missing.append(factor)
        factors.append({"factor": factor, "weight": weight, "score": score})
    inputs = {"factors": factors, "missing_scores": missing}
    total_weight = sum(w for _, w in ctx.value_factors)
    if missing or not total_weight:
        note = ("undefined: missing scores for " + ", ".join(missing)) if missing else (
            "undefined: no value factors defined")
        return KpiResult("strategic_value", None, "score", None, inputs, note)
    value = sum(f["weight"] * (f["score"] - 1) / 4 for f in factors) / total_weight * 100
    return KpiResult("strategic_value", value, "score", None, inputs,
                     "sum of weight x score, scaled so 1 -> 0 and 5 -> 100")


def strategic_value_portfolio(ctx: Ctx, rows: Sequence[Row]) -> KpiResult:
    values = [strategic_value(ctx, r).value for r in rows]
    known = [v for v in values if v is not None]
    inputs = {"accounts": len(rows), "accounts_scored": len(known),
              "accounts_with_missing_scores": len(values) - len(known)}
    return KpiResult("strategic_value", fmean(known) if known else None, "score", None, inputs,
                     "mean over fully scored accounts")


# -- selection matrix -------------------------------------------------------------------------


def relative_strength(row: Row) -> tuple[float | None, dict]:
    wallet = row["wallet_estimate_cents"]
    share = ratio(int(row["rev_cur"]), wallet) if wallet else None
    strength = row["ct_strength"]
    parts = {
        "share_of_wallet_capped_ratio": None if share is None else min(max(share, 0.0), 1.0),
        "relationship_strength_scaled_ratio": None if strength is None else (strength - 1) / 4,
        "mean_relationship_strength_1_to_5": strength,
    }
    known = [v for k, v in parts.items() if k.endswith("_ratio") and v is not None]
    return (fmean(known) if known else None), parts


def quadrant(attractiveness: float, strength: float) -> str:
    high_a = attractiveness >= ATTRACTIVENESS_SPLIT
    high_s = strength >= STRENGTH_SPLIT
    return {(True, True): "strategic", (True, False): "develop", (False, True): "maintain"}.get(
        (high_a, high_s), "opportunistic"
    )


def selection_matrix(ctx: Ctx, row: Row) -> KpiResult:
    value_result = strategic_value(ctx, row)
    strength, parts = relative_strength(row)
    inputs = {"attractiveness": value_result.value, "relative_strength_ratio": strength, **parts,
              "missing_scores": value_result.inputs["missing_scores"],
              "splits": {"attractiveness": ATTRACTIVENESS_SPLIT, "strength": STRENGTH_SPLIT}}
    if value_result.value is None or strength is None:
        why = value_result.note if value_result.value is None else (
            "no wallet estimate and no active contacts with a strength")
        return KpiResult("selection_matrix", None, "label", ctx.current, inputs,
                         f"unclassified: {why}")
    return KpiResult("selection_matrix", quadrant(value_result.value, strength), "label",
                     ctx.current, inputs)


def selection_matrix_portfolio(ctx: Ctx, rows: Sequence[Row]) -> KpiResult:
    counts = dict.fromkeys((*QUADRANTS, "unclassified"), 0)
    for row in rows:
        counts[selection_matrix(ctx, row).value or "unclassified"] += 1
    return KpiResult("selection_matrix", counts, "label", ctx.current,
                     {"accounts": len(rows)}, "accounts per quadrant")


SPECS = [
    KpiSpec("penetration", "ratio",
            "Product lines bought in the last 12 months / product lines offered; also "
            "departments with an active contact and decision makers / economic buyers engaged.",
            ("contacts", "lines"), penetration, penetration_portfolio),
    KpiSpec("strategic_value", "score",
            "Strategic value score 0-100 from the weighted value-factor scores; undefined "
            "(missing scores listed) until every factor is scored.",
            ("scores",), strategic_value, strategic_value_portfolio),
    KpiSpec("selection_matrix", "label",
            "Quadrant from attractiveness (strategic value) and relative strength (share of "
            "wallet and relationship strength): strategic, develop, maintain, opportunistic.",
            ("scores", "revenue", "contacts"), selection_matrix, selection_matrix_portfolio),
]
