"""Sealing papers for exam engines, pulls, key release in its window, handovers and refusals."""

from __future__ import annotations

import base64
import contextlib
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select

from itembank import audit, sealing
from itembank.db import transaction
from itembank.errors import Busy, Conflict, Forbidden, ValidationError
from itembank.hashing import canonical_json
from itembank.models import (
    AuditEvent,
    Handover,
    Item,
    ItemStatus,
    Paper,
    PaperItem,
    PaperStatus,
    Role,
    SealedPaper,
    User,
)
from itembank.records import ItemRecord
from itembank.sealing import (
    KeyReleaseRefused,
    SealedPackage,
    TamperedPackage,
    load_public_key,
    open_sealed,
    verify,
)
from itembank.services import blueprints, delivery, items, papers, responses, workflow
from itembank.services.actors import Actor
from itembank.services.users import add_user, hash_token
from tests.conftest import small_blueprint_document

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
WINDOW = {"not_before": NOW, "not_after": NOW + timedelta(hours=2)}
CHOICES = {"A": "甲", "B": "乙", "C": "丙", "D": "丁"}
RECORDS = [
    ItemRecord(external_id="D-001", type="single_choice", element="A-A-001", points=2, stem="第一题", options=CHOICES, key="B"),
    ItemRecord(external_id="D-002", type="single_choice", element="A-A-002", points=2, stem="第二题", options=CHOICES, key="D"),
    ItemRecord(external_id="D-003", type="multiple_choice", element="B-A-001", points=4, stem="第三题", options=CHOICES, key="AC"),
    ItemRecord(external_id="D-004", type="true_false", element="B-B-001", points=2, stem="第四题", key="T"),
    ItemRecord(external_id="D-005", type="single_choice", element="B-B-001", points=2, stem="材料第一问",
               options=CHOICES, key="A", set_id="S-1", stimulus="案例材料"),
    ItemRecord(external_id="D-006", type="short_answer", element="B-B-002", points=8, stem="材料第二问",
               rubric="要点三条", set_id="S-1", stimulus="案例材料"),
]
SECRETS = ("要点三条",)
POSTGRES_ONLY = pytest.mark.parametrize("backend", ["postgres"])
"""For races only PostgreSQL can stage: its row locks let both sides hold one lock and want the other's, its
deadlock detector and lock functions are used. SQLite has one writer lock (``audit.lock_head`` takes it), so
the other concurrency tests run on both."""


@pytest.fixture
def bank(engine: Engine, staff: dict[str, Actor]) -> dict[str, Actor]:
    """Staff, a second exam engine and the six active items of RECORDS."""
    with transaction(engine) as session:
        add_user(session, staff["admin"], "engine2", Role.EXAM_ENGINE)
        blueprint = blueprints.import_blueprint(session, staff["manager"], small_blueprint_document())
        items.create_items(session, staff["writer"], blueprint, list(enumerate(RECORDS)), status=ItemStatus.ACTIVE)
    return staff | {"engine2": Actor("engine2", Role.EXAM_ENGINE)}


def make_paper(engine: Engine, name: str = "P-1", status: PaperStatus = PaperStatus.APPROVED) -> int:
    """An approved paper of all RECORDS, the testlet in its own section."""
    with transaction(engine) as session:
        paper = Paper(name=name, role="main", status=status.value, total_points=20, duration_minutes=60,
                      created_by="manager")
        session.add(paper)
        session.flush()
        rows = session.exec(select(Item).order_by(col(Item.external_id))).all()
        session.add_all(
            PaperItem(paper_id=paper.id, position=n, item_id=item.id, version=1,  # type: ignore[arg-type]
                      section="case" if item.set_id else "objective", points=RECORDS[n].points)
            for n, item in enumerate(rows)
        )
        return int(paper.id)  # type: ignore[arg-type]


def seal(engine: Engine, actor: Actor, paper_id: int, **options: Any) -> SealedPaper:
    with transaction(engine) as session:
        return delivery.seal_paper(session, actor, paper_id, **(WINDOW | {"engines": ["engine1"]} | options))


def bank_public_key(engine: Engine) -> Any:
    with transaction(engine) as session:
        return load_public_key(delivery.public_key_pem(session))


def data_key(engine: Engine, actor: Actor, paper_id: int, now: datetime = NOW) -> bytes:
    with transaction(engine) as session:
        return base64.b64decode(delivery.release_key(session, actor, paper_id, now=now))


