"""All-or-nothing CSV import.

Every file of a run is read and validated first (pydantic row models, enums,
dates, sanity ranges, duplicate ids, foreign keys across the files of the run and
the database), and every error of every file is collected; any error stops the run
before anything is written. Then everything is upserted in one transaction, DDL
included, so a re-import of the same files is idempotent and a failure, even a
`kill -9`, changes nothing.
"""

from __future__ import annotations

import csv
import gc
import io
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter
from pathlib import Path
from types import GenericAlias
from typing import TYPE_CHECKING, cast

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import Connection, Engine, Select, Table, delete, func, insert, select
from sqlalchemy.schema import CreateIndex, DropIndex

from store import rows as r
from store.fx import CONVERSIONS, Rates, local_column, month_label, reconvert
from store.models import (
    Account,
    AccountMonthly,
    AccountScore,
    Activity,
    Base,
    Contact,
    Contract,
    CostToServe,
    CustomerKpi,
    FxRate,
    Opportunity,
    Order,
    OrderMonthly,
    Product,
    Survey,
    Ticket,
    User,
    ValueFactor,
)
from store.sql import (
    chunked,
    copy_into_empty,
    copy_upsert,
    execute_many,
    first_load,
    is_empty,
    month_start,
    upsert,
)

if TYPE_CHECKING:
    from typing_extensions import TypeForm

MAX_REPORTED_ERRORS = 100
MAX_ROWS_PER_FILE = 10_000_000
# Above this many touched accounts, rebuilding the whole monthly aggregates is cheaper.
INCREMENTAL_AGGREGATE_LIMIT = 2_000
# From this many rows in one file, secondary indexes are rebuilt after the load.
BULK_ROWS = 200_000
# Longest value in any column, in characters (the longest `text` value).
MAX_FIELD_CHARS = 10_000
# Largest amount of money in one row, in cents (the default of KAM_MAX_AMOUNT): ten million
# order lines at the cap still sum to less than a 64-bit integer holds.
MAX_AMOUNT_CENTS = 1_000_000_000_00
# With --allow-any-date, dates must still lie in these years so date arithmetic never overflows.
ANY_DATE = (date(1900, 1, 1), date(2999, 12, 31))

Progress = Callable[[str, int, int], None]
"""progress(file_name, rows_done, rows_total)"""


@dataclass(frozen=True)
class TableSpec:
    """How one CSV file maps onto one table."""

    name: str
    model: type[Base]
    row: type[r.Row]
    key: tuple[str, ...]
    # csv column -> referenced table name
    foreign_keys: dict[str, str] = field(default_factory=dict)
    # columns other than the key that must be unique across the table
    unique: tuple[str, ...] = ()

    @property
    def table(self) -> Table:
        return Base.metadata.tables[self.model.__tablename__]

    @property
    def id_column(self) -> str | None:
        return self.key[0] if len(self.key) == 1 else None


# In dependency order: a table only references tables listed before it (or itself).
TABLES: tuple[TableSpec, ...] = (
    TableSpec("users", User, r.UserRow, ("user_id",), {"manager_id": "users"}, ("slack_user_id",)),
    TableSpec(
        "accounts",
        Account,
        r.AccountRow,
        ("account_id",),
        {"owner_user_id": "users", "parent_account_id": "accounts"},
    ),
    TableSpec("products", Product, r.ProductRow, ("product_id",)),
    TableSpec("fx_rates", FxRate, r.FxRateRow, ("currency", "month")),
    TableSpec("contacts", Contact, r.ContactRow, ("contact_id",), {"account_id": "accounts"}),
    TableSpec(
        "orders",
        Order,
        r.OrderRow,
        ("order_id",),
        {"account_id": "accounts", "product_id": "products"},
    ),
    TableSpec(
        "cost_to_serve",
        CostToServe,
        r.CostToServeRow,
        ("account_id", "period_start", "period_end"),
        {"account_id": "accounts"},
    ),
    TableSpec(
        "opportunities",
        Opportunity,
        r.OpportunityRow,
        ("opportunity_id",),
        {"account_id": "accounts", "product_id": "products"},
    ),
    TableSpec("contracts", Contract, r.ContractRow, ("contract_id",), {"account_id": "accounts"}),
    TableSpec(
        "surveys",
        Survey,
        r.SurveyRow,
        ("response_id",),
        {"account_id": "accounts", "contact_id": "contacts"},
    ),
    TableSpec("tickets", Ticket, r.TicketRow, ("ticket_id",), {"account_id": "accounts"}),
    TableSpec(
        "activities",
        Activity,
        r.ActivityRow,
        ("activity_id",),
        {"account_id": "accounts", "contact_id": "contacts", "user_id": "users"},
    ),
    TableSpec(
        "customer_kpis",
        CustomerKpi,
        r.CustomerKpiRow,
        ("account_id", "kpi_name", "period_end"),
        {"account_id": "accounts"},
    ),
    TableSpec("value_factors", ValueFactor, r.ValueFactorRow, ("factor",)),
    TableSpec(
        "account_scores",
        AccountScore,
        r.AccountScoreRow,
        ("account_id", "factor", "scored_on"),
        {"account_id": "accounts", "factor": "value_factors"},
    ),
)
SPECS = {spec.name: spec for spec in TABLES}


