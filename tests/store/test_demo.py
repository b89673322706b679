"""The demo data generator: deterministic, importable, and holding the demo stories."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select

from store.db import make_engine, make_session_factory, upgrade
from store.demo import STORIES, generate
from store.importer import SPECS, import_paths
from store.models import Account, Base, Order


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_same_seed_gives_byte_identical_files(tmp_path):
    generate(tmp_path / "first", accounts=12, seed=3)
    generate(tmp_path / "second", accounts=12, seed=3)

    first, second = file_bytes(tmp_path / "first"), file_bytes(tmp_path / "second")
    assert sorted(first) == sorted(f"{table}.csv" for table in SPECS)
    assert first == second


def test_different_seed_gives_different_data(tmp_path):
    generate(tmp_path / "first", accounts=12, seed=3)
    generate(tmp_path / "second", accounts=12, seed=4)

    assert (tmp_path / "first" / "orders.csv").read_bytes() != (
        tmp_path / "second" / "orders.csv"
    ).read_bytes()


def test_default_demo_imports_every_row(demo_engine, demo_dir):
    with demo_engine.connect() as conn:
        for table in SPECS:
            with open(demo_dir / f"{table}.csv", encoding="utf-8", newline="") as handle:
                in_file = sum(1 for _ in csv.DictReader(handle))
            in_db = conn.scalar(select(func.count()).select_from(Base.metadata.tables[table]))

            assert (table, in_db) == (table, in_file)
            assert in_file > 0


def test_default_demo_has_60_accounts_and_the_story_accounts_with_their_owners(demo_sessions):
    with demo_sessions() as session:
        accounts = {a.account_id: a for a in session.scalars(select(Account))}

    assert len(accounts) == 60
    assert {s.account_id: (s.name, s.owner) for s in STORIES} == {
        s.account_id: (accounts[s.account_id].name, accounts[s.account_id].owner_user_id)
        for s in STORIES
    }
    assert accounts["A0008"].owner_user_id == "u_kam_dev"


def test_fewer_than_10_accounts_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="--accounts must be at least 10"):
        generate(tmp_path / "demo", accounts=9)

    assert not (tmp_path / "demo").exists()


def test_demo_with_currencies_bills_in_usd_gbp_and_sgd_and_reports_the_same_business(
    demo_sessions, tmp_path
):
    generate(tmp_path / "csv", currencies=True)
    engine = make_engine(f"sqlite:///{tmp_path / 'kam.db'}")
    upgrade(engine)
    import_paths(engine, [tmp_path / "csv"])
    with make_session_factory(engine)() as session:
        currencies = dict(session.execute(select(Account.account_id, Account.currency)).all())
        billed = session.scalar(select(func.sum(Order.revenue_local_cents)))
        reported = session.scalar(select(func.sum(Order.revenue_cents)))
    with demo_sessions() as session:
        in_eur = session.scalar(select(func.sum(Order.revenue_cents)))
    engine.dispose()

    assert set(currencies.values()) == {"EUR", "USD", "GBP", "SGD"}
    assert currencies["A0003"] == "USD"  # Globex Logistics, North America
    assert billed != reported
    # Each amount was divided by its month's rate, rounded to the cent, and converted back.
    assert abs(reported - in_eur) / in_eur < 1e-6
