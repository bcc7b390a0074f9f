"""The item exchange record: one validated shape for Excel, CSV, JSON, the API and the sample bank.

Validation collects every problem of every row (row number, column, message) so an import can be
refused whole with a list the writer can fix in one pass.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticError

from itembank.columns import check_header
from itembank.errors import ValidationError
from itembank.models import ItemType

if TYPE_CHECKING:
    from assembly.columns import UnknownColumn

ELEMENT_CODE = re.compile(r"^[A-Z](-[A-Z0-9]{1,3})*(-\d{3})?$")
OPTION_LETTERS = "ABCDEFGH"


class ItemRecord(BaseModel):
    """One item as writers and exchange files see it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    external_id: str = Field(min_length=1, max_length=120)
    type: ItemType
    element: str = Field(min_length=1, max_length=40)
    points: float = Field(gt=0, le=100)
    stem: str = Field(min_length=1)
    options: dict[str, str] | None = None
    key: str | None = None
    rubric: str | None = None
    difficulty: int | None = Field(default=None, ge=1, le=5)
    set_id: str | None = None
    stimulus: str | None = None
    enemy_groups: list[str] = Field(default_factory=list)

    @field_validator("element")
    @classmethod
    def _element_code(cls, value: str) -> str:
        if not ELEMENT_CODE.match(value):
            raise ValueError(f"'{value}' is not an element code like 'B-02-003'")
        return value

    @field_validator("key")
    @classmethod
    def _normalise_key(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return "".join(sorted(value.replace(",", "").replace(" ", "").upper()))

    @model_validator(mode="after")
    def _key_matches_type(self) -> ItemRecord:
        kind = self.type
        if kind in (ItemType.SINGLE_CHOICE, ItemType.MULTIPLE_CHOICE):
            if not self.options or len(self.options) < 2:
                raise ValueError(f"{kind.value} items need at least two options")
            if not self.key:
                raise ValueError("choice items need a key")
            unknown = set(self.key) - set(self.options)
            if unknown:
                raise ValueError(f"key letter(s) {''.join(sorted(unknown))} are not among the options")
            if kind == ItemType.SINGLE_CHOICE and len(self.key) != 1:
                raise ValueError("a single-choice key is exactly one letter")
            if kind == ItemType.MULTIPLE_CHOICE and len(self.key) < 2:
                raise ValueError("a multiple-choice key has two or more letters")
        elif kind == ItemType.TRUE_FALSE:
            if self.key not in ("F", "T"):
                raise ValueError("a true/false key is T or F")
            self.options = None
        else:
            if not self.rubric:
                raise ValueError(f"{kind.value} items need a scoring rubric")
            self.key = None
            self.options = None
        return self

    def content(self) -> dict[str, Any]:
        """The fields that make up a version's content (what the version hash covers)."""
        return self.model_dump(exclude={"external_id", "set_id", "stimulus", "enemy_groups"})


EXPORT_ONLY_COLUMNS = ("status", "version")
"""Columns an item export writes for its reader and an import ignores: a new item starts as a draft, version 1."""
IMPORT_COLUMNS = (*ItemRecord.model_fields, *(f"option_{letter}" for letter in OPTION_LETTERS), *EXPORT_ONLY_COLUMNS)
"""The columns of an item file (Excel/CSV) an import knows; any ``option_<letter>`` is read as an option too."""
IMPORT_TABLE = "导入文件"


@dataclass(frozen=True)
class RowProblem:
    row: int
    column: str
    problem: str

    def __str__(self) -> str:
        return f"row {self.row}, column '{self.column}': {self.problem}"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (isinstance(value, str) and not value.strip())


def _flat_option(column: str) -> bool:
    return column.lower().startswith("option_")


def known_columns(rows: Iterable[tuple[int, Mapping[str, Any]]]) -> tuple[list[tuple[int, dict[str, Any]]], list[UnknownColumn]]:
    """The rows of an item file with only the columns an import reads, and a warning per column left out.

    A column that looks like a known one (``enemy_group``) refuses the whole file, naming the column
    and the one it resembles, before any row is validated: ignoring it would drop its content unseen.
    """
    rows = list(rows)
    header = list(dict.fromkeys(str(k).strip() for _, row in rows for k in row if k is not None))
    unknown = check_header([c for c in header if not _flat_option(c)], IMPORT_COLUMNS, table=IMPORT_TABLE)
    dropped = {u.column for u in unknown} | set(EXPORT_ONLY_COLUMNS)
    kept = [(number, {k: v for k, v in row.items() if k is None or str(k).strip() not in dropped}) for number, row in rows]
    return kept, unknown


def _clean(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Turn a flat row (Excel/CSV: option_A.. columns, ';'-separated enemies) into record fields."""
    row = {str(k).strip(): (None if _blank(v) else v) for k, v in raw.items() if k is not None}
    options = row.pop("options", None)
    flat = {k[len("option_"):].upper(): row.pop(k) for k in list(row) if _flat_option(k)}
    if options is None and any(v is not None for v in flat.values()):
        options = {k: str(v) for k, v in flat.items() if v is not None}
    if isinstance(options, str):
        import json

        options = json.loads(options)
    row["options"] = options
    enemies = row.get("enemy_groups")
    if isinstance(enemies, str):
        row["enemy_groups"] = [e.strip() for e in re.split(r"[;,，；]", enemies) if e.strip()]
    elif enemies is None:
        row["enemy_groups"] = []
    for text_field in ("external_id", "key", "set_id", "element"):
        if isinstance(row.get(text_field), int | float) and row[text_field] is not None:
            row[text_field] = str(row[text_field])
    difficulty = row.get("difficulty")
    if isinstance(difficulty, float):
        row["difficulty"] = int(difficulty)
    return row


def validate_rows(rows: Iterable[tuple[int, Mapping[str, Any]]]) -> tuple[list[tuple[int, ItemRecord]], list[RowProblem]]:
    """Validate every row; return (row number, record) pairs and every problem found."""
    records: list[tuple[int, ItemRecord]] = []
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    for number, raw in rows:
        try:
            record = ItemRecord.model_validate(_clean(raw))
        except PydanticError as exc:
            for err in exc.errors():
                column = ".".join(str(p) for p in err["loc"]) or "(row)"
                problems.append(RowProblem(number, column, err["msg"].removeprefix("Value error, ")))
            continue
        except ValueError as exc:
            problems.append(RowProblem(number, "options", f"cannot be read: {exc}"))
            continue
        if record.external_id in seen:
            problems.append(RowProblem(number, "external_id", f"'{record.external_id}' repeats row {seen[record.external_id]}"))
            continue
        seen[record.external_id] = number
        records.append((number, record))
    return records, problems


def raise_for_problems(problems: list[RowProblem], what: str = "import") -> None:
    """Refuse the whole operation, listing every bad row."""
    if problems:
        rows = sorted({p.row for p in problems})
        listing = "; ".join(str(p) for p in problems[:50])
        more = f" (and {len(problems) - 50} more)" if len(problems) > 50 else ""
        raise ValidationError(
            f"{what} refused, nothing stored: {len(rows)} bad row(s): {listing}{more}",
            field=problems[0].column,
            details=[{"row": p.row, "column": p.column, "problem": p.problem} for p in problems],
        )
