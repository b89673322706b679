"""Store fixtures: small CSV folders written on the fly, imports into the temp
database, and snapshots of what ended up in its tables."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from store.importer import SPECS, ImportFailed, ImportReport, import_paths
from store.models import Base

Files = dict[str, str | bytes]
"""{file name: CSV text (written as UTF-8) or raw bytes}"""

# A manager, two KAMs, two accounts and two products: enough for every other table to reference.
BASE_FILES = {
    "users.csv": (
        "user_id,name,email,role,team,slack_user_id,manager_id\n"
        "u_mgr,Maria Novak,maria@example.com,manager,North,U0MGR1,\n"
        "u_anna,Anna Berg,anna@example.com,kam,North,U0KAM1,u_mgr\n"
        "u_ben,Ben Carter,ben@example.com,kam,North,U0KAM2,u_mgr\n"
    ),
    "accounts.csv": (
        "account_id,name,owner_user_id\n"
        "A1,Acme Industrial,u_anna\n"
        "A2,Globex Logistics,u_ben\n"
    ),
    "products.csv": (
        "product_id,name,product_line\n"
        "P1,Pressure sensor PS-20,Sensors\n"
        "P2,Fleet analytics licence,Software\n"
    ),
}


@pytest.fixture
def base_files() -> dict[str, str]:
    """users.csv, accounts.csv and products.csv of a small valid data set (a fresh copy)."""
    return dict(BASE_FILES)


@pytest.fixture
def write_csvs(tmp_path: Path) -> Callable[[Files], list[Path]]:
    """Write {file name: content} into a fresh folder under tmp_path; return the file paths."""
    folders = itertools.count(1)

    def write(files: Files) -> list[Path]:
        folder = tmp_path / f"csv-{next(folders)}"
        folder.mkdir()
        paths = []
        for name, content in files.items():
            path = folder / name
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8", newline="")
            paths.append(path)
        return paths

    return write


@pytest.fixture
def import_files(engine: Engine, write_csvs) -> Callable[[Files], ImportReport]:
    """Write the files and import them into the temp database in one run."""

    def run(files: Files) -> ImportReport:
        return import_paths(engine, write_csvs(files))

    return run


@pytest.fixture
def import_errors(import_files) -> Callable[[Files], list[str]]:
    """Import files that must be rejected; return the error lines a user sees."""

    def run(files: Files) -> list[str]:
        with pytest.raises(ImportFailed) as failure:
            import_files(files)
        return [str(issue) for issue in failure.value.errors]

    return run


@pytest.fixture
def row_counts(engine: Engine) -> Callable[[], dict[str, int]]:
    """Number of rows in every table of the temp database."""

    def count() -> dict[str, int]:
        with engine.connect() as conn:
            return {
                name: conn.scalar(select(func.count()).select_from(table))
                for name, table in Base.metadata.tables.items()
            }

    return count


@pytest.fixture
def table_rows(engine: Engine) -> Callable[[str], list[tuple]]:
    """Every row of one table, ordered by primary key."""

    def rows(name: str) -> list[tuple]:
        table = Base.metadata.tables[name]
        with engine.connect() as conn:
            stmt = select(table).order_by(*table.primary_key.columns)
            return [tuple(row) for row in conn.execute(stmt)]

    return rows


@pytest.fixture
def snapshot(table_rows) -> Callable[[], dict[str, list[tuple]]]:
    """The contents of every importable table and of the monthly order aggregates."""

    def take() -> dict[str, list[tuple]]:
        return {name: table_rows(name) for name in [*SPECS, "order_monthly", "account_monthly"]}

    return take
