"""`kam account | kpi | portfolio | risks | renewals` as a user runs them."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from bot.cli import app


@pytest.fixture
def kam(demo_engine, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.upper().startswith("KAM_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", str(demo_engine.url))

    def run(*args: str):
        return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})

    return run


def test_as_user_is_required(kam):
    result = kam("account", "Globex")
    assert result.exit_code == 2
    assert "--as-user" in result.output


def test_unknown_user_is_a_clear_error(kam):
    result = kam("risks", "--as-user", "u_nobody")
    assert result.exit_code == 1
    assert "unknown user 'u_nobody'" in result.output


def test_a_fresh_machine_is_told_to_load_data_first(kam, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'none' / 'kam.db'}")

    result = kam("account", "Globex", "--as-user", "u_kam_anna")

    assert result.exit_code == 1
    assert "the database is empty; run `kam demo-data`" in result.output


def test_account_summary_table(kam):
    result = kam("account", "globx", "--as-user", "u_kam_anna")
    assert result.exit_code == 0, result.output
    assert "Globex Logistics (A0003)" in result.output
    assert "churn_risk" in result.output and "key_contact_left" in result.output


def test_other_kams_account_is_not_found(kam):
    result = kam("account", "Umbrella Pharma", "--as-user", "u_kam_anna")
    assert result.exit_code == 1
    assert "not found or not yours" in result.output
    assert "Umbrella" not in result.output.replace("'Umbrella Pharma'", "")


def test_json_output_is_the_tool_payload(kam):
    result = kam("kpi", "Globex Logistics", "csat", "--as-user", "u_kam_anna", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["kpi"] == "csat" and payload["unit"] == "%"


def test_portfolio_kpi_by_owner(kam):
    result = kam("kpi", "portfolio", "nrr", "--by", "owner", "--as-user", "u_mgr_north")
    assert result.exit_code == 0, result.output
    assert all(n in result.output for n in ("Anna Berg", "Ben Carter", "Chloe Dubois"))
    assert "Dev Patel" not in result.output


def test_portfolio_ranking_and_rollup(kam):
    ranking = kam("portfolio", "--as-user", "u_kam_anna", "--by", "revenue_growth", "--n", "3",
                  "--json")
    assert json.loads(ranking.output)["items"][0]["name"] == "Northwind Traders"
    rollup = kam("portfolio", "--as-user", "u_mgr_north")
    assert rollup.exit_code == 0 and "Anna Berg" in rollup.output


def test_risks_and_renewals(kam):
    risks = kam("risks", "--as-user", "u_kam_anna", "--json")
    assert json.loads(risks.output)["items"][0]["account_id"] == "A0003"
    renewals = kam("renewals", "--as-user", "u_kam_anna", "--days", "90")
    assert renewals.exit_code == 0 and "Globex Logistics" in renewals.output
