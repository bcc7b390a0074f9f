"""Delivering papers to exam engines: seal, let allowed engines pull, release the key in its window.

Every pull and key release is a handover (交接记录); so is every refusal, and a refusal is logged in
its own transaction so that the record survives the error raised to the engine. Sealed content is
never stored or logged in clear: the database holds the ciphertext package and the wrapped data key,
audit payloads hold hashes.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import and_, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from itembank import audit, sealing
from itembank.config import get_settings
from itembank.db import insert_rows
from itembank.errors import Busy, Conflict, Forbidden, ItemBankError, NotFound, ValidationError
from itembank.hashing import canonical_json
from itembank.models import (
    Blueprint,
    CandidateForm,
    ExamSession,
    Handover,
    Item,
    ItemSet,
    ItemStatus,
    ItemVersion,
    Paper,
    PaperItem,
    PaperStatus,
    Role,
    SealedPaper,
    SigningKey,
    User,
)
from itembank.models.base import as_utc, utcnow
from itembank.services.actors import Actor

SEALABLE = frozenset({PaperStatus.APPROVED, PaperStatus.SEALED, PaperStatus.RELEASED})
DELIVERABLE = frozenset({PaperStatus.SEALED, PaperStatus.RELEASED, PaperStatus.ADMINISTERED})
HANDOVER_READERS = (Role.AUDITOR, Role.BANK_MANAGER)


class DeliveryRefused(Forbidden):
    """An engine asked for a paper it may not have; ``reason`` is the word logged in the handover."""

    code = "delivery_refused"

    def __init__(self, message: str, *, reason: str, field: str) -> None:
        super().__init__(message, field=field)
        self.reason = reason


# ---------------------------------------------------------------- papers and their contents


def get_paper(session: Session, paper_id: int) -> Paper:
    paper = session.get(Paper, paper_id)
    if paper is None:
        raise _missing_paper(paper_id)
    return paper


def _missing_paper(paper_id: int) -> NotFound:
    return NotFound(f"no paper {paper_id} in the bank", field="paper_id")


@dataclass(frozen=True)
class PaperEntry:
    """One item on a paper with the version it uses and, for a testlet, its item set."""

    row: PaperItem
    item: Item
    version: ItemVersion
    item_set: ItemSet | None


def paper_entries(session: Session, paper_id: int) -> list[PaperEntry]:
    """The paper's items in position order, each with the exact version the paper uses."""
    rows = session.exec(
        select(PaperItem, Item, ItemVersion, ItemSet)
        .join(Item, col(Item.id) == PaperItem.item_id)
        .join(
            ItemVersion,
            (col(ItemVersion.item_id) == PaperItem.item_id)
            & (col(ItemVersion.version) == PaperItem.version),
        )
        .join(ItemSet, col(ItemSet.id) == Item.set_id, isouter=True)
        .where(PaperItem.paper_id == paper_id)
        .order_by(col(PaperItem.position))
    ).all()
    return [PaperEntry(*row) for row in rows]


PRETEST = "pretest_items"
PRETEST_SECTION = "pretest"
"""Key in ``Paper.provenance`` of the paper's pretest block: ``[{item_id, version}]`` (see services.responses)."""


def pretest_versions(session: Session, paper: Paper) -> list[tuple[Item, ItemVersion]]:
    """The paper's unscored pretest block, in its order, at the versions it was attached with."""
    block = paper.provenance.get(PRETEST, [])
    if not block:
        return []
    rows = session.exec(
        select(Item, ItemVersion).join(ItemVersion, col(ItemVersion.item_id) == col(Item.id))
        .where(col(Item.external_id).in_([b["item_id"] for b in block]))
    ).all()
    versions = {(item.external_id, version.version): (item, version) for item, version in rows}
    return [versions[(b["item_id"], b["version"])] for b in block]