@dataclass(frozen=True)
class Limits:
    """Sanity ranges for imported values; a value outside them is a typo until said otherwise.

    A date must lie within its column's window (store/rows.py): from so many years before the
    as-of date (`as_of`, else `today`) to so many years after `today`; orders, for example,
    from 20 years back to one year ahead. `any_date` (`kam import --allow-any-date`) widens
    every window to ANY_DATE.
    """

    today: date
    as_of: date | None = None
    any_date: bool = False
    max_amount_cents: int = MAX_AMOUNT_CENTS

    def date_range(self, window: r.DateWindow) -> tuple[date, date]:
        if self.any_date:
            return ANY_DATE
        back, ahead = window
        return _years_later(self.as_of or self.today, -back), _years_later(self.today, ahead)


def _years_later(day: date, years: int) -> date:
    """The same calendar day `years` later; 29 February becomes 28 February.

    tools.periods.shift_years does the same, but store/ may not import tools/.
    """
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class ImportIssue:
    file: str
    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: {self.column}: {self.message}" if self.column else f"{where}: {self.message}"
        )


class ImportFailed(Exception):
    """Validation failed; nothing was written. `errors` holds every problem found."""

    def __init__(self, errors: Sequence[ImportIssue], warnings: Sequence[ImportIssue] = ()):
        self.errors = list(errors)
        self.warnings = list(warnings)
        shown = "\n".join(str(e) for e in self.errors[:MAX_REPORTED_ERRORS])
        more = len(self.errors) - MAX_REPORTED_ERRORS
        suffix = f"\n... and {more} more errors" if more > 0 else ""
        super().__init__(
            f"{len(self.errors)} error(s); nothing was imported. Fix them and run the import "
            f"again:\n{shown}{suffix}"
        )


@dataclass
class TableResult:
    """One file's rows: new, stored before with other values (updated), or as stored."""

    table: str
    file: str
    rows: int
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportReport:
    tables: list[TableResult]
    warnings: list[ImportIssue]
    # Seconds spent in the writing transaction (the rest of an import reads and checks).
    write_seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(t.rows for t in self.tables)


@dataclass
class _Parsed:
    """The valid rows of one file (and their lines) after checking it on its own."""

    spec: TableSpec
    file: str
    rows: list[dict]
    lines: list[int]
    # No error in the file: checks of the file as a whole (weights) are meaningful.
    complete: bool = True
    # Ids of rows that were rejected: other files may still refer to them without an error.
    rejected_ids: set[str] = field(default_factory=set)


def collect_files(paths: Iterable[Path]) -> tuple[dict[str, Path], list[ImportIssue]]:
    """Map table names to files; a directory contributes every `.csv` file in it.

    A file whose name is not a table is an error, so a misspelt `order.csv` is
    reported instead of silently skipped.
    """
    found: dict[str, Path] = {}
    errors: list[ImportIssue] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            candidates = sorted(path.glob("*.csv"))
            if not candidates:
                errors.append(ImportIssue(str(path), None, None, "no <table>.csv files here"))
        elif path.is_file():
            candidates = [path]
        else:
            errors.append(ImportIssue(str(path), None, None, "no such file or directory"))
            continue
        for file in candidates:
            if file.stem not in SPECS:
                errors.append(
                    ImportIssue(
                        file.name,
                        None,
                        None,
                        f"unknown table '{file.stem}'; name the file after one of: "
                        + ", ".join(SPECS),
                    )
                )
            elif file.stem in found and found[file.stem].resolve() != file.resolve():
                errors.append(ImportIssue(file.name, None, None, "given twice in one import"))
            else:
                found[file.stem] = file
    return found, errors


