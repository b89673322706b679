"""Charts are PNG bytes, optionally written to a file."""

from __future__ import annotations

from tools.account_data import quarterly_revenue
from tools.charts import ranking_chart, revenue_trend_chart
from tools.portfolio import rank_accounts

PNG = b"\x89PNG\r\n\x1a\n"


def test_revenue_trend_chart(engine_as, tmp_path):
    data = quarterly_revenue(engine_as("u_kam_anna"), "A0004", quarters=8)
    path = tmp_path / "out" / "northwind.png"
    png = revenue_trend_chart(data, path)
    assert png.startswith(PNG) and len(png) > 5000
    assert path.read_bytes() == png


def test_ranking_chart_handles_negative_values(engine_as):
    ranking = rank_accounts(engine_as("u_admin"), "profitability", order="lowest", n=5)
    assert ranking.items[0].result.value < 0
    assert ranking_chart(ranking).startswith(PNG)
