"""Exam sessions in bank mode: LOFT (一人一卷) papers per ticket, or a CAT pool, carried by one paper.

The carrier paper holds every item the session can deliver, so it goes through the fixed-paper
cycle unchanged: approve, seal, pull, key release, handovers, responses, leak. The session row holds
what the assembly saw and was asked for; each candidate's form is a row keyed by 准考证号 (ticket).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlmodel import Field, SQLModel

from itembank.models.base import created_at_field, json_field


class ExamSession(SQLModel, table=True):
    """One exam session: its mode, the carrier paper, the spec and settings, the tickets, and for CAT
    the pool document (item ids, parameters, spec, reference; never stems or keys)."""

    __tablename__ = "exam_sessions"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    mode: str = Field(sa_type=String(10), description="loft | cat")
    paper_id: int = Field(foreign_key="papers.id", index=True, unique=True)
    spec: dict[str, Any] = json_field(dict)
    settings: dict[str, Any] = json_field(dict)
    tickets: list[str] = json_field(list)
    reference_ids: list[str] = json_field(list)
    snapshot_hash: str = Field(max_length=64)
    inputs_hash: str = Field(max_length=64)
    pool: dict[str, Any] = json_field(dict)
    replaces: int | None = Field(default=None, foreign_key="exam_sessions.id")
    created_by: str = Field(max_length=120)
    created_at: datetime = created_at_field()


class CandidateForm(SQLModel, table=True):
    """One candidate's items: the LOFT paper assembled for the ticket, or the items a CAT gave (with
    its log and result once the engine has sent it back)."""

    __tablename__ = "candidate_forms"
    __table_args__ = (UniqueConstraint("session_id", "ticket"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="exam_sessions.id", index=True)
    ticket: str = Field(max_length=64)
    item_ids: list[str] = json_field(list)
    form_hash: str = Field(max_length=64)
    cat_log: list[dict[str, Any]] = json_field(list)
    result: dict[str, Any] = json_field(dict)
    created_at: datetime = created_at_field()