def advance_paper(
    session: Session, paper: Paper, status: PaperStatus, *, expected_lock_version: int | None = None,
    from_statuses: frozenset[PaperStatus] | None = None,
) -> bool:
    """Move a paper's status with one conditional UPDATE, so concurrent writers never lose an update.

    With ``expected_lock_version`` a stale writer gets ``Conflict``; with ``from_statuses`` alone the
    move simply does not happen when another writer already made it (returns False).

    The ledger head is taken first (every status move is audited, so the caller takes it anyway): with
    the paper's row always locked after the head, a seal, a key release, a damage report and the first
    response batch of one paper wait for each other instead of deadlocking.
    """
    audit.lock_head(session)
    statement = update(Paper).where(col(Paper.id) == paper.id)
    if expected_lock_version is not None:
        statement = statement.where(col(Paper.lock_version) == expected_lock_version)
    if from_statuses is not None:
        statement = statement.where(col(Paper.status).in_([s.value for s in from_statuses]))
    result = session.execute(
        statement.values(status=status.value, lock_version=Paper.lock_version + 1)
        .execution_options(synchronize_session=False)
    )
    session.refresh(paper)
    if result.rowcount == 0 and expected_lock_version is not None:  # type: ignore[attr-defined]
        raise Conflict(
            f"paper {paper.name} was changed by someone else meanwhile (now {paper.status}, "
            f"lock version {paper.lock_version}, expected {expected_lock_version}); reload and retry",
            field="lock_version",
        )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def refuse_compromised(session: Session, paper: Paper) -> None:
    """Refuse to approve or seal a paper that holds a compromised item, pretest block included.

    An item is compromised when another paper holding it leaked; its content is out, whichever paper
    carries it next. Call it under the ledger head (after ``advance_paper``), so that a leak report
    cannot compromise one of the items between this check and the commit.
    """
    on_paper = select(PaperItem.item_id).where(PaperItem.paper_id == paper.id)
    pretest = [entry["item_id"] for entry in paper.provenance.get(PRETEST, [])]
    leaked = sorted(session.exec(select(Item.external_id).where(
        or_(col(Item.id).in_(on_paper), col(Item.external_id).in_(pretest)),
        Item.status == ItemStatus.COMPROMISED.value)).all())
    if leaked:
        raise Conflict(f"paper {paper.name} holds {len(leaked)} compromised item(s): {', '.join(leaked[:10])}; "
                       "its content has leaked with another paper: assemble a replacement", field="items", details=leaked)


# ---------------------------------------------------------------- the bank's signing key


def signing_key(session: Session) -> SigningKey:
    """The bank's active Ed25519 key, created (wrapped by the master key) on first use.

    Creation holds the audit-ledger head lock, so two first seals at once still agree on one key.
    """
    key = _active_key(session)
    if key is not None:
        return key
    audit.lock_head(session)
    return _active_key(session) or _new_signing_key(session, "system", "signing_key.create")


def rotate_signing_key(session: Session, actor: Actor) -> SigningKey:
    """Retire the active signing key and make a new one (admin, e.g. yearly or when staff change).

    Retired keys stay in the bank, never usable for signing again, so engines can still verify
    packages sealed before the rotation (each package names its key). A key that may have leaked
    is a different matter: rotate, then re-seal the papers in use (a damage incident does that).
    """
    actor.require(Role.ADMIN, action="rotate the bank's signing key")
    audit.lock_head(session)  # as a master-key rotation does: the check below holds until commit
    retiring = _active_key(session)
    if retiring is not None:
        _opened(retiring)  # the new key must be wrapped under the bank's master key, not a stale one
        retiring.active = False
        session.add(retiring)
        session.flush()
    return _new_signing_key(session, actor.name, "signing_key.rotate", retired=retiring.key_id if retiring else None)


def _new_signing_key(session: Session, actor: str, action: str, retired: str | None = None) -> SigningKey:
    fresh = sealing.SigningKey.generate()
    key = SigningKey(
        key_id=fresh.key_id,
        public_key=fresh.public_pem(),
        wrapped_private_key=base64.b64encode(fresh.wrap(get_settings().master_key_bytes())).decode(),
    )
    session.add(key)
    session.flush()
    audit.record(session, actor, action, "signing_key", key.key_id, {"key_id": key.key_id, "retired": retired})
    return key