def read_text(path: Path) -> str:
    """Decode UTF-8 (with or without BOM); raise ValueError naming the first bad byte."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ValueError(
            f"not UTF-8 (byte 0x{data[exc.start]:02x} on line {line}); "
            "save the file as UTF-8 and import again"
        ) from None


def _describe(err: ErrorDetails) -> str:
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    if kind == "missing":
        return "required value missing"
    if kind.startswith(("date_", "datetime_")):
        return f"invalid date {value!r}; use YYYY-MM-DD"
    if kind == "int_parsing" or kind == "int_from_float":
        return f"not a whole number: {value!r}"
    if kind in {"float_parsing", "finite_number"}:
        return f"not a number: {value!r}"
    if kind == "literal_error":
        return f"unknown value {value!r}; expected one of {ctx.get('expected', '')}"
    if kind in {"greater_than_equal", "greater_than", "less_than_equal", "less_than"}:
        bound = {
            "greater_than_equal": "at least",
            "greater_than": "more than",
            "less_than_equal": "at most",
            "less_than": "less than",
        }[kind]
        limit = next(iter(ctx.values()), "")
        return f"{value!r} is out of range: must be {bound} {limit}"
    if kind == "string_pattern_mismatch":
        return f"not an amount: {value!r}; use digits with at most 2 decimals, e.g. 1234.50"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"])).removeprefix("Value error, ")
    if kind in {"string_too_short", "string_too_long"}:
        return err["msg"].lower()
    return err["msg"]


def parse_file(
    spec: TableSpec, path: Path, progress: Progress | None = None, limits: Limits | None = None
) -> tuple[_Parsed | None, list[ImportIssue], list[ImportIssue]]:
    """Read and validate one CSV file. Returns (parsed or None, errors, warnings).

    The parsed rows are the rows without an error, so that the checks across files still
    run on them; None when the file has no rows or cannot be read at all.
    """
    name = path.name
    try:
        text = read_text(path)
    except ValueError as exc:
        return None, [ImportIssue(name, None, None, str(exc))], []
    if not text.strip():
        return None, [ImportIssue(name, None, None, "file is empty; expected a header row")], []

    errors: list[ImportIssue] = []
    warnings: list[ImportIssue] = []
    with _field_size_limit(MAX_FIELD_CHARS):
        read = _read_rows(spec, name, text, progress, errors, warnings)
    if read is None:
        return None, errors, warnings
    raw, lines = read
    if not raw and not errors:
        warnings.append(ImportIssue(name, None, None, "header only, no data rows"))
        return None, errors, warnings

    rows, valid_lines, rejected = _validate(spec.row, raw, lines, name, errors)
    if progress:
        progress(name, len(raw), len(raw))
    _check_ranges(spec.row, rows, valid_lines, name, limits or Limits(date.today()), errors)
    _check_duplicates(spec, raw, lines, name, errors)
    key = spec.id_column
    rejected_ids = {str(raw[i].get(key, "")).strip() for i in rejected} if key else set()
    errors.sort(key=lambda issue: issue.line or 0)  # stable: per line in the order found
    return _Parsed(spec, name, rows, valid_lines, not errors, rejected_ids), errors, warnings


@contextmanager
def _field_size_limit(chars: int) -> Iterator[None]:
    """Let the csv reader refuse longer values itself: no cost per row, and the line is known.

    The limit is process-wide (131,072 characters by default), so it is restored afterwards.
    """
    previous = csv.field_size_limit(chars)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _csv_problem(exc: csv.Error) -> str:
    if "field limit" in str(exc):
        return f"a value is longer than {MAX_FIELD_CHARS:,} characters"
    return f"not readable as CSV: {exc}"


def _read_rows(
    spec: TableSpec,
    name: str,
    text: str,
    progress: Progress | None,
    errors: list[ImportIssue],
    warnings: list[ImportIssue],
) -> tuple[list[dict], list[int]] | None:
    """The data rows as {column: value} (empty values left out) with their physical lines;
    None when the header or the size of the file rules out reading the rows."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as exc:
        errors.append(ImportIssue(name, 1, None, _csv_problem(exc)))
        return None
    fields = spec.row.model_fields
    required = [n for n, f in fields.items() if f.is_required()]
    seen: set[str] = set()
    for column in header:
        if column in seen:
            errors.append(ImportIssue(name, 1, column, "column appears twice in the header"))
        seen.add(column)
    for column in required:
        if column not in seen:
            errors.append(ImportIssue(name, 1, column, "required column missing"))
    for column in header:
        if column and column not in fields:
            warnings.append(ImportIssue(name, 1, column, "unknown column, ignored"))
    if errors:
        return None

    known = [(i, c) for i, c in enumerate(header) if c in fields]
    width = len(header)
    total = max(text.count("\n") - 1, 1)
    raw: list[dict] = []
    lines: list[int] = []
    while True:  # after a line it cannot read, the csv reader goes on with the next one
        try:
            for values in reader:
                if not values or (len(values) == 1 and not values[0].strip()):
                    continue
                if len(values) != width:
                    errors.append(
                        ImportIssue(
                            name,
                            reader.line_num,
                            None,
                            f"expected {width} fields, found {len(values)}",
                        )
                    )
                    continue
                raw.append({c: values[i] for i, c in known if values[i] != ""})
                lines.append(reader.line_num)
                if progress and len(raw) % 50_000 == 0:
                    progress(name, len(raw), total)
                if len(raw) > MAX_ROWS_PER_FILE:
                    errors.append(
                        ImportIssue(name, None, None, f"more than {MAX_ROWS_PER_FILE} rows")
                    )
                    return None
        except csv.Error as exc:
            errors.append(ImportIssue(name, reader.line_num, None, _csv_problem(exc)))
            continue
        return raw, lines


