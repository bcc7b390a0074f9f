"""Users and exam-engine clients with their roles; only token hashes are stored."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from itembank.models.base import created_at_field


class Role(StrEnum):
    ITEM_WRITER = "item_writer"
    PROOFREADER = "proofreader"
    REVIEWER = "reviewer"
    PANEL_MEMBER = "panel_member"
    BANK_MANAGER = "bank_manager"
    PSYCHOMETRICIAN = "psychometrician"
    AUDITOR = "auditor"
    EXAM_ENGINE = "exam_engine"
    ADMIN = "admin"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=120)
    role: str = Field(sa_type=String(32), description="a Role value")
    token_hash: str = Field(index=True, unique=True, max_length=64)
    active: bool = True
    created_at: datetime = created_at_field()