def signing_keys(session: Session, actor: Actor) -> list[SigningKey]:
    """Every signing key the bank has had, oldest first (public halves only are shown)."""
    actor.require(Role.ADMIN, Role.AUDITOR, action="list signing keys")
    return list(session.exec(select(SigningKey).order_by(col(SigningKey.id))).all())


def _active_key(session: Session) -> SigningKey | None:
    return session.exec(
        select(SigningKey).where(col(SigningKey.active).is_(True)).order_by(col(SigningKey.id))
    ).first()


def public_key_pem(session: Session) -> str:
    """What engines verify newly sealed packages with."""
    return signing_key(session).public_key


def public_key_info(session: Session, key_id: str | None = None) -> dict[str, str | bool]:
    """The body of ``GET /engine/public-key``: the active key, or the one a package names."""
    if key_id is None:
        key = signing_key(session)
    else:
        found = session.exec(select(SigningKey).where(SigningKey.key_id == key_id)).first()
        if found is None:
            raise NotFound(f"the bank has no signing key {key_id}", field="key_id")
        key = found
    return {"key_id": key.key_id, "public_key_pem": key.public_key, "active": key.active}


def _bank_signer(session: Session) -> sealing.SigningKey:
    return _opened(signing_key(session))


def _opened(key: SigningKey) -> sealing.SigningKey:
    """The private half of ``key`` under the configured master key.

    It does not open when this process still holds a master key the bank has rotated away from;
    the error says so, and whoever asked (a seal, a signing-key rotation) writes nothing under it.
    """
    try:
        return sealing.SigningKey.unwrap(
            get_settings().master_key_bytes(), base64.b64decode(key.wrapped_private_key), key_id=key.key_id
        )
    except sealing.KeyUnwrapFailed as exc:
        raise sealing.KeyUnwrapFailed(
            f"the configured master key does not open the bank's signing key {key.key_id}: the master key was "
            "rotated or is wrong; restart with the bank's current master key (`itembank keys check` tells)",
            field="master_key",
        ) from exc


# ---------------------------------------------------------------- sealing


def delivery_content(session: Session, paper: Paper) -> dict[str, Any]:
    """The paper as candidates see it (no keys, no rubrics), before any variant shuffle.

    A pretest block comes last, as its own section of items marked ``"scored": false``: candidates
    are told these do not count, and the paper's total stays the scored total.
    """
    entries = paper_entries(session, paper.id)  # type: ignore[arg-type]
    if not entries:
        raise ValidationError(f"paper {paper.name} has no items", field="paper.items")
    blueprint = session.get(Blueprint, paper.blueprint_id) if paper.blueprint_id else None
    first = entries[0].item
    pretest = pretest_versions(session, paper)
    last = max(e.row.position for e in entries)
    header = {
        "paper_id": str(paper.id),
        "name": paper.name,
        "occupation": blueprint.occupation if blueprint else first.occupation_code,
        "level": blueprint.level if blueprint else first.level,
        "exam_kind": blueprint.exam_kind if blueprint else first.exam_kind,
        "duration_minutes": paper.duration_minutes,
        "items": [
            {"item_id": e.item.external_id, "points": e.row.points, "section": e.row.section, "position": e.row.position}
            for e in entries
        ] + [
            {"item_id": item.external_id, "points": version.points, "section": PRETEST_SECTION,
             "position": last + n, "scored": False}
            for n, (item, version) in enumerate(pretest, start=1)
        ],
    }
    sets = {e.item.external_id: e.item_set for e in entries}
    delivered = [
        {
            "item_id": item.external_id,
            "version": version.version,
            "type": version.type,
            "stem": version.stem,
            "options": version.options or None,
            "set_id": item_set.external_id if (item_set := sets.get(item.external_id)) else None,
            "stimulus": item_set.stimulus if item_set else None,
        }
        for item, version in [*((e.item, e.version) for e in entries), *pretest]
    ]
    return sealing.build_delivery_package(header, delivered) | exam_session_content(session, paper)


CARRIER_ROLES = frozenset({"loft", "cat"})
"""Roles of the papers that carry an exam session (``services.exam_sessions``) instead of one paper."""


