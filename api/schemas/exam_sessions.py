"""Exam sessions (LOFT papers per ticket, CAT pools) as the API shows them; never item content or keys."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Number, Public, UtcDatetime, Whole

Ticket = Annotated[str, Field(min_length=1, max_length=64, description="准考证号")]


class SessionRequest(BaseModel):
    """What both kinds of session are assembled from: a spec, the tickets and the blueprint."""

    model_config = ConfigDict(extra="forbid")

    spec: dict[str, Any] = Field(description="the paper spec, as the YAML/JSON spec file holds it")
    tickets: list[Ticket] = Field(min_length=1, max_length=10_000, description="admission numbers, one per candidate")
    occupation_code: str = Field(default="4-07-03-04", min_length=1, max_length=32)
    level: Whole = Field(default=3, ge=1, le=5)
    exam_kind: Literal["theory", "skill"] = "theory"
    blueprint_version: str | None = Field(default=None, max_length=40)
    name: str | None = Field(default=None, min_length=1, max_length=120)
    max_exposure: Number | None = Field(default=None, gt=0, le=1, description="share of candidates an item may reach "
                                        "(default: the spec's loft/cat block)")


class LoftSessionRequest(SessionRequest):
    max_mean_overlap: Number | None = Field(default=None, ge=0, le=1)
    seed: Whole | None = Field(default=None, ge=0, le=2**31 - 1)


class CatSessionRequest(SessionRequest):
    length: Whole | None = Field(default=None, ge=1, le=500, description="items per CAT (default: the spec's)")
    share: Number | None = Field(default=None, gt=0, le=1, description="seal only this share of the calibrated items")
    seed: Whole = Field(default=0, ge=0, le=2**31 - 1)


class ExamSessionPublic(BaseModel):
    id: int
    name: str
    mode: str
    paper_id: int = Field(description="the carrier paper: approve, seal and pull it as any paper")
    status: str
    tickets: list[str]
    settings: dict[str, Any]
    reference_ids: list[str]
    snapshot_hash: str
    inputs_hash: str
    forms: int
    pool_items: int
    replaces: int | None
    created_by: str
    created_at: UtcDatetime


class CandidateFormPublic(Public):
    ticket: str
    item_ids: list[str]
    form_hash: str
    result: dict[str, Any]


class SessionResult(BaseModel):
    ticket: str
    raw: float | None = None
    max: float | None = None
    score_100: float | None = None
    items: int | None = None
    theta: float | None = None
    se: float | None = None
    score: float | None = None
    passed: bool


class CatLogEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: Whole = Field(ge=1)
    item_id: str = Field(min_length=1, max_length=120)
    response: str | None = Field(max_length=200)
    score: Whole = Field(ge=0, le=1)
    theta: Number
    se: Number


class CatLogIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket: Ticket
    log: list[CatLogEntry] = Field(min_length=1, max_length=500)
