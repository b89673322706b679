"""examples/minimal and docs/data-format.md stay true to the importer."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from store.importer import SPECS, TABLES, import_paths


@pytest.fixture
def engine(any_engine):
    """Every test here runs on SQLite and on PostgreSQL."""
    return any_engine

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "minimal"
DATA_FORMAT = REPO / "docs" / "data-format.md"


def doc_sections() -> dict[str, str]:
    """The text of each `## <table>.csv` section of the data format page."""
    parts = re.split(r"^## ", DATA_FORMAT.read_text(encoding="utf-8"), flags=re.MULTILINE)
    titled = {part.split("\n", 1)[0]: part for part in parts}
    return {title[: -len(".csv")]: text for title, text in titled.items() if title.endswith(".csv")}


def test_minimal_example_imports_cleanly(engine, row_counts):
    report = import_paths(engine, [EXAMPLES])

    assert report.warnings == []
    assert [t.table for t in report.tables] == list(SPECS)
    assert all(count > 0 for table, count in row_counts().items() if table in SPECS)


def test_minimal_example_has_every_table_with_every_column():
    for spec in TABLES:
        with open(EXAMPLES / f"{spec.name}.csv", encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle))

        assert sorted(header) == sorted(spec.row.model_fields), spec.name


def test_data_format_documents_every_table_and_column():
    sections = doc_sections()

    assert sorted(sections) == sorted(SPECS)
    for spec in TABLES:
        documented = re.findall(r"^\| (\w+) \| (yes|no) \|", sections[spec.name], re.MULTILINE)
        columns = {name: required == "yes" for name, required in documented}
        fields = spec.row.model_fields
        assert columns == {name: field.is_required() for name, field in fields.items()}, spec.name


@pytest.mark.parametrize("table", list(SPECS))
def test_data_format_examples_are_lines_of_the_minimal_example(table):
    example = re.search(r"```csv\n(.*?)```", doc_sections()[table], re.DOTALL).group(1)
    lines = (EXAMPLES / f"{table}.csv").read_text(encoding="utf-8").splitlines()

    assert example.splitlines()[0] == lines[0]
    assert set(example.splitlines()) <= set(lines)