def test_sealed_package_verifies_opens_and_holds_no_answer_key(engine: Engine, bank: dict[str, Actor]) -> None:
    paper_id = make_paper(engine)
    sealed = seal(engine, bank["manager"], paper_id)
    with transaction(engine) as session:
        raw = delivery.pull_package(session, bank["engine1"], paper_id)
        assert session.get(Paper, paper_id).status == PaperStatus.SEALED  # type: ignore[union-attr]
    package = SealedPackage.from_dict(raw)
    public = bank_public_key(engine)
    assert verify(package, public).content_hash == sealed.content_hash
    content = open_sealed(package, data_key(engine, bank["engine1"], paper_id), public)

    delivered = {i["item_id"]: i for s in content["sections"] for i in s["items"]}
    assert list(delivered) == [r.external_id for r in RECORDS]
    assert [s["name"] for s in content["sections"]] == ["objective", "case"]
    assert content["paper"]["duration_minutes"] == 60 and content["paper"]["total_points"] == 20
    assert delivered["D-005"]["stimulus"] == "案例材料" and delivered["D-005"]["set_id"] == "S-1"
    assert all("key" not in i and "rubric" not in i for i in delivered.values())
    assert "answer_key" not in content
    plain = canonical_json(content).decode()
    assert not any(secret in plain for secret in SECRETS)
    with transaction(engine) as session:
        stored = canonical_json(session.get(SealedPaper, sealed.id).package).decode()  # type: ignore[union-attr]
        assert "第一题" not in stored and "D-001" not in stored  # ciphertext only, even for item ids
        assert session.get(Paper, paper_id).status == PaperStatus.RELEASED  # type: ignore[union-attr]


def test_tampered_package_fails_verification(engine: Engine, bank: dict[str, Actor]) -> None:
    paper_id = make_paper(engine)
    seal(engine, bank["manager"], paper_id)
    with transaction(engine) as session:
        raw = delivery.pull_package(session, bank["engine1"], paper_id)
    raw["header"] = raw["header"] | {"not_after": "2030-01-01T00:00:00Z"}
    with pytest.raises(TamperedPackage):
        verify(SealedPackage.from_dict(raw), bank_public_key(engine))


def test_key_released_only_in_window_and_only_to_allowed_engine(engine: Engine, bank: dict[str, Actor]) -> None:
    paper_id = make_paper(engine)
    seal(engine, bank["manager"], paper_id)
    refusals = [
        (bank["engine1"], NOW - timedelta(minutes=16), "too_early"),
        (bank["engine1"], NOW + timedelta(hours=2), "window_closed"),
        (bank["engine2"], NOW, "engine_not_allowed"),
    ]
    for actor, moment, reason in refusals:
        with pytest.raises(KeyReleaseRefused) as refused:
            data_key(engine, actor, paper_id, moment)
        assert refused.value.reason == reason
    with pytest.raises(Forbidden), transaction(engine) as session:
        delivery.pull_package(session, bank["engine2"], paper_id)
    assert len(data_key(engine, bank["engine1"], paper_id, NOW - timedelta(minutes=15))) == 32

    with transaction(engine) as session:
        log = delivery.handovers(session, bank["auditor"], paper_id)
        refused = [h for h in log if h.action == "refused"]
        assert [(h.client, h.detail.split(": ")[1]) for h in refused] == [
            ("engine1", "too_early"), ("engine1", "window_closed"), ("engine2", "engine_not_allowed"),
            ("engine2", "engine_not_allowed"),
        ]
        assert [h.action for h in log][-1] == "key_release"
        actions = session.exec(select(AuditEvent.action).where(col(AuditEvent.action).like("paper.%"))).all()
        assert actions.count("paper.key_release.refused") == 3 and actions.count("paper.pull.refused") == 1
        assert audit.verify(session).ok
        with pytest.raises(Forbidden):
            delivery.handovers(session, bank["engine1"], paper_id)


