"""The exam-engine side: only exam_engine clients, only their own sealed papers, never the bank.

This is the contract the reference client (``itembank.engine_client``) speaks. Every pull and key
release is a handover; every refusal is logged by the delivery service before the 403 goes out.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from api.deps import BankDep, require
from api.paging import IdPath
from api.schemas.delivery import (
    DataKey,
    EnginePaper,
    PublicKey,
    ResponseBatchIn,
    ResponseBatchPublic,
    SealedPackagePublic,
)
from api.schemas.exam_sessions import CandidateFormPublic, CatLogIn
from itembank.models import Role
from itembank.services import delivery, exam_results, responses
from itembank.services.actors import Actor

router = APIRouter(prefix="/engine", tags=["engine"])
ExamEngine = Annotated[Actor, Depends(require(Role.EXAM_ENGINE))]


@router.get("/papers")
def available_papers(bank: BankDep, engine: ExamEngine) -> list[EnginePaper]:
    """Active sealed papers this engine may pull, earliest window first."""
    with bank.transaction() as session:
        return [EnginePaper.model_validate(p) for p in delivery.available_papers(session, engine)]


@router.get("/papers/{paper_id}/package", response_model=SealedPackagePublic)
async def pull_package(paper_id: IdPath, bank: BankDep, engine: ExamEngine) -> Response:
    """The encrypted, signed package; verify it with ``/engine/public-key`` before use.

    Sent as the package's canonical JSON bytes (``SealedPackage.from_json`` accepts only those), so
    what the engine verifies is byte for byte what the bank signed and stored. The bytes leave only
    after the pull is decided and committed to the handover ledger; concurrent pulls share that
    transaction. A well-formed request is answered by ``api.pull_lane`` before it reaches this
    route (same decision, same bytes); this route documents it and serves the rest.
    """
    body = await bank.deliver(delivery.PullRequest(paper_id, engine=engine.name))
    return Response(content=body, media_type="application/json")


@router.get("/public-key")
def public_key(bank: BankDep, _engine: ExamEngine,
               key_id: Annotated[str | None, Query(max_length=64, description="the key a package names "
                                                   "(`header.key_id`); default the active key")] = None) -> PublicKey:
    """The bank's Ed25519 public key (PEM): the active one, or a retired one that signed older packages."""
    with bank.transaction() as session:
        return PublicKey.model_validate(delivery.public_key_info(session, key_id))


@router.post("/papers/{paper_id}/key")
def release_key(paper_id: IdPath, bank: BankDep, engine: ExamEngine) -> DataKey:
    """The paper's data key, only to an allowed engine inside the release window (403 otherwise)."""
    with bank.transaction() as session:
        return DataKey(data_key=delivery.release_key(session, engine, paper_id))


@router.post("/papers/{paper_id}/responses")
def submit_responses(paper_id: IdPath, body: ResponseBatchIn, bank: BankDep, engine: ExamEngine) -> ResponseBatchPublic:
    """Candidates' raw responses; the bank scores them. A retried batch id with the same content is a no-op."""
    rows = [r.model_dump() for r in body.responses]
    with bank.transaction() as session:
        return ResponseBatchPublic.model_validate(responses.submit_responses(session, engine, paper_id, body.batch_id, rows))


@router.post("/sessions/{session_id}/cat-logs", status_code=201)
def submit_cat_log(session_id: IdPath, body: CatLogIn, bank: BankDep, engine: ExamEngine) -> CandidateFormPublic:
    """A finished CAT's log (item, response, score, θ̂, SE per answer). The bank replays it on the sealed pool
    and rescores it with its own keys: a log the pool would not have written is refused (409 ``tampered_log``).
    The same log again is a no-op."""
    log = [e.model_dump() for e in body.log]
    with bank.transaction() as session:
        return CandidateFormPublic.model_validate(exam_results.submit_cat_log(session, engine, session_id, body.ticket, log))
