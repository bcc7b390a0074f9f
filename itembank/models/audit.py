"""The append-only audit ledger: each event holds the hash of the one before it."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from itembank.models.base import created_at_field


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"

    seq: int = Field(primary_key=True)
    at: datetime = created_at_field()
    actor: str = Field(max_length=120)
    action: str = Field(max_length=80, index=True)
    entity_type: str = Field(max_length=40, index=True)
    entity_id: str = Field(max_length=120, index=True)
    payload_hash: str = Field(max_length=64)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    """One row: the ledger's last sequence number and hash, locked by every append."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = Field(default="0" * 64, max_length=64)