def test_seal_refuses_unapproved_papers_and_non_engine_clients(engine: Engine, bank: dict[str, Actor]) -> None:
    draft = make_paper(engine, "P-draft", PaperStatus.DRAFT)
    with pytest.raises(Conflict, match="draft"):
        seal(engine, bank["manager"], draft)
    paper_id = make_paper(engine)
    with pytest.raises(ValidationError) as bad:
        seal(engine, bank["manager"], paper_id, engines=["engine1", "writer", "nobody"])
    assert bad.value.field == "engines" and bad.value.details == ["nobody", "writer"]
    with pytest.raises(Forbidden):
        seal(engine, bank["psychometrician"], paper_id)
    with transaction(engine) as session:
        assert session.get(Paper, paper_id).status == PaperStatus.APPROVED  # type: ignore[union-attr]
        assert session.exec(select(SealedPaper)).all() == []


def test_reseal_retires_the_old_package_and_variant_ships_keys_in_presented_labels(
    engine: Engine, bank: dict[str, Actor]
) -> None:
    paper_id = make_paper(engine)
    first = seal(engine, bank["manager"], paper_id)
    second = seal(engine, bank["manager"], paper_id, variant_seed=7, include_key=True, engines=["engine1", "engine2"])
    with transaction(engine) as session:
        active = session.exec(select(SealedPaper.id).where(col(SealedPaper.active).is_(True))).all()
        assert active == [second.id] and first.id != second.id
        raw = delivery.pull_package(session, bank["engine2"], paper_id)
    content = open_sealed(SealedPackage.from_dict(raw), data_key(engine, bank["engine2"], paper_id), bank_public_key(engine))
    delivered = {i["item_id"]: i for s in content["sections"] for i in s["items"]}
    for record in RECORDS:
        if record.type in ("single_choice", "multiple_choice"):
            shown = {o["text"]: o["label"] for o in delivered[record.external_id]["options"]}
            expected = "".join(sorted(shown[record.options[letter]] for letter in record.key))  # type: ignore[index,union-attr]
            assert content["answer_key"][record.external_id] == expected
    assert content["answer_key"]["D-004"] == "T" and "D-006" not in content["answer_key"]


def test_invalidated_package_can_no_longer_be_pulled(engine: Engine, bank: dict[str, Actor]) -> None:
    paper_id = make_paper(engine)
    seal(engine, bank["manager"], paper_id)
    with transaction(engine) as session:
        assert [p["paper_id"] for p in delivery.available_papers(session, bank["engine1"])] == [paper_id]
        assert delivery.available_papers(session, bank["engine2"]) == []
        assert delivery.invalidate_sealed(session, paper_id) == 1
    with pytest.raises(Forbidden, match="no active sealed package"), transaction(engine) as session:
        delivery.pull_package(session, bank["engine1"], paper_id)


def test_one_batch_decides_each_pull_request_on_its_own(engine: Engine, bank: dict[str, Actor]) -> None:
    """The API's batches mix engines, tokens and papers; each request gets its own outcome and record."""
    paper_id = make_paper(engine)
    seal(engine, bank["manager"], paper_id)
    with transaction(engine) as session:
        _, token = add_user(session, bank["admin"], "engine3", Role.EXAM_ENGINE)
        engine1_hash = session.exec(select(User.token_hash).where(User.name == "engine1")).one()
    requests = [
        delivery.PullRequest(paper_id, engine="engine1"),
        delivery.PullRequest(paper_id, token_hash=engine1_hash),
        delivery.PullRequest(paper_id, token_hash=hash_token(token)),  # engine3: not on the package
        delivery.PullRequest(paper_id, token_hash=hash_token("not-a-token")),
        delivery.PullRequest(paper_id, engine="manager"),
        delivery.PullRequest(paper_id + 1000, engine="engine1"),
    ]
    with transaction(engine) as session:
        outcomes = delivery.record_pulls(session, requests)
    first, second = outcomes[:2]
    assert isinstance(first, delivery.Pull) and first == second and first.engine == "engine1"
    assert [type(o).__name__ for o in outcomes[2:]] == ["DeliveryRefused", "UnknownClient", "Forbidden", "NotFound"]
    assert getattr(outcomes[2], "reason", None) == "engine_not_allowed"
    with transaction(engine) as session:
        rows = session.exec(select(Handover).order_by(col(Handover.id))).all()
        assert [(h.client, h.action) for h in rows] == [
            ("engine1", "pull"), ("engine1", "pull"), ("engine3", "refused"), ("manager", "refused"),
            ("engine1", "refused"),
        ]  # the unknown token names no client: nothing to record
        assert rows[0].sealed_id == first.sealed_id and rows[0].content_hash == first.content_hash
        actions = [e.action for e in session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all()]
        assert actions[-5:] == ["paper.pull"] * 2 + ["paper.pull.refused"] * 3
        assert audit.verify(session).ok


