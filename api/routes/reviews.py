"""The review workflow: one route per action, each guarded by the roles that action needs."""

# No `from __future__ import annotations`: the generated routes close over `roles`, which
# FastAPI must see as an object, not a string it cannot resolve.
from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import BankDep, require
from api.schemas.bank import ItemPublic, PanelSignature, ReviewOutcome, ReviewRequest
from itembank.models import Role
from itembank.services import workflow
from itembank.services.actors import Actor

router = APIRouter(prefix="/reviews", tags=["reviews"])


def _add_transition(action: str, roles: tuple[Role, ...]) -> None:
    def move(body: ReviewRequest, bank: BankDep, actor: Annotated[Actor, Depends(require(*roles))]) -> ReviewOutcome:
        with bank.transaction() as session:
            moved = workflow.transition(session, actor, body.items, action, body.reason)
            return ReviewOutcome(action=action, items=[ItemPublic.model_validate(i) for i in moved])

    move.__doc__ = f"{action.capitalize()} the named items (all or none); needs the role {', '.join(r.value for r in roles)}."
    router.post(f"/{action}", name=f"review_{action}", operation_id=f"review_{action}")(move)


for _rule in workflow.TRANSITIONS.values():
    _add_transition(_rule.action, _rule.roles)


@router.post("/sign")
def sign(body: PanelSignature, bank: BankDep, actor: Annotated[Actor, Depends(require(Role.PANEL_MEMBER))]) -> ReviewOutcome:
    """An acceptance-panel member approves or rejects the current version of each item."""
    with bank.transaction() as session:
        signed = workflow.sign(session, actor, body.items, body.decision, body.reason)
        return ReviewOutcome(action=f"sign:{body.decision}", items=[ItemPublic.model_validate(i) for i in signed])