def _validate(
    model: type[r.Row], raw: list[dict], lines: list[int], name: str, errors: list[ImportIssue]
) -> tuple[list[dict], list[int], list[int]]:
    """Validate every row in pydantic-core; return the valid rows as database values, their
    lines, and the indexes of the rejected rows (each reported in `errors`)."""
    # `list[model]`, built at run time: to a type checker `model` is a variable, not a type.
    rows_type = cast("TypeForm[list[r.Row]]", GenericAlias(list, (model,)))
    adapter = TypeAdapter(rows_type)
    rejected: list[int] = []
    try:
        items = adapter.validate_python(raw)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            index = int(err["loc"][0])
            column = str(err["loc"][1]) if len(err["loc"]) > 1 else None
            if column is not None and column not in model.model_fields:
                column = None  # a nested location inside a union: report the field only
            errors.append(ImportIssue(name, lines[index], column, _describe(err)))
            rejected.append(index)
        # The other rows still take part in the checks across files (every error in one pass).
        bad = set(rejected)
        keep = [i for i in range(len(raw)) if i not in bad]
        raw, lines = [raw[i] for i in keep], [lines[i] for i in keep]
        items = adapter.validate_python(raw)
    rows = adapter.dump_python(items, by_alias=True)
    for column in model.amount_columns().values():
        for row in rows:
            if row[column] is not None:
                row[column] = r.to_cents(row[column])
    return rows, lines, sorted(set(rejected))


def _check_ranges(
    model: type[r.Row],
    rows: list[dict],
    lines: list[int],
    name: str,
    limits: Limits,
    errors: list[ImportIssue],
) -> None:
    """Dates within their windows and money within the cap: an order dated 9999-12-31 or
    9,999,999,999,999.99 is a typo, and would break the KPIs (overflow) if stored."""
    hint = "" if limits.any_date else "; check the year (kam import --allow-any-date accepts it)"
    for column, window in model.date_columns().items():
        low, high = limits.date_range(window)
        for index in _out_of_range(rows, column, low, high):
            value = rows[index][column]
            message = f"date {value} is out of range: must be from {low} to {high}{hint}"
            errors.append(ImportIssue(name, lines[index], column, message))
    cap = limits.max_amount_cents
    for column, db_column in model.amount_columns().items():
        for index in _out_of_range(rows, db_column, -cap, cap):
            cents = rows[index][db_column]
            bound = f"at most {_money(cap)}" if cents > 0 else f"at least {_money(-cap)}"
            message = (
                f"{_money(cents)} is out of range: must be {bound} (the KAM_MAX_AMOUNT setting)"
            )
            errors.append(ImportIssue(name, lines[index], column, message))


def _out_of_range(rows: list[dict], column: str, low, high) -> list[int]:
    """Indexes of the rows whose `column` lies outside [low, high] (empty values pass).

    Minimum and maximum first, in C: a file without a problem costs no Python call per row
    (measured: 0.34 s for the date and the two amounts of 1,900,000 order lines, under 1 %
    of their import).
    """
    present = [*filter(None, map(itemgetter(column), rows))]  # 0 is never out of range
    if not present or (low <= min(present) and max(present) <= high):
        return []
    return [
        i
        for i, row in enumerate(rows)
        if row[column] is not None and not low <= row[column] <= high
    ]


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _check_duplicates(
    spec: TableSpec, raw: list[dict], lines: list[int], name: str, errors: list[ImportIssue]
) -> None:
    single = len(spec.key) == 1  # the common case: the key itself, without a tuple per row
    keys: list = ([values.get(spec.key[0]) for values in raw] if single
                  else [tuple(values.get(k) for k in spec.key) for values in raw])
    if len(set(keys)) == len(keys):
        return
    first_line: dict[tuple, int] = {}
    for key, line in zip(keys, lines, strict=True):
        if key in first_line:
            label = str(key) if single else "/".join(str(k) for k in key)
            errors.append(
                ImportIssue(
                    name,
                    line,
                    spec.key[0] if len(spec.key) == 1 else None,
                    f"duplicate {'/'.join(spec.key)} {label!r} (first on line {first_line[key]})",
                )
            )
        else:
            first_line[key] = line