def test_a_pull_gets_the_papers_current_package_and_none_once_withdrawn(engine: Engine, bank: dict[str, Actor]) -> None:
    """A damaged package re-released: the next pull is of the new one; after a leak report, a logged refusal."""
    paper_id = make_paper(engine)
    first = seal(engine, bank["manager"], paper_id)
    second = seal(engine, bank["manager"], paper_id)
    request = delivery.PullRequest(paper_id, engine="engine1")
    with transaction(engine) as session:
        (pulled,) = delivery.record_pulls(session, [request])
    assert isinstance(pulled, delivery.Pull)
    assert (pulled.sealed_id, pulled.content_hash) == (second.id, second.content_hash) != (first.id, first.content_hash)
    with transaction(engine) as session:
        delivery.invalidate_sealed(session, paper_id)
    with transaction(engine) as session:
        (refusal,) = delivery.record_pulls(session, [request])
    assert isinstance(refusal, delivery.DeliveryRefused) and refusal.reason == "not_sealed"
    with transaction(engine) as session:
        assert [h.action for h in session.exec(select(Handover).order_by(col(Handover.id))).all()] == ["pull", "refused"]
        assert audit.verify(session).ok


def _race(engine: Engine, work: list[Any]) -> list[BaseException | None]:
    """Run each callable in its own thread and transaction, started together at a barrier."""
    barrier = threading.Barrier(len(work))
    outcomes: list[BaseException | None] = [None] * len(work)

    def run(n: int) -> None:
        barrier.wait()
        try:
            work[n]()
        except BaseException as error:  # noqa: BLE001 - the test inspects every outcome
            outcomes[n] = error

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


def test_two_managers_sealing_at_once_lose_no_update(engine: Engine, bank: dict[str, Actor],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Both managers read the approved paper before either writes (held at a barrier right after the
    read, so a loaded machine cannot run the two seals one after the other); one wins, one conflicts."""
    with transaction(engine) as session:
        add_user(session, bank["admin"], "manager2", Role.BANK_MANAGER)
        delivery.signing_key(session)
    managers = [bank["manager"], Actor("manager2", Role.BANK_MANAGER)]
    read = delivery.get_paper
    for round_ in range(3):
        both_read = threading.Barrier(len(managers), timeout=30)

        def get_paper_then_wait(session: Session, paper_id: int, barrier: threading.Barrier = both_read) -> Paper:
            paper = read(session, paper_id)
            barrier.wait()
            return paper

        monkeypatch.setattr(delivery, "get_paper", get_paper_then_wait)
        paper_id = make_paper(engine, f"P-race-{round_}")
        outcomes = _race(engine, [lambda m=m, p=paper_id: seal(engine, m, p) for m in managers])
        assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "NoneType"], outcomes
        with transaction(engine) as session:
            paper = session.get(Paper, paper_id)
            assert paper is not None and paper.status == PaperStatus.SEALED and paper.lock_version == 2
            sealed = session.exec(select(SealedPaper).where(SealedPaper.paper_id == paper_id)).all()
            assert [s.active for s in sealed] == [True]


def test_first_seals_at_once_agree_on_one_signing_key(engine: Engine, bank: dict[str, Actor]) -> None:
    papers = [make_paper(engine, f"P-key-{n}") for n in range(4)]
    outcomes = _race(engine, [lambda p=p: seal(engine, bank["manager"], p) for p in papers])
    assert outcomes == [None] * 4
    public = bank_public_key(engine)
    with transaction(engine) as session:
        for sealed in session.exec(select(SealedPaper)).all():
            verify(SealedPackage.from_dict(sealed.package), public)
        handover_rows = session.exec(select(Handover)).all()
    assert handover_rows == []


def hold_at_paper_moves(monkeypatch: pytest.MonkeyPatch, holding: PaperStatus, reaching: PaperStatus) -> None:
    """Hold two operations where each would hold one lock and want the other's: the move to ``holding``
    right after it moved the paper's row, the move to ``reaching`` right before (its caller holding the
    ledger head). With one lock order they wait for each other instead (the barrier times out)."""
    advance = delivery.advance_paper
    both_there = threading.Barrier(2, timeout=3)

    def meet() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):  # the other waits on a lock this one holds
            both_there.wait()

    def held_advance(session: Session, paper: Paper, status: PaperStatus, **terms: Any) -> bool:
        if status == holding:
            moved = advance(session, paper, status, **terms)
            meet()
            return moved
        if status == reaching:
            meet()
        return advance(session, paper, status, **terms)

    for module in (delivery, responses):  # responses imports it by name
        monkeypatch.setattr(module, "advance_paper", held_advance)


@POSTGRES_ONLY
def test_a_re_seal_and_the_first_key_release_of_one_paper_do_not_deadlock(
    engine: Engine, bank: dict[str, Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing may end in PostgreSQL's deadlock detector (a 503 busy). Fair outcomes: the re-seal conflicts on
    the paper the release moved; or the re-seal takes the head first and the release, which read the old
    package before it, re-checks under the head and releases nothing ("ask again")."""
    paper_id = make_paper(engine)
    seal(engine, bank["manager"], paper_id)
    hold_at_paper_moves(monkeypatch, holding=PaperStatus.SEALED, reaching=PaperStatus.RELEASED)
    resealed, released = _race(engine, [lambda: seal(engine, bank["manager"], paper_id, variant_seed=3),
                                         lambda: data_key(engine, bank["engine1"], paper_id)])
    assert resealed is None or isinstance(resealed, Conflict), resealed
    assert released is None or (isinstance(released, Busy) and "re-sealed or withdrawn" in released.message), released
    with transaction(engine) as session:
        assert audit.verify(session).ok


