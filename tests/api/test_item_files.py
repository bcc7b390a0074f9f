"""Item files over HTTP: a spreadsheet upload is stored whole or not at all, every bad row named; the
download holds exactly the bank's current versions, for staff only."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from openpyxl import load_workbook
from starlette.formparsers import MultiPartParser

from api.routes.items import MAX_UPLOAD_BYTES
from api.schemas.bank import MAX_BATCH
from itembank.errors import ValidationError
from itembank.services.transfer import FLAT_COLUMNS
from itembank.tabular import read_rows, write_rows
from tests.api.test_bank_routes import import_blueprint, seed_bank
from tests.conftest import item_row

Auth = Callable[[str], dict[str, str]]
ELEMENTS = ["A-A-001", "A-A-002", "B-A-001", "B-B-001", "B-B-002"]
FORMATS = ["csv", "xlsx"]


def upload(client: TestClient, headers: dict[str, str], blueprint_id: int, name: str, content: bytes) -> Response:
    return client.post("/items/import", data={"blueprint_id": str(blueprint_id)}, files={"file": (name, content)},
                       headers=headers)


def table_bytes(rows: list[dict[str, Any]], name: str) -> bytes:
    buffer = io.BytesIO()
    write_rows(buffer, FLAT_COLUMNS, rows, name)
    return buffer.getvalue()


def parse_download(content: bytes, table: str) -> list[dict[str, Any]]:
    """The download read with csv / openpyxl directly, not with the bank's own reader."""
    if table == "csv":
        return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    sheet = load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    header, *values = sheet.iter_rows(values_only=True)
    return [dict(zip(header, row, strict=True)) for row in values]


def renamed(content: bytes, table: str) -> bytes:
    """The same file with every external id 'T-…' made 'N-…' (an import never reuses a bank's ids)."""
    if table == "csv":
        return content.replace(b"T-0", b"N-0")
    workbook = load_workbook(io.BytesIO(content))
    for (cell,) in workbook.worksheets[0].iter_rows(min_row=2, max_col=1):
        cell.value = cell.value.replace("T-", "N-")
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def total(client: TestClient, auth: Auth) -> int:
    return int(client.get("/items", headers=auth("manager")).json()["total"])


@pytest.mark.parametrize("table", FORMATS)
def test_an_export_imports_back_as_new_items(table: str, client: TestClient, auth: Auth) -> None:
    blueprint_id, ids = seed_bank(client, auth, n=6)
    download = client.get("/items/export", params={"format": table}, headers=auth("manager"))
    assert download.status_code == 200, download.text

    again = upload(client, auth("writer"), blueprint_id, f"items.{table}", download.content)
    assert again.status_code == 422, again.text
    assert [(d["row"], d["column"]) for d in again.json()["details"]] == [(n, "external_id") for n in range(2, 8)]
    assert total(client, auth) == 6

    created = upload(client, auth("writer"), blueprint_id, f"items.{table}", renamed(download.content, table))
    assert created.status_code == 201, created.text
    assert created.json()["warnings"] == []  # the bank's own export holds no column the import ignores
    new_ids = [i["external_id"] for i in created.json()["items"]]
    assert new_ids == [i.replace("T-", "N-") for i in ids]
    assert {(i["status"], i["current_version"]) for i in created.json()["items"]} == {("draft", 1)}
    for old, new in zip(ids, new_ids, strict=True):
        original = client.get(f"/items/{old}", headers=auth("manager")).json()["content"]
        copy = client.get(f"/items/{new}", headers=auth("manager")).json()["content"]
        assert copy["content_hash"] == original["content_hash"] and copy["stem"] == original["stem"]


def test_bad_rows_refuse_the_whole_file_naming_row_and_column(client: TestClient, auth: Auth) -> None:
    blueprint_id = import_blueprint(client, auth)
    rows = [item_row(n, ELEMENTS[n % len(ELEMENTS)]) for n in range(1, 31)]
    rows[4]["key"] = "Z"               # file row 6
    rows[19]["points"] = "很多"         # file row 21
    response = upload(client, auth("writer"), blueprint_id, "bad.csv", table_bytes(rows, "bad.csv"))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error" and body["message"].startswith("import refused, nothing stored")
    assert [(d["row"], d["column"]) for d in body["details"]] == [(6, "(row)"), (21, "points")]
    assert "row 21, column 'points'" in body["message"]

    rows[4]["key"], rows[19]["points"] = "B", 1
    rows[9]["element"] = "Q-Q-999"     # file row 11: well formed, but not in the blueprint
    response = upload(client, auth("writer"), blueprint_id, "bad.csv", table_bytes(rows, "bad.csv"))
    assert response.status_code == 422
    assert [(d["row"], d["column"]) for d in response.json()["details"]] == [(11, "element")]
    assert total(client, auth) == 0


def csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    """Rows as CSV under their own keys (``table_bytes`` writes the export's columns only)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def test_a_misspelt_enemy_column_refuses_the_file_naming_it(client: TestClient, auth: Auth) -> None:
    """``enemy_group`` used to be dropped with its enemies; now nothing is stored and the column is named."""
    blueprint_id = import_blueprint(client, auth)
    rows = [{**item_row(n), "enemy_group": "E-1"} for n in range(1, 4)]
    for row in rows:
        del row["enemy_groups"]
    response = upload(client, auth("writer"), blueprint_id, "enemies.csv", csv_bytes(rows))
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_error" and body["field"] == "enemy_group"
    assert body["details"] == [{"column": "enemy_group", "suggestion": "enemy_groups"}]
    assert "列 enemy_group 未识别，是否应为 enemy_groups？" in body["message"]
    assert total(client, auth) == 0


def test_an_unknown_column_is_ignored_and_named_in_the_warnings(client: TestClient, auth: Auth) -> None:
    blueprint_id = import_blueprint(client, auth)
    rows = [{**item_row(n, ELEMENTS[n % len(ELEMENTS)]), "note": "待复核"} for n in range(1, 4)]
    response = upload(client, auth("writer"), blueprint_id, "noted.csv", csv_bytes(rows))
    assert response.status_code == 201, response.text
    assert response.json()["warnings"] == ["导入文件的列 note 未识别，已忽略"]
    assert len(response.json()["items"]) == 3 and total(client, auth) == 3


def test_a_file_that_is_not_an_item_table_is_refused(client: TestClient, auth: Auth) -> None:
    blueprint_id = import_blueprint(client, auth)
    good = table_bytes([item_row(1)], "items.csv")
    refusals = {
        "items.txt": good,                                   # not a table's extension
        "items.xlsx": good,                                  # CSV text under an Excel name
        "gbk.csv": "external_id,stem\nT-1,职业道德\n".encode("gbk"),  # not UTF-8
        "header-only.csv": good.splitlines()[0],             # no items
    }
    for name, content in refusals.items():
        response = upload(client, auth("writer"), blueprint_id, name, content)
        assert response.status_code == 422, name
        assert response.json()["field"] == "file" and name in response.json()["message"], response.text
    missing = upload(client, auth("writer"), 999_999, "items.csv", good)
    assert missing.status_code == 404 and missing.json()["field"] == "blueprint_id"
    assert total(client, auth) == 0


def test_more_rows_than_one_request_may_create_are_refused(client: TestClient, auth: Auth) -> None:
    blueprint_id = import_blueprint(client, auth)
    content = table_bytes([item_row(n) for n in range(MAX_BATCH + 1)], "many.csv")
    assert len(content) < MAX_UPLOAD_BYTES, "the row limit, not the size limit, is under test"
    response = upload(client, auth("writer"), blueprint_id, "many.csv", content)
    assert response.status_code == 422 and response.json()["field"] == "file"
    assert f"at most {MAX_BATCH}" in response.json()["message"]
    assert total(client, auth) == 0


def test_an_upload_over_the_limit_is_413_and_nothing_is_stored(client: TestClient, auth: Auth) -> None:
    blueprint_id = import_blueprint(client, auth)
    rows = [item_row(n, stem="很长的题干" * 200) for n in range(1, 400)]
    content = table_bytes(rows, "big.csv")
    assert len(content) > MAX_UPLOAD_BYTES
    declared = upload(client, auth("writer"), blueprint_id, "big.csv", content)
    assert declared.status_code == 413
    assert declared.json()["code"] == "too_large" and declared.json()["field"] == "file"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the route counts what arrives
        yield b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n\r\n"
        yield from (content[i:i + 65536] for i in range(0, len(content), 65536))
        yield b"\r\n--x--\r\n"

    streamed = client.post("/items/import", content=chunks(), headers={
        **auth("writer"), "Content-Type": "multipart/form-data; boundary=x"})
    assert streamed.status_code == 413 and streamed.json()["code"] == "too_large"
    assert total(client, auth) == 0


def test_the_upload_limit_keeps_uploads_in_memory() -> None:
    """Starlette writes a form's file to a temporary file past its spool size; the limit stays under it."""
    assert MultiPartParser.spool_max_size >= MAX_UPLOAD_BYTES


def test_only_writers_upload_and_only_staff_download(client: TestClient, auth: Auth) -> None:
    blueprint_id = import_blueprint(client, auth)
    content = table_bytes([item_row(1)], "items.csv")
    for user in ("reviewer", "psychometrician", "auditor", "engine1"):
        response = upload(client, auth(user), blueprint_id, "items.csv", content)
        assert response.status_code == 403 and response.json()["field"] == "role", user
    assert total(client, auth) == 0
    for user in ("engine1", "auditor"):
        response = client.get("/items/export", headers=auth(user))
        assert response.status_code == 403 and response.json()["code"] == "forbidden", user
    assert upload(client, auth("manager"), blueprint_id, "items.csv", content).status_code == 201


