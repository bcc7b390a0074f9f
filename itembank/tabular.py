"""Reading and writing flat tables (CSV and Excel) row by row, keeping the row numbers users see.

A table is a file on disk (the CLI) or a binary stream with its file name (an upload or a download
over HTTP, kept in memory). Both go through the same parsers and writers, which work on binary
streams, so the command line and the API can never read a file differently.

Every reader here refuses a layout that would lose or misplace cells without a word: a header
naming one column twice (pandas would read the second as ``x.1``, a dict keeps only one), a cell
holding data under a blank header (Excel's ``Unnamed: 3``) and a row with more cells than the
header (a stray comma; pandas would even shift the whole table one column). Blank cells in such
places are harmless and pass.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
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
    response logs), ids kept as text, header names stripped of blanks."""
    if not path.exists():
        raise ValidationError(f"{path} does not exist", field=field)
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    if path.suffix.lower() == ".csv":
        names = _csv_layout(path, field)
        named = [position for position, column in enumerate(names) if column]
        try:
            # index_col=False with the positions: a trailing blank cell (checked above) must not shift the table
            frame = pd.read_csv(path, dtype={"item_id": str, "person_id": str}, index_col=False, usecols=named,
                                encoding="utf-8-sig")
        except (UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise ValidationError(f"{path.name} is not a readable UTF-8 CSV file ({exc})", field=field) from exc
        frame.columns = [names[position] for position in named]
        return frame
    raise ValidationError(f"{path.name}: expected .csv or .parquet", field=field)


def _csv_layout(path: Path, field: str) -> list[str]:
    """The header of a CSV file, after checking every row's cells against it (``_named``, ``_cells``)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as text:
            lines = csv.reader(text)
            names = _named(next(lines, []), path.name, field)
            for number, cells in enumerate(lines, start=2):
                _cells(names, number, cells, path.name, field)
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{path.name} is not UTF-8 text: save it as CSV UTF-8", field=field) from exc
    except csv.Error as exc:
        raise ValidationError(f"{path.name} is not a readable CSV file ({exc})", field=field) from exc
    return names


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
            rows = list(_csv_rows(handle, name, field))
        except UnicodeDecodeError as exc:
            raise ValidationError(f"{name} is not UTF-8 text: save it as CSV UTF-8 or as .xlsx", field=field) from exc
        except csv.Error as exc:
            raise ValidationError(f"{name} is not a readable CSV file ({exc})", field=field) from exc
    else:
        try:
            rows = list(_excel_rows(handle, name, field))
        except ValidationError:
            raise
        except Exception as exc:  # openpyxl fails on a damaged workbook with whatever its zip or XML reading hits
            raise ValidationError(f"{name} is not a readable Excel workbook", field=field) from exc
    # No field of the bank has a use for NUL, and PostgreSQL text cannot store it.
    raise_for_problems([RowProblem(number, column, "holds a NUL character")
                        for number, row in rows for column, value in row.items()
                        if isinstance(value, str) and "\x00" in value])
    return rows


def _csv_rows(handle: IO[bytes], name: str, field: str) -> Iterator[tuple[int, dict[str, Any]]]:
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    try:
        lines = csv.reader(text)
        yield from _records(next(lines, []), enumerate(lines, start=2), name, field)
    finally:
        text.detach()  # the caller owns the stream


def _excel_rows(handle: IO[bytes], name: str, field: str) -> Iterator[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook

    workbook = load_workbook(handle, read_only=True, data_only=True)
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        yield from _records(next(rows, ()), enumerate(rows, start=2), name, field)
    finally:
        workbook.close()


def _records(header: Sequence[Any], rows: Iterable[tuple[int, Sequence[Any] | None]], name: str,
             field: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """The non-blank rows as {header: value}; a cell missing at a row's end reads as None."""
    names = _named(header, name, field)
    for number, cells in rows:
        if cells is not None and _cells(names, number, cells, name, field):
            yield number, {column: cells[position] if position < len(cells) else None
                           for position, column in enumerate(names) if column}


def _named(header: Sequence[Any], name: str, field: str) -> list[str]:
    """The header's names, stripped ("" for a blank cell); a name given twice is refused, naming it and both places."""
    names = ["" if cell is None else str(cell).strip() for cell in header]
    first: dict[str, int] = {}
    for position, column in enumerate(names):
        if column in first:
            raise ValidationError(
                f"{name} 的表头中列名 {column} 出现了两次（{_place(first[column])}和{_place(position)}）："
                f"无法确定该读哪一列，请删去重复的列或改名",
                field=column, details=[{"column": column, "positions": [first[column] + 1, position + 1]}])
        if column:
            first[column] = position
    return names


def _cells(names: Sequence[str], number: int, cells: Sequence[Any], name: str, field: str) -> bool:
    """Whether the row holds anything; data in a cell without a column name (blank header, or past the
    header's end) is refused, naming the row and the cell."""
    filled = [position for position, value in enumerate(cells) if not _blank(value)]
    for position in filled:
        if position >= len(names):
            raise ValidationError(
                f"{name} 第 {number} 行有 {len(cells)} 个单元格，多于表头的 {len(names)} 列："
                f"{_place(position)}的内容 {cells[position]!r} 没有列名，按原样会丢失（请检查该行是否多了分隔符）",
                field=field, details=[{"row": number, "column": position + 1}])
        if not names[position]:
            raise ValidationError(
                f"{name} 的{_place(position)}没有列名，但第 {number} 行在该列有内容 {cells[position]!r}："
                f"没有列名的内容按原样会丢失，请补上列名或删去该列",
                field=field, details=[{"row": number, "column": position + 1}])
    return bool(filled)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _place(position: int) -> str:
    """A 0-based cell position as users find it: 第 4 列（D）."""
    letters, rest = "", position + 1
    while rest:
        rest, letter = divmod(rest - 1, 26)
        letters = chr(ord("A") + letter) + letters
    return f"第 {position + 1} 列（{letters}）"


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
