"""A first load into empty PostgreSQL tables runs without their foreign keys and secondary
indexes (store.sql.first_load): they must all be back, and enforced, when it commits."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from store.db import make_engine, upgrade
from store.importer import import_paths
from store.models import Base


def schema(engine) -> dict[str, tuple]:
    found = inspect(engine)
    return {name: (sorted((k["name"], tuple(k["constrained_columns"]), k["referred_table"])
                          for k in found.get_foreign_keys(name)),
                   sorted((i["name"], tuple(i["column_names"])) for i in found.get_indexes(name)))
            for name in Base.metadata.tables}


def test_a_first_load_leaves_every_key_and_index_as_the_migrations_made_them(
        postgres, demo_dir):
    engine = make_engine(postgres.new_database())
    upgrade(engine)
    migrated = schema(engine)

    import_paths(engine, [demo_dir])

    assert schema(engine) == migrated
    with engine.begin() as conn, pytest.raises(IntegrityError, match="foreign key"):
        conn.execute(text("INSERT INTO orders (order_id, account_id, product_id, order_date, "
                          "quantity, revenue_cents, cost_cents) VALUES "
                          "('X1', 'NO-SUCH-ACCOUNT', 'P001', '2026-01-05', 1, 100, 50)"))
    engine.dispose()
