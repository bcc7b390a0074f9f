"""Shapes shared by every resource: pages of rows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from itembank.models.base import as_utc

T = TypeVar("T")

ROW_ID_MAX = 2_147_483_647
"""Row ids are 32-bit integers in the database; a larger one cannot name a row and must not reach SQL."""
Number = Annotated[float, Field(strict=True)]
"""A number in a request body. Strict: JSON true or "3" is refused as the schema says, not read as 1 or 3."""
Whole = Annotated[int, Field(strict=True)]
"""An integer in a request body (strict, as :data:`Number`)."""
Flag = Annotated[bool, Field(strict=True)]
"""A yes/no in a request body: JSON true or false only (not 1, "yes" or "on")."""
RowId = Annotated[int, Field(strict=True, ge=1, le=ROW_ID_MAX)]

UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
"""Every time the bank shows is UTC with its offset (SQLite hands back naive datetimes)."""


class Page(BaseModel, Generic[T]):
    """One page of a listing, with the total so a client can page on (limit/offset)."""

    items: list[T]
    total: int
    limit: int
    offset: int


class Public(BaseModel):
    """Base of response schemas: built from table rows by attribute, never returned as the row itself."""

    model_config = ConfigDict(from_attributes=True)
