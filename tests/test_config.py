"""Settings: defaults, environment and `.env`, and one-line errors for bad values."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.config import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No real `.env` and no settings from the shell running the tests."""
    monkeypatch.chdir(tmp_path)
    for name in list(Settings.model_fields):
        monkeypatch.delenv(name.upper(), raising=False)
    for name in [n for n in os.environ if n.upper().startswith("KAM_")]:
        monkeypatch.delenv(name)


def test_defaults_run_offline_on_a_local_sqlite_file():
    settings = load_settings()

    assert settings.database_url == "sqlite:///data/kam.db"
    assert settings.kam_llm == "offline"
    assert settings.kam_llm_fallback == "none"
    assert settings.kam_data_dir == Path("data")
    assert settings.kam_llm_timeout_s == 30.0
    assert settings.kam_llm_max_retries == 2
    assert settings.kam_log_level == "INFO"
    assert settings.slack_bot_token is None
    assert settings.openai_api_key is None
    assert settings.chroma_dir == Path("data") / "chroma"


def test_environment_overrides_defaults(monkeypatch):
    monkeypatch.setenv("KAM_LLM", "openai")
    monkeypatch.setenv("KAM_LLM_TIMEOUT_S", "5")
    monkeypatch.setenv("KAM_AS_OF", "2026-06-30")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("DATABASE_URL", "postgresql://kam@localhost/kam")

    settings = load_settings()

    assert settings.kam_llm == "openai"
    assert settings.kam_llm_timeout_s == 5.0
    assert str(settings.kam_as_of) == "2026-06-30"
    assert settings.openai_api_key.get_secret_value() == "sk-test"
    assert "sk-test" not in repr(settings)
    assert settings.db_url == "postgresql://kam@localhost/kam"


def test_dotenv_file_values_are_read(tmp_path):
    (tmp_path / ".env").write_text("# local settings\nKAM_LLM=openai\nexport KAM_MODEL=gpt-x\n")

    settings = load_settings()

    assert (settings.kam_llm, settings.kam_model) == ("openai", "gpt-x")


def test_environment_wins_over_dotenv(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("KAM_MODEL=from-file\n")
    monkeypatch.setenv("KAM_MODEL", "from-env")

    assert load_settings().kam_model == "from-env"


def test_invalid_value_is_one_line_naming_the_setting(monkeypatch):
    monkeypatch.setenv("KAM_LLM", "foo")

    with pytest.raises(SettingsError) as error:
        load_settings()

    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("Invalid setting KAM_LLM='foo': ")
    assert "'offline' or 'openai'" in message


def test_out_of_range_number_names_the_setting(monkeypatch):
    monkeypatch.setenv("KAM_LLM_TIMEOUT_S", "-1")

    with pytest.raises(SettingsError, match=r"^Invalid setting KAM_LLM_TIMEOUT_S='-1': "):
        load_settings()


def test_unsupported_database_url_names_the_setting(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://kam@localhost/kam")

    with pytest.raises(SettingsError, match="DATABASE_URL.*sqlite:/// or postgresql://"):
        load_settings()


def test_unknown_kam_variable_is_named(monkeypatch):
    monkeypatch.setenv("KAM_LMM", "openai")

    with pytest.raises(SettingsError) as error:
        load_settings()

    assert str(error.value) == (
        "Unknown setting KAM_LMM: check the spelling (see README, 'Configuration')."
    )


def test_unknown_kam_variable_in_dotenv_is_named(tmp_path):
    (tmp_path / ".env").write_text("KAM_MODLE=gpt-x\n")

    with pytest.raises(SettingsError, match="Unknown setting KAM_MODLE"):
        load_settings()


def test_relative_sqlite_path_gets_its_folder_created(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:///state/kam.db")

    assert load_settings().db_url == "sqlite:///state/kam.db"
    assert (tmp_path / "state").is_dir()


def test_sqlite_uri_form_creates_the_files_folder_not_one_named_file(tmp_path, monkeypatch):
    url = f"sqlite:///file:{tmp_path / 'state' / 'kam.db'}?mode=ro&uri=true"
    monkeypatch.setenv("DATABASE_URL", url)

    assert load_settings().db_url == url
    assert (tmp_path / "state").is_dir() and not (tmp_path / "file:").exists()
