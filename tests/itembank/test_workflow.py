"""The review workflow: every transition of the table, every wrong role, the acceptance panel."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from itembank.db import transaction
from itembank.errors import Conflict, Forbidden, ValidationError
from itembank.models import Item, ItemStatus, Role
from itembank.records import ItemRecord
from itembank.services import blueprints, items, workflow
from itembank.services.actors import Actor
from tests.conftest import PANEL, hold_after, small_blueprint_document
from tests.itembank.test_delivery import _race

ROLE_HOLDER = {
    Role.PROOFREADER: "proofreader",
    Role.REVIEWER: "reviewer",
    Role.BANK_MANAGER: "manager",
}


def _one_item(engine: Engine, staff: dict[str, Actor], status: ItemStatus, n: int = 1) -> str:
    with transaction(engine) as session:
        bp = blueprints.import_blueprint(session, staff["manager"], small_blueprint_document(f"v{n}-{status}"))
        record = ItemRecord(external_id=f"T-{n:05d}", type="single_choice", element="A-A-001", points=1,
                            stem=f"第{n}题", options={"A": "甲", "B": "乙"}, key="B", difficulty=3)
        (item,) = items.create_items(session, staff["writer"], bp, [(2, record)])
        item.status = status
        session.add(item)
        return item.external_id


def _status(engine: Engine, external_id: str) -> ItemStatus:
    with transaction(engine) as session:
        return ItemStatus(session.exec(select(Item.status).where(Item.external_id == external_id)).one())


@pytest.mark.parametrize(
    ("action", "source"),
    [(a, s) for a, t in workflow.TRANSITIONS.items() for s in ItemStatus],
)
def test_transition_table(engine: Engine, staff: dict[str, Actor], action: str, source: ItemStatus) -> None:
    """Each action moves exactly the statuses in its sources, and refuses every other status."""
    rule = workflow.TRANSITIONS[action]
    external_id = _one_item(engine, staff, source)
    actor = staff[ROLE_HOLDER[rule.roles[-1]]] if rule.roles[-1] in ROLE_HOLDER else staff[ROLE_HOLDER[rule.roles[0]]]
    if source in rule.sources:
        with transaction(engine) as session:
            workflow.transition(session, actor, [external_id], action, reason="test reason")
        assert _status(engine, external_id) == rule.target
    else:
        with pytest.raises(Conflict, match=f"cannot {action}"), transaction(engine) as session:
            workflow.transition(session, actor, [external_id], action, reason="test reason")
        assert _status(engine, external_id) == source


@pytest.mark.parametrize(("action", "role"), [
    (a, r) for a, t in workflow.TRANSITIONS.items() for r in Role if r not in t.roles
])
def test_every_wrong_role_is_refused(engine: Engine, staff: dict[str, Actor], action: str, role: Role) -> None:
    source = next(iter(sorted(workflow.TRANSITIONS[action].sources)))
    external_id = _one_item(engine, staff, source)
    with pytest.raises(Forbidden, match=f"may not {action} items"), transaction(engine) as session:
        workflow.transition(session, Actor("someone", role), [external_id], action, reason="x")
    assert _status(engine, external_id) == source


def test_writer_cannot_proofread_own_item(engine: Engine, staff: dict[str, Actor]) -> None:
    external_id = _one_item(engine, staff, ItemStatus.DRAFT)
    with pytest.raises(Conflict, match="wrote"), transaction(engine) as session:
        workflow.transition(session, Actor("writer", Role.PROOFREADER), [external_id], "proofread")


def test_reason_is_required_where_the_rules_ask_for_one(engine: Engine, staff: dict[str, Actor]) -> None:
    external_id = _one_item(engine, staff, ItemStatus.ACTIVE)
    with pytest.raises(ValidationError, match="needs a reason"), transaction(engine) as session:
        workflow.transition(session, staff["manager"], [external_id], "suspend")


def test_panel_needs_five_distinct_members(engine: Engine, staff: dict[str, Actor]) -> None:
    external_id = _one_item(engine, staff, ItemStatus.REVIEWED)
    for name in PANEL[:4]:
        with transaction(engine) as session:
            workflow.sign(session, staff[name], [external_id], "approve")
        assert _status(engine, external_id) == ItemStatus.REVIEWED
    with pytest.raises(Conflict, match="already signed"), transaction(engine) as session:
        workflow.sign(session, staff[PANEL[0]], [external_id], "approve")
    with transaction(engine) as session:
        workflow.sign(session, staff[PANEL[4]], [external_id], "approve")
    assert _status(engine, external_id) == ItemStatus.ACCEPTED


def test_one_panel_rejection_sends_the_item_back_and_restarts_the_round(engine: Engine, staff: dict[str, Actor]) -> None:
    external_id = _one_item(engine, staff, ItemStatus.REVIEWED)
    for name in PANEL[:4]:
        with transaction(engine) as session:
            workflow.sign(session, staff[name], [external_id], "approve")
    with transaction(engine) as session:
        workflow.sign(session, staff[PANEL[4]], [external_id], "reject", reason="选项C表述不严谨")
    assert _status(engine, external_id) == ItemStatus.DRAFT
    with transaction(engine) as session:
        item = items.get_item(session, external_id)
        assert "选项C表述不严谨" in item.status_reason
        workflow.transition(session, staff["proofreader"], [external_id], "proofread")
        workflow.transition(session, staff["reviewer"], [external_id], "review")
    with transaction(engine) as session:  # the four earlier approvals no longer count
        workflow.sign(session, staff[PANEL[5]], [external_id], "approve")
    assert _status(engine, external_id) == ItemStatus.REVIEWED


def test_non_panel_roles_cannot_sign(engine: Engine, staff: dict[str, Actor]) -> None:
    external_id = _one_item(engine, staff, ItemStatus.REVIEWED)
    for name in ("manager", "reviewer", "admin"):
        with pytest.raises(Forbidden), transaction(engine) as session:
            workflow.sign(session, staff[name], [external_id], "approve")


def test_full_path_to_active_and_edit_goes_back_to_review(engine: Engine, staff: dict[str, Actor]) -> None:
    external_id = _one_item(engine, staff, ItemStatus.DRAFT)
    steps = [("proofreader", "proofread"), ("reviewer", "review")]
    for who, action in steps:
        with transaction(engine) as session:
            workflow.transition(session, staff[who], [external_id], action)
    for name in PANEL[:5]:
        with transaction(engine) as session:
            workflow.sign(session, staff[name], [external_id], "approve")
    with transaction(engine) as session:
        workflow.transition(session, staff["manager"], [external_id], "activate")
    assert _status(engine, external_id) == ItemStatus.ACTIVE
    with transaction(engine) as session:
        old = items.current_version(session, items.get_item(session, external_id))
        record = ItemRecord(external_id=external_id, type="single_choice", element="A-A-001", points=1,
                            stem="改过的题干", options={"A": "甲", "B": "乙"}, key="A")
        items.edit_item(session, staff["writer2"], external_id, record, expected_version=1)
    with transaction(engine) as session:
        item = items.get_item(session, external_id)
        assert (item.status, item.current_version) == (ItemStatus.DRAFT, 2)
        first = session.exec(select(items.ItemVersion).where(items.ItemVersion.item_id == item.id,
                                                                items.ItemVersion.version == 1)).one()
        assert (first.stem, first.content_hash) == (old.stem, old.content_hash)
    with pytest.raises(Conflict, match="at version 2, not 1"), transaction(engine) as session:
        items.edit_item(session, staff["writer2"], external_id, record, expected_version=1)


def test_batch_with_one_illegal_item_moves_nothing(engine: Engine, staff: dict[str, Actor]) -> None:
    good = _one_item(engine, staff, ItemStatus.DRAFT, n=1)
    bad = _one_item(engine, staff, ItemStatus.ACTIVE, n=2)
    with pytest.raises(Conflict), transaction(engine) as session:
        workflow.transition(session, staff["proofreader"], [good, bad], "proofread")
    assert [_status(engine, i) for i in (good, bad)] == [ItemStatus.DRAFT, ItemStatus.ACTIVE]


def test_roles_table_is_complete() -> None:
    covered = set(itertools.chain.from_iterable(t.roles for t in workflow.TRANSITIONS.values()))
    assert covered <= set(ROLE_HOLDER)



def test_the_last_two_panel_approvals_at_once_accept_the_item(engine: Engine, staff: dict[str, Actor],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Four of five approvals in, the fourth and fifth members sign at the same moment: each must count the other."""
    external_id = _one_item(engine, staff, ItemStatus.REVIEWED)
    for name in PANEL[:3]:
        with transaction(engine) as session:
            workflow.sign(session, staff[name], [external_id], "approve")
    hold_after(monkeypatch, workflow, "_panel_signatures")

    def approve(name: str) -> Callable[[], None]:
        def run() -> None:
            with transaction(engine) as session:
                workflow.sign(session, staff[name], [external_id], "approve")
        return run

    assert _race(engine, [approve(PANEL[3]), approve(PANEL[4])]) == [None, None]
    assert _status(engine, external_id) == ItemStatus.ACCEPTED


def test_a_suspension_racing_a_leak_compromise_never_uncompromises_the_item(
    engine: Engine, staff: dict[str, Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A manager suspends an item while a leak report compromises it. Whichever goes first, the item ends
    compromised (a suspended item can be reinstated; a compromised one never returns to papers). The
    suspension, held longer after its read, commits last when both decided on what they read before the lock."""
    external_id = _one_item(engine, staff, ItemStatus.ACTIVE)
    suspending = threading.local()
    hold_after(monkeypatch, workflow, "_items", pause=lambda: 0.5 if getattr(suspending, "yes", False) else 0.0)

    def move(action: str) -> Callable[[], None]:
        def run() -> None:
            suspending.yes = action == "suspend"
            with transaction(engine) as session:
                workflow.transition(session, staff["manager"], [external_id], action, reason=f"{action} in a race")
        return run

    outcomes = _race(engine, [move("suspend"), move("compromise")])
    assert outcomes[1] is None and (outcomes[0] is None or isinstance(outcomes[0], Conflict)), outcomes
    assert _status(engine, external_id) == ItemStatus.COMPROMISED
