"""`kam serve` and `kam digest` from the command line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Settings
from tests.support.databases import copy_database
from tests.support.slack import ANNA


@pytest.fixture
def kam(monkeypatch, tmp_path, demo_engine, mock_slack):
    """Run `kam …` in a temp dir against a copy of the demo data and the mock Web API."""
    monkeypatch.chdir(tmp_path)
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    copy_database(demo_engine, tmp_path / "kam.db")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'kam.db'}")
    monkeypatch.setenv("SLACK_API_URL", mock_slack.url)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, list(args))

    return run


def test_serve_without_a_bot_token_says_what_is_missing(kam):
    result = kam("serve")

    assert result.exit_code == 2
    assert "SLACK_BOT_TOKEN is not set" in result.output


def test_serve_over_http_needs_the_signing_secret(kam, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")

    result = kam("serve", "--port", "0")

    assert result.exit_code == 2
    assert "SLACK_SIGNING_SECRET is not set" in result.output


def test_socket_mode_needs_an_app_level_token(kam, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xoxb-wrong-kind")

    result = kam("serve", "--socket")

    assert result.exit_code == 2
    assert "SLACK_APP_TOKEN" in result.output and "xapp-" in result.output


def test_digest_without_post_prints_each_digest(kam, mock_slack):
    result = kam("digest")

    assert result.exit_code == 0, result.output
    assert f"To Anna Berg ({ANNA}): Anna Berg: your portfolio" in result.output
    assert "Globex Logistics" in result.output
    assert "8 digest(s) composed; add --post to send them." in result.output
    assert mock_slack.of("chat.postMessage") == []


def test_digest_post_sends_the_dm(kam, mock_slack, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")

    result = kam("digest", "--post", "--only", ANNA)

    assert result.exit_code == 0, result.output
    assert "Sent 1 digest(s)." in result.output
    (post,) = mock_slack.of("chat.postMessage")
    assert post.body["channel"] == ANNA
    assert "Globex Logistics" in json.dumps(post.body["blocks"])


def test_digest_for_an_unknown_slack_id_fails_clearly(kam):
    result = kam("digest", "--only", "U0NOBODY99")

    assert result.exit_code == 1
    assert "no KAM or manager has the Slack user id U0NOBODY99" in result.output
