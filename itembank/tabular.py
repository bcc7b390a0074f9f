"""Reading and writing flat tables (CSV and Excel) row by row, keeping the row numbers users see."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from itembank.errors import ValidationError


def read_rows(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """Rows of a ``.csv`` or ``.xlsx`` file as (row number as shown in the file, {header: value})."""
    path = Path(path)
    if not path.exists():
        raise ValidationError(f"file {path} does not exist", field="path")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return list(_csv_rows(path))
    if suffix in (".xlsx", ".xlsm"):
        return list(_excel_rows(path))
    raise ValidationError(f"{path.name}: expected a .csv or .xlsx file", field="path")


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        for number, row in enumerate(reader, start=2):
            if any((v or "").strip() for v in row.values() if isinstance(v, str)):
                yield number, dict(row)


def _excel_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
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


def write_rows(path: str | Path, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    """Write rows to ``.csv`` (UTF-8 with BOM so Excel shows Chinese) or ``.xlsx``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        with path.open("w", newline="", encoding="utf-8-sig") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(columns))
            writer.writeheader()
            for row in rows:
                writer.writerow({c: row.get(c) for c in columns})
        return
    if path.suffix.lower() == ".xlsx":
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("items")
        sheet.append(list(columns))
        for row in rows:
            sheet.append([row.get(c) for c in columns])
        workbook.save(path)
        return
    raise ValidationError(f"{path.name}: expected a .csv or .xlsx file", field="path")
