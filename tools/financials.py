"""Money KPIs: revenue, growth, gross margin, profitability after cost to serve, share of
wallet, logo retention, GRR/NRR, upsell/cross-sell and CLV (DESIGN §5, docs/kpis.md)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import case, select

from store.models import Account
from tools import measures as m
from tools.kpi_types import Basis, Ctx, KpiResult, KpiSpec, Row, ratio

EXPANSION_KINDS = ("upsell", "cross_sell")


# -- measure families -------------------------------------------------------------------------


def revenue_measures(b: Basis) -> dict:
    return {
        "rev_cur": m.order_sum("revenue", b.current),
        "rev_prior": m.order_sum("revenue", b.prior),
    }


def local_revenue_measures(b: Basis) -> dict:
    """Revenue in the account's own currency, for an account billed in another currency than
    the reporting one; NULL for the others (CASE: their orders are not summed again)."""
    foreign = Account.currency.is_not(None)
    return {
        "rev_local_cur": case((foreign, m.order_sum("revenue_local", b.current))),
        "rev_local_prior": case((foreign, m.order_sum("revenue_local", b.prior))),
    }


def cost_measures(b: Basis) -> dict:
    return {"cost_cur": m.order_sum("cost", b.current)}


def cost_to_serve_measures(b: Basis) -> dict:
    return {"cts_cur": m.cost_to_serve(b.current, b.dialect)}


def upsell_measures(b: Basis) -> dict:
    return {
        "upsell_won": m.won_opportunities(b.current, EXPANSION_KINDS, "count"),
        "upsell_won_cents": m.won_opportunities(b.current, EXPANSION_KINDS, "amount"),
    }


MEASURES = {
    "revenue": revenue_measures,
    "revenue_local": local_revenue_measures,
    "cost": cost_measures,
    "cost_to_serve": cost_to_serve_measures,
    "upsell": upsell_measures,
}


# -- helpers ----------------------------------------------------------------------------------


def _rev(row: Row) -> int:
    return int(row["rev_cur"])


def _prior(row: Row) -> int:
    return int(row["rev_prior"])


def _margin(row: Row) -> int:
    return int(row["rev_cur"]) - int(row["cost_cur"])


def _total(rows: Sequence[Row], key) -> int:
    return sum(key(row) for row in rows)


def _portfolio_inputs(rows: Sequence[Row]) -> dict:
    return {"accounts": len(rows)}


# -- revenue, growth, margin, profitability ---------------------------------------------------


def revenue(ctx: Ctx, row: Row) -> KpiResult:
    return KpiResult("revenue", _rev(row), "money", ctx.current, {"revenue_cents": _rev(row)})


def revenue_portfolio(ctx: Ctx, rows: Sequence[Row]) -> KpiResult:
    total = _total(rows, _rev)
    inputs = {**_portfolio_inputs(rows), "revenue_cents": total}
    return KpiResult("revenue", total, "money", ctx.current, inputs)


def growth_of(current: float, prior: float) -> float | None:
    return None if prior <= 0 else (current - prior) / prior


def profitability_of(revenue_cents: int, margin: int, cts: int) -> float | None:
    return ratio(margin - cts, revenue_cents)


def share_of(revenue_cents: int, wallet: int | None) -> float | None:
    return ratio(revenue_cents, wallet) if wallet else None


def _growth(current: int, prior: int, ctx: Ctx, inputs: dict) -> KpiResult:
    inputs = {**inputs, "revenue_cents": current, "prior_revenue_cents": prior,
              "prior_period": ctx.prior}
    value = growth_of(current, prior)
    note = "undefined: no revenue in the prior period" if value is None else None
    return KpiResult("revenue_growth", value, "ratio", ctx.current, inputs, note)


def billed_abroad(row: Row) -> bool:
    """Whether the account bills in another currency than the reporting one: its amounts were
    converted (an account may name the reporting currency itself: nothing converted)."""
    local = (row["rev_local_cur"], row["rev_local_prior"])
    return local[0] is not None and local != (row["rev_cur"], row["rev_prior"])


def _at_prior_rates(row: Row) -> float:
    """Current revenue restated at the exchange rates of the prior period: the revenue in the
    account's own currency times the prior period's average rate (reported prior / own prior).
    An account in the reporting currency, or without prior revenue to take a rate from,
    counts as reported."""
    if not billed_abroad(row) or row["rev_local_prior"] <= 0:
        return _rev(row)
    return row["rev_local_cur"] * _prior(row) / row["rev_local_prior"]


def constant_currency_growth(rows: Sequence[Row]) -> float | None:
    """Growth without the exchange-rate effect: current revenue at the prior period's rates
    against prior revenue. For one account that is the growth in its own currency; for a
    portfolio, the accounts' own-currency growth weighted by their prior revenue."""
    return growth_of(sum(_at_prior_rates(row) for row in rows), _total(rows, _prior))


