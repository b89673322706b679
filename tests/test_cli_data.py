"""The data commands as a user runs them: `kam import`, `kam demo-data`, bad settings."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli import app
from store.db import make_engine
from store.models import Account, Order, User

GOOD = {
    "users.csv": "user_id,name,email,role,team,slack_user_id,manager_id\n"
    "u_mgr,Maria Novak,maria@example.com,manager,North,U0MGR1,\n"
    "u_anna,Anna Berg,anna@example.com,kam,North,U0KAM1,u_mgr\n",
    "accounts.csv": "account_id,name,owner_user_id\nA1,Acme Industrial,u_anna\n",
}
BAD_USERS = (
    "user_id,name,email,role,team,slack_user_id,manager_id\n"
    "u_anna,Anna Berg,anna@example.com,kamm,North,U0KAM1,\n"
    "u_ben,Ben Carter,ben@example.com,KAM,North,U0KAM2,\n"
    "u_chloe,,chloe@example.com,kam,North,U0KAM3,\n"
)


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """A working directory with no `.env`, a temp database and no KAM_ settings from the shell."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.upper().startswith("KAM_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'kam.db'}")
    return tmp_path


def kam(*args: str, **env: str):
    return CliRunner().invoke(app, list(args), env=env or None)


def write_folder(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir()
    for name, content in files.items():
        (folder / name).write_text(content, encoding="utf-8")
    return folder


def count(workdir: Path, model) -> int:
    engine = make_engine(f"sqlite:///{workdir / 'kam.db'}")
    with engine.connect() as conn:
        result = conn.scalar(select(func.count()).select_from(model))
    engine.dispose()
    return result


def test_import_of_a_good_folder_prints_the_summary_and_exits_0(workdir):
    folder = write_folder(workdir / "exports", GOOD)

    result = kam("import", str(folder))

    assert result.exit_code == 0, result.output
    assert "Imported" in result.stdout
    assert "users.csv" in result.stdout and "accounts.csv" in result.stdout
    assert "3 rows in" in result.stdout and "one transaction" in result.stdout
    assert (count(workdir, User), count(workdir, Account)) == (2, 1)

    again = kam("import", str(folder))
    users = next(line for line in again.stdout.splitlines() if "users.csv" in line)
    # rows, new, updated, unchanged: the same file again writes nothing
    assert [cell.strip() for cell in users.split("│")[3:7]] == ["2", "0", "0", "2"]


def test_import_of_a_bad_file_reports_every_error_and_imports_nothing(workdir):
    folder = write_folder(workdir / "exports", {**GOOD, "users.csv": BAD_USERS})

    result = kam("import", str(folder))

    assert result.exit_code == 1
    assert "3 error(s); nothing was imported" in result.stderr
    for location in ("users.csv:2: role:", "users.csv:3: role:", "users.csv:4: name:"):
        assert location in result.stderr
    assert result.stdout == ""
    assert count(workdir, User) == 0


def test_import_errors_print_one_per_line(workdir):
    folder = write_folder(workdir / "exports", {**GOOD, "users.csv": BAD_USERS})

    lines = kam("import", str(folder)).stderr.splitlines()

    roles = "expected one of 'kam', 'manager' or 'admin'"
    assert f"users.csv:2: role: unknown value 'kamm'; {roles}" in lines
    assert f"users.csv:3: role: unknown value 'KAM'; {roles}" in lines
    assert "users.csv:4: name: required value missing" in lines


def test_import_warnings_are_shown_and_the_rest_imported(workdir):
    orders = "order_id,account_id,product_id,order_date,quantity,revenue,cost\n"
    files = {**GOOD, "orders.csv": orders}
    folder = write_folder(workdir / "exports", files)

    result = kam("import", str(folder))

    assert result.exit_code == 0, result.output
    assert "warning: orders.csv: header only, no data rows" in result.stderr
    assert count(workdir, User) == 2


def test_demo_data_writes_the_files_and_imports_them(workdir):
    result = kam("demo-data", "--accounts", "12", "--out", str(workdir / "demo"))

    assert result.exit_code == 0, result.output
    assert re.match(r"Wrote [\d,]+ rows \([\d,]+ order lines\)", result.stdout)
    assert "Imported" in result.stdout
    assert len(list((workdir / "demo").glob("*.csv"))) == 15
    assert count(workdir, Account) == 12


def test_demo_data_with_fewer_than_10_accounts_is_a_usage_error(workdir):
    result = kam("demo-data", "--accounts", "5", "--out", str(workdir / "demo"))

    assert result.exit_code == 2
    assert "--accounts" in result.stderr
    assert not (workdir / "demo").exists()


def test_invalid_setting_exits_2_with_one_line(workdir):
    result = kam("import", str(workdir), KAM_LLM="foo")

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: Invalid setting KAM_LLM='foo': Input should be 'offline' or 'openai'."
    ]