def _existing_ids(engine: Engine, spec: TableSpec) -> set[str]:
    with engine.connect() as conn:
        return _existing_ids_on(conn, spec)


def _existing_ids_on(conn: Connection, spec: TableSpec) -> set[str]:
    return set(conn.scalars(select(getattr(spec.model, spec.key[0]))))


def _check_foreign_keys(
    engine: Engine, parsed: dict[str, _Parsed], unreadable: set[str]
) -> list[ImportIssue]:
    """References to rows in neither the run nor the database. A reference to a table whose
    file could not be read is not checked: its ids are unknown, not missing."""
    errors: list[ImportIssue] = []
    known: dict[str, set[str]] = {}
    for item in parsed.values():
        for column, target in item.spec.foreign_keys.items():
            if target in unreadable:
                continue
            if target not in known:
                ids = _existing_ids(engine, SPECS[target])
                if target in parsed:
                    ids |= {row[SPECS[target].key[0]] for row in parsed[target].rows}
                    ids |= parsed[target].rejected_ids
                known[target] = ids
            ids = known[target]
            db_column = item.spec.row.model_fields[column].serialization_alias or column
            for row, line in zip(item.rows, item.lines, strict=True):
                value = row.get(db_column)
                if value is not None and value not in ids:
                    errors.append(
                        ImportIssue(item.file, line, column, f"unknown {target[:-1]} {value!r}")
                    )
    return errors


def _check_unique(engine: Engine, parsed: dict[str, _Parsed]) -> list[ImportIssue]:
    """Unique columns (a Slack user id) may not repeat in a file or take another row's value.

    A value held by another row in the database is refused even when that row is
    re-imported with a new value: rows are written one by one, so a swap within
    one import would violate the constraint half way.
    """
    errors: list[ImportIssue] = []
    for item in parsed.values():
        key = item.spec.id_column
        if key is None:  # unique columns are declared only on tables with a single-column id
            continue
        for column in item.spec.unique:
            model = item.spec.model
            with engine.connect() as conn:
                stmt = select(getattr(model, column), getattr(model, key))
                taken = {value: owner for value, owner in conn.execute(stmt)}
            first_line: dict[str, int] = {}
            for row, line in zip(item.rows, item.lines, strict=True):
                value = row.get(column)
                if value is None:
                    continue
                if value in first_line:
                    message = f"duplicate {column} {value!r} (first on line {first_line[value]})"
                elif taken.get(value, row[key]) != row[key]:
                    message = (
                        f"{column} {value!r} already belongs to {key} {taken[value]!r} "
                        "in the database"
                    )
                else:
                    first_line[value] = line
                    continue
                errors.append(ImportIssue(item.file, line, column, message))
    return errors


def _check_weights(parsed: dict[str, _Parsed]) -> list[ImportIssue]:
    item = parsed.get("value_factors")
    if item is None or not item.complete:
        return []
    total = sum(row["weight"] for row in item.rows)
    if abs(total - 1.0) > 0.001:
        return [
            ImportIssue(item.file, None, "weight", f"weights sum to {total:g}; they must sum to 1")
        ]
    return []


def _parents_first(item: _Parsed, column: str) -> list[dict]:
    """Order rows of a self-referencing table so that parents are written before children."""
    key = item.spec.key[0]
    in_file = {row[key] for row in item.rows}
    placed: set[str] = set()
    ordered: list[dict] = []
    pending = item.rows
    while pending:
        rest = [row for row in pending if row.get(column) in in_file and row[column] not in placed]
        ready = [
            row for row in pending if not (row.get(column) in in_file and row[column] not in placed)
        ]
        if not ready:
            raise ImportFailed(
                [ImportIssue(item.file, None, column, "circular references between rows")]
            )
        ordered.extend(ready)
        placed.update(row[key] for row in ready)
        pending = rest
    return ordered


