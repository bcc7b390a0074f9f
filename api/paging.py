"""Limit/offset paging with the total, the same way on every listing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Query
from sqlmodel import Session, func, select

from api.schemas.common import ROW_ID_MAX

__all__ = ["ROW_ID_MAX", "IdPath", "PageDep", "PageQuery", "paginate"]


@dataclass(frozen=True)
class PageQuery:
    limit: int
    offset: int


async def page_query(limit: Annotated[int, Query(ge=1, le=500, description="at most this many rows")] = 50,
               offset: Annotated[int, Query(ge=0, le=10**9, description="skip this many rows")] = 0) -> PageQuery:
    return PageQuery(limit, offset)


PageDep = Annotated[PageQuery, Depends(page_query)]
IdPath = Annotated[int, Path(ge=1, le=ROW_ID_MAX, description="row id", examples=[1])]


def paginate(session: Session, query: Any, page: PageQuery, *order_by: Any) -> tuple[list[Any], int]:
    """One page of ``query`` in a stable order, and how many rows the whole query has."""
    total = session.exec(select(func.count()).select_from(query.order_by(None).subquery())).one()
    rows = session.exec(query.order_by(*order_by).offset(page.offset).limit(page.limit)).all()
    return list(rows), int(total)