def test_unknown_setting_exits_2_with_one_line(workdir):
    result = kam("import", str(workdir), KAM_LMM="openai")

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: Unknown setting KAM_LMM: check the spelling (see README, 'Configuration')."
    ]


# --- imports that cannot hurt (issue 12) -----------------------------------------------------

PRODUCTS = "product_id,name,product_line\nP1,Pressure sensor,Sensors\n"
ORDERS = "order_id,account_id,product_id,order_date,quantity,revenue,cost\n"


def test_import_prints_markup_in_values_and_column_names_as_written(workdir):
    accounts = "account_id,name,owner_user_id,tier,[/]\nA1,Evil [/] Corp,u_anna,Evil [/] Corp,x\n"
    folder = write_folder(workdir / "exports", {**GOOD, "accounts.csv": accounts})

    result = kam("import", str(folder))

    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert "warning: accounts.csv:1: [/]: unknown column, ignored" in lines
    assert (
        "accounts.csv:2: tier: unknown value 'Evil [/] Corp'; "
        "expected one of 'key', 'strategic', 'growth' or 'maintain'"
    ) in lines


def test_import_refuses_an_order_dated_2062_unless_any_date_is_allowed(workdir):
    files = {
        **GOOD,
        "products.csv": PRODUCTS,
        "orders.csv": ORDERS + "O1,A1,P1,2062-09-30,1,10,6\n",
    }
    folder = write_folder(workdir / "exports", files)

    refused = kam("import", str(folder))
    accepted = kam("import", "--allow-any-date", str(folder))

    assert refused.exit_code == 1
    assert "orders.csv:2: order_date: date 2062-09-30 is out of range" in refused.stderr
    assert "--allow-any-date accepts it" in refused.stderr
    assert accepted.exit_code == 0, accepted.output
    assert count(workdir, Order) == 1


def test_import_caps_money_per_row_at_kam_max_amount(workdir):
    files = {
        **GOOD,
        "products.csv": PRODUCTS,
        "orders.csv": ORDERS + "O1,A1,P1,2026-01-05,1,100.01,6\n",
    }
    folder = write_folder(workdir / "exports", files)

    result = kam("import", str(folder), KAM_MAX_AMOUNT="100")

    assert result.exit_code == 1
    assert (
        "orders.csv:2: revenue: 100.01 is out of range: must be at most 100.00 "
        "(the KAM_MAX_AMOUNT setting)"
    ) in result.stderr.splitlines()
    assert count(workdir, Order) == 0


def test_import_reports_a_million_character_value_with_its_line(workdir):
    accounts = f"account_id,name,owner_user_id\nA1,{'x' * 1_000_000},u_anna\n"
    folder = write_folder(workdir / "exports", {**GOOD, "accounts.csv": accounts})

    result = kam("import", str(folder))

    assert result.exit_code == 1
    assert "accounts.csv:2: a value is longer than 10,000 characters" in result.stderr.splitlines()
    assert "Traceback" not in result.output