@pytest.mark.parametrize("table", ["csv", "xlsx"])
def test_the_export_holds_the_bank_current_versions(table: str, client: TestClient, auth: Auth) -> None:
    blueprint_id, active = seed_bank(client, auth, n=5)
    drafts = upload(client, auth("writer"), blueprint_id, "drafts.csv",
                    table_bytes([item_row(n, ELEMENTS[n % 5]) for n in range(10, 13)], "drafts.csv"))
    assert drafts.status_code == 201, drafts.text
    changed = {**client.get(f"/items/{active[0]}", headers=auth("writer")).json()["content"], "stem": "改过的题干"}
    record = {k: changed[k] for k in ("type", "element", "points", "stem", "options", "key", "rubric", "difficulty")}
    edit = client.put(f"/items/{active[0]}", json={"expected_version": 1, "content": {**record, "external_id": active[0]}},
                      headers=auth("writer"))
    assert edit.status_code == 200, edit.text

    download = client.get("/items/export", params={"format": table}, headers=auth("reviewer"))
    assert download.status_code == 200
    assert download.headers["content-disposition"] == f'attachment; filename="items.{table}"'
    assert download.headers["content-type"].startswith("text/csv" if table == "csv" else "application/vnd.openxmlformats")
    rows = parse_download(download.content, table)
    assert list(rows[0]) == FLAT_COLUMNS
    bank = [client.get(f"/items/{i['external_id']}", headers=auth("manager")).json()
            for i in client.get("/items", headers=auth("manager")).json()["items"]]
    assert [r["external_id"] for r in rows] == [i["external_id"] for i in bank]
    for row, item in zip(rows, bank, strict=True):
        content = item["content"]
        options = {k[-1]: v for k, v in row.items() if k.startswith("option_") and v not in (None, "")}
        assert (row["stem"], row["key"], row["element"], row["status"], int(row["version"]), float(row["points"]), options) == \
               (content["stem"], content["key"], content["element"], item["status"], item["current_version"],
                content["points"], content["options"])
    assert rows[0]["stem"] == "改过的题干" and rows[0]["status"] == "draft" and int(rows[0]["version"]) == 2

    only_active = client.get("/items/export", params={"format": table, "status": "active"}, headers=auth("reviewer"))
    assert [r["external_id"] for r in parse_download(only_active.content, table)] == active[1:]
    only_drafts = client.get("/items/export", params={"format": table, "status": "draft"}, headers=auth("reviewer"))
    assert [r["external_id"] for r in parse_download(only_drafts.content, table)] == [active[0], "T-00010", "T-00011", "T-00012"]
    both = client.get("/items/export", params=[("format", table), ("status", "active"), ("status", "draft")],
                      headers=auth("reviewer"))
    assert len(parse_download(both.content, table)) == 8


def test_a_nul_character_in_a_cell_is_refused_naming_row_and_column() -> None:
    content = "external_id,stem\nT-1,好题\nT-2,坏\x00题\n".encode()
    with pytest.raises(ValidationError) as caught:
        read_rows(io.BytesIO(content), "nul.csv")
    assert caught.value.details == [{"row": 3, "column": "stem", "problem": "holds a NUL character"}]


def test_a_file_whose_cells_would_be_lost_or_renamed_is_refused_naming_row_and_column(
        client: TestClient, auth: Auth) -> None:
    """A column named twice (pandas' ``x.1``), data under a blank header (``Unnamed: 3``) or past the
    header's end were dropped or renamed without a word; now each is a 422 saying where."""
    blueprint_id = import_blueprint(client, auth)
    good = table_bytes([item_row(n, ELEMENTS[n % len(ELEMENTS)]) for n in range(1, 3)], "items.csv").decode("utf-8-sig")
    header, first, second = good.splitlines()
    refusals = {
        "twice.csv": (f"{header},stem\n{first},另一题干\n", "stem", "出现了两次"),
        "blank.csv": (f"{header},\n{first},\n{second},备注\n", "file", "没有列名，但第 3 行在该列有内容 '备注'"),
        "longer.csv": (f"{header}\n{first}\n{second},多出\n", "file", "第 3 行有"),
    }
    for name, (content, field, message) in refusals.items():
        response = upload(client, auth("writer"), blueprint_id, name, content.encode("utf-8"))
        assert response.status_code == 422, name
        body = response.json()
        assert body["code"] == "validation_error" and body["field"] == field, body
        assert message in body["message"] and name in body["message"], body
    assert total(client, auth) == 0
