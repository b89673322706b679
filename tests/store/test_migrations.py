"""Schema migrations: `alembic upgrade head` builds exactly the tables the models describe."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from typer.testing import CliRunner

from bot.cli import app
from store.db import (
    alembic_config,
    current_revision,
    ensure_schema,
    head_revision,
    make_engine,
    upgrade,
)
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


def test_account_monthly_is_clustered_by_account_on_sqlite(engine):
    with engine.connect() as conn:
        ddl = conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE name = 'account_monthly'"
        ).scalar_one()

    assert ddl.rstrip().endswith("WITHOUT ROWID")


def test_upgrade_to_0003_fills_account_monthly_from_existing_orders(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'kam.db'}")
    upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO users (user_id, name, email, role) VALUES ('u1', 'Anna', 'a@x.com', 'kam')"
        )
        conn.exec_driver_sql(
            "INSERT INTO accounts (account_id, name, owner_user_id) "
            "VALUES ('A1', 'Acme', 'u1'), ('A2', 'Globex', 'u1')"
        )
        conn.exec_driver_sql(
            "INSERT INTO products VALUES ('P1', 'Sensor', 'Sensors'), ('P2', 'Licence', 'Software')"
        )
        conn.exec_driver_sql(
            "INSERT INTO orders VALUES "
            "('O1', 'A1', 'P1', '2024-01-05', 2, 10000, 6000), "
            "('O2', 'A1', 'P2', '2024-01-31', 1, 480000, 100000), "
            "('O3', 'A1', 'P1', '2024-02-01', 3, 15000, 9000), "
            "('O4', 'A2', 'P2', '2024-02-29', 1, 480000, 100000)"
        )

    upgrade(engine, "0003")

    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT * FROM account_monthly ORDER BY 1, 2").all()
    assert [tuple(row) for row in rows] == [
        ("A1", "2024-01-01", 490000, 106000, 2),
        ("A1", "2024-02-01", 15000, 9000, 1),
        ("A2", "2024-02-01", 480000, 100000, 1),
    ]
    engine.dispose()


def test_upgrade_to_0005_keeps_existing_amounts_as_the_accounts_own_currency(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'kam.db'}")
    upgrade(engine, "0004")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO users (user_id, name, email, role) VALUES ('u1', 'Anna', 'a@x.com', 'kam')"
        )
        conn.exec_driver_sql(
            "INSERT INTO accounts (account_id, name, owner_user_id, wallet_estimate_cents) "
            "VALUES ('A1', 'Acme', 'u1', 250000000)"
        )
        conn.exec_driver_sql("INSERT INTO products VALUES ('P1', 'Sensor', 'Sensors')")
        conn.exec_driver_sql(
            "INSERT INTO orders VALUES ('O1', 'A1', 'P1', '2024-01-05', 2, 10000, 6000), "
            "('O2', 'A1', 'P1', '2024-01-31', 1, 480000, 100000)"
        )
        conn.exec_driver_sql(
            "INSERT INTO contracts VALUES ('K1', 'A1', '2024-01-01', '2024-12-31', 6000000, 1)"
        )

    upgrade(engine)

    with engine.connect() as conn:
        monthly = conn.exec_driver_sql(
            "SELECT month, revenue_cents, revenue_local_cents, cost_local_cents, order_lines "
            "FROM account_monthly"
        ).all()
        contract = conn.exec_driver_sql(
            "SELECT annual_value_cents, annual_value_local_cents FROM contracts"
        ).one()
        account = conn.exec_driver_sql(
            "SELECT currency, wallet_estimate_local_cents FROM accounts"
        ).one()
    assert [tuple(row) for row in monthly] == [("2024-01-01", 490000, 490000, 106000, 2)]
    assert tuple(contract) == (6000000, None)  # not converted: the same amount
    assert tuple(account) == (None, None)
    engine.dispose()


def test_downgrade_from_0003_drops_account_monthly(engine):
    command.downgrade(alembic_config(engine), "0002")

    assert not inspect(engine).has_table("account_monthly")
    assert inspect(engine).has_table("order_monthly")


def test_ensure_schema_brings_an_older_database_to_the_newest_migration(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'kam.db'}")
    upgrade(engine, "0002")

    ensure_schema(engine)

    assert current_revision(engine) == head_revision(engine)
    assert inspect(engine).has_table("account_monthly")
    engine.dispose()
