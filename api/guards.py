"""Request guards that apply to every route before any handler runs."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ErrorBody, error_response


class RefuseNulCharacters:
    """Refuse (422) requests whose path, query or body holds a NUL character.

    PostgreSQL text cannot store NUL, and no field of the bank has a use for it; refusing it at the
    door keeps one backend from failing where the other would silently accept. A multipart body
    carries files, binary by nature (an .xlsx is a zip), so it goes through: the route that parses
    it checks its text (``itembank.tabular`` refuses a NUL in a cell, naming the row and column).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = None
        if "\x00" in scope["path"]:
            where = "path"
        elif b"%00" in scope.get("query_string", b""):
            where = "query"
        messages: list[Message] = []
        if where is None and scope["method"] in ("POST", "PUT", "PATCH") and not _multipart(scope):
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request" or not message.get("more_body", False):
                    break
            body = b"".join(m.get("body", b"") for m in messages)
            if b"\\u0000" in body or b"\x00" in body:
                where = "body"
        if where is not None:
            response = error_response(422, ErrorBody(code="validation_error", field=where,
                                                     message=f"the request {where} holds a NUL character"))
            await response(scope, receive, send)
            return
        await self.app(scope, self._replay(messages, receive) if messages else receive, send)

    @staticmethod
    def _replay(messages: list[Message], receive: Receive) -> Receive:
        pending = list(messages)

        async def replay() -> Message:
            return pending.pop(0) if pending else await receive()

        return replay


def _multipart(scope: Scope) -> bool:
    return any(name == b"content-type" and value.lower().startswith(b"multipart/")
               for name, value in scope.get("headers", []))
