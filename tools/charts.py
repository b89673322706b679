"""A PNG chart for QBR prep notes: an account's revenue by quarter.

Built on `matplotlib.figure.Figure` with the Agg canvas: no pyplot, no global
figure state, safe in threads. Each function returns PNG bytes and, when given a
path, also writes them there.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

BAR = "#2f6db5"
PARTIAL = "#9dbbe0"


def _png(fig: Figure, path: Path | None) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    data = buffer.getvalue()
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return data


def _money_axis(value: float, _pos: int) -> str:
    for limit, suffix in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.0f}"


def revenue_trend_chart(
    data: dict[str, Any], path: Path | None = None, currency: str | None = None
) -> bytes:
    """Bars of revenue per quarter (from `account_data.quarterly_revenue`), partial quarter
    lighter, with gross margin as a line; the amounts axis names `currency` (the reporting
    currency, when one is set)."""
    quarters: Sequence[dict[str, Any]] = data["quarters"]
    labels = [q["quarter"] + (" (to date)" if q["partial"] else "") for q in quarters]
    revenue = [q["revenue_cents"] / 100 for q in quarters]
    margin = [q["gross_margin_cents"] / 100 for q in quarters]
    fig = Figure(figsize=(7.5, 3.6))
    ax = fig.add_subplot()
    ax.bar(labels, revenue, color=[PARTIAL if q["partial"] else BAR for q in quarters],
           label="revenue")
    ax.plot(labels, margin, color="#333333", marker="o", linewidth=1.5, label="gross margin")
    ax.yaxis.set_major_formatter(FuncFormatter(_money_axis))
    if currency:
        ax.set_ylabel(currency)
    ax.set_title(f"{data['name']}: revenue by quarter")
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False, fontsize=8)
    return _png(fig, path)
