"""The key-release policy: an allowed engine gets a paper's data key from a lead time before its window to its end.

    Forbidden (PermissionError)
    └── KeyReleaseRefused (ValueError)  wrong engine, too early or window closed; ``reason`` says which
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from itembank.errors import Forbidden
from itembank.sealing.keys import data_key_context, unwrap_key
from itembank.sealing.package import iso_utc, require_utc


class KeyReleaseRefused(Forbidden, ValueError):
    """``reason`` is one of ``engine_not_allowed``, ``too_early``, ``window_closed``."""

    code = "key_release_refused"

    def __init__(self, message: str, *, reason: str, field: str, details: Any = None) -> None:
        if isinstance(details, dict):  # the reason travels with the error body to the engine
            details = {"reason": reason, **details}
        super().__init__(message, field=field, details=details)
        self.reason = reason


class ReleaseTerms(Protocol):
    """Anything carrying a paper's release terms: a ``SealHeader`` or a stored sealed-paper row."""

    @property
    def paper_id(self) -> Any: ...
    @property
    def engines(self) -> Sequence[str]: ...
    @property
    def not_before(self) -> Any: ...
    @property
    def not_after(self) -> Any: ...


def check_key_release(
    terms: ReleaseTerms, engine_id: str, now: datetime, *, lead: timedelta = timedelta(minutes=15)
) -> None:
    """Refuse, with the reason, unless an allowed engine asks from ``lead`` before the window to its end."""
    now = require_utc(now, "now")
    not_before, not_after = require_utc(terms.not_before, "not_before"), require_utc(terms.not_after, "not_after")
    context = {"paper_id": str(terms.paper_id), "engine_id": engine_id, "now": iso_utc(now)}
    if engine_id not in terms.engines:
        raise KeyReleaseRefused(
            f"engine {engine_id!r} is not allowed to pull paper {terms.paper_id}",
            reason="engine_not_allowed",
            field="engine_id",
            details=context,
        )
    opens = not_before - lead
    if now < opens:
        raise KeyReleaseRefused(
            f"too early: the key of paper {terms.paper_id} is released from {iso_utc(opens)} "
            f"({lead} before the window opens at {iso_utc(not_before)}); now is {iso_utc(now)}",
            reason="too_early",
            field="now",
            details=context | {"opens": iso_utc(opens)},
        )
    if now >= not_after:
        raise KeyReleaseRefused(
            f"window closed at {iso_utc(not_after)} for paper {terms.paper_id}; now is {iso_utc(now)}",
            reason="window_closed",
            field="now",
            details=context | {"closed": iso_utc(not_after)},
        )


def release_data_key(
    master: bytes,
    wrapped_data_key: bytes,
    terms: ReleaseTerms,
    engine_id: str,
    now: datetime,
    *,
    lead: timedelta = timedelta(minutes=15),
) -> bytes:
    """Apply the release policy, then unwrap the paper's data key for the engine."""
    check_key_release(terms, engine_id, now, lead=lead)
    return unwrap_key(master, wrapped_data_key, context=data_key_context(terms.paper_id))