def _constant(rows: Sequence[Row]) -> dict:
    """The constant-currency growth as an input, when any of `rows` bills abroad."""
    if not any(billed_abroad(row) for row in rows):
        return {}
    return {"constant_currency_growth_ratio": constant_currency_growth(rows)}


def growth(ctx: Ctx, row: Row) -> KpiResult:
    return _growth(_rev(row), _prior(row), ctx, _constant([row]))


def growth_portfolio(ctx: Ctx, rows: Sequence[Row]) -> KpiResult:
    return _growth(_total(rows, _rev), _total(rows, _prior), ctx,
                   {**_portfolio_inputs(rows), **_constant(rows)})


def _gross_margin(revenue_cents: int, cost_cents: int, ctx: Ctx, inputs: dict) -> KpiResult:
    margin = revenue_cents - cost_cents
    inputs = {**inputs, "revenue_cents": revenue_cents, "cost_cents": cost_cents,
              "gross_margin_cents": margin, "gross_margin_ratio": ratio(margin, revenue_cents)}
    return KpiResult("gross_margin", margin, "money", ctx.current, inputs)


def gross_margin(ctx: Ctx, row: Row) -> KpiResult:
    return _gross_margin(_rev(row), int(row["cost_cur"]), ctx, {})


def gross_margin_portfolio(ctx: Ctx, rows: Sequence[Row]) -> KpiResult:
    cost = _total(rows, lambda r: int(r["cost_cur"]))
    return _gross_margin(_total(rows, _rev), cost, ctx, _portfolio_inputs(rows))


def _profitability(revenue_cents: int, margin: int, cts: int, ctx: Ctx, inputs: dict) -> KpiResult:
    profit = margin - cts
    value = profitability_of(revenue_cents, margin, cts)
    inputs = {**inputs, "revenue_cents": revenue_cents, "gross_margin_cents": margin,
              "cost_to_serve_cents": cts, "profit_after_cost_to_serve_cents": profit}
    note = "undefined: no revenue in the period" if value is None else None
    return KpiResult("profitability", value, "ratio", ctx.current, inputs, note)


def profitability(ctx: Ctx, row: Row) -> KpiResult:
    return _profitability(_rev(row), _margin(row), m.as_int(row["cts_cur"]), ctx, {})


def profitability_portfolio(ctx: Ctx, rows: Sequence[Row]) -> KpiResult:
    cts = m.as_int(sum(r["cts_cur"] or 0 for r in rows))
    return _profitability(
        _total(rows, _rev), _total(rows, _margin), cts, ctx, _portfolio_inputs(rows)
    )


# -- share of wallet --------------------------------------------------------------------------


def share_of_wallet(ctx: Ctx, row: Row) -> KpiResult:
    wallet = row["wallet_estimate_cents"]
    inputs = {"revenue_cents": _rev(row), "wallet_estimate_cents": wallet}
    value = share_of(_rev(row), wallet)
    note = None if value is not None else "undefined: no wallet estimate for this account"
    return KpiResult("share_of_wallet", value, "ratio", ctx.current, inputs, note)


def share_of_wallet_portfolio(ctx: Ctx, rows: Sequence[Row]) -> KpiResult:
    known = [r for r in rows if r["wallet_estimate_cents"]]
    revenue_cents = _total(known, _rev)
    wallet = _total(known, lambda r: int(r["wallet_estimate_cents"]))
    inputs = {**_portfolio_inputs(rows), "accounts_with_wallet_estimate": len(known),
              "revenue_cents": revenue_cents, "wallet_estimate_cents": wallet}
    value = ratio(revenue_cents, wallet)
    note = "over the accounts with a wallet estimate" if value is not None else (
        "undefined: no account has a wallet estimate")
    return KpiResult("share_of_wallet", value, "ratio", ctx.current, inputs, note)


# -- retention --------------------------------------------------------------------------------


def logo_status(row: Row) -> str:
    had, has = _prior(row) > 0, _rev(row) > 0
    return {(True, True): "retained", (True, False): "lost", (False, True): "new"}.get(
        (had, has), "inactive"
    )