def exam_session_content(session: Session, paper: Paper) -> dict[str, Any]:
    """What a carrier paper's package holds besides its items: each ticket's LOFT form with its
    hash, or the CAT pool document and the tickets; nothing for a fixed paper."""
    if paper.role not in CARRIER_ROLES:
        return {}
    exam = session.exec(select(ExamSession).where(ExamSession.paper_id == paper.id)).one()
    body: dict[str, Any] = {"id": exam.id, "name": exam.name, "mode": exam.mode, "tickets": list(exam.tickets)}
    if exam.mode == "loft":
        forms = session.exec(select(CandidateForm).where(CandidateForm.session_id == exam.id)
                             .order_by(col(CandidateForm.ticket))).all()
        body["forms"] = {f.ticket: {"item_ids": list(f.item_ids), "form_hash": f.form_hash} for f in forms}
    else:
        body["cat_pool"] = exam.pool
    return {"exam_session": body}


def variant_content(
    session: Session, paper: Paper, variant_seed: int | None
) -> tuple[dict[str, Any], sealing.VariantRecord | None]:
    """The delivered package and how its variant was shuffled (None for the bank's order)."""
    package = delivery_content(session, paper)
    if variant_seed is None:
        return package, None
    return sealing.shuffle_variant(package, variant_seed)


def _answer_key(
    session: Session, paper: Paper, record: sealing.VariantRecord | None
) -> dict[str, str]:
    """Objective keys in the labels the candidates see; only when the caller asks to ship keys."""
    keys = {}
    for entry in paper_entries(session, paper.id):  # type: ignore[arg-type]
        if entry.version.key is None:
            continue
        external_id = entry.item.external_id
        mapping = record.option_maps.get(external_id, {}) if record else {}
        presented = {old: new for new, old in mapping.items()}
        keys[external_id] = "".join(sorted(presented.get(letter, letter) for letter in entry.version.key))
    return keys


def _engine_names(session: Session, engines: list[str]) -> list[str]:
    names = sorted(set(engines))
    if not names:
        raise ValidationError("a sealed paper needs at least one exam engine", field="engines")
    found = {
        user.name: user
        for user in session.exec(select(User).where(col(User.name).in_(names))).all()
    }
    bad = [n for n in names if n not in found or found[n].role != Role.EXAM_ENGINE or not found[n].active]
    if bad:
        raise ValidationError(
            f"not active exam-engine clients: {', '.join(bad)}", field="engines", details=bad
        )
    return names


def seal_paper(
    session: Session,
    actor: Actor,
    paper_id: int,
    *,
    not_before: datetime,
    not_after: datetime,
    engines: list[str],
    variant_seed: int | None = None,
    include_key: bool = False,
) -> SealedPaper:
    """Encrypt and sign an approved paper for the named engines; a re-seal retires older packages.

    A CAT pool's package always holds its answer key (the engine scores each answer to choose the
    next item); like every sealed content it is stored only encrypted and opens only with the data key.
    """
    actor.require(Role.BANK_MANAGER, action="seal papers")
    paper = get_paper(session, paper_id)
    seen_lock = paper.lock_version
    if paper.status not in SEALABLE:
        raise Conflict(
            f"paper {paper.name} is {paper.status}; only approved (or re-sealed sealed/released) papers can be sealed",
            field="status",
        )
    window = sealing.ReleaseWindow(not_before, not_after)
    allowed = _engine_names(session, engines)
    package, record = variant_content(session, paper, variant_seed)
    include_key = include_key or paper.role == "cat"
    if include_key:
        package = package | {"answer_key": _answer_key(session, paper, record)}
    # advance_paper takes the ledger head before the paper's row; the signing key is opened only under
    # it, because a master-key rotation holds it too: the data key is wrapped under the master key that
    # opened the signer, and a process still holding a rotated-away master key is refused here instead
    # of sealing a paper that the bank's key cannot open.
    advance_paper(session, paper, PaperStatus.SEALED, expected_lock_version=seen_lock)
    refuse_compromised(session, paper)
    signer = _bank_signer(session)
    data_key = sealing.new_data_key()
    master = get_settings().master_key_bytes()
    sealed_package = sealing.seal(
        package, paper_id=paper_id, window=window, engines=allowed, data_key=data_key,
        signing_key=signer, variant_seed=variant_seed,
    )
    wrapped = sealing.wrap_key(master, data_key, context=sealing.data_key_context(paper_id))
    session.execute(
        update(SealedPaper)
        .where(col(SealedPaper.paper_id) == paper_id, col(SealedPaper.active).is_(True))
        .values(active=False)
        .execution_options(synchronize_session=False)
    )
    sealed = SealedPaper(
        paper_id=paper_id,
        package=sealed_package.to_dict(),
        wrapped_data_key=base64.b64encode(wrapped).decode("ascii"),
        content_hash=sealed_package.header.content_hash,
        not_before=window.not_before,
        not_after=window.not_after,
        engines=allowed,
        variant_seed=variant_seed,
        created_by=actor.name,
    )
    session.add(sealed)
    session.flush()
    audit.record(session, actor.name, "paper.seal", "paper", paper_id, {
        "sealed_id": sealed.id, "content_hash": sealed.content_hash, "key_id": sealed_package.header.key_id,
        "not_before": window.not_before.isoformat(), "not_after": window.not_after.isoformat(),
        "engines": allowed, "variant_seed": variant_seed, "include_key": include_key,
    })
    return sealed


