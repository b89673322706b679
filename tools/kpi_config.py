"""KPI settings: churn warning-sign thresholds and weights, and the CLV model.

Defaults are the definitions in docs/kpis.md; pass a changed copy to the engine
(`dataclasses.replace(ChurnConfig(), ...)`) to tune them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ChurnConfig:
    """Churn warning signs: thresholds, and points per sign (the points sum to 100)."""

    # engagement drop: activities in the last 90 days < 50 % of the 90 days before (>= 4 before)
    engagement_window_days: int = 90
    engagement_drop_below: float = 0.5
    engagement_min_before: int = 4
    # spend drop: revenue in the last 180 days at least 20 % below the 180 days before
    spend_window_days: int = 180
    spend_drop_at_least: float = 0.20
    # no recent contact: no activity in the last 45 days
    contact_gap_days: int = 45
    # detractors or low CSAT in the last 180 days
    sentiment_window_days: int = 180
    detractor_max_score: int = 6
    csat_good_min_share: float = 0.60
    # open tickets of these severities
    ticket_severities: tuple[str, ...] = ("high", "critical")
    # renewal within 90 days with no open renewal opportunity
    renewal_window_days: int = 90
    # champion or decision maker left with nobody active in the same role
    key_roles: tuple[str, ...] = ("champion", "decision_maker")
    # points
    engagement_drop: int = 15
    spend_drop: int = 20
    no_recent_contact: int = 10
    detractors_or_low_csat: int = 15
    open_critical_tickets: int = 10
    renewal_without_opportunity: int = 15
    key_contact_left: int = 15
    # bands: low < medium_from <= medium < high_from <= high
    medium_from: int = 30
    high_from: int = 60

    def __post_init__(self) -> None:
        total = sum(self.weights().values())
        if total != 100:
            raise ValueError(f"churn sign points must sum to 100, not {total}")
        if not 0 < self.medium_from < self.high_from <= 100:
            raise ValueError("churn bands need 0 < medium_from < high_from <= 100")

    def weights(self) -> dict[str, int]:
        """Points per sign, in the order the signs are reported."""
        return {name: getattr(self, name) for name in SIGNS}

    def band(self, score: int) -> str:
        if score >= self.high_from:
            return "high"
        return "medium" if score >= self.medium_from else "low"


SIGNS = (
    "engagement_drop",
    "spend_drop",
    "no_recent_contact",
    "detractors_or_low_csat",
    "open_critical_tickets",
    "renewal_without_opportunity",
    "key_contact_left",
)
BANDS = ("low", "medium", "high")


@dataclass(frozen=True)
class ClvConfig:
    """CLV = sum over t = 0..horizon-1 of margin_12m * r^t / (1 + discount)^t."""

    horizon_years: int = 5
    discount_rate: float = 0.10
    # r per tier; a tier not listed uses the logo retention of all accounts of that tier.
    retention_override: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class KpiConfig:
    churn: ChurnConfig = field(default_factory=ChurnConfig)
    clv: ClvConfig = field(default_factory=ClvConfig)
    # The month the fiscal year starts in (KAM_FISCAL_YEAR_START): quarters are its quarters.
    fiscal_year_start: int = 1
    # KAM_REPORTING_CURRENCY, named in tool results (None: "currency units").
    reporting_currency: str | None = None
    # KAM_LOCALE: how amounts and dates are written where tools write text for people.
    locale: str = "en"