def test_a_key_request_decided_before_a_re_seal_committed_releases_nothing(
    engine: Engine, bank: dict[str, Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The release reads the active package, then a re-seal commits before it writes: the old package's
    key must not go out (it is retired), and the engine is told to ask again."""
    paper_id = make_paper(engine)
    old = seal(engine, bank["manager"], paper_id)
    release = sealing.release_data_key

    def release_then_re_seal(*args: Any, **kwargs: Any) -> bytes:
        key = release(*args, **kwargs)
        re_seal = threading.Thread(target=seal, args=(engine, bank["manager"], paper_id), kwargs={"variant_seed": 5})
        re_seal.start()
        re_seal.join(30)
        return key

    monkeypatch.setattr(sealing, "release_data_key", release_then_re_seal)
    with pytest.raises(Busy, match="nothing was released|nothing was stored"):
        data_key(engine, bank["engine1"], paper_id)
    monkeypatch.setattr(sealing, "release_data_key", release)
    with transaction(engine) as session:
        new = session.exec(select(SealedPaper).where(col(SealedPaper.active).is_(True))).one()
        assert new.id != old.id and new.variant_seed == 5
        assert not session.exec(select(Handover).where(Handover.action == "key_release")).all()
    assert data_key(engine, bank["engine1"], paper_id), "asked again, the current package's key is released"


def test_a_paper_holding_a_compromised_item_is_neither_approved_nor_sealed(engine: Engine, bank: dict[str, Actor]) -> None:
    """D-002 leaked with another paper: no paper carrying it goes out again, its pretest block included."""
    draft = make_paper(engine, "P-draft", PaperStatus.DRAFT)
    approved = make_paper(engine, "P-approved")
    with transaction(engine) as session:
        workflow.transition(session, bank["manager"], ["D-002"], "compromise", reason="leaked with paper P-0")
    with pytest.raises(Conflict, match="1 compromised item.*D-002") as refused:
        seal(engine, bank["manager"], approved)
    assert refused.value.field == "items" and refused.value.details == ["D-002"]
    with pytest.raises(Conflict, match="D-002"), transaction(engine) as session:
        papers.approve_paper(session, bank["manager"], draft)
    with transaction(engine) as session:
        assert [session.get(Paper, p).status for p in (draft, approved)] == ["draft", "approved"]  # type: ignore[union-attr]
        assert session.exec(select(SealedPaper)).all() == []
        paper = session.get(Paper, approved)
        paper.provenance = {delivery.PRETEST: [{"item_id": "D-002", "version": 1}]}  # type: ignore[union-attr]
        session.exec(delete(PaperItem).where(PaperItem.item_id == session.exec(  # type: ignore[call-overload]
            select(Item.id).where(Item.external_id == "D-002")).one()))
        session.add(paper)
    with pytest.raises(Conflict, match="D-002"):
        seal(engine, bank["manager"], approved)
