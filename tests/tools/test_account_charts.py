"""The revenue chart is PNG bytes, optionally written to a file."""

from __future__ import annotations

from tools.account_data import quarterly_revenue
from tools.charts import revenue_trend_chart

PNG = b"\x89PNG\r\n\x1a\n"


def test_revenue_trend_chart(engine_as, tmp_path):
    data = quarterly_revenue(engine_as("u_kam_anna"), "A0004", quarters=8)
    path = tmp_path / "out" / "northwind.png"
    png = revenue_trend_chart(data, path)
    assert png.startswith(PNG) and len(png) > 5000
    assert path.read_bytes() == png
    # The amounts axis names the reporting currency when one is set: a wider image.
    assert revenue_trend_chart(data, currency="EUR") != png
