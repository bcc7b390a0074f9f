"""Papers drawn from the bank, their assembly runs, sealed packages and handovers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlmodel import Field, SQLModel

from itembank.models.base import created_at_field, datetime_field, json_field


class PaperStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SEALED = "sealed"
    RELEASED = "released"
    ADMINISTERED = "administered"
    ARCHIVED = "archived"
    INVALIDATED = "invalidated"


class AssemblyRun(SQLModel, table=True):
    """One call of the assembler: the spec, the bank snapshot it saw and the solver's figures."""

    __tablename__ = "assembly_runs"

    id: int | None = Field(default=None, primary_key=True)
    spec_name: str = Field(max_length=200)
    spec: dict[str, Any] = json_field(dict)
    blueprint_id: int | None = Field(default=None, foreign_key="blueprints.id")
    bank_snapshot_hash: str = Field(max_length=64)
    status: str = Field(max_length=20)
    result: dict[str, Any] = json_field(dict)
    created_by: str = Field(max_length=120)
    created_at: datetime = created_at_field()


class Paper(SQLModel, table=True):
    __tablename__ = "papers"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=200)
    role: str = Field(sa_type=String(10), description="main | backup")
    status: str = Field(default=PaperStatus.DRAFT.value, sa_type=String(20), index=True)
    assembly_run_id: int | None = Field(default=None, foreign_key="assembly_runs.id", index=True)
    blueprint_id: int | None = Field(default=None, foreign_key="blueprints.id")
    total_points: float = 0.0
    duration_minutes: int = 90
    provenance: dict[str, Any] = json_field(dict)
    invalidated_scope: list[Any] = json_field(list)
    lock_version: int = 1
    created_by: str = Field(max_length=120)
    created_at: datetime = created_at_field()
    approved_by: str | None = Field(default=None, max_length=120)
    approved_at: datetime | None = datetime_field()


class PaperItem(SQLModel, table=True):
    __tablename__ = "paper_items"
    __table_args__ = (UniqueConstraint("paper_id", "item_id"),)

    paper_id: int = Field(foreign_key="papers.id", primary_key=True)
    position: int = Field(primary_key=True)
    item_id: int = Field(foreign_key="items.id", index=True)
    version: int
    section: str = Field(max_length=40)
    points: float


class SealedPaper(SQLModel, table=True):
    """A paper's encrypted, signed delivery package; the data key is stored wrapped."""

    __tablename__ = "sealed_papers"

    id: int | None = Field(default=None, primary_key=True)
    paper_id: int = Field(foreign_key="papers.id", index=True)
    package: dict[str, Any] = json_field(dict)
    wrapped_data_key: str
    content_hash: str = Field(max_length=64)
    not_before: datetime | None = datetime_field(nullable=False)
    not_after: datetime | None = datetime_field(nullable=False)
    engines: list[str] = json_field(list)
    variant_seed: int | None = None
    active: bool = True
    created_by: str = Field(max_length=120)
    created_at: datetime = created_at_field()


class Handover(SQLModel, table=True):
    """交接记录: each pull, key release and refusal, with the client, time and hash.

    ``paper_id`` is the paper the engine asked for, as asked (not a foreign key: a refusal of a paper
    id that does not exist is recorded too); ``sealed_id`` the package concerned, if there was one.
    """

    __tablename__ = "handovers"

    id: int | None = Field(default=None, primary_key=True)
    paper_id: int = Field(index=True)
    sealed_id: int | None = Field(default=None, foreign_key="sealed_papers.id", index=True)
    client: str = Field(max_length=120)
    action: str = Field(max_length=20, description="pull | key_release | refused")
    content_hash: str = Field(default="", max_length=64)
    detail: str = ""
    at: datetime = created_at_field()


class SigningKey(SQLModel, table=True):
    """The bank's Ed25519 key; the private half is stored wrapped by the master key."""

    __tablename__ = "signing_keys"

    id: int | None = Field(default=None, primary_key=True)
    key_id: str = Field(unique=True, max_length=64)
    public_key: str
    wrapped_private_key: str
    active: bool = True
    created_at: datetime = created_at_field()
