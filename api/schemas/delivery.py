"""Sealed papers, handovers, engine traffic and results as the API shows them.

The engine-facing shapes are the contract shared with the reference client (``itembank.engine_client``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.schemas.common import Flag, Number, Public, UtcDatetime, Whole
from itembank.scoring import ItemErrorAction


class SealRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    not_before: UtcDatetime = Field(description="the key is released from this time (less the configured lead)")
    not_after: UtcDatetime
    engines: list[str] = Field(min_length=1, max_length=1000, description="exam-engine clients allowed to pull it")
    variant_seed: Whole | None = Field(default=None, ge=0, le=2**31 - 1, description="shuffle items and options")
    include_key: Flag = Field(default=False, description="ship the answer key inside the package (rarely wanted)")

    @model_validator(mode="after")
    def _window(self) -> SealRequest:
        if self.not_after <= self.not_before:
            raise ValueError("not_after must be later than not_before")
        return self


class SealedPaperPublic(Public):
    id: int
    paper_id: int
    content_hash: str
    not_before: UtcDatetime
    not_after: UtcDatetime
    engines: list[str]
    variant_seed: int | None
    active: bool
    created_by: str
    created_at: UtcDatetime


class HandoverPublic(Public):
    """交接记录: one pull, key release or refusal."""

    paper_id: int
    sealed_id: int | None
    client: str
    action: str
    content_hash: str
    detail: str
    at: UtcDatetime


class EnginePaper(BaseModel):
    paper_id: int
    name: str
    content_hash: str
    not_before: UtcDatetime
    not_after: UtcDatetime


class SealHeaderPublic(BaseModel):
    """The clear, signed header exactly as sealed (times as the signed ISO strings)."""

    format: str
    paper_id: str
    content_hash: str
    not_before: str
    not_after: str
    engines: list[str]
    variant_seed: int | None
    key_id: str


class SealedPackagePublic(BaseModel):
    header: SealHeaderPublic
    nonce: str
    ciphertext: str
    signature: str


class PublicKey(BaseModel):
    key_id: str
    public_key_pem: str
    active: bool = Field(description="false for a retired key: still good for verifying what it signed, never signs again")


class SigningKeyPublic(Public):
    """One of the bank's signing keys (the public half only)."""

    key_id: str
    public_key: str
    active: bool
    created_at: UtcDatetime


class DataKey(BaseModel):
    data_key: str = Field(description="base64 of the paper's AES-256 data key")


class EngineResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_id: str = Field(min_length=1, max_length=120)
    item_id: str = Field(min_length=1, max_length=120)
    response: str | None = Field(default=None, max_length=200, description="the raw answer; the bank scores it")


class ResponseBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_id: str = Field(min_length=1, max_length=120, description="resending the same batch changes nothing")
    responses: list[EngineResponse] = Field(min_length=1, max_length=100_000)


class ResponseBatchPublic(Public):
    batch_id: str
    paper_id: int
    client: str
    n_responses: int
    content_hash: str
    created_at: UtcDatetime


class Grade(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_id: str = Field(min_length=1, max_length=120)
    item_id: str = Field(min_length=1, max_length=120)
    score: Number = Field(ge=0, le=100)


class Grades(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scores: list[Grade] = Field(min_length=1, max_length=100_000)


class Graded(BaseModel):
    graded: int


class RescoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: str = Field(min_length=1, max_length=120)
    action: ItemErrorAction


class CandidateResult(BaseModel):
    person_id: str
    raw: float
    max: float
    score_100: float
    passed: bool
