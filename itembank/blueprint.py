"""Parsing and validating assessment-element detail tables (认定要素细目表).

A document is a tree of nodes (module → unit → element) with codes like ``A``, ``A-B``, ``A-B-001``.
Weights (鉴定比重) are percentages within the parent, so siblings sum to 100; the absolute weight of a
node (its share of the whole paper) is the product down the path. Leaves are elements and carry an
importance X (core), Y (general) or Z (auxiliary). Every problem is reported with the node's code.
A key (or Excel column) the parser does not read is named by ``check_document``: misspelt, a
``wieght`` would leave the elements equally weighted without a word.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from itembank.columns import check_header
from itembank.errors import ValidationError
from itembank.hashing import content_hash
from itembank.tabular import read_rows

if TYPE_CHECKING:
    from assembly.columns import UnknownColumn

WEIGHT_TOLERANCE = 0.5
_SEGMENT = re.compile(r"^[A-Z0-9]{1,3}$")
DOCUMENT_KEYS = ("occupation", "occupation_code", "level", "level_name", "exam_kind", "version", "source", "nodes")
"""The keys of a blueprint document (an Excel workbook's ``meta`` sheet holds all but ``nodes``)."""
NODE_KEYS = ("code", "name", "weight", "importance", "children")
"""The keys of a node (an Excel nodes sheet has all but ``children`` as columns)."""
BLUEPRINT_TABLE = "细目表"


@dataclass
class NodeSpec:
    code: str
    name: str
    depth: int
    parent_code: str | None
    weight: float | None
    importance: str | None
    absolute_weight: float = 0.0
    position: int = 0
    children: list[NodeSpec] = field(default_factory=list)

    @property
    def is_element(self) -> bool:
        return not self.children


@dataclass
class BlueprintSpec:
    occupation: str
    occupation_code: str
    level: int
    level_name: str
    exam_kind: str
    version: str
    source: str
    roots: list[NodeSpec]

    def nodes(self) -> list[NodeSpec]:
        """All nodes, depth-first in document order."""
        out: list[NodeSpec] = []
        stack = list(reversed(self.roots))
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.children))
        return out

    def elements(self) -> list[NodeSpec]:
        return [n for n in self.nodes() if n.is_element]

    def content_hash(self) -> str:
        return content_hash(
            [(n.code, n.name, n.weight, n.importance) for n in self.nodes()]
            + [self.occupation_code, self.level, self.exam_kind, self.version]
        )


def load_document(path: str | Path) -> dict[str, Any]:
    """Read a blueprint document from YAML, JSON or Excel (nodes sheet + optional 'meta' sheet)."""
    path = Path(path)
    if not path.exists():
        raise ValidationError(f"blueprint file {path} does not exist", field="path")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if suffix == ".json":
        return json.loads(path.read_text(encoding="utf-8"))
    if suffix in (".xlsx", ".xlsm"):
        return _excel_document(path)
    raise ValidationError(f"{path.name}: expected .yaml, .json or .xlsx", field="path")


