"""A first load into empty PostgreSQL tables runs without their keys and secondary indexes
(store.sql.first_load): they must all be back, and enforced, when it commits."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from store.db import make_engine, upgrade
from store.importer import import_paths
from store.models import Base


def schema(engine) -> dict[str, tuple]:
    found = inspect(engine)
    return {name: (found.get_pk_constraint(name),
                   sorted((k["name"], tuple(k["constrained_columns"]), k["referred_table"])
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
    order = ("INSERT INTO orders (order_id, account_id, product_id, order_date, quantity, "
             "revenue_cents, cost_cents) SELECT {id}, {account}, product_id, order_date, "
             "quantity, revenue_cents, cost_cents FROM orders LIMIT 1")
    with engine.begin() as conn, pytest.raises(IntegrityError, match="foreign key"):
        conn.execute(text(order.format(id="'X1'", account="'NO-SUCH-ACCOUNT'")))
    with engine.begin() as conn, pytest.raises(IntegrityError, match="duplicate key"):
        conn.execute(text(order.format(id="order_id", account="account_id")))
    with engine.begin() as conn, pytest.raises(IntegrityError, match="duplicate key"):
        conn.execute(text("INSERT INTO order_monthly SELECT * FROM order_monthly LIMIT 1"))
    engine.dispose()
