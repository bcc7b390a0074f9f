"""Assembly runs, papers and incidents as the API shows them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Public, RowId, UtcDatetime, Whole
from itembank.scoring import ItemErrorAction


class AssemblyRequest(BaseModel):
    """A paper spec (组卷方案) and the blueprint it draws on; it runs as a background job."""

    model_config = ConfigDict(extra="forbid")

    spec: dict[str, Any] = Field(description="the paper spec, as the YAML/JSON spec file holds it")
    occupation_code: str = Field(default="4-07-03-04", min_length=1, max_length=32)
    level: Whole = Field(default=3, ge=1, le=5)
    exam_kind: Literal["theory", "skill"] = "theory"
    blueprint_version: str | None = Field(default=None, max_length=40)


class AssemblyRunPublic(Public):
    id: int
    spec_name: str
    spec: dict[str, Any]
    blueprint_id: int | None
    bank_snapshot_hash: str
    status: str
    result: dict[str, Any]
    created_by: str
    created_at: UtcDatetime


class PaperPublic(Public):
    id: int
    name: str
    role: str
    status: str
    assembly_run_id: int | None
    blueprint_id: int | None
    total_points: float
    duration_minutes: int
    lock_version: int
    created_by: str
    created_at: UtcDatetime
    approved_by: str | None
    approved_at: UtcDatetime | None


class PretestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[Annotated[str, Field(min_length=1, max_length=120)]] = Field(
        min_length=1, max_length=500, description="external ids of accepted or active objective items, in order")


class PretestEntry(BaseModel):
    item_id: str
    version: int


class PretestBlock(BaseModel):
    """A paper's unscored pretest block: delivered last, marked unscored, responses used for calibration."""

    paper_id: int
    items: list[PretestEntry]


class IncidentPublic(Public):
    id: int
    kind: str
    paper_id: int | None
    scope: dict[str, Any]
    cause: str
    status: str
    actions: list[Any]
    report: dict[str, Any]
    created_by: str
    created_at: UtcDatetime
    closed_at: UtcDatetime | None


class LeakReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paper_id: RowId
    scope: dict[str, Any] = Field(default_factory=dict, description="what leaked: items, sections or the whole paper")
    cause: str = Field(min_length=1, max_length=4000)


class ItemErrorReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paper_id: RowId
    item_id: str = Field(min_length=1, max_length=120)
    action: ItemErrorAction
    cause: str = Field(min_length=1, max_length=4000)


class PaperItemPublic(BaseModel):
    """One item of a paper as bank staff see it: content and answer key."""

    position: int
    item_id: str
    version: int
    section: str
    points: float
    element: str
    stem: str
    options: dict[str, Any] | None = None
    key: str | None = None
    rubric: str | None = None


class PaperDetail(PaperPublic):
    items: list[PaperItemPublic]
