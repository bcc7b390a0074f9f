"""Background jobs, response batches and incidents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlmodel import Field, SQLModel

from itembank.models.base import created_at_field, datetime_field, json_field


class Job(SQLModel, table=True):
    """A long job (assembly, calibration) whose state lives in the database, not in a worker."""

    __tablename__ = "jobs"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)
    status: str = Field(default="queued", sa_type=String(20), index=True)
    progress: float = 0.0
    params: dict[str, Any] = json_field(dict)
    result: dict[str, Any] = json_field(dict)
    error: dict[str, Any] = json_field(dict)
    worker: str = Field(default="", max_length=120)
    created_by: str = Field(max_length=120)
    created_at: datetime = created_at_field()
    updated_at: datetime | None = datetime_field()


class ResponseBatch(SQLModel, table=True):
    """One submission from an exam engine; the batch id makes a retry idempotent."""

    __tablename__ = "response_batches"

    id: int | None = Field(default=None, primary_key=True)
    batch_id: str = Field(unique=True, max_length=120)
    client: str = Field(max_length=120)
    paper_id: int = Field(foreign_key="papers.id", index=True)
    n_responses: int = 0
    content_hash: str = Field(max_length=64)
    created_at: datetime = created_at_field()


class Response(SQLModel, table=True):
    __tablename__ = "responses"
    __table_args__ = (UniqueConstraint("paper_id", "person_id", "item_id"),)

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="response_batches.id", index=True)
    paper_id: int = Field(foreign_key="papers.id", index=True)
    person_id: str = Field(max_length=120, index=True)
    item_id: int = Field(foreign_key="items.id", index=True)
    version: int
    response: str | None = Field(default=None, max_length=200)
    score: float | None = None
    created_at: datetime = created_at_field()


class Incident(SQLModel, table=True):
    """Leak, damage, item error or delivery fault: its scope, actions and report."""

    __tablename__ = "incidents"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=30)
    paper_id: int | None = Field(default=None, foreign_key="papers.id")
    scope: dict[str, Any] = json_field(dict)
    cause: str = ""
    status: str = Field(default="open", max_length=20)
    actions: list[Any] = json_field(list)
    report: dict[str, Any] = json_field(dict)
    created_by: str = Field(max_length=120)
    created_at: datetime = created_at_field()
    closed_at: datetime | None = datetime_field()