@contextmanager
def _no_gc_pauses() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of small dicts are built.

    Rows hold no reference cycles; with the collector on, its repeated full
    passes over the growing heap take longer than parsing (measured: 3x).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def import_paths(
    engine: Engine,
    paths: Iterable[Path],
    progress: Progress | None = None,
    limits: Limits | None = None,
    reporting_currency: str = "EUR",
) -> ImportReport:
    """Validate every file, then upsert all of them in one transaction.

    `limits` default to today's (`Limits(date.today())`). Amounts are converted into
    `reporting_currency` (KAM_REPORTING_CURRENCY), the currency fx_rates.csv rates are in.
    Raises ImportFailed (nothing written) with every error of every file when any file has
    an error.
    """
    with _no_gc_pauses():
        return _import(engine, paths, progress, limits or Limits(date.today()), reporting_currency)


def _import(
    engine: Engine,
    paths: Iterable[Path],
    progress: Progress | None,
    limits: Limits,
    reporting_currency: str,
) -> ImportReport:
    files, errors = collect_files(paths)
    warnings: list[ImportIssue] = []
    parsed: dict[str, _Parsed] = {}
    unreadable: set[str] = set()
    for spec in TABLES:
        if spec.name not in files:
            continue
        item, file_errors, file_warnings = parse_file(spec, files[spec.name], progress, limits)
        errors.extend(file_errors)
        warnings.extend(file_warnings)
        if item is not None:
            parsed[spec.name] = item
        elif file_errors:
            unreadable.add(spec.name)
    # The checks across files run on the valid rows even when some file has errors, so a
    # date error in orders.csv does not hide an unknown account in contacts.csv.
    errors.extend(_check_foreign_keys(engine, parsed, unreadable))
    errors.extend(_check_unique(engine, parsed))
    errors.extend(_check_weights(parsed))
    with engine.connect() as conn:
        stored = Rates.load(conn, reporting_currency)
        changes = _currency_changes(conn, stored, parsed)
        rates = _with_run(stored, parsed)
        errors.extend(_check_rates(conn, rates, parsed, changes))
    if errors:
        raise ImportFailed(errors, warnings)
    started = time.perf_counter()
    tables = _write(engine, parsed, rates, changes.reconvert)
    return ImportReport(tables, warnings, time.perf_counter() - started)


@dataclass
class _CurrencyChanges:
    """Stored accounts whose currency this run changes (with their line in accounts.csv), and
    every stored account whose amounts must be converted again (currency or rates changed)."""

    lines: dict[str, int]
    reconvert: set[str]


def _with_run(stored: Rates, parsed: dict[str, _Parsed]) -> Rates:
    accounts = parsed["accounts"].rows if "accounts" in parsed else []
    fx = parsed["fx_rates"].rows if "fx_rates" in parsed else []
    return stored.updated(((row["account_id"], row["currency"]) for row in accounts), fx)


def _currency_changes(
    conn: Connection, stored: Rates, parsed: dict[str, _Parsed]
) -> _CurrencyChanges:
    lines: dict[str, int] = {}
    if "accounts" in parsed:
        item = parsed["accounts"]
        existing = _existing_ids_on(conn, SPECS["accounts"])
        for row, line in zip(item.rows, item.lines, strict=True):
            new = None if row["currency"] == stored.reporting else row["currency"]
            if row["account_id"] in existing and new != stored.currency_of(row["account_id"]):
                lines[row["account_id"]] = line
    changed: set[str] = set()
    for row in parsed["fx_rates"].rows if "fx_rates" in parsed else []:
        if stored.rate(row["currency"], row["month"]) != row["rate"]:
            changed.add(row["currency"])
    return _CurrencyChanges(lines, set(lines) | stored.accounts_in(changed))


def _check_rates(
    conn: Connection, rates: Rates, parsed: dict[str, _Parsed], changes: _CurrencyChanges
) -> list[ImportIssue]:
    """Rates are into the reporting currency, and every amount of an account in another
    currency, in the files or already stored, has a rate for its month."""
    errors: list[ImportIssue] = []
    if "fx_rates" in parsed:
        item = parsed["fx_rates"]
        for row, line in zip(item.rows, item.lines, strict=True):
            if row["currency"] == rates.reporting:
                errors.append(
                    ImportIssue(
                        item.file,
                        line,
                        "currency",
                        f"{rates.reporting} is the reporting currency (KAM_REPORTING_CURRENCY): "
                        "rates are into it, so it needs none; remove the line",
                    )
                )
    for table in CONVERSIONS:
        if table not in parsed or (table != "accounts" and not rates.billed_abroad):
            continue  # amounts of accounts in the reporting currency need no rate
        item = parsed[table]
        for row, line in zip(item.rows, item.lines, strict=True):
            currency = (
                row["currency"] if table == "accounts" else rates.currency_of(row["account_id"])
            )
            problem = rates.missing(table, row, currency)
            if problem:
                column = CONVERSIONS[table].date_column(row) or "currency"
                errors.append(ImportIssue(item.file, line, column, problem))
    errors.extend(_check_stored_amounts(conn, rates, parsed, changes.lines))
    return errors


