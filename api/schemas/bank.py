"""Users, blueprints, items, reviews and bank health as the API shows them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import ROW_ID_MAX, Number, Public, RowId, UtcDatetime, Whole
from itembank.models import ItemStatus, Role
from itembank.records import ItemRecord


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    role: Role


class UserPublic(Public):
    name: str
    role: Role
    active: bool
    created_at: UtcDatetime


class UserCreated(UserPublic):
    """The new user and its API token, shown this once (only its hash is stored)."""

    token: str


class BlueprintNodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    weight: Number | None = Field(default=None, ge=0, le=100, description="鉴定比重: percent within the parent")
    importance: Literal["X", "Y", "Z"] | None = None
    children: list[BlueprintNodeIn] = Field(default_factory=list)


class BlueprintCreate(BaseModel):
    """A blueprint document (认定要素细目表), as the YAML/JSON import reads it."""

    model_config = ConfigDict(extra="forbid")

    occupation: str = Field(min_length=1, max_length=120)
    occupation_code: str = Field(min_length=1, max_length=32)
    level: Whole = Field(ge=1, le=5)
    level_name: str = Field(default="", max_length=60)
    exam_kind: Literal["theory", "skill"] = "theory"
    version: str = Field(min_length=1, max_length=40)
    source: str = ""
    nodes: list[BlueprintNodeIn] = Field(min_length=1)


class BlueprintPublic(Public):
    id: int
    occupation: str
    occupation_code: str
    level: int
    level_name: str
    exam_kind: str
    version: str
    content_hash: str
    created_at: UtcDatetime


class BlueprintNodePublic(BaseModel):
    code: str
    name: str
    depth: int
    parent_code: str | None
    weight: float | None
    absolute_weight: float
    importance: str | None
    is_element: bool


class BlueprintDetail(BlueprintPublic):
    nodes: list[BlueprintNodePublic]


MAX_BATCH = 5000
"""The most items one request creates, as JSON or as an uploaded file: it bounds one transaction's work."""


class ItemsCreate(BaseModel):
    """New items keyed to one blueprint; one bad item refuses them all."""

    model_config = ConfigDict(extra="forbid")

    blueprint_id: RowId
    items: list[ItemRecord] = Field(min_length=1, max_length=MAX_BATCH)


class ItemEdit(BaseModel):
    """A new version of an item's content; ``expected_version`` guards against a concurrent edit."""

    model_config = ConfigDict(extra="forbid")

    expected_version: Whole | None = Field(default=None, ge=1, le=ROW_ID_MAX)
    content: ItemRecord


class ItemVersionPublic(Public):
    version: int
    type: str
    element: str
    points: float
    stem: str
    options: dict[str, Any] | None
    key: str | None
    rubric: str | None
    difficulty: int | None
    content_hash: str
    created_by: str
    created_at: UtcDatetime


class ItemPublic(Public):
    external_id: str
    occupation_code: str
    level: int
    exam_kind: str
    status: ItemStatus
    status_reason: str
    current_version: int
    exposure_count: int
    last_used: UtcDatetime | None
    created_at: UtcDatetime


class ItemDetail(ItemPublic):
    content: ItemVersionPublic


class ItemImportPublic(BaseModel):
    """What an uploaded item file created, and one warning per column of it that the import ignored."""

    items: list[ItemPublic]
    warnings: list[str] = Field(description="one sentence per unknown column, e.g. 导入文件的列 note 未识别，已忽略; "
                                            "a column that looks like a known one refuses the file instead (422)")


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[str] = Field(min_length=1, max_length=5000, description="external item ids")
    reason: str = Field(default="", max_length=2000)


class PanelSignature(ReviewRequest):
    decision: Literal["approve", "reject"]


class ReviewOutcome(BaseModel):
    action: str
    items: list[ItemPublic]


class ImportanceShare(BaseModel):
    importance: str
    points: float
    share: float
    min_share: float | None
    max_share: float | None


class BankHealthPublic(BaseModel):
    blueprint: str
    ok: bool
    problems: list[str]
    thin_elements: list[str]
    unknown_elements: list[str]
    cells: list[dict[str, Any]] = Field(description="per element: importance, weight, active items per type, points")
    importance: list[ImportanceShare]
