"""The review workflow from the bank-management rules (试题管理办法, 第十三条–第十八条).

    draft ──proofread──► proofread ──review──► reviewed ──panel (≥5 sign)──► accepted ──activate──► active
      ▲                      │ return               │ any panel rejection                         │ suspend / retire / compromise
      └──────────────────────┴──────────────────────┘                                              ▼
                                                                                     suspended, retired, compromised

Each transition checks the actor's role; proofreaders and reviewers may not pass their own writing;
the acceptance panel needs distinct members who all sign, and one rejection sends the item back to draft.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlmodel import Session, col, select

from itembank import audit
from itembank.config import get_settings
from itembank.errors import Conflict, ValidationError
from itembank.models import Item, ItemStatus, ItemVersion, ReviewSignoff, Role
from itembank.models.base import utcnow
from itembank.services.actors import Actor

S = ItemStatus


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[ItemStatus]
    target: ItemStatus
    roles: tuple[Role, ...]
    needs_reason: bool = False
    not_by_writer: bool = False


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("proofread", frozenset({S.DRAFT}), S.PROOFREAD, (Role.PROOFREADER,), not_by_writer=True),
        Transition("review", frozenset({S.PROOFREAD}), S.REVIEWED, (Role.REVIEWER,), not_by_writer=True),
        Transition("return", frozenset({S.PROOFREAD, S.REVIEWED}), S.DRAFT, (Role.PROOFREADER, Role.REVIEWER), needs_reason=True),
        Transition("activate", frozenset({S.ACCEPTED}), S.ACTIVE, (Role.BANK_MANAGER,)),
        Transition("suspend", frozenset({S.ACTIVE}), S.SUSPENDED, (Role.BANK_MANAGER,), needs_reason=True),
        Transition("reinstate", frozenset({S.SUSPENDED}), S.ACTIVE, (Role.BANK_MANAGER,), needs_reason=True),
        Transition(
            "retire",
            frozenset({S.DRAFT, S.PROOFREAD, S.REVIEWED, S.ACCEPTED, S.ACTIVE, S.SUSPENDED, S.COMPROMISED}),
            S.RETIRED, (Role.BANK_MANAGER,), needs_reason=True,
        ),
        Transition("compromise", frozenset({S.ACCEPTED, S.ACTIVE, S.SUSPENDED}), S.COMPROMISED, (Role.BANK_MANAGER,), needs_reason=True),
    )
}
PANEL_ACTIONS = ("approve", "reject")


def _items(session: Session, external_ids: Sequence[str]) -> list[Item]:
    """The named items as the database holds them now; the caller holds the ledger head.

    A move is decided on what is read here, so it must be read under the head (the bank's one lock
    order, docs/architecture.md), and fresh: the caller may have loaded the same items earlier in
    its transaction, before the lock (a leak report does). On PostgreSQL, decided on a read from
    before the lock, a suspension racing a leak's compromise left the item suspended, to be
    reinstated later, and two last panel approvals at once left an item unaccepted.
    """
    ids = list(dict.fromkeys(external_ids))
    if not ids:
        raise ValidationError("no items named", field="items")
    found = {i.external_id: i for i in session.exec(
        select(Item).where(col(Item.external_id).in_(ids)).execution_options(populate_existing=True)).all()}
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationError(f"no such item(s): {', '.join(missing[:20])}", field="items")
    return [found[i] for i in ids]


def _writers(session: Session, items: Sequence[Item]) -> dict[int, str]:
    rows = session.exec(
        select(ItemVersion.item_id, ItemVersion.version, ItemVersion.created_by).where(
            col(ItemVersion.item_id).in_([i.id for i in items])
        )
    ).all()
    current = {i.id: i.current_version for i in items}
    return {item_id: who for item_id, version, who in rows if current[item_id] == version}


def transition(session: Session, actor: Actor, external_ids: Sequence[str], action: str, reason: str = "") -> list[Item]:
    """Move every named item by ``action``; one illegal item refuses the whole batch."""
    if action not in TRANSITIONS:
        choices = ", ".join([*TRANSITIONS, "sign"])
        raise ValidationError(f"unknown review action '{action}'; choose one of {choices}", field="action")
    rule = TRANSITIONS[action]
    actor.require(*rule.roles, action=f"{action} items")
    if rule.needs_reason and not reason.strip():
        raise ValidationError(f"'{action}' needs a reason", field="reason")
    head = audit.lock_head(session)  # before the items are read: see _items
    items = _items(session, external_ids)
    wrong = [i for i in items if i.status not in rule.sources]
    if wrong:
        allowed = ", ".join(sorted(s.value for s in rule.sources))
        listing = ", ".join(f"{i.external_id} ({i.status})" for i in wrong[:10])
        raise Conflict(f"cannot {action} {listing}: only items that are {allowed} can be", field="status")
    if rule.not_by_writer:
        writers = _writers(session, items)
        own = [i.external_id for i in items if writers.get(cast(int, i.id)) == actor.name]
        if own:
            raise Conflict(f"{actor.name} wrote {', '.join(own[:10])} and may not {action} it", field="actor")
    audit.record_many(session, [_apply(session, actor, item, rule.action, rule.target, reason) for item in items], head)
    session.flush()
    return items


def _apply(session: Session, actor: Actor, item: Item, action: str, target: ItemStatus, reason: str) -> audit.Entry:
    """Move one item and add its sign-off; returns its ledger event for the caller to append with the others."""
    previous = item.status
    item.status = target
    item.status_reason = reason
    item.lock_version += 1
    session.add(item)
    session.add(ReviewSignoff(item_id=item.id, version=item.current_version, stage=action, actor=actor.name,  # type: ignore[arg-type]
                              decision="approve" if target != S.DRAFT else "reject", reason=reason, at=utcnow()))
    return audit.Entry(actor.name, f"item.{action}", "item", item.external_id,
                       {"from": str(previous), "to": str(target), "version": item.current_version, "reason": reason})


def _panel_signatures(session: Session, items: Sequence[Item]) -> dict[int, tuple[int, set[str]]]:
    """Per item: the current panel round and who signed in it.

    Rounds restart after every rejection, so signatures from a rejected round never count again.
    """
    current = {i.id: i.current_version for i in items}
    rows = session.exec(
        select(ReviewSignoff).where(
            col(ReviewSignoff.item_id).in_(list(current)), ReviewSignoff.stage == "panel"
        )
    ).all()
    rounds: dict[int, int] = {i.id: 0 for i in items}  # type: ignore[misc]
    for row in rows:
        if row.version == current[row.item_id] and row.decision == "reject":
            rounds[row.item_id] = max(rounds[row.item_id], row.panel_round + 1)
    signed: dict[int, set[str]] = {i.id: set() for i in items}  # type: ignore[misc]
    for row in rows:
        if row.version == current[row.item_id] and row.panel_round == rounds[row.item_id]:
            signed[row.item_id].add(row.actor)
    return {item_id: (rounds[item_id], signed[item_id]) for item_id in rounds}


def sign(session: Session, actor: Actor, external_ids: Sequence[str], decision: str, reason: str = "") -> list[Item]:
    """An acceptance-panel member signs (approve or reject) the current version of each item.

    With ``panel_min_members`` distinct approvals (and no rejection) in the current round the item is
    accepted; any rejection sends it back to draft with the reason.
    """
    actor.require(Role.PANEL_MEMBER, action="sign acceptance")
    if decision not in PANEL_ACTIONS:
        raise ValidationError(f"a panel decision is approve or reject, not '{decision}'", field="decision")
    if decision == "reject" and not reason.strip():
        raise ValidationError("a panel rejection needs a reason", field="reason")
    head = audit.lock_head(session)  # before the items and their signatures are read: see _items
    items = _items(session, external_ids)
    wrong = [i for i in items if i.status != S.REVIEWED]
    if wrong:
        listing = ", ".join(f"{i.external_id} ({i.status})" for i in wrong[:10])
        raise Conflict(f"only reviewed items go before the acceptance panel: {listing}", field="status")
    needed = get_settings().panel_min_members
    panel = _panel_signatures(session, items)
    entries: list[audit.Entry] = []
    for item in items:
        round_, signed = panel[item.id]  # type: ignore[index]
        if actor.name in signed:
            raise Conflict(f"{actor.name} has already signed {item.external_id} in this panel round", field="actor")
        session.add(ReviewSignoff(item_id=item.id, version=item.current_version, stage="panel",  # type: ignore[arg-type]
                                  panel_round=round_, actor=actor.name, decision=decision, reason=reason, at=utcnow()))
        entries.append(audit.Entry(actor.name, f"item.panel_{decision}", "item", item.external_id,
                                   {"version": item.current_version, "round": round_, "reason": reason}))
        if decision == "reject":
            item.status, item.status_reason = S.DRAFT, f"rejected by acceptance panel ({actor.name}): {reason}"
            item.lock_version += 1
            session.add(item)
        elif len(signed | {actor.name}) >= needed:
            item.status, item.status_reason = S.ACCEPTED, f"accepted by a panel of {len(signed) + 1}"
            item.lock_version += 1
            session.add(item)
            entries.append(audit.Entry(actor.name, "item.accept", "item", item.external_id,
                                       {"version": item.current_version, "panel": sorted(signed | {actor.name})}))
    audit.record_many(session, entries, head)
    session.flush()
    return items
