"""`kam serve` refuses to start, in one line and without a traceback, when it could not
answer: the database file is gone (never replaced by an empty one), the embedding model
is missing, Slack cannot be reached or refuses the token. A bad DATABASE_URL is reported
without its password. `kam doctor` lists the same checks."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Settings
from tests.faults.conftest import KAM
from tests.support.slack import BOT_TOKEN, SIGNING_SECRET


@pytest.fixture
def kam(monkeypatch, home: Path, mock_slack):
    """`kam …` in-process, on the fault home, against the mock Web API."""
    monkeypatch.chdir(home)
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    env = {"DATABASE_URL": f"sqlite:///{home / 'kam.db'}", "KAM_DATA_DIR": str(home / "data"),
           "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
           "SLACK_API_URL": mock_slack.url}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()

    def run(*args: str):
        result = runner.invoke(app, list(args))
        assert "Traceback" not in result.output
        return result

    return run


def one_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


def test_a_lost_database_file_is_never_replaced_by_an_empty_one(kam, home):
    (home / "kam.db").unlink()

    result = kam("serve", "--port", "0")

    assert result.exit_code == 1
    line = one_line(result.output)
    assert "does not exist" in line and "kam db init" in line
    assert not (home / "kam.db").exists()


def test_after_kam_db_init_the_empty_database_is_the_operators_choice(kam, home):
    (home / "kam.db").unlink()

    assert kam("db", "init").exit_code == 0
    result = kam("doctor")

    assert "no users yet" in result.output  # said, not silently served


def test_a_database_without_tables_is_refused(kam, home):
    (home / "kam.db").unlink()
    (home / "kam.db").touch()

    result = kam("serve", "--port", "0")

    assert result.exit_code == 1 and "no data yet" in one_line(result.output)


def test_an_unreachable_slack_api_is_one_line(kam, monkeypatch):
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api/")  # nothing listens

    result = kam("serve", "--port", "0")

    assert result.exit_code == 1
    assert "cannot reach the Slack API at http://127.0.0.1:9/api/" in one_line(result.output)


def test_a_token_slack_refuses_is_one_line(kam, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-not-a-bot-token")

    result = kam("serve", "--port", "0")

    assert result.exit_code == 2
    assert "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in one_line(result.output)


def test_a_missing_embedding_model_is_one_line(kam, monkeypatch, home):
    monkeypatch.setenv("KAM_EMBEDDING_MODEL_DIR", str(home / "no-model"))

    result = kam("serve", "--port", "0")

    assert result.exit_code == 2
    assert "Embedding model files missing" in one_line(result.output)


def test_a_missing_embedding_model_is_one_line_for_kam_ask_too(home):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{home / 'kam.db'}",
           "KAM_DATA_DIR": str(home / "data"), "KAM_EMBEDDING_MODEL_DIR": str(home / "no-model")}

    result = subprocess.run([str(KAM), "ask", "--as-user", "u_kam_anna", "How is Acme doing?"],
                            cwd=home, env=env, capture_output=True, text=True, timeout=120)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "Embedding model files missing" in one_line(result.stderr)


def test_a_password_in_an_unsupported_database_url_is_never_printed(kam, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://kam:s3cr3t-p@ss@db.example/kam")

    result = kam("doctor")

    assert result.exit_code == 2
    assert "s3cr3t" not in result.output and "p@ss" not in result.output
    assert "mysql://kam:***@db.example/kam" in result.output


def test_doctor_lists_every_check(kam):
    result = kam("doctor")

    assert result.exit_code == 0, result.output
    for name in ("database", "thread store", "knowledge index", "embedding model", "Slack API"):
        assert name in result.output
    assert "FAIL" not in result.output