def _check_stored_amounts(
    conn: Connection, rates: Rates, parsed: dict[str, _Parsed], lines: dict[str, int]
) -> list[ImportIssue]:
    """An account moved to another currency needs a rate for the month of each of its
    stored amounts too; reported on its line in accounts.csv."""
    errors: list[ImportIssue] = []
    for account_id, line in sorted(lines.items(), key=itemgetter(1)):
        currency = rates.currency_of(account_id)
        if currency is None:
            continue
        gaps: set[str] = set()
        for table in CONVERSIONS:
            if table == "accounts":
                continue
            for row in _stored_amounts(conn, table, account_id):
                if rates.missing(table, row, currency):
                    gaps.add(month_label(row[CONVERSIONS[table].date_column(row) or ""]))
        if gaps:
            months = ", ".join(sorted(gaps)[:12]) + (" …" if len(gaps) > 12 else "")
            errors.append(
                ImportIssue(
                    parsed["accounts"].file,
                    line,
                    "currency",
                    f"no {currency} rate for {months}, months of amounts already imported for "
                    f"{account_id}; {rates.coverage(currency)}: add the missing months",
                )
            )
    return errors


def _stored_amounts(conn: Connection, table_name: str, account_id: str) -> list[dict]:
    """The stored rows of one account in a money table: the date columns and local amounts
    the conversion needs, one row per distinct combination."""
    table = Base.metadata.tables[table_name]
    names = [
        n
        for n in ("order_date", "period_end", "start_date", "closed_on", "created_on")
        if n in table.c
    ]
    names += [local_column(c) for c in CONVERSIONS[table_name].columns]
    stmt = select(*(table.c[n] for n in names)).where(table.c.account_id == account_id).distinct()
    return [dict(row) for row in conn.execute(stmt).mappings()]


def _write(
    engine: Engine, parsed: dict[str, _Parsed], rates: Rates, reconverted: set[str]
) -> list[TableResult]:
    results = []
    dialect = engine.dialect.name
    with engine.begin() as conn:
        _begin_now(conn)
        _restore_indexes(conn)
        touched = _touched_accounts(conn, parsed)
        changed = set()  # tables this import wrote to (unchanged rows are not rewritten)
        for spec in TABLES:
            item = parsed.get(spec.name)
            if item is None:
                continue
            table = spec.table
            before = conn.execute(select(func.count()).select_from(table)).scalar_one()
            rows = item.rows
            self_ref = [c for c, t in spec.foreign_keys.items() if t == spec.name]
            if self_ref:
                rows = _parents_first(item, self_ref[0])
            if spec.name in CONVERSIONS:
                rates.fill(spec.name, rows)
            if dialect == "postgresql":
                if before == 0:
                    copy_into_empty(conn, table, rows)
                    written = len(rows)
                else:
                    written = copy_upsert(conn, table, spec.key, rows)
            else:
                with _secondary_indexes_deferred(conn, table, len(rows)):
                    written = execute_many(conn, upsert(table, spec.key, dialect), rows)
            if written:
                changed.add(spec.name)
            after = conn.execute(select(func.count()).select_from(table)).scalar_one()
            inserted = after - before
            results.append(TableResult(spec.name, item.file, len(rows), inserted,
                                       written - inserted, len(rows) - written))
        reconvert(conn, rates, reconverted)
        if touched is not None and reconverted:
            touched |= reconverted
        if "products" in changed or "orders" in changed or reconverted:
            refresh_order_aggregates(conn, touched, dialect)
    return results


def _begin_now(conn: Connection) -> None:
    """Open the transaction on the database before the first statement, so DDL is part of it.

    pysqlite opens its transaction lazily, at the first INSERT, UPDATE or DELETE: the DROP
    INDEX of a bulk load ran before that, in autocommit, and a `kill -9` of the import left
    the indexes dropped (issue 12). IMMEDIATE takes the write lock now, waiting up to the
    busy timeout, rather than failing when another writer commits between our reads and
    our first write.
    """
    if conn.dialect.name != "sqlite":
        return  # PostgreSQL runs DDL inside the transaction SQLAlchemy began
    if not getattr(conn.connection.driver_connection, "in_transaction", False):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _restore_indexes(conn: Connection) -> None:
    """Create any secondary index of an importable table that is missing (SQLite).

    A no-op on a healthy database; it repairs one left without its indexes by an import
    killed mid-load before the DDL became transactional. Not on PostgreSQL, whose DDL always
    was transactional, and where CREATE INDEX IF NOT EXISTS locks the table against writes
    until the import commits even when the index is there.
    """
    if conn.dialect.name != "sqlite":
        return
    for spec in TABLES:
        for index in Base.metadata.tables[spec.name].indexes:
            conn.execute(CreateIndex(index, if_not_exists=True))


