"""Calibration runs and their estimates as the API shows them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Flag, Number, Public, UtcDatetime


class ScoredResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_id: str = Field(min_length=1, max_length=120)
    item_id: str = Field(min_length=1, max_length=120, description="external item id")
    score: Number = Field(ge=0, le=100)


class CalibrationRequest(BaseModel):
    """A calibration over an inline response log; it runs as a background job."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120, description="unique; runs are never overwritten")
    model: Literal["1PL", "2PL", "3PL"] = "2PL"
    fix_operational: Flag = Field(True, description="hold operational items at their bank values (FIPC)")
    responses: list[ScoredResponse] = Field(min_length=1, max_length=200_000)


class CalibrationRunPublic(Public):
    name: str
    model: str
    status: str
    source_hash: str
    n_responses: int
    summary: dict[str, Any]
    created_by: str
    created_at: UtcDatetime
    approved_by: str | None
    approved_at: UtcDatetime | None


class ItemParameterPublic(BaseModel):
    item_id: str
    version: int
    model: str
    a: float | None = None
    b: float | None = None
    c: float | None = None
    thresholds: list[float] | None = None
    se_a: float | None = None
    se_b: float | None = None
    se_c: float | None = None
    n: int
    fixed: bool
    status: str
