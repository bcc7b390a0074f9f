"""The one place where errors become HTTP: every error body is ``{"code", "message", "field"}``.

Domain errors keep their message and field; request-validation errors name the field path
(``items[0].key``); anything else is a bug and returns the same shape with no details, never a trace.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from itembank.errors import (
    Busy,
    Conflict,
    Forbidden,
    Infeasible,
    IntegrityFailure,
    ItemBankError,
    NotFound,
    ValidationError,
)

log = logging.getLogger(__name__)

STATUS: dict[type[ItemBankError], int] = {
    ValidationError: 422,
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    Infeasible: 422,
    IntegrityFailure: 409,
    Busy: 503,
}


class ErrorBody(BaseModel):
    """What every failed request returns."""

    code: str
    message: str
    field: str | None = None
    details: Any = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (401, "no or unknown bearer token"),
        (403, "the token's role may not use this endpoint"),
        (404, "a named record does not exist"),
        (409, "the operation clashes with the current state"),
        (422, "invalid input; `field` names the path"),
        (500, "internal error (no details are given)"),
        (503, "a concurrent operation or the database got in the way; the message says whether anything was stored; retry after `Retry-After` seconds"),
    )
}
"""Documented on every route so clients (and schemathesis) know the error shape."""


class Unauthorized(ItemBankError):
    """No bearer token, or one the bank does not know."""

    code = "unauthorized"


def status_of(error: ItemBankError) -> int:
    if isinstance(error, Unauthorized):
        return 401
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


def error_response(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body.model_dump(exclude_none=False), status_code=status, headers=headers)


def field_path(location: Sequence[str | int]) -> str:
    """``("body", "items", 0, "key")`` → ``items[0].key``; the request part is dropped unless it is all there is."""
    parts = list(location[1:]) if len(location) > 1 and location[0] in ("body", "query", "path", "header") else list(location)
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


async def _domain(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ItemBankError)
    return domain_response(error)


def domain_response(error: ItemBankError) -> JSONResponse:
    """A domain error as the app answers it (also used by the pull's express lane)."""
    headers = ({"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthorized)
               else {"Retry-After": "1"} if isinstance(error, Busy) else None)
    body = ErrorBody(**error.to_dict())
    reason = getattr(error, "reason", None)
    if body.details is None and reason is not None:  # refusals say why (too_early, engine_not_allowed ...)
        body.details = {"reason": reason}
    return error_response(status_of(error), body, headers)


async def _invalid_request(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [{"field": field_path(e.get("loc", ())), "message": str(e.get("msg", "invalid"))} for e in error.errors()]
    first = problems[0] if problems else {"field": None, "message": "invalid request"}
    message = f"{first['field']}: {first['message']}" if first["field"] else str(first["message"])
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more)"
    return error_response(422, ErrorBody(code="validation_error", message=message, field=first["field"], details=problems))


async def _http(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 400:  # raised only by FastAPI, for a body it could not decode (invalid UTF-8, a broken form)
        return error_response(422, ErrorBody(
            code="validation_error", field="body",
            message="body: the request body could not be decoded; send JSON in UTF-8 (or the form the route documents)"))
    headers = dict(error.headers) if error.headers else {}
    if error.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
    return error_response(
        error.status_code, ErrorBody(code=codes.get(error.status_code, "http_error"), message=str(error.detail)),
        headers or None,
    )


def _allowed_methods(request: Request) -> list[str]:
    """The methods the OpenAPI document gives the path of the route that answered 405 (Starlette names
    only that route's own, so a path with GET and POST routes answered an OPTIONS with ``Allow: POST``)."""
    route = request.scope.get("route")
    documented = request.app.openapi()["paths"].get(getattr(route, "path", None), {})
    return sorted(method.upper() for method in documented) or sorted(getattr(route, "methods", None) or ())


async def _bug(request: Request, error: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return error_response(500, ErrorBody(code="internal_error", message="internal error; the bank logged it"))


def install(app: FastAPI) -> None:
    """Register the handlers once on the app."""
    app.add_exception_handler(ItemBankError, _domain)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _bug)
