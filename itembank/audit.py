"""The tamper-evident audit ledger: append inside the caller's transaction, verify the chain.

Each event's hash covers its own fields and the previous event's hash, so editing, deleting or
inserting a row behind the application's back breaks the chain at that row. The head row is locked
(``SELECT ... FOR UPDATE`` on PostgreSQL) so concurrent appends serialise instead of forking.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, update
from sqlmodel import Session, col, select

from itembank.db import insert_rows
from itembank.hashing import content_hash
from itembank.models import AuditEvent, AuditHead
from itembank.models.base import as_utc, utcnow

GENESIS = "0" * 64


_HASHED = ("seq", "at", "actor", "action", "entity_type", "entity_id", "payload_hash", "prev_hash")


def _event_hash(fields: Mapping[str, Any]) -> str:
    """The chain hash of one event, from its row (a mapping of the hashed columns)."""
    at = as_utc(fields["at"])
    return content_hash({**{name: fields[name] for name in _HASHED}, "at": at.isoformat() if at else None})


@dataclass(frozen=True)
class Entry:
    """One event to append: who did what to which entity, and what (hashed, never stored) it carried."""

    actor: str
    action: str
    entity_type: str
    entity_id: str | int
    payload: Any = None


_HEAD = AuditHead.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Head:
    """The ledger's last sequence number and hash, as read under the head lock."""

    seq: int
    hash: str


def lock_head(session: Session) -> Head:
    """The ledger head, locked for the rest of the caller's transaction (created on first use).

    Whoever holds it is the only writer of the ledger, so a check made after taking it sees every
    event appended before and none appended concurrently. Read and written as plain rows (no ORM
    object): every audited write takes it, and a pull batch's whole cost is a few statements.

    SQLite has no row locks: there a no-op write takes its one writer lock first (pysqlite begins the
    transaction at a transaction's first write, so reads before it see each commit, as under
    PostgreSQL's read committed). Without it the head was read before the writer lock, and of two
    writers at once (two processes, or the job pool beside the API) one failed on a duplicate
    sequence number after deciding on what the other was changing.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq))
    row = session.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()).first()
    if row is None:
        session.execute(insert(_HEAD).values(id=1, seq=0, hash=GENESIS))
        return Head(0, GENESIS)
    return Head(row.seq, row.hash)


def record_many(session: Session, entries: Sequence[Entry], head: Head | None = None) -> None:
    """Append events in order in the caller's transaction, taking the head lock once for all.

    ``head`` is the caller's own :func:`lock_head` result when it already holds the lock and has
    appended nothing since.
    """
    if not entries:
        return
    head = head or lock_head(session)
    seq, last_hash, at = head.seq, head.hash, utcnow()
    rows: list[dict[str, Any]] = []
    payload_hashes: dict[int, str] = {}  # by payload object: a pull storm repeats one per package
    for entry in entries:
        seq += 1
        payload_hash = payload_hashes.get(id(entry.payload)) or payload_hashes.setdefault(
            id(entry.payload), content_hash(entry.payload))
        row: dict[str, Any] = {
            "seq": seq, "at": at, "actor": entry.actor, "action": entry.action,
            "entity_type": entry.entity_type, "entity_id": str(entry.entity_id),
            "payload_hash": payload_hash, "prev_hash": last_hash,
        }
        row["hash"] = last_hash = _event_hash(row)
        rows.append(row)
    insert_rows(session, AuditEvent, rows)  # a pull storm appends hundreds per transaction
    session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(seq=seq, hash=last_hash))


def record(
    session: Session,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | int,
    payload: Any = None,
) -> None:
    """Append one event to the ledger in the caller's transaction."""
    record_many(session, [Entry(actor, action, entity_type, entity_id, payload)])


@dataclass(frozen=True)
class LedgerCheck:
    """Outcome of a ledger verification; ``first_bad`` is the sequence number where it breaks."""

    ok: bool
    events: int
    first_bad: int | None = None
    reason: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"audit ledger intact: {self.events} events, chain verified"
        return f"audit ledger BROKEN at event {self.first_bad}: {self.reason}"


def verify(session: Session, batch: int = 5000) -> LedgerCheck:
    """Recompute the whole chain in sequence order and report the first event that does not fit."""
    prev_hash, expected_seq, count, last = GENESIS, 1, 0, 0
    while True:
        rows = session.exec(
            select(AuditEvent).where(col(AuditEvent.seq) > last).order_by(col(AuditEvent.seq)).limit(batch)
        ).all()
        if not rows:
            break
        for event in rows:
            if event.seq != expected_seq:
                return LedgerCheck(False, count, expected_seq, f"event {expected_seq} is missing (next is {event.seq})")
            if event.prev_hash != prev_hash:
                return LedgerCheck(False, count, event.seq, "its previous-hash does not match the event before it")
            if _event_hash({name: getattr(event, name) for name in _HASHED}) != event.hash:
                return LedgerCheck(False, count, event.seq, "its content does not match its hash (edited)")
            prev_hash, expected_seq, count, last = event.hash, expected_seq + 1, count + 1, event.seq
    head = session.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)).first()
    if head is not None and (head.seq != count or head.hash != prev_hash):
        return LedgerCheck(False, count, count + 1 if head.seq > count else count, "the ledger head does not match the last event (events deleted at the end)")
    return LedgerCheck(True, count)
