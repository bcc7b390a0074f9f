"""Assessment-element detail tables (认定要素细目表): versioned trees of module → unit → element."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from itembank.models.base import created_at_field


class Blueprint(SQLModel, table=True):
    __tablename__ = "blueprints"
    __table_args__ = (UniqueConstraint("occupation_code", "level", "exam_kind", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    occupation: str = Field(max_length=120)
    occupation_code: str = Field(max_length=32, index=True)
    level: int = Field(ge=1, le=5)
    level_name: str = Field(default="", max_length=60)
    exam_kind: str = Field(default="theory", max_length=20)
    version: str = Field(max_length=40)
    source: str = ""
    content_hash: str = Field(max_length=64)
    created_at: datetime = created_at_field()


class BlueprintNode(SQLModel, table=True):
    __tablename__ = "blueprint_nodes"
    __table_args__ = (UniqueConstraint("blueprint_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    blueprint_id: int = Field(foreign_key="blueprints.id", index=True)
    code: str = Field(max_length=40)
    name: str = Field(max_length=200)
    depth: int = Field(description="1 module, 2 unit, 3 element")
    parent_code: str | None = Field(default=None, max_length=40)
    weight: float | None = Field(default=None, description="鉴定比重: percent within the parent")
    absolute_weight: float = Field(default=0.0, description="percent of the whole paper")
    importance: str | None = Field(default=None, max_length=1)
    position: int = 0
