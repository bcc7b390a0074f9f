"""Imports are all-or-nothing with every bad row named; exports round-trip losslessly, Chinese intact."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import func, select

from itembank.db import transaction
from itembank.errors import ValidationError
from itembank.models import AuditEvent, Item, ItemVersion
from itembank.services import blueprints, transfer
from itembank.services.actors import Actor
from itembank.tabular import write_rows
from tests.conftest import item_row, small_blueprint_document

ELEMENTS = ["A-A-001", "A-A-002", "B-A-001", "B-B-001", "B-B-002"]


def _rows(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        row = item_row(i, ELEMENTS[i % len(ELEMENTS)])
        if i % 7 == 0:
            row.update(type="multiple_choice", key="A,C", option_E="戊", points=2)
        if i % 11 == 0:
            row.update(type="true_false", key="T", option_A=None, option_B=None, option_C=None, option_D=None)
        if i % 50 == 0:
            row.update(enemy_groups=f"E{i // 100}")
        if i % 40 == 1:
            row.update(set_id=f"S{i // 40}", stimulus="某公司2025年招聘情况如下……")
        rows.append(row)
    return rows


def _blueprint(engine: Engine, staff: dict[str, Actor]):
    with transaction(engine) as session:
        return blueprints.import_blueprint(session, staff["manager"], small_blueprint_document())


def _counts(engine: Engine) -> tuple[int, int, int]:
    with transaction(engine) as session:
        return (session.exec(select(func.count()).select_from(Item)).one(),
                session.exec(select(func.count()).select_from(ItemVersion)).one(),
                session.exec(select(func.count()).select_from(AuditEvent)).one())


def test_3000_item_excel_import_is_fast_and_complete(engine: Engine, staff: dict[str, Actor], tmp_path) -> None:
    bp = _blueprint(engine, staff)
    path = tmp_path / "items.xlsx"
    write_rows(path, transfer.FLAT_COLUMNS, _rows(3000))
    started = time.perf_counter()
    with transaction(engine) as session:
        stored = transfer.import_items_file(session, staff["writer"], bp, path)
    elapsed = time.perf_counter() - started
    assert len(stored.items) == 3000 and stored.warnings == []
    assert elapsed < 10.0, f"3,000-item Excel import took {elapsed:.1f} s (limit 10 s)"
    assert _counts(engine)[:2] == (3000, 3000)


def test_three_bad_rows_store_nothing_and_are_all_named(engine: Engine, staff: dict[str, Actor], tmp_path) -> None:
    bp = _blueprint(engine, staff)
    rows = _rows(300)
    rows[10]["key"] = "Z"                 # file row 12
    rows[100]["element"] = "Q-Q-999"      # file row 102: not in the blueprint
    rows[200]["points"] = "很多"           # file row 202
    path = tmp_path / "bad.csv"
    write_rows(path, transfer.FLAT_COLUMNS, rows)
    before = _counts(engine)
    with pytest.raises(ValidationError) as caught, transaction(engine) as session:
        transfer.import_items_file(session, staff["writer"], bp, path)
    assert sorted({d["row"] for d in caught.value.details}) == [12, 202]  # schema problems come first
    assert "row 12, column 'options'" not in str(caught.value)
    assert _counts(engine) == before
    rows[10]["key"], rows[200]["points"] = "B", 1
    write_rows(path, transfer.FLAT_COLUMNS, rows)
    with pytest.raises(ValidationError, match=r"row 102, column 'element': 'Q-Q-999' is not an element"), transaction(engine) as session:
        transfer.import_items_file(session, staff["writer"], bp, path)
    assert _counts(engine) == before


def test_a_misspelt_enemy_column_refuses_the_file_and_stores_nothing(engine: Engine, staff: dict[str, Actor],
                                                                     tmp_path) -> None:
    """``enemy_group`` used to be accepted with every enemy pair dropped."""
    bp = _blueprint(engine, staff)
    path = tmp_path / "enemies.csv"
    columns = [("enemy_group" if c == "enemy_groups" else c) for c in transfer.FLAT_COLUMNS]
    write_rows(path, columns, [{**row, "enemy_group": row["enemy_groups"]} for row in _rows(120)])
    before = _counts(engine)
    with pytest.raises(ValidationError) as caught, transaction(engine) as session:
        transfer.import_items_file(session, staff["writer"], bp, path)
    assert caught.value.field == "enemy_group"
    assert caught.value.details == [{"column": "enemy_group", "suggestion": "enemy_groups"}]
    assert str(caught.value).startswith("导入文件的列 enemy_group 未识别，是否应为 enemy_groups？")
    assert _counts(engine) == before


def test_an_unknown_column_is_ignored_with_a_warning(engine: Engine, staff: dict[str, Actor], tmp_path) -> None:
    bp = _blueprint(engine, staff)
    path = tmp_path / "noted.xlsx"
    write_rows(path, [*transfer.FLAT_COLUMNS, "备注", "note"], [{**row, "备注": "待复核", "note": "x"} for row in _rows(30)])
    with transaction(engine) as session:
        imported = transfer.import_items_file(session, staff["writer"], bp, path)
    assert len(imported.items) == 30
    assert imported.warnings == ["导入文件的列 备注 未识别，已忽略", "导入文件的列 note 未识别，已忽略"]
    assert _counts(engine)[:2] == (30, 30)


@pytest.mark.parametrize("table", ["csv", "xlsx"])
def test_an_export_reads_back_without_a_warning(engine: Engine, staff: dict[str, Actor], tmp_path, table: str) -> None:
    from itembank.records import known_columns
    from itembank.tabular import read_rows

    bp = _blueprint(engine, staff)
    path = tmp_path / "in.csv"
    write_rows(path, transfer.FLAT_COLUMNS, _rows(40))
    out = tmp_path / f"out.{table}"
    with transaction(engine) as session:
        transfer.import_items_file(session, staff["writer"], bp, path)
        transfer.export_file(session, staff["writer"], out).save(out)
    rows, unknown = known_columns(read_rows(out))
    assert unknown == [] and len(rows) == 40
    assert {"status", "version"}.isdisjoint(rows[0][1])  # the export's bookkeeping is not imported


def test_all_three_bad_rows_named_in_one_error(tmp_path) -> None:
    from itembank.records import validate_rows

    rows = _rows(50)
    rows[3]["key"] = "Z"
    rows[20]["points"] = -1
    rows[40]["type"] = "essay"
    _, problems = validate_rows(enumerate(rows, start=2))
    assert [(p.row, p.column) for p in problems] == [(5, "(row)"), (22, "points"), (42, "type")]


def test_csv_round_trip_keeps_chinese(engine: Engine, staff: dict[str, Actor], tmp_path) -> None:
    bp = _blueprint(engine, staff)
    path = tmp_path / "in.csv"
    write_rows(path, transfer.FLAT_COLUMNS, _rows(40))
    with transaction(engine) as session:
        transfer.import_items_file(session, staff["writer"], bp, path)
        out = tmp_path / "out.csv"
        transfer.export_file(session, staff["writer"], out).save(out)
    text = out.read_text(encoding="utf-8-sig")
    assert "关于职业道德的说法" in text and "某公司2025年招聘情况如下" in text


def test_whole_bank_json_round_trip_is_lossless(backend: str, tmp_path, engine: Engine, staff: dict[str, Actor]) -> None:
    from sqlmodel import SQLModel

    from tests.conftest import new_engine

    bp = _blueprint(engine, staff)
    path = tmp_path / "in.csv"
    write_rows(path, transfer.FLAT_COLUMNS, _rows(60))
    with transaction(engine) as session:
        transfer.import_items_file(session, staff["writer"], bp, path)
        first = transfer.export_bank(session)
    other, dispose = new_engine(backend, tmp_path)
    try:
        SQLModel.metadata.create_all(other)
        with transaction(other) as session:
            transfer.import_bank(session, staff["manager"], first)
        with transaction(other) as session:
            second = transfer.export_bank(session)
    finally:
        dispose()
    assert second == first
    assert any("中文" in v["stem"] or "职业道德" in v["stem"] for i in second["items"] for v in i["versions"])


@pytest.mark.parametrize("table", ["csv", "xlsx"])
def test_every_option_an_item_holds_is_exported_and_imported_back(
        engine: Engine, staff: dict[str, Actor], tmp_path, table: str) -> None:
    """An export wrote option_A–E only: an eight-option item lost F–H, and with a key among them its
    export did not even import back."""
    from itembank.tabular import read_rows

    bp = _blueprint(engine, staff)
    options = dict(zip("ABCDEFGH", ["甲", "乙", "丙", "丁", "戊", "己", "庚", "辛"], strict=True))
    wide = item_row(1, ELEMENTS[0]) | {"type": "multiple_choice", "key": "B,H", "points": 2} | {
        f"option_{letter}": text for letter, text in options.items()}
    columns = transfer.flat_columns([wide])
    assert columns[5:13] == [f"option_{letter}" for letter in "ABCDEFGH"]
    path = tmp_path / "in.csv"
    write_rows(path, columns, [wide, item_row(2, ELEMENTS[1])])
    out, again = tmp_path / f"out.{table}", tmp_path / f"again.{table}"
    with transaction(engine) as session:
        transfer.import_items_file(session, staff["writer"], bp, path)
        transfer.export_file(session, staff["writer"], out).save(out)
    exported = [row | {"external_id": f"R-{row['external_id']}"} for _, row in read_rows(out)]
    write_rows(again, list(exported[0]), exported)
    with transaction(engine) as session:  # the export imports back, under new ids, with all eight options
        imported = transfer.import_items_file(session, staff["writer"], bp, again)
        assert imported.warnings == []
        ids = {item.external_id: item.id for item in imported.items}
        wide_again = session.exec(select(ItemVersion).where(ItemVersion.item_id == ids[f"R-{wide['external_id']}"])).one()
    assert len(ids) == 2
    assert wide_again.options == options and wide_again.key == "BH"