def retention_counts(rows: Sequence[Row]) -> tuple[int, int]:
    """(accounts with revenue in both periods, accounts with revenue in the prior period)."""
    prior = [r for r in rows if _prior(r) > 0]
    return sum(1 for r in prior if _rev(r) > 0), len(prior)


def logo_retention(ctx: Ctx, row: Row) -> KpiResult:
    inputs = {"revenue_cents": _rev(row), "prior_revenue_cents": _prior(row),
              "prior_period": ctx.prior}
    return KpiResult("logo_retention", logo_status(row), "label", ctx.current, inputs,
                     "per account: retained, lost, new or inactive; a rate for portfolios")


def logo_retention_portfolio(ctx: Ctx, rows: Sequence[Row]) -> KpiResult:
    retained, base = retention_counts(rows)
    inputs = {**_portfolio_inputs(rows), "retained_accounts": retained,
              "accounts_with_prior_revenue": base, "prior_period": ctx.prior}
    value = ratio(retained, base)
    note = None if value is not None else "undefined: no account had revenue in the prior period"
    return KpiResult("logo_retention", value, "ratio", ctx.current, inputs, note)


def _revenue_retention(kpi: str, ctx: Ctx, rows: Sequence[Row], inputs: dict) -> KpiResult:
    base = [r for r in rows if _prior(r) > 0]
    prior = _total(base, _prior)
    kept = _total(base, lambda r: min(_rev(r), _prior(r)) if kpi == "grr" else _rev(r))
    key = "retained_revenue_cents" if kpi == "grr" else "current_revenue_cents"
    inputs = {**inputs, "accounts_with_prior_revenue": len(base), "prior_revenue_cents": prior,
              key: kept, "prior_period": ctx.prior}
    value = ratio(kept, prior)
    note = None if value is not None else "undefined: no revenue in the prior period"
    return KpiResult(kpi, value, "ratio", ctx.current, inputs, note)


def grr(ctx: Ctx, row: Row) -> KpiResult:
    return _revenue_retention("grr", ctx, [row], {})


def grr_portfolio(ctx: Ctx, rows: Sequence[Row]) -> KpiResult:
    return _revenue_retention("grr", ctx, rows, _portfolio_inputs(rows))


def nrr(ctx: Ctx, row: Row) -> KpiResult:
    return _revenue_retention("nrr", ctx, [row], {})


def nrr_portfolio(ctx: Ctx, rows: Sequence[Row]) -> KpiResult:
    return _revenue_retention("nrr", ctx, rows, _portfolio_inputs(rows))


# -- upsell / cross-sell ----------------------------------------------------------------------


def upsell(ctx: Ctx, row: Row) -> KpiResult:
    inputs = {"won_opportunities": int(row["upsell_won"]),
              "won_amount_cents": int(row["upsell_won_cents"]), "kinds": list(EXPANSION_KINDS)}
    return KpiResult("upsell_cross_sell", int(row["upsell_won"]), "count", ctx.current, inputs,
                     "won upsell and cross-sell opportunities closed in the period")


def upsell_portfolio(ctx: Ctx, rows: Sequence[Row]) -> KpiResult:
    active = [r for r in rows if _rev(r) > 0]
    winners = [r for r in active if int(r["upsell_won"]) > 0]
    inputs = {**_portfolio_inputs(rows), "accounts_with_revenue": len(active),
              "accounts_with_a_win": len(winners),
              "won_opportunities": _total(rows, lambda r: int(r["upsell_won"])),
              "won_amount_cents": _total(rows, lambda r: int(r["upsell_won_cents"]))}
    value = ratio(len(winners), len(active))
    note = "share of accounts with revenue in the period that won an upsell or cross-sell"
    return KpiResult("upsell_cross_sell", value, "ratio", ctx.current, inputs, note)


# -- CLV --------------------------------------------------------------------------------------


def tier_retention(ctx: Ctx) -> dict[str | None, tuple[int, int]]:
    """(retained, base) per tier over ALL accounts of the tier (not only the caller's), plus
    the key None for all accounts together. Computed once per evaluation."""
    if "tier_retention" not in ctx.cache:
        accounts = select(Account.account_id, Account.tier)
        rows = m.fetch(ctx.session, m.with_measures(accounts, revenue_measures(ctx.basis)))
        by_tier: dict[str | None, list[Row]] = {None: list(rows.values())}
        for row in rows.values():
            by_tier.setdefault(row["tier"], []).append(row)
        ctx.cache["tier_retention"] = {t: retention_counts(rs) for t, rs in by_tier.items()}
    return ctx.cache["tier_retention"]


