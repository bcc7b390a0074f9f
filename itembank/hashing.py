"""Canonical serialisation and content hashes: one definition for the ledger, versions and seals."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__} canonically")


def canonical_json(value: Any) -> bytes:
    """UTF-8 JSON with sorted keys and no insignificant whitespace; NaN is refused."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default
    ).encode("utf-8")


def content_hash(value: Any) -> str:
    """SHA-256 hex digest of the canonical form."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


def form_hash(ticket: str, item_ids: list[str]) -> str:
    """The hash of one candidate's form (ticket and items in order): what the bank records, the sealed
    package carries and an engine checks before it delivers the form."""
    return content_hash({"ticket": ticket, "item_ids": list(item_ids)})
