"""The package pull's express lane: pulls are answered without FastAPI's per-request machinery.

Why: on an exam morning hundreds of engines pull at once. Through the full app each pull cost
about 2 ms of server CPU the first time (authentication and the checks read the database per
request) and 0.45 ms after, most of it routing, middleware and dependency injection; the ledger
write, shared by concurrent pulls, is what remains necessary. The lane hands the request (the
paper id and the bearer token's hash) straight to ``Bank.deliver``, where the batch that writes
the handover ledger also decides the pull (``delivery.record_pulls``: who holds the token, its
role, the paper, the package and its engines), so nothing is decided here and nothing is skipped.

It serves ``GET /engine/papers/{id}/package`` with a bearer token and no query; anything else
goes to the full app (whose route documents the pull and serves the rest). Errors have the app's
JSON shape.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from api.deps import Bank
from api.errors import domain_response
from itembank.errors import ItemBankError
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
        request = _pull_request(scope) if scope["type"] == "http" else None
        if request is None:
            await self.app(scope, receive, send)
            return
        try:
            body = await self.bank.deliver(request)
        except ItemBankError as refusal:  # decided with the batch, and logged there
            await domain_response(refusal)(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})


def _pull_request(scope: Scope) -> delivery.PullRequest | None:
    if scope["method"] != "GET" or scope["query_string"]:
        return None
    match = _PULL.fullmatch(scope["path"])
    if match is None:
        return None
    token = next((value[len(_BEARER):] for name, value in scope["headers"]
                  if name == b"authorization" and value[:len(_BEARER)].lower() == _BEARER), None)
    if not token:
        return None
    return delivery.PullRequest(int(match[1]), token_hash=hash_token(token.decode("latin-1")))
