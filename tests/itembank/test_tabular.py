"""Table layouts that would lose or misplace cells unseen are refused, naming the row and column."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from itembank.errors import ValidationError
from itembank.tabular import read_frame, read_rows


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "items.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _xlsx(tmp_path: Path, *rows: tuple[object, ...]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(list(row))
    path = tmp_path / "items.xlsx"
    workbook.save(path)
    return path


@pytest.mark.parametrize("read", [read_rows, read_frame], ids=["rows", "frame"])
def test_a_csv_row_longer_than_the_header_is_refused_naming_row_and_cell(tmp_path: Path, read) -> None:
    path = _csv(tmp_path, "item_id,points\nI1,1\nI2,2,stray\n")
    with pytest.raises(ValidationError) as caught:
        read(path)
    assert "第 3 行" in str(caught.value) and "第 3 列（C）" in str(caught.value) and "'stray'" in str(caught.value)
    assert caught.value.details == [{"row": 3, "column": 3}]


@pytest.mark.parametrize("read", [read_rows, read_frame], ids=["rows", "frame"])
def test_a_csv_header_naming_a_column_twice_is_refused(tmp_path: Path, read) -> None:
    path = _csv(tmp_path, "item_id,points,points\nI1,1,2\n")
    with pytest.raises(ValidationError) as caught:
        read(path)
    assert caught.value.field == "points"
    assert "第 2 列（B）" in str(caught.value) and "第 3 列（C）" in str(caught.value)


@pytest.mark.parametrize("read", [read_rows, read_frame], ids=["rows", "frame"])
def test_data_under_a_blank_csv_header_is_refused(tmp_path: Path, read) -> None:
    path = _csv(tmp_path, "item_id,,points\nI1,,1\nI2,x,2\n")
    with pytest.raises(ValidationError) as caught:
        read(path)
    assert "第 2 列（B）没有列名" in str(caught.value) and "第 3 行" in str(caught.value)


def test_blank_trailing_cells_and_empty_unnamed_columns_pass_without_shifting(tmp_path: Path) -> None:
    """A trailing comma on the first data row made pandas take item_id as the index, shifting every column."""
    path = _csv(tmp_path, " item_id ,points,\nI1,1,\nI2,2\n")
    frame = read_frame(path)
    assert list(frame.columns) == ["item_id", "points"]
    assert frame["item_id"].tolist() == ["I1", "I2"] and frame["points"].tolist() == [1, 2]
    assert read_rows(path) == [(2, {"item_id": "I1", "points": "1"}), (3, {"item_id": "I2", "points": "2"})]


def test_an_excel_cell_under_a_blank_header_is_refused(tmp_path: Path) -> None:
    path = _xlsx(tmp_path, ("item_id", "points", None, "element"), ("I1", 1, None, "A-A-001"), ("I2", 1, "x", "A-A-001"))
    with pytest.raises(ValidationError) as caught:
        read_rows(path)
    assert "第 3 列（C）没有列名" in str(caught.value) and "第 3 行" in str(caught.value)
    assert caught.value.details == [{"row": 3, "column": 3}]


def test_an_excel_header_naming_a_column_twice_is_refused(tmp_path: Path) -> None:
    path = _xlsx(tmp_path, ("item_id", "stem", "stem"), ("I1", "a", "b"))
    with pytest.raises(ValidationError) as caught:
        read_rows(path)
    assert caught.value.field == "stem"


def test_an_excel_sheet_with_an_empty_unnamed_column_reads(tmp_path: Path) -> None:
    path = _xlsx(tmp_path, ("item_id", None, "points"), ("I1", None, 1))
    assert read_rows(path) == [(2, {"item_id": "I1", "points": 1})]
