"""`kam snapshot`, `kam movers` and the history `kam demo-data` fills, as a user runs them."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from store.db import make_engine, upgrade
from store.importer import import_paths


@pytest.fixture
def demo_db(tmp_path, monkeypatch, demo_dir) -> Path:
    """The demo data in a database of its own (no history yet), as DATABASE_URL."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.upper().startswith("KAM_")]:
        monkeypatch.delenv(name)
    path = tmp_path / "kam.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    import_paths(engine, [demo_dir])
    engine.dispose()
    return path


def kam(*args: str):
    return CliRunner().invoke(app, list(args))


def test_snapshot_twice_in_a_week_replaces_the_week(demo_db):
    first, second = kam("snapshot"), kam("snapshot")

    assert (first.exit_code, second.exit_code) == (0, 0), first.output
    assert first.stdout.startswith("KPI snapshot of 60 accounts for the week of 2026-09-28 "
                                   "(as of 2026-09-30)")
    assert "replaced" not in first.stdout
    assert "replaced the 60 rows taken earlier that week" in " ".join(second.stdout.split())


def test_movers_before_any_snapshot_says_how_to_start_the_history(demo_db):
    kam("snapshot")
    result = kam("movers", "--as-user", "u_kam_anna")

    assert result.exit_code == 1
    assert "fewer than two weeks of KPI history: run `kam snapshot` weekly" in " ".join(
        result.stderr.split())


def test_movers_show_what_got_worse_in_the_book_and_why(demo_db):
    assert kam("snapshot", "--weeks", "6").exit_code == 0
    result = kam("movers", "--as-user", "u_kam_anna", "--kpi", "churn_risk", "--weeks", "4",
                 "--direction", "worse")

    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert text.startswith("What changed from 2026-09-06 to 2026-09-30")
    assert "churn risk: 2 of 13 accounts got worse" in text
    assert "▼ Globex Logistics (A0003, Anna Berg): 80 → 100 (+20.0 pts)" in text
    assert 'critical-severity ticket "Production line stopped' in text
    assert "opened on Sep 9, 2026" in text
    assert "Umbrella Pharma" not in text  # another KAM's account
    for internal in ("None", "_cents", "'kind'", "sign_fired"):
        assert internal not in text


def test_movers_rejects_a_kpi_that_is_not_kept(demo_db):
    result = kam("movers", "--as-user", "u_kam_anna", "--kpi", "clv")

    assert result.exit_code == 2
    assert "--kpi 'clv' is not kept in the history" in result.stderr


def test_demo_data_fills_a_year_of_weekly_history(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'kam.db'}")
    result = kam("demo-data", "--accounts", "12", "--out", str(tmp_path / "demo"),
                 "--history-weeks", "3")

    assert result.exit_code == 0, result.output
    assert re.search(r"KPI history: 3 weekly snapshots, 2026-09-20 to 2026-09-30, in [\d.]+ s",
                     result.stdout)