def _excel_document(path: Path) -> dict[str, Any]:
    """Flat rows (code, name, weight, importance) become a tree by code prefix."""
    from openpyxl import load_workbook

    meta: dict[str, Any] = {}
    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        if "meta" in workbook.sheetnames:
            for key, value, *_ in workbook["meta"].iter_rows(values_only=True):
                if key:
                    meta[str(key).strip()] = value
    finally:
        workbook.close()
    by_code: dict[str, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    for number, row in read_rows(path):
        code = str(row.get("code") or "").strip()
        if not code:
            raise ValidationError(f"row {number}: the code is empty", field="code")
        node = {k: v for k, v in row.items() if v is not None}  # every column, for check_document to see
        node["code"], node["children"] = code, []
        by_code[code] = node
        parent = code.rsplit("-", 1)[0] if "-" in code else None
        if parent is None:
            roots.append(node)
        elif parent in by_code:
            by_code[parent]["children"].append(node)
        else:
            raise ValidationError(f"row {number}: node {code} comes before its parent {parent}", field="code")
    return {**meta, "nodes": roots}


def check_document(document: Any) -> list[UnknownColumn]:
    """The document's keys and its nodes' keys (an Excel sheet's columns) the parser does not read, as
    warnings; one that looks like a known key (``wieght``, ``levle``) is refused, naming both."""
    if not isinstance(document, dict):
        return []  # parse_blueprint says what is wrong with it
    unknown = check_header(document, DOCUMENT_KEYS, table=BLUEPRINT_TABLE)
    node_keys: dict[str, None] = {}
    stack = [document.get("nodes")]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            node_keys.update(dict.fromkeys(str(key) for key in node))
            stack.append(node.get("children"))
    return unknown + check_header(node_keys, NODE_KEYS, table=BLUEPRINT_TABLE, field_prefix="nodes.")


def parse_blueprint(document: dict[str, Any]) -> BlueprintSpec:
    """Validate a blueprint document; every problem names the node and the field."""
    problems: list[str] = []
    for key in ("occupation", "occupation_code", "level", "version"):
        if document.get(key) in (None, ""):
            problems.append(f"'{key}' is missing")
    raw_nodes = document.get("nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        problems.append("'nodes' must be a non-empty list of modules")
        raw_nodes = []
    seen: set[str] = set()
    roots = [_parse_node(raw, None, 1, i, seen, problems) for i, raw in enumerate(raw_nodes)]
    _check_weights(roots, "the modules", problems)
    for root in roots:
        _absolute(root, 100.0)
    if problems:
        raise ValidationError(
            "blueprint is invalid: " + "; ".join(problems), field="nodes", details=problems
        )
    try:
        level = int(document["level"])
    except (TypeError, ValueError) as exc:
        raise ValidationError("'level' must be a whole number (1 to 5)", field="level") from exc
    return BlueprintSpec(
        occupation=str(document["occupation"]),
        occupation_code=str(document["occupation_code"]),
        level=level,
        level_name=str(document.get("level_name") or ""),
        exam_kind=str(document.get("exam_kind") or "theory"),
        version=str(document["version"]),
        source=str(document.get("source") or ""),
        roots=roots,
    )


def _parse_node(raw: Any, parent: NodeSpec | None, depth: int, position: int, seen: set[str], problems: list[str]) -> NodeSpec:
    where = f"node {raw.get('code', '?')}" if isinstance(raw, dict) else f"node #{position + 1} at depth {depth}"
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping with code and name")
        return NodeSpec("?", "?", depth, parent.code if parent else None, None, None)
    code = str(raw.get("code") or "").strip()
    if not code:
        problems.append(f"{where}: 'code' is missing")
    elif code in seen:
        problems.append(f"node {code}: code is not unique")
    else:
        seen.add(code)
    segments = code.split("-")
    if code and (len(segments) != depth or not all(_SEGMENT.match(s) for s in segments)):
        problems.append(f"node {code}: code should have {depth} segment(s) like {'-'.join(['A', 'B', '001'][:depth]) if depth <= 3 else 'A-B-001-…'}")
    if parent is not None and code and not code.startswith(parent.code + "-"):
        problems.append(f"node {code}: code does not start with its parent's code {parent.code}-")
    if not str(raw.get("name") or "").strip():
        problems.append(f"node {code or where}: 'name' is missing")
    weight = raw.get("weight")
    if weight is not None:
        try:
            weight = float(weight)
        except (TypeError, ValueError):
            problems.append(f"node {code}: weight '{weight}' is not a number")
            weight = None
        else:
            if weight < 0:
                problems.append(f"node {code}: weight is negative")
    node = NodeSpec(code, str(raw.get("name") or ""), depth, parent.code if parent else None, weight, None, position=position)
    children = raw.get("children") or []
    node.children = [_parse_node(c, node, depth + 1, i, seen, problems) for i, c in enumerate(children)]
    importance = raw.get("importance")
    if node.is_element:
        importance = str(importance or "").strip().upper()
        if importance not in ("X", "Y", "Z"):
            problems.append(f"element {code}: importance must be X, Y or Z (got '{raw.get('importance')}')")
        node.importance = importance or None
    elif importance:
        problems.append(f"node {code}: only elements (leaves) carry an importance")
    if node.children:
        _check_weights(node.children, f"the children of {code}", problems)
    return node


def _check_weights(siblings: list[NodeSpec], label: str, problems: list[str]) -> None:
    """Siblings either all carry weights that sum to 100, or (elements only) none do."""
    weights = [n.weight for n in siblings]
    if all(w is None for w in weights) and all(n.is_element for n in siblings):
        return
    missing = [n.code for n in siblings if n.weight is None]
    if missing:
        problems.append(f"{label}: weight missing on {', '.join(missing)}")
        return
    total = sum(w for w in weights if w is not None)
    if abs(total - 100.0) > WEIGHT_TOLERANCE:
        problems.append(f"{label}: weights sum to {total:g}, not 100")


def _absolute(node: NodeSpec, parent_absolute: float) -> None:
    siblings_weighted = node.weight is not None
    node.absolute_weight = parent_absolute * (node.weight / 100.0) if siblings_weighted and node.weight is not None else 0.0
    if node.children:
        unweighted = all(c.weight is None for c in node.children)
        for child in node.children:
            if unweighted:
                child.absolute_weight = node.absolute_weight / len(node.children)
            else:
                _absolute(child, node.absolute_weight)
