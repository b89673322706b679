"""The one place where clients and services are built from Settings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from store.db import ensure_schema, make_engine, make_session_factory


@dataclass
class Services:
    """Everything the assistant, the CLI and Slack need, built once and passed in."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]

    def close(self) -> None:
        self.engine.dispose()


def build_services(settings: Settings, *, migrate: bool = True) -> Services:
    """Create the engine (migrating the schema to the latest version unless told not to)."""
    engine = make_engine(settings.db_url)
    if migrate:
        ensure_schema(engine)
    return Services(settings=settings, engine=engine, sessions=make_session_factory(engine))
