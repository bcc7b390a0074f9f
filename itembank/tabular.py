"""Reading and writing flat tables (CSV and Excel) row by row, keeping the row numbers users see.

A table is a file on disk (the CLI) or a binary stream with its file name (an upload or a download
over HTTP, kept in memory). Both go through the same parsers and writers, which work on binary
streams, so the command line and the API can never read a file differently.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Literal

import pandas as pd

from itembank.errors import ValidationError
from itembank.records import RowProblem, raise_for_problems

TableFormat = Literal["csv", "xlsx"]
Rows = list[tuple[int, dict[str, Any]]]
FORMATS: dict[str, TableFormat] = {".csv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx"}


def read_frame(path: Path, field: str = "path") -> pd.DataFrame:
    """A whole ``.csv`` or ``.parquet`` table as a DataFrame (the pure-mode CLI's item tables and
    response logs), ids kept as text."""
    if not path.exists():
        raise ValidationError(f"{path} does not exist", field=field)
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path, dtype={"item_id": str, "person_id": str})
    raise ValidationError(f"{path.name}: expected .csv or .parquet", field=field)


def table_format(name: str, field: str = "path") -> TableFormat:
    """The format a file name's extension names; anything but .csv or .xlsx is refused."""
    found = FORMATS.get(Path(name).suffix.lower())
    if found is None:
        raise ValidationError(f"{Path(name).name}: expected a .csv or .xlsx file", field=field)
    return found


def read_rows(source: str | Path | IO[bytes], name: str | None = None) -> Rows:
    """Rows of a ``.csv`` or ``.xlsx`` table as (row number as shown in the file, {header: value}).

    ``source`` is a path, or a binary stream with its file ``name`` (an upload, parsed where it is
    and never written anywhere): the name's extension says which format to parse.
    """
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.exists():
            raise ValidationError(f"file {path} does not exist", field="path")
        table = table_format(path.name)
        with path.open("rb") as handle:
            return _read(handle, table, path.name, "path")
    if name is None:
        raise TypeError("a stream needs its file name: the extension says its format")
    return _read(source, table_format(name, "file"), name, "file")


def _read(handle: IO[bytes], table: TableFormat, name: str, field: str) -> Rows:
    """Parse, refusing a file that is not what its name says with a message naming the file."""
    if table == "csv":
        try:
            rows = list(_csv_rows(handle))
        except UnicodeDecodeError as exc:
            raise ValidationError(f"{name} is not UTF-8 text: save it as CSV UTF-8 or as .xlsx", field=field) from exc
        except csv.Error as exc:
            raise ValidationError(f"{name} is not a readable CSV file ({exc})", field=field) from exc
    else:
        try:
            rows = list(_excel_rows(handle))
        except Exception as exc:  # openpyxl fails on a damaged workbook with whatever its zip or XML reading hits
            raise ValidationError(f"{name} is not a readable Excel workbook", field=field) from exc
    # No field of the bank has a use for NUL, and PostgreSQL text cannot store it.
    raise_for_problems([RowProblem(number, column, "holds a NUL character")
                        for number, row in rows for column, value in row.items()
                        if isinstance(value, str) and "\x00" in value])
    return rows


def _csv_rows(handle: IO[bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    try:
        for number, row in enumerate(csv.DictReader(text), start=2):
            if any((v or "").strip() for v in row.values() if isinstance(v, str)):
                yield number, dict(row)
    finally:
        text.detach()  # the caller owns the stream


def _excel_rows(handle: IO[bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook

    workbook = load_workbook(handle, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            return
        names = [str(h).strip() if h is not None else "" for h in header]
        for number, values in enumerate(rows, start=2):
            if values is None or all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            yield number, {name: value for name, value in zip(names, values, strict=False) if name}
    finally:
        workbook.close()


def write_rows(target: str | Path | IO[bytes], columns: Sequence[str], rows: Sequence[dict[str, Any]],
               name: str | None = None) -> None:
    """Write rows as ``.csv`` (UTF-8 with BOM so Excel shows Chinese) or ``.xlsx``, to a path or to a
    binary stream with the file ``name`` it will carry (a download)."""
    if isinstance(target, str | Path):
        path = Path(target)
        table = table_format(path.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            _write(handle, table, columns, rows)
        return
    if name is None:
        raise TypeError("a stream needs its file name: the extension says its format")
    _write(target, table_format(name, "file"), columns, rows)


def _write(handle: IO[bytes], table: TableFormat, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    if table == "csv":
        text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
        try:
            writer = csv.DictWriter(text, fieldnames=list(columns))
            writer.writeheader()
            for row in rows:
                writer.writerow({c: row.get(c) for c in columns})
        finally:
            text.detach()  # flushes; the caller owns the stream
        return
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("items")
    sheet.append(list(columns))
    for row in rows:
        sheet.append([row.get(c) for c in columns])
    workbook.save(handle)
