"""Jobs and the audit ledger as the API shows them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from api.schemas.common import Public, UtcDatetime
from itembank.services.jobs import JobStatus


class JobAccepted(BaseModel):
    """Returned with 202: poll ``GET /jobs/{id}`` for the outcome."""

    job_id: int
    status: JobStatus
    location: str


class JobPublic(Public):
    id: int
    kind: str
    status: JobStatus
    progress: float
    result: dict[str, Any]
    error: dict[str, Any]
    worker: str
    created_by: str
    created_at: UtcDatetime
    updated_at: UtcDatetime | None


class AuditEventPublic(Public):
    seq: int
    at: UtcDatetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    payload_hash: str
    prev_hash: str
    hash: str


class LedgerCheckPublic(BaseModel):
    ok: bool
    events: int
    first_bad: int | None
    reason: str
    message: str
