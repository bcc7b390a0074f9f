"""The ledger detects rows edited, deleted or inserted behind the application's back."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from itembank import audit
from itembank.db import transaction
from itembank.services.actors import Actor


def _ledger(engine: Engine, n: int = 6) -> None:
    with transaction(engine) as session:
        for i in range(n):
            audit.record(session, "tester", "test.write", "thing", i, {"value": i, "text": "中文"})


def _verify(engine: Engine) -> audit.LedgerCheck:
    with transaction(engine) as session:
        return audit.verify(session)


def test_intact_ledger_verifies(engine: Engine, staff: dict[str, Actor]) -> None:
    _ledger(engine)
    check = _verify(engine)
    assert check.ok and check.events == len(staff) + 6  # one event per user added, plus six


@pytest.mark.parametrize(
    ("tamper", "first_bad"),
    [
        ("update audit_events set actor = 'mallory' where seq = 3", 3),
        ("update audit_events set payload_hash = '{h}' where seq = 4", 4),
        ("delete from audit_events where seq = 2", 2),
        ("delete from audit_events where seq = (select max(seq) from audit_events)", 6),
        ("insert into audit_events (seq, at, actor, action, entity_type, entity_id, payload_hash, prev_hash, hash) "
         "select 100, at, actor, action, entity_type, entity_id, payload_hash, hash, hash from audit_events where seq = 6", 7),
    ],
)
def test_direct_database_edits_are_detected(engine: Engine, tamper: str, first_bad: int) -> None:
    _ledger(engine)
    assert _verify(engine).ok
    with engine.begin() as connection:
        connection.execute(text(tamper.format(h="f" * 64)))
    check = _verify(engine)
    assert not check.ok
    assert check.first_bad == first_bad, str(check)
