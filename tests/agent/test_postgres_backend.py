"""The assistant on PostgreSQL: the same answers as on SQLite for the same data, thread
memory in the database (a restarted or another replica follows the conversation), and
nothing written to the data folder's threads.db."""

from __future__ import annotations

import shutil
import uuid

import pytest

from bot.config import Settings
from bot.factory import build_assistant, build_services
from bot.health import check_thread_store
from store.importer import import_paths

QUESTIONS = ["nps for globex?", "rank my accounts by revenue", "renewals in the next 90 days",
             "How is Acme Industrial doing?"]


@pytest.fixture(scope="module")
def pg_settings(postgres, agent_home, demo_dir, tmp_path_factory) -> Settings:
    data = tmp_path_factory.mktemp("pg-agent") / "data"
    shutil.copytree(agent_home / "data" / "chroma", data / "chroma")
    settings = Settings(_env_file=None, database_url=postgres.new_database(), kam_data_dir=data)
    services = build_services(settings)
    import_paths(services.engine, [demo_dir])
    services.close()
    return settings


def test_answers_on_postgresql_equal_those_on_sqlite(pg_settings, embedder, offline_assistant):
    services = build_services(pg_settings)
    assistant = build_assistant(pg_settings, services, embedder)
    try:
        for question in QUESTIONS:
            on_pg = assistant.answer("u_kam_anna", question, uuid.uuid4().hex)
            on_sqlite = offline_assistant.answer("u_kam_anna", question, uuid.uuid4().hex)
            assert on_pg.ok and on_pg.text == on_sqlite.text, question
    finally:
        assistant.close()
        services.close()


def test_thread_memory_lives_in_postgresql_for_every_replica(pg_settings, embedder):
    thread = uuid.uuid4().hex
    services = build_services(pg_settings)
    first = build_assistant(pg_settings, services, embedder)
    first.answer("u_kam_anna", "nps for globex?", thread)
    first.close()

    replica = build_assistant(pg_settings, services, embedder)  # a restart, or another replica
    follow_up = replica.answer("u_kam_anna", "and csat?", thread)
    replica.close()

    assert follow_up.tool_calls[0].args == {"kpi": "csat", "account": "A0003"}
    assert not (pg_settings.kam_data_dir / "threads.db").exists()
    check = check_thread_store(pg_settings.kam_data_dir, services.engine)
    assert check.ok and "PostgreSQL" in check.detail
    services.close()