def invalidate_sealed(session: Session, paper_id: int) -> int:
    """Deactivate a paper's sealed packages (for the incident service); returns how many were active."""
    result = session.execute(
        update(SealedPaper)
        .where(col(SealedPaper.paper_id) == paper_id, col(SealedPaper.active).is_(True))
        .values(active=False)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# ---------------------------------------------------------------- handovers


def _latest_sealed(session: Session, paper_id: int) -> SealedPaper | None:
    """The paper's newest sealed package, active or withdrawn (what a refusal is recorded against)."""
    query = select(SealedPaper).options(defer(SealedPaper.package)).where(SealedPaper.paper_id == paper_id)  # type: ignore[arg-type]
    return session.exec(query.order_by(col(SealedPaper.id).desc())).first()


def _paper_and_active_package(session: Session, paper_id: int) -> tuple[Paper, SealedPaper | None]:
    """The paper and its newest active sealed package, in one query: it runs on every pull."""
    row = session.exec(
        select(Paper, SealedPaper)
        .outerjoin(SealedPaper, and_(col(SealedPaper.paper_id) == Paper.id, col(SealedPaper.active).is_(True)))
        .options(defer(SealedPaper.package))  # type: ignore[arg-type]
        .where(Paper.id == paper_id).order_by(col(SealedPaper.id).desc()).limit(1)
    ).first()
    if row is None:
        raise _missing_paper(paper_id)
    return row[0], row[1]


def _log_refusal(session: Session, engine: Actor, paper_id: int, action: str, refusal: Exception, reason: str) -> None:
    """Record a refusal in its own committed transaction, so it outlives the caller's rollback."""
    with Session(session.get_bind()) as log:
        sealed = _latest_sealed(log, paper_id)
        handover, entry = _refusal_record(engine.name, paper_id, sealed.id if sealed else None, action, reason, refusal)
        insert_rows(log, Handover, [handover])
        audit.record_many(log, [entry])
        log.commit()


def _refusal_record(client: str, paper_id: int, sealed_id: int | None, action: str, reason: str,
                    refusal: Exception) -> tuple[dict[str, Any], audit.Entry]:
    """A refusal's handover row and ledger event, the same wherever it is decided."""
    handover = {"paper_id": paper_id, "sealed_id": sealed_id, "client": client, "action": "refused",
                "content_hash": "", "detail": f"{action}: {reason}: {refusal}", "at": utcnow()}
    entry = audit.Entry(client, f"paper.{action}.refused", "paper", paper_id, {"sealed_id": sealed_id, "reason": reason})
    return handover, entry


def _deliverable(session: Session, engine: Actor, paper_id: int, action: str) -> SealedPaper:
    """The paper's active sealed package if this exam engine may ask for it, or a logged and raised refusal.

    Call it before the caller's transaction writes anything: a refusal is logged through a second
    connection, which would otherwise wait on the caller's locks (the ledger head, SQLite's writer).
    """
    try:
        engine.require(Role.EXAM_ENGINE, action=f"{action} sealed papers")
        paper, sealed = _paper_and_active_package(session, paper_id)
        if sealed is None or paper.status not in DELIVERABLE:
            raise _not_sealed(paper)
    except (Forbidden, NotFound) as refusal:
        _log_refusal(session, engine, paper_id, action, refusal, getattr(refusal, "reason", refusal.code))
        raise
    return sealed


def _not_sealed(paper: Paper) -> DeliveryRefused:
    return DeliveryRefused(f"paper {paper.name} has no active sealed package (status {paper.status})",
                           reason="not_sealed", field="paper_id")


class UnknownClient(NotFound):
    """A pull with a token the bank does not know, or whose holder is inactive (the API answers 401)."""


@dataclass(frozen=True)
class PullRequest:
    """An engine asking for a paper's package, named (scripts, the CLI) or by its token's hash (the API)."""

    paper_id: int
    engine: str | None = None
    token_hash: str | None = None


@dataclass(frozen=True)
class Pull:
    """A pull written to the handover ledger: which package went to which engine."""

    engine: str
    paper_id: int
    sealed_id: int
    content_hash: str


def record_pulls(session: Session, requests: Sequence[PullRequest]) -> list[Pull | ItemBankError]:
    """Decide pull requests and write them as handovers and ledger events in the caller's transaction, in one go.

    The whole decision is taken here, after the ledger head is locked, from what the database holds
    at that point in the ledger's order: who the client is (by name or token hash) and that it is
    an active exam engine, that the paper exists and is deliverable, and that the paper's newest
    active package lists the engine. Concurrent requests share this one transaction and its few
    queries, so a storm of first pulls costs no per-request reads. Each outcome is returned, not
    raised, so that the others still commit: the :class:`Pull` written, or the refusal, which is
    logged as a handover and an event like every refusal (an unknown token names no client and is
    not logged).
    """
    head = audit.lock_head(session)
    papers: dict[int, Paper] = {}
    current: dict[int, _Package] = {}
    for found, sealed_id, engines, digest in session.exec(  # one round trip: papers with their active packages
        select(Paper, SealedPaper.id, SealedPaper.engines, SealedPaper.content_hash)
        .outerjoin(SealedPaper, and_(col(SealedPaper.paper_id) == Paper.id, col(SealedPaper.active).is_(True)))
        .where(col(Paper.id).in_({r.paper_id for r in requests}))
        .order_by(col(SealedPaper.id))
    ).all():
        papers[found.id] = found  # type: ignore[index]
        if sealed_id is not None:  # oldest first: the newest active package of each paper wins
            current[found.id] = _Package(sealed_id, frozenset(engines), digest)  # type: ignore[index]
    outcomes: list[Pull | ItemBankError] = []
    handovers: list[dict[str, Any]] = []
    entries: list[audit.Entry] = []
    payloads: dict[int, dict[str, Any]] = {}  # one object per package, so the ledger hashes it once
    now = utcnow()
    for request, user in zip(requests, _pulling_users(session, requests), strict=True):
        if user is None or not user.active:
            outcomes.append(UnknownClient("unknown or inactive token", field="authorization"))
            continue
        paper = papers.get(request.paper_id)
        sealed = current.get(request.paper_id)
        outcome = _decide(user, request.paper_id, paper, sealed)
        if isinstance(outcome, Pull):
            handovers.append({"paper_id": request.paper_id, "sealed_id": outcome.sealed_id, "client": user.name,
                              "action": "pull", "content_hash": outcome.content_hash, "detail": "", "at": now})
            payload = payloads.setdefault(outcome.sealed_id, {"sealed_id": outcome.sealed_id,
                                                              "content_hash": outcome.content_hash})
            entries.append(audit.Entry(user.name, "paper.pull", "paper", request.paper_id, payload))
        else:
            handover, entry = _refusal_record(user.name, request.paper_id, sealed.id if sealed else None, "pull",
                                              getattr(outcome, "reason", outcome.code), outcome)
            handovers.append(handover)
            entries.append(entry)
        outcomes.append(outcome)
    insert_rows(session, Handover, handovers)  # rows, not objects: hundreds per batch under a pull storm
    audit.record_many(session, entries, head)
    return outcomes


def rehearse_pulls(session: Session) -> list[int]:
    """Take the whole pull path once, for the caller to roll back; return the active packages' ids, newest first.

    Why: a server's first pull batch compiled its statements (and its caller read the package) while
    the exam-morning burst queued behind it, 8-15 ms longer than the batches after it. Rehearsed at
    start-up, in a transaction the caller rolls back so that nothing of it is stored: a pull of paper
    0 by an active exam engine, which is refused and logged like every refusal (decision, handover
    row, ledger event), so every statement of a real batch runs.
    """
    engine_name = session.exec(select(User.name).where(User.role == Role.EXAM_ENGINE.value,
                                                       col(User.active).is_(True)).limit(1)).first()
    if engine_name is not None:
        record_pulls(session, [PullRequest(0, engine=engine_name)])
    return [int(sealed_id) for sealed_id in session.exec(  # type: ignore[arg-type]
        select(SealedPaper.id).where(col(SealedPaper.active).is_(True)).order_by(col(SealedPaper.id).desc())).all()]


class _Client(NamedTuple):
    """The columns of a user that a pull decision reads (plain rows: hundreds per batch)."""

    name: str
    role: str
    active: bool
    token_hash: str


class _Package(NamedTuple):
    """The columns of a paper's active package that a pull decision reads (never the ciphertext)."""

    id: int
    engines: frozenset[str]
    content_hash: str


def _pulling_users(session: Session, requests: Sequence[PullRequest]) -> list[_Client | None]:
    """The user behind each request, by token hash or by name (one query for the batch)."""
    hashes = {r.token_hash for r in requests if r.token_hash}
    names = {r.engine for r in requests if r.engine and not r.token_hash}
    found = [_Client(*row) for row in session.exec(
        select(User.name, User.role, User.active, User.token_hash)
        .where(or_(col(User.token_hash).in_(hashes), col(User.name).in_(names)))).all()]
    by_hash, by_name = {u.token_hash: u for u in found}, {u.name: u for u in found}
    return [by_hash.get(r.token_hash) if r.token_hash else by_name.get(r.engine or "") for r in requests]


def _decide(user: _Client, paper_id: int, paper: Paper | None, sealed: _Package | None) -> Pull | ItemBankError:
    """A pull of this paper's current package by this client, or why not."""
    try:
        Actor(user.name, Role(user.role)).require(Role.EXAM_ENGINE, action="pull sealed papers")
        if paper is None:
            raise _missing_paper(paper_id)
        if sealed is None or paper.status not in DELIVERABLE:
            raise _not_sealed(paper)
        if user.name not in sealed.engines:
            raise DeliveryRefused(f"engine {user.name!r} is not allowed to pull paper {paper.name}",
                                  reason="engine_not_allowed", field="engine_id")
    except ItemBankError as refusal:
        return refusal
    return Pull(user.name, paper_id, sealed.id, sealed.content_hash)


def _package(session: Session, sealed_id: int) -> dict[str, Any]:
    return dict(session.exec(select(SealedPaper.package).where(SealedPaper.id == sealed_id)).one())


class PackageCache:
    """Canonical JSON bytes of sealed packages, by sealed id, byte for byte what the bank signed.

    A sealed row's package never changes (a re-seal is a new row), so under a pull storm each request
    is spared the read, decode and re-encode of the ciphertext. Whether a pull may have the bytes is
    decided elsewhere, on every pull (``record_pulls``, under the ledger lock).
    """

    def __init__(self, engine: Engine, size: int = 32) -> None:
        self._engine = engine
        self.size = size
        self.get: Callable[[int], bytes] = lru_cache(maxsize=size)(self._read)

    def _read(self, sealed_id: int) -> bytes:
        with Session(self._engine) as session:
            return canonical_json(_package(session, sealed_id))


def pull_package(session: Session, engine_actor: Actor, paper_id: int) -> dict[str, Any]:
    """The sealed package (ciphertext, signed header) for an allowed engine; each pull is a handover.

    The one-call form for scripts and tests (the API sends concurrent requests through
    ``record_pulls`` together, ``itembank.group_commit``). The pull or its refusal is committed in
    its own transaction before the package is returned or the refusal raised, so neither the
    caller's rollback nor its later failure can undo the record: call it before the caller's
    transaction writes anything (as with every logged refusal).
    """
    with Session(session.get_bind()) as own:
        outcome = record_pulls(own, [PullRequest(paper_id, engine=engine_actor.name)])[0]
        own.commit()
    if isinstance(outcome, ItemBankError):
        raise outcome
    return _package(session, outcome.sealed_id)


def release_key(session: Session, engine_actor: Actor, paper_id: int, now: datetime | None = None) -> str:
    """The paper's data key (base64) for an allowed engine inside its release window.

    The release policy (``sealing.check_key_release``) judges the engine and the time; the first
    release marks the paper released.
    """
    sealed = _deliverable(session, engine_actor, paper_id, "key_release")
    terms = sealing.SealHeader.from_dict(sealed.package["header"])
    lead = timedelta(minutes=get_settings().key_release_lead_minutes)
    try:
        data_key = sealing.release_data_key(
            get_settings().master_key_bytes(), base64.b64decode(sealed.wrapped_data_key), terms,
            engine_actor.name, as_utc(now) or utcnow(), lead=lead,
        )
    except sealing.KeyReleaseRefused as refusal:
        _log_refusal(session, engine_actor, paper_id, "key_release", refusal, refusal.reason)
        raise
    # Refusals are logged (above) before the ledger head is taken: their own transaction needs it.
    # Once it is held no re-seal can commit, so a package retired since it was read is caught here.
    audit.lock_head(session)
    _, current = _paper_and_active_package(session, paper_id)
    if current is None or current.id != sealed.id:
        raise Busy(f"paper {paper_id} was re-sealed or withdrawn while this key request was decided; "
                   "nothing was released: ask again (a re-sealed paper's package must be pulled again)",
                   field="paper_id")
    session.add(Handover(paper_id=paper_id, sealed_id=sealed.id, client=engine_actor.name, action="key_release",
                         content_hash=sealed.content_hash))
    audit.record(session, engine_actor.name, "paper.key_release", "paper", paper_id, {
        "sealed_id": sealed.id, "content_hash": sealed.content_hash,
    })
    advance_paper(session, get_paper(session, paper_id), PaperStatus.RELEASED, from_statuses=frozenset({PaperStatus.SEALED}))
    return base64.b64encode(data_key).decode("ascii")


def available_papers(session: Session, engine_actor: Actor) -> list[dict[str, Any]]:
    """The body of ``GET /engine/papers``: active sealed papers this engine may pull."""
    engine_actor.require(Role.EXAM_ENGINE, action="list sealed papers")
    rows = session.exec(
        select(SealedPaper, Paper)
        .join(Paper, col(Paper.id) == SealedPaper.paper_id)
        .where(col(SealedPaper.active).is_(True), col(Paper.status).in_([s.value for s in DELIVERABLE]))
        .order_by(col(SealedPaper.not_before), col(SealedPaper.id))
    ).all()
    return [
        {
            "paper_id": paper.id, "name": paper.name, "content_hash": sealed.content_hash,
            "not_before": as_utc(sealed.not_before), "not_after": as_utc(sealed.not_after),
        }
        for sealed, paper in rows
        if engine_actor.name in sealed.engines
    ]


def handovers(session: Session, actor: Actor, paper_id: int | None = None) -> list[Handover]:
    """The handover record (交接记录), oldest first, of one paper or of all."""
    actor.require(*HANDOVER_READERS, action="read handover records")
    query = select(Handover)
    if paper_id is not None:
        query = query.where(Handover.paper_id == paper_id)
    return list(session.exec(query.order_by(col(Handover.id))).all())
