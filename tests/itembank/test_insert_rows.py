"""``db.insert_rows`` stores what the ORM would: JSON, floats, times and NULLs, on COPY and executemany alike."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from itembank.db import insert_rows, transaction
from itembank.models import Item, ItemVersion
from itembank.models.base import as_utc


def _version(item_id: int, version: int, options: dict | None, difficulty: int | None) -> dict:
    return {
        "item_id": item_id, "version": version, "type": "single_choice", "element": "A-A-001", "points": 1.5,
        "stem": "关于职业道德的说法，正确的是（ ）。\t含制表符\\与反斜杠", "options": options, "key": "B",
        "rubric": None, "difficulty": difficulty, "content_hash": "0" * 64, "created_by": "writer",
        "created_at": datetime(2026, 5, 1, 8, 30, tzinfo=UTC),
    }


def test_rows_read_back_as_the_orm_wrote_them(engine: Engine) -> None:
    options = {"A": "甲", "B": "乙 \"引号\"", "C": "换\n行"}
    with transaction(engine) as session:
        item = Item(external_id="I-1", occupation_code="4-07-03-04", level=3)
        session.add(item)
        session.flush()
        assert item.id is not None
        insert_rows(session, ItemVersion, [_version(item.id, 1, options, 3), _version(item.id, 2, None, None)])
        insert_rows(session, ItemVersion, [])
    with transaction(engine) as session:
        first, second = session.exec(select(ItemVersion).order_by(col(ItemVersion.version))).all()
    assert first.options == options
    assert second.options is None  # a JSON null, as the ORM stores None in a NOT NULL JSON column
    assert (first.points, first.difficulty, second.difficulty) == (1.5, 3, None)
    assert first.stem == _version(0, 1, None, None)["stem"]
    assert as_utc(first.created_at) == datetime(2026, 5, 1, 8, 30, tzinfo=UTC)
