"""The package pull's express lane: a pull whose every answer is remembered skips FastAPI's machinery.

Why: on an exam morning hundreds of engines pull at once, and each pull through the full app costs
about 0.45 ms of server CPU (measured with the load script), half of it routing, middleware and
dependency injection that decide nothing new for an engine the bank saw a moment ago. What the
lane may skip, and why that is safe:

- it serves only ``GET /engine/papers/{id}/package`` without a query, from a bearer token whose
  exam-engine holder and whose judgement for that paper are both in :class:`api.deps.PullDecisions`
  (answers the full route gave and remembered);
- those answers are hints: the ledger write (``delivery.record_pulls``) re-decides the whole pull
  under the ledger lock before any byte leaves, exactly as on the full route (``Bank.deliver``
  serves both);
- everything else (a first pull, an unknown token, another role or path, a refusal to be logged at
  the door) goes through the full app untouched, and errors have the app's JSON shape.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from api.deps import Bank
from api.errors import domain_response
from itembank.errors import ItemBankError
from itembank.models import Role
from itembank.services import delivery
from itembank.services.users import hash_token

_PULL = re.compile(r"/engine/papers/([1-9][0-9]{0,17})/package")
_BEARER = b"bearer "


class PullExpressLane:
    """ASGI middleware in front of the app; see the module docstring for what it serves."""

    def __init__(self, app: ASGIApp, bank: Bank) -> None:
        self.app = app
        self.bank = bank

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pull = self._remembered_pull(scope) if scope["type"] == "http" else None
        if pull is None:
            await self.app(scope, receive, send)
            return
        try:
            body = await self.bank.deliver(pull)
        except ItemBankError as refusal:  # decided again under the ledger lock, and logged there
            await domain_response(refusal)(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})

    def _remembered_pull(self, scope: Scope) -> delivery.Pull | None:
        if scope["method"] != "GET" or scope["query_string"]:
            return None
        match = _PULL.fullmatch(scope["path"])
        if match is None:
            return None
        token = next((value[len(_BEARER):] for name, value in scope["headers"]
                      if name == b"authorization" and value[:len(_BEARER)].lower() == _BEARER), None)
        if not token:
            return None
        decisions = self.bank.decisions
        actor = decisions.actors.get(hash_token(token.decode("latin-1")))
        if actor is None or actor.role is not Role.EXAM_ENGINE:
            return None
        return decisions.pulls.get((actor.name, int(match[1])))
