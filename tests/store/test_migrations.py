"""Schema migrations: `alembic upgrade head` builds exactly the tables the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from typer.testing import CliRunner

from bot.cli import app
from store.db import alembic_config, current_revision, make_engine
from store.importer import import_paths
from store.models import Base


def test_upgrade_head_on_an_empty_database_matches_the_models(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)

    assert differences == []


def test_upgrade_head_creates_every_model_table(engine):
    tables = set(inspect(engine).get_table_names())

    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_upgrade_head_records_the_newest_revision(engine):
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()

    assert current_revision(engine) == head


def test_db_init_twice_is_safe_and_keeps_the_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'kam.db'}")
    runner = CliRunner()

    first = runner.invoke(app, ["db", "init"])
    engine = make_engine(f"sqlite:///{tmp_path / 'kam.db'}")
    users = tmp_path / "users.csv"
    users.write_text("user_id,name,email,role\nu1,Anna Berg,anna@example.com,kam\n")
    import_paths(engine, [users])
    second = runner.invoke(app, ["db", "init"])

    assert (first.exit_code, second.exit_code) == (0, 0)
    assert "Database ready" in second.stdout
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT user_id FROM users").scalars().all() == ["u1"]
    engine.dispose()