@contextmanager
def _secondary_indexes_deferred(conn: Connection, table, rows: int) -> Iterator[None]:
    """For a bulk load into SQLite, drop the table's secondary indexes and build them again
    afterwards.

    Building an index once over sorted keys is cheaper than updating it row by row
    (measured: about 10 % of a 2,000,000-row orders import). Primary keys stay, as the
    upsert needs them. The DDL runs inside the import's transaction (`_begin_now`), so a
    failure or a `kill -9` leaves the indexes as they were. Not on PostgreSQL: DROP INDEX
    locks the table against readers until the import commits, and answers read while an
    import runs there (SQLite's single writer blocks them anyway).
    """
    indexes = list(table.indexes) if rows >= BULK_ROWS else []
    for index in indexes:
        conn.execute(DropIndex(index, if_exists=True))
    yield
    for index in indexes:
        conn.execute(CreateIndex(index, if_not_exists=True))


def _touched_accounts(conn, parsed: dict[str, _Parsed]) -> set[str] | None:
    """Accounts whose monthly aggregates an import changes (None: all of them).

    Read before writing: an order re-imported under another account changes
    the aggregate of the account it leaves too.
    """
    if "products" in parsed:  # a product may have moved to another product line
        return None
    if "orders" not in parsed:
        return set()
    rows = parsed["orders"].rows
    touched = {row["account_id"] for row in rows}
    if len(touched) > INCREMENTAL_AGGREGATE_LIMIT:
        return None
    for part in chunked([row["order_id"] for row in rows], 500):
        touched.update(
            conn.scalars(select(Order.account_id).where(Order.order_id.in_(part)).distinct())
        )
    return touched


def refresh_order_aggregates(conn, account_ids: set[str] | None, dialect: str) -> None:
    """Recompute the order aggregates of `account_ids` (of every account when None).

    `order_monthly` (per account, month and product line) is summed from order lines;
    `account_monthly` (per account and month) from the fresh `order_monthly` rows: under
    half as many rows to read (measured: 0.6 s instead of 1.8 s for 1.9 M order lines).
    """
    month = month_start(Order.order_date, dialect)
    by_line = (
        select(
            Order.account_id,
            month.label("month"),
            Product.product_line,
            func.sum(Order.revenue_cents),
            func.sum(Order.cost_cents),
            func.sum(Order.quantity),
            func.count(),
            func.sum(func.coalesce(Order.revenue_local_cents, Order.revenue_cents)),
            func.sum(func.coalesce(Order.cost_local_cents, Order.cost_cents)),
        )
        .join(Product, Product.product_id == Order.product_id)
        .group_by(Order.account_id, month, Product.product_line)
    )
    by_account = select(
        OrderMonthly.account_id,
        OrderMonthly.month,
        func.sum(OrderMonthly.revenue_cents),
        func.sum(OrderMonthly.cost_cents),
        func.sum(OrderMonthly.order_lines),
        func.sum(OrderMonthly.revenue_local_cents),
        func.sum(OrderMonthly.cost_local_cents),
    ).group_by(OrderMonthly.account_id, OrderMonthly.month)
    _refresh_aggregate(conn, OrderMonthly, by_line, Order.account_id, account_ids)
    _refresh_aggregate(conn, AccountMonthly, by_account, OrderMonthly.account_id, account_ids)


def _refresh_aggregate(
    conn,
    model: type[OrderMonthly] | type[AccountMonthly],
    aggregate: Select,
    source_account,
    account_ids: set[str] | None,
) -> None:
    """Replace the rows of `model` for `account_ids` (all rows when None, or when there are
    too many to go account by account) with `aggregate`, whose columns are the model's
    columns in order and whose `source_account` column is the account id it groups by."""
    columns = [column.name for column in model.__table__.columns]
    if account_ids is None or len(account_ids) > INCREMENTAL_AGGREGATE_LIMIT:
        table = Base.metadata.tables[model.__tablename__]
        first = conn.dialect.name == "postgresql" and is_empty(conn, table)
        conn.execute(delete(model))
        with first_load(conn, table) if first else nullcontext():
            conn.execute(insert(model).from_select(columns, aggregate))
        return
    for part in chunked(sorted(account_ids), 500):
        conn.execute(delete(model).where(model.account_id.in_(part)))
        conn.execute(
            insert(model).from_select(columns, aggregate.where(source_account.in_(part)))
        )
