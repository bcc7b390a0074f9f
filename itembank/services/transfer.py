"""Moving items in and out of the bank: Excel/CSV imports (all-or-nothing) and exports, and the
lossless whole-bank JSON round-trip. Every export is recorded in the audit ledger (who, when, what,
how many, the SHA-256 of the bytes handed out) in the transaction that reads it."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, SQLModel, col, select

from itembank import audit
from itembank.errors import Conflict, ValidationError
from itembank.hashing import content_hash
from itembank.models import (
    Blueprint,
    BlueprintNode,
    CalibrationRun,
    EnemyGroup,
    EnemyMember,
    Item,
    ItemParameter,
    ItemSet,
    ItemStatistic,
    ItemVersion,
    ReviewSignoff,
    Role,
    TrueParameter,
)
from itembank.records import (
    EXPORT_ONLY_COLUMNS,
    OPTION_LETTERS,
    known_columns,
    raise_for_problems,
    validate_rows,
)
from itembank.services.actors import Actor
from itembank.services.items import create_items
from itembank.tabular import TableFormat, read_rows, table_format, write_rows

if TYPE_CHECKING:
    from assembly.columns import UnknownColumn

FORMAT = "itembank-bank/1"
FLAT_COLUMNS = [
    "external_id", "type", "element", "points", "stem",
    *(f"option_{letter}" for letter in OPTION_LETTERS[:5]),
    "key", "rubric", "difficulty", "set_id", "stimulus", "enemy_groups", *EXPORT_ONLY_COLUMNS,
]
"""The columns of an item file: options A–E always (the template writers fill in), more when items have them."""


def flat_columns(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """``FLAT_COLUMNS`` with a column after option_E for every further option the rows hold
    (option_F, option_G …, in order), so an export keeps every option and imports back whole."""
    more = {column for row in rows for column in row if column.startswith("option_")} - set(FLAT_COLUMNS)
    after = FLAT_COLUMNS.index(f"option_{OPTION_LETTERS[4]}") + 1
    return [*FLAT_COLUMNS[:after], *sorted(more, key=lambda column: (len(column), column)), *FLAT_COLUMNS[after:]]


@dataclass(frozen=True)
class ItemImport:
    """The items an item file created, and the columns it held that the import ignored."""

    items: list[Item]
    unknown_columns: list[UnknownColumn]

    @property
    def warnings(self) -> list[str]:
        """One sentence per ignored column, for the user who sent the file."""
        return [str(column) for column in self.unknown_columns]


def import_items_file(session: Session, actor: Actor, blueprint: Blueprint, path: str | Path) -> ItemImport:
    """Import every row of a .csv/.xlsx file or none (the command line's import)."""
    return import_item_rows(session, actor, blueprint, read_rows(path), Path(path).name, field="path")


def import_item_rows(session: Session, actor: Actor, blueprint: Blueprint, rows: Iterable[tuple[int, Mapping[str, Any]]],
                     source: str, *, field: str) -> ItemImport:
    """Import every row of a table or none: the error lists each bad row and column.

    Takes rows already read (``tabular.read_rows``) so a caller can parse a file before it opens
    the transaction; ``source`` and ``field`` name the file and the input that carried it. An
    unknown column is ignored and named in the result's warnings; one that looks like a known
    column (``enemy_group``) refuses the file, nothing stored.
    """
    known, unknown = known_columns(rows)
    records, problems = validate_rows(known)
    raise_for_problems(problems)
    if not records:
        raise ValidationError(f"{source} holds no items", field=field)
    return ItemImport(create_items(session, actor, blueprint, records), unknown)


def item_rows(session: Session, statuses: list[str] | None = None) -> list[dict[str, Any]]:
    """Current versions as flat rows (the same columns an import reads).

    Builds the rows without recording them; handing them out goes through ``export_item_table``.
    """
    query = select(Item, ItemVersion).join(
        ItemVersion, (col(ItemVersion.item_id) == col(Item.id)) & (col(ItemVersion.version) == col(Item.current_version))
    )
    if statuses:
        query = query.where(col(Item.status).in_(statuses))
    sets = {s.id: s for s in session.exec(select(ItemSet)).all()}
    enemies: dict[int, list[str]] = {}
    for member, group in session.exec(select(EnemyMember, EnemyGroup).join(EnemyGroup)).all():
        enemies.setdefault(member.item_id, []).append(group.name)
    rows = []
    for item, version in session.exec(query.order_by(col(Item.id))).all():
        row: dict[str, Any] = {
            "external_id": item.external_id, "type": str(version.type), "element": version.element,
            "points": version.points, "stem": version.stem, "key": version.key, "rubric": version.rubric,
            "difficulty": version.difficulty, "status": str(item.status), "version": item.current_version,
            "set_id": sets[item.set_id].external_id if item.set_id else None,
            "stimulus": sets[item.set_id].stimulus if item.set_id else None,
            "enemy_groups": ";".join(sorted(enemies.get(item.id, []))),  # type: ignore[arg-type]
        }
        for letter, text in (version.options or {}).items():
            row[f"option_{letter}"] = text
        rows.append(row)
    return rows


EXPORTERS = (Role.ITEM_WRITER, Role.PROOFREADER, Role.REVIEWER, Role.PANEL_MEMBER, Role.BANK_MANAGER,
             Role.PSYCHOMETRICIAN, Role.ADMIN)
"""Who may take item rows, answer keys included, out of the bank: the bank staff who may read any one
item (``GET /items/{external_id}``). Auditors read the ledger, not items; exam engines only their papers."""

BANK_CUSTODIANS = (Role.BANK_MANAGER, Role.ADMIN)
"""Who may take the whole bank out losslessly (history, sign-offs, parameters) and put one back."""


@dataclass(frozen=True)
class Export:
    """Content handed out of the bank: the file's bytes and what the ledger says about them."""

    action: str
    name: str
    format: str
    statuses: tuple[str, ...]
    count: int
    content: bytes

    @property
    def sha256(self) -> str:
        """SHA-256 of the bytes handed out: ``sha256sum`` on any copy of the file finds its ledger event."""
        return hashlib.sha256(self.content).hexdigest()

    def payload(self) -> dict[str, Any]:
        """What the ledger hashes; an empty status list means every status."""
        return {"format": self.format, "status": list(self.statuses), "rows": self.count, "sha256": self.sha256}

    def save(self, path: str | Path) -> Path:
        """Write the content to ``path``, making its folder; call it after the transaction commits."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.content)
        return path


def _handed_out(session: Session, actor: Actor, entity_type: str, export: Export) -> Export:
    """Record the export in the caller's transaction, once its bytes exist.

    The ledger hashes the bytes rather than canonical rows: the bytes are exactly what a recipient
    holds, so a copy found anywhere is matched to its event (who, when) by its SHA-256 alone, while
    canonical rows could not be recomputed from it (CSV drops types, and the bank moves on). Every
    .xlsx carries its own timestamp, so each copy is told apart. Recording last also takes the
    ledger's head lock only after the rendering, so a large export does not hold up other writers.
    """
    audit.record(session, actor.name, export.action, entity_type, export.name, export.payload())
    return export


def export_item_table(session: Session, actor: Actor, table: TableFormat, statuses: Sequence[str] = (),
                      *, name: str | None = None) -> Export:
    """Current versions as a .csv/.xlsx file that imports back (``GET /items/export`` and the CLI),
    recorded as ``items.export``; ``name`` is the file name handed out (``items.<table>`` by default)."""
    actor.require(*EXPORTERS, action="export items")
    name = name or f"items.{table}"
    rows = item_rows(session, list(statuses))
    download = io.BytesIO()
    write_rows(download, flat_columns(rows), rows, name)
    return _handed_out(session, actor, "items",
                       Export("items.export", name, table, tuple(statuses), len(rows), download.getvalue()))


def export_bank_json(session: Session, actor: Actor, *, name: str = "bank.json") -> Export:
    """The whole bank as the lossless JSON document ``import_bank`` reads, recorded as ``bank.export``."""
    actor.require(*BANK_CUSTODIANS, action="export the whole bank")
    document = export_bank(session)
    content = json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
    return _handed_out(session, actor, "bank", Export("bank.export", name, "json", (), len(document["items"]), content))


def export_file(session: Session, actor: Actor, path: str | Path, statuses: Sequence[str] = ()) -> Export:
    """What ``itembank items export PATH`` hands out: the whole bank for .json, else item rows.

    The caller saves the file after the transaction commits, so no content leaves unrecorded; a
    failed write then leaves an event for a file that was never written, the side an audit trail
    should err on. A status filter on the .json is refused rather than ignored: the whole bank would
    otherwise carry keys the user meant to leave out.
    """
    name = Path(path).name
    if Path(path).suffix.lower() == ".json":
        if statuses:
            raise ValidationError("the whole-bank .json export holds every item; a status filter needs a .csv or "
                                  ".xlsx file", field="status")
        return export_bank_json(session, actor, name=name)
    return export_item_table(session, actor, table_format(name), statuses, name=name)


# --- whole-bank JSON ---------------------------------------------------------------------------

def _dump(row: SQLModel, drop: tuple[str, ...] = ("id",)) -> dict[str, Any]:
    return row.model_dump(mode="json", exclude=set(drop))


def export_bank(session: Session) -> dict[str, Any]:
    """Everything the bank knows about blueprints and items, keyed by natural ids, lossless.

    Builds the document without recording it; handing it out goes through ``export_bank_json``.
    """
    items = session.exec(select(Item).order_by(col(Item.id))).all()
    ext = {i.id: i.external_id for i in items}
    sets = {s.id: s.external_id for s in session.exec(select(ItemSet)).all()}
    runs = session.exec(select(CalibrationRun).order_by(col(CalibrationRun.id))).all()
    run_names = {r.id: r.name for r in runs}
    blueprints = session.exec(select(Blueprint).order_by(col(Blueprint.id))).all()

    def by_item(model: type[SQLModel], order: Any) -> dict[int, list[dict[str, Any]]]:
        grouped: dict[int, list[dict[str, Any]]] = {}
        for row in session.exec(select(model).order_by(order)).all():
            record = _dump(row, ("id", "item_id"))
            if "run_id" in record:
                record["run"] = run_names[record.pop("run_id")]
            grouped.setdefault(row.item_id, []).append(record)  # type: ignore[attr-defined]
        return grouped

    versions = by_item(ItemVersion, col(ItemVersion.id))
    signoffs = by_item(ReviewSignoff, col(ReviewSignoff.id))
    parameters = by_item(ItemParameter, col(ItemParameter.id))
    statistics = by_item(ItemStatistic, col(ItemStatistic.id))
    truth = by_item(TrueParameter, col(TrueParameter.item_id))
    enemies: dict[str, list[str]] = {}
    for member, group in session.exec(select(EnemyMember, EnemyGroup).join(EnemyGroup)).all():
        enemies.setdefault(group.name, []).append(ext[member.item_id])
    document = {
        "format": FORMAT,
        "blueprints": [
            {**_dump(b), "nodes": [_dump(n, ("id", "blueprint_id")) for n in session.exec(
                select(BlueprintNode).where(BlueprintNode.blueprint_id == b.id).order_by(col(BlueprintNode.id))).all()]}
            for b in blueprints
        ],
        "item_sets": [_dump(s) for s in session.exec(select(ItemSet).order_by(col(ItemSet.id))).all()],
        "enemy_groups": [
            {**_dump(g), "items": sorted(enemies.get(g.name, []))}
            for g in session.exec(select(EnemyGroup).order_by(col(EnemyGroup.id))).all()
        ],
        "calibration_runs": [_dump(r) for r in runs],
        "items": [
            {
                **_dump(i, ("id", "set_id")),
                "set": sets.get(i.set_id) if i.set_id else None,
                "versions": versions.get(i.id, []),  # type: ignore[arg-type]
                "signoffs": signoffs.get(i.id, []),  # type: ignore[arg-type]
                "parameters": parameters.get(i.id, []),  # type: ignore[arg-type]
                "statistics": statistics.get(i.id, []),  # type: ignore[arg-type]
                "truth": (truth.get(i.id) or [None])[0],  # type: ignore[arg-type, list-item]
            }
            for i in items
        ],
    }
    return document


def import_bank(session: Session, actor: Actor, document: dict[str, Any]) -> int:
    """Restore a whole-bank export into a bank that holds none of its items; all or nothing."""
    actor.require(*BANK_CUSTODIANS, action="import a bank")
    if document.get("format") != FORMAT:
        raise ValidationError(f"not an itembank export (format should be '{FORMAT}')", field="format")
    names = [i["external_id"] for i in document.get("items", [])]
    clash = session.exec(select(Item.external_id).where(col(Item.external_id).in_(names))).first() if names else None
    if clash:
        raise Conflict(f"item '{clash}' is already in the bank; a bank import needs a bank without its items", field="items")
    for raw in document.get("blueprints", []):
        nodes = raw["nodes"]
        raw = {k: v for k, v in raw.items() if k != "nodes"}
        existing = session.exec(select(Blueprint).where(
            Blueprint.occupation_code == raw["occupation_code"], Blueprint.level == raw["level"],
            Blueprint.exam_kind == raw["exam_kind"], Blueprint.version == raw["version"])).first()
        if existing is None:
            blueprint = Blueprint.model_validate(raw)
            session.add(blueprint)
            session.flush()
            session.add_all(BlueprintNode.model_validate({**n, "blueprint_id": blueprint.id}) for n in nodes)
    sets = {}
    for raw in document.get("item_sets", []):
        found = session.exec(select(ItemSet).where(ItemSet.external_id == raw["external_id"])).first()
        sets[raw["external_id"]] = found or ItemSet.model_validate(raw)
        session.add(sets[raw["external_id"]])
    runs = {}
    for raw in document.get("calibration_runs", []):
        runs[raw["name"]] = session.exec(select(CalibrationRun).where(CalibrationRun.name == raw["name"])).first() \
            or CalibrationRun.model_validate(raw)
        session.add(runs[raw["name"]])
    session.flush()
    items: dict[str, Item] = {}
    for raw in document.get("items", []):
        fields = {k: v for k, v in raw.items() if k not in ("set", "versions", "signoffs", "parameters", "statistics", "truth")}
        item = Item.model_validate({**fields, "set_id": sets[raw["set"]].id if raw.get("set") else None})
        session.add(item)
        items[item.external_id] = item
    session.flush()
    for raw in document.get("items", []):
        item_id = items[raw["external_id"]].id
        session.add_all(ItemVersion.model_validate({**v, "item_id": item_id}) for v in raw["versions"])
        session.add_all(ReviewSignoff.model_validate({**s, "item_id": item_id}) for s in raw["signoffs"])
        for model, key in ((ItemParameter, "parameters"), (ItemStatistic, "statistics")):
            session.add_all(
                model.model_validate({**{k: v for k, v in p.items() if k != "run"}, "item_id": item_id, "run_id": runs[p["run"]].id})
                for p in raw[key]
            )
        if raw.get("truth"):
            session.add(TrueParameter.model_validate({**raw["truth"], "item_id": item_id}))
    for raw in document.get("enemy_groups", []):
        group = session.exec(select(EnemyGroup).where(EnemyGroup.name == raw["name"])).first() or EnemyGroup.model_validate(
            {k: v for k, v in raw.items() if k != "items"})
        session.add(group)
        session.flush()
        session.add_all(EnemyMember(group_id=group.id, item_id=items[name].id) for name in raw["items"])  # type: ignore[arg-type]
    audit.record(session, actor.name, "bank.import", "bank", FORMAT, {"items": len(items), "hash": content_hash(names)})
    session.flush()
    return len(items)
