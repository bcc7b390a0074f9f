"""Items: writers create and edit them (every edit is a new version), one by one or as a spreadsheet;
bank staff read them, or download them all for offline review."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.routing import APIRoute
from sqlalchemy import and_
from sqlmodel import Session, col, select
from starlette.types import Message

from api.deps import BANK_STAFF, BankDep, require
from api.errors import ErrorBody, error_response
from api.paging import PageDep, paginate
from api.schemas.bank import (
    MAX_BATCH,
    ItemDetail,
    ItemEdit,
    ItemImportPublic,
    ItemPublic,
    ItemsCreate,
    ItemVersionPublic,
)
from api.schemas.common import ROW_ID_MAX, Page
from itembank.errors import NotFound, ValidationError
from itembank.models import Blueprint, Item, ItemStatus, ItemVersion, Role
from itembank.services import items, transfer
from itembank.services.actors import Actor
from itembank.tabular import TableFormat, read_rows

router = APIRouter(prefix="/items", tags=["items"])
Staff = Annotated[Actor, Depends(require(*BANK_STAFF))]
Writer = Annotated[Actor, Depends(require(*items.WRITERS))]
Creator = Annotated[Actor, Depends(require(*items.WRITERS, Role.ADMIN))]
Exporter = Annotated[Actor, Depends(require(*transfer.EXPORTERS))]

MAX_UPLOAD_BYTES = 1024 * 1024
"""The largest item-file upload, whole request. Starlette keeps an uploaded file in memory up to this
size (``MultiPartParser.spool_max_size``), so unpublished items are parsed without ever being written
to a temporary file; a bigger file goes in parts, or through ``itembank items import``."""

MEDIA_TYPES: dict[TableFormat, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class BoundedUpload(APIRoute):
    """A route that reads its request body, up to ``MAX_UPLOAD_BYTES``, before FastAPI parses the form.

    A bigger body is refused (413, in the app's error shape) before it is parsed or spooled anywhere,
    and before the token is checked, so it is never read whole; FastAPI's own ``max_body_size`` would
    answer a request that declares a large size in plain text.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def bounded(request: Request) -> Response:
            body = await _bounded_body(request)
            if body is None:
                return error_response(413, ErrorBody(
                    code="too_large", field="file",
                    message=f"the upload is larger than {MAX_UPLOAD_BYTES // 1024} KiB: split the file, "
                            "or import it with `itembank items import`"))
            pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

            async def replay() -> Message:
                return pending.pop() if pending else await request.receive()

            return await handle(Request(request.scope, replay))

        return bounded


async def _bounded_body(request: Request) -> bytes | None:
    """The request body, or None as soon as it is known to be larger than ``MAX_UPLOAD_BYTES``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_UPLOAD_BYTES:
            return None
    return bytes(body)


def _detail(session: Session, item: Item) -> ItemDetail:
    content = ItemVersionPublic.model_validate(items.current_version(session, item))
    return ItemDetail(**ItemPublic.model_validate(item).model_dump(), content=content)


def _blueprint(session: Session, blueprint_id: int) -> Blueprint:
    blueprint = session.get(Blueprint, blueprint_id)
    if blueprint is None:
        raise NotFound(f"no blueprint {blueprint_id}", field="blueprint_id")
    return blueprint


@router.post("", status_code=201)
def create_items(body: ItemsCreate, bank: BankDep, actor: Creator) -> list[ItemPublic]:
    """Create items as drafts (version 1); any bad item refuses the whole batch (422 naming it)."""
    with bank.transaction() as session:
        blueprint = _blueprint(session, body.blueprint_id)
        created = items.create_items(session, actor, blueprint, list(enumerate(body.items, start=1)))
        return [ItemPublic.model_validate(i) for i in created]


def import_items(
    file: Annotated[UploadFile, File(description="a .csv (UTF-8) or .xlsx file with the columns `GET /items/export` writes")],
    blueprint_id: Annotated[int, Form(ge=1, le=ROW_ID_MAX, description="the blueprint the items are keyed to")],
    bank: BankDep, actor: Creator,
) -> ItemImportPublic:
    """Create a spreadsheet's items as drafts (version 1), every row or none: a bad file is refused
    (422) naming each bad row and column, or the column that looks like a known one (``enemy_group``:
    ``field`` is the column, ``details`` the known column it resembles). A column the import does not
    know is ignored and named in ``warnings``. The file is parsed in memory before the transaction opens."""
    name = file.filename or "the upload"
    rows = read_rows(file.file, name)
    if len(rows) > MAX_BATCH:
        raise ValidationError(f"{name} holds {len(rows)} rows; one upload creates at most {MAX_BATCH} items: split the file",
                              field="file")
    with bank.transaction() as session:
        imported = transfer.import_item_rows(session, actor, _blueprint(session, blueprint_id), rows, name, field="file")
        return ItemImportPublic(items=[ItemPublic.model_validate(i) for i in imported.items], warnings=imported.warnings)


router.add_api_route(
    "/import", import_items, methods=["POST"], status_code=201, route_class_override=BoundedUpload,
    responses={413: {"model": ErrorBody, "description": f"the upload is larger than {MAX_UPLOAD_BYTES} bytes"}},
)


@router.get("")
def list_items(
    bank: BankDep, _actor: Staff, page: PageDep,
    status: ItemStatus | None = None,
    element: Annotated[str | None, Query(max_length=40)] = None,
    occupation_code: Annotated[str | None, Query(max_length=32)] = None,
    level: Annotated[int | None, Query(ge=1, le=5)] = None,
) -> Page[ItemPublic]:
    """Items with their current status; filter by status, element, occupation and level."""
    query = select(Item)
    if status is not None:
        query = query.where(Item.status == status.value)
    if occupation_code is not None:
        query = query.where(Item.occupation_code == occupation_code)
    if level is not None:
        query = query.where(Item.level == level)
    if element is not None:
        current = and_(col(ItemVersion.item_id) == Item.id, col(ItemVersion.version) == Item.current_version)
        query = query.join(ItemVersion, current).where(ItemVersion.element == element)
    with bank.transaction() as session:
        rows, total = paginate(session, query, page, col(Item.id))
        return Page(items=[ItemPublic.model_validate(i) for i in rows], total=total, limit=page.limit, offset=page.offset)


@router.get("/export", response_class=Response, responses={200: {
    "description": "the items as a spreadsheet (Content-Disposition names the file)",
    "content": {media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in MEDIA_TYPES.values()},
}})
def export_items(
    bank: BankDep, actor: Exporter,
    table: Annotated[TableFormat, Query(alias="format", description="csv (UTF-8 with BOM) or xlsx")] = "csv",
    status: Annotated[list[ItemStatus] | None, Query(description="only items in these statuses (repeat for several)")] = None,
) -> Response:
    """Current versions as a download with the columns an import reads. Keys included, so bank
    staff only, as for ``GET /items/{external_id}``; exam engines never reach it. The audit ledger
    records each download (``items.export``) and commits before the first byte is sent."""
    with bank.transaction() as session:
        export = transfer.export_item_table(session, actor, table, [s.value for s in status or []])
    return Response(export.content, media_type=MEDIA_TYPES[table],
                    headers={"Content-Disposition": f'attachment; filename="{export.name}"'})


@router.get("/{external_id}")
def get_item(external_id: str, bank: BankDep, _actor: Staff) -> ItemDetail:
    """The item and its current version's content (with the key: staff only, never engines)."""
    with bank.transaction() as session:
        return _detail(session, items.get_item(session, external_id))


@router.get("/{external_id}/versions")
def item_versions(external_id: str, bank: BankDep, _actor: Staff) -> list[ItemVersionPublic]:
    """Every version, oldest first: versions are immutable, so this is the item's full history."""
    with bank.transaction() as session:
        item = items.get_item(session, external_id)
        rows = session.exec(select(ItemVersion).where(ItemVersion.item_id == item.id).order_by(col(ItemVersion.version))).all()
        return [ItemVersionPublic.model_validate(v) for v in rows]


@router.put("/{external_id}")
def edit_item(external_id: str, body: ItemEdit, bank: BankDep, actor: Writer) -> ItemDetail:
    """Make a new version (back to draft for review); 409 if someone edited it since ``expected_version``."""
    if body.content.external_id != external_id:
        raise ValidationError(f"the content is for '{body.content.external_id}', not '{external_id}'",
                              field="content.external_id")
    with bank.transaction() as session:
        items.edit_item(session, actor, external_id, body.content, expected_version=body.expected_version)
        return _detail(session, items.get_item(session, external_id))
