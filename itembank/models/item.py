"""Items with immutable versions, item sets, enemy groups and review sign-offs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlmodel import Field, SQLModel

from itembank.models.base import created_at_field, datetime_field, json_field


class ItemType(StrEnum):
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    TRUE_FALSE = "true_false"
    SHORT_ANSWER = "short_answer"
    CALCULATION = "calculation"
    CASE_ANALYSIS = "case_analysis"
    PLAN_DESIGN = "plan_design"

    @property
    def objective(self) -> bool:
        return self in (ItemType.SINGLE_CHOICE, ItemType.MULTIPLE_CHOICE, ItemType.TRUE_FALSE)


class ItemStatus(StrEnum):
    DRAFT = "draft"
    PROOFREAD = "proofread"
    REVIEWED = "reviewed"
    ACCEPTED = "accepted"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    RETIRED = "retired"
    COMPROMISED = "compromised"


class ItemSet(SQLModel, table=True):
    """A testlet: items sharing one stimulus, drawn all together or not at all."""

    __tablename__ = "item_sets"

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(index=True, unique=True, max_length=120)
    stimulus: str = ""
    created_at: datetime = created_at_field()


class Item(SQLModel, table=True):
    """The stable identity of an item; its content lives in ``ItemVersion`` rows."""

    __tablename__ = "items"

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(index=True, unique=True, max_length=120)
    occupation_code: str = Field(max_length=32, index=True)
    level: int
    exam_kind: str = Field(default="theory", max_length=20)
    status: str = Field(default=ItemStatus.DRAFT.value, sa_type=String(20), index=True)
    status_reason: str = ""
    current_version: int = 1
    set_id: int | None = Field(default=None, foreign_key="item_sets.id", index=True)
    exposure_count: int = 0
    last_used: datetime | None = datetime_field()
    lock_version: int = Field(default=1, description="optimistic lock for concurrent edits")
    created_at: datetime = created_at_field()


class ItemVersion(SQLModel, table=True):
    """One immutable version of an item's content; an edit adds a row, never changes one."""

    __tablename__ = "item_versions"
    __table_args__ = (UniqueConstraint("item_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="items.id", index=True)
    version: int
    type: str = Field(sa_type=String(20), description="an ItemType value")
    element: str = Field(max_length=40, index=True)
    points: float
    stem: str
    options: dict[str, Any] | None = json_field(dict)
    key: str | None = Field(default=None, max_length=20)
    rubric: str | None = None
    difficulty: int | None = Field(default=None, ge=1, le=5)
    content_hash: str = Field(max_length=64)
    created_by: str = Field(max_length=120)
    created_at: datetime = created_at_field()


class EnemyGroup(SQLModel, table=True):
    """Items that must never stand in the same paper."""

    __tablename__ = "enemy_groups"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=120)
    created_at: datetime = created_at_field()


class EnemyMember(SQLModel, table=True):
    __tablename__ = "enemy_members"

    group_id: int = Field(foreign_key="enemy_groups.id", primary_key=True)
    item_id: int = Field(foreign_key="items.id", primary_key=True)


class ReviewSignoff(SQLModel, table=True):
    """A review decision on one item version: a stage transition or an acceptance-panel signature."""

    __tablename__ = "review_signoffs"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="items.id", index=True)
    version: int
    stage: str = Field(max_length=20, description="proofread | review | panel | activate | ...")
    panel_round: int = 0
    actor: str = Field(max_length=120)
    decision: str = Field(max_length=10, description="approve | reject")
    reason: str = ""
    at: datetime = created_at_field()