def _retention_rate(ctx: Ctx, tier: str | None) -> tuple[float | None, dict]:
    override = ctx.config.clv.retention_override
    if tier is not None and tier in override:
        return override[tier], {"retention_source": "configured"}
    counts = tier_retention(ctx)
    retained, base = counts.get(tier, (0, 0))
    source = f"logo retention of tier {tier}"
    if not base:  # a tier without history: fall back to all accounts
        retained, base = counts[None]
        source = "logo retention of all accounts (the tier has no prior-period revenue)"
    rate = ratio(retained, base)
    return rate, {"retention_source": source, "retained_accounts": retained,
                  "accounts_with_prior_revenue": base}


def clv_value(margin_12m: int, r: float, horizon: int, discount: float) -> float:
    return sum(margin_12m * r**t / (1 + discount) ** t for t in range(horizon))


def clv(ctx: Ctx, row: Row) -> KpiResult:
    cfg = ctx.config.clv
    rate, source = _retention_rate(ctx, row["tier"])
    margin = _margin(row)
    inputs = {"gross_margin_12m_cents": margin, "retention_ratio": rate,
              "discount_rate_ratio": cfg.discount_rate, "horizon_years": cfg.horizon_years,
              "tier": row["tier"], **source}
    if rate is None:
        return KpiResult("clv", None, "money", ctx.current, inputs,
                         "undefined: no account has prior-period revenue to estimate retention")
    value = round(clv_value(margin, rate, cfg.horizon_years, cfg.discount_rate))
    return KpiResult("clv", value, "money", ctx.current, inputs)


def clv_portfolio(ctx: Ctx, rows: Sequence[Row]) -> KpiResult:
    values = [clv(ctx, r).value for r in rows]
    known = [v for v in values if v is not None]
    inputs = {**_portfolio_inputs(rows), "accounts_with_clv": len(known),
              "horizon_years": ctx.config.clv.horizon_years,
              "discount_rate_ratio": ctx.config.clv.discount_rate}
    return KpiResult("clv", sum(known), "money", ctx.current, inputs, "sum of account CLVs")


SPECS = [
    KpiSpec("revenue", "money", "Sum of order revenue in the period.", ("revenue",),
            revenue, revenue_portfolio, periodic=True, value=lambda c, r: _rev(r)),
    KpiSpec("revenue_growth", "ratio",
            "(revenue - prior-period revenue) / prior-period revenue; undefined without prior.",
            ("revenue", "revenue_local"), growth, growth_portfolio, periodic=True,
            value=lambda c, r: growth_of(_rev(r), _prior(r))),
    KpiSpec("gross_margin", "money", "Sum of revenue - cost in the period.",
            ("revenue", "cost"), gross_margin, gross_margin_portfolio, periodic=True,
            value=lambda c, r: _margin(r)),
    KpiSpec("profitability", "ratio",
            "(gross margin - prorated cost to serve) / revenue in the period.",
            ("revenue", "cost", "cost_to_serve"), profitability, profitability_portfolio,
            periodic=True,
            value=lambda c, r: profitability_of(_rev(r), _margin(r), m.as_int(r["cts_cur"]))),
    KpiSpec("share_of_wallet", "ratio", "Revenue in the last 12 months / wallet estimate.",
            ("revenue",), share_of_wallet, share_of_wallet_portfolio,
            value=lambda c, r: share_of(_rev(r), r["wallet_estimate_cents"])),
    KpiSpec("logo_retention", "ratio",
            "Accounts with revenue in both periods / accounts with prior-period revenue.",
            ("revenue",), logo_retention, logo_retention_portfolio),
    KpiSpec("grr", "ratio",
            "Sum of min(current, prior) revenue / prior revenue, over accounts with prior revenue.",
            ("revenue",), grr, grr_portfolio, periodic=True),
    KpiSpec("nrr", "ratio",
            "Sum of current revenue / prior revenue, over accounts with prior revenue.",
            ("revenue",), nrr, nrr_portfolio, periodic=True),
    KpiSpec("upsell_cross_sell", "count",
            "Won upsell/cross-sell opportunities closed in the period (portfolio: share of "
            "accounts with revenue that won one).",
            ("revenue", "upsell"), upsell, upsell_portfolio, periodic=True),
    KpiSpec("clv", "money",
            "Customer lifetime value: 12-month gross margin over 5 years, retained at the tier's "
            "logo retention, discounted at 10 %.",
            ("revenue", "cost"), clv, clv_portfolio),
]
