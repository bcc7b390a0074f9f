"""Stratified random drawing per blueprint cell (随机抽题): how exam systems give each candidate
a paper today, the peer of :func:`assembly.assemble_loft` in the LOFT benchmark. Peer code, not
product code.

The spec's 细目表 becomes a table of cells, one per blueprint rule node and item type, each with
an item count: every section's count is split over the rule nodes in proportion to their weights
(counts, or the middle of a count range, for count rules) by largest remainder, the way an exam
office fills in its 双向细目表. Each paper then draws every cell's count uniformly at random from
the cell's items. Like a careful exam system it draws an item set (题组) whole and skips an item
sharing an enemy group with one already drawn; beyond that it optimises nothing: it never looks
at item parameters, the reference TCC, the importance share or exposure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from assembly.bank import enemy_lists, under_node
from assembly.result import Form
from assembly.scaled_spec import apportion
from assembly.spec import BlueprintRule, PaperSpec


@dataclass(frozen=True)
class Cell:
    """One cell of the 细目表: a blueprint node, an item type, how many items, and the cell's
    draw units (an item set whole, or a single item) as row positions with their enemy groups."""

    node: str
    type: str
    count: int
    units: list[np.ndarray]
    enemies: list[frozenset[str]]


def _share(rule: BlueprintRule) -> float:
    if rule.weight is not None:
        return rule.weight
    if rule.count is not None:
        return float(rule.count)
    low = rule.min_count or 0
    return float(low if rule.max_count is None else (low + rule.max_count) / 2)


def _disjoint(rules: Sequence[BlueprintRule]) -> None:
    """A cell table needs rule nodes that do not nest (``B`` and ``B-02`` would count twice)."""
    nodes = [rule.node for rule in rules]
    for node in nodes:
        for other in nodes:
            if other != node and other.startswith(node + "-"):
                raise ValueError(f"blueprint nodes {node} and {other} nest; stratified drawing needs "
                                 "one level of cells")


def _units(table: pd.DataFrame, rows: np.ndarray) -> tuple[list[np.ndarray], list[frozenset[str]]]:
    enemies = enemy_lists(table)
    sets = table["set_id"].to_numpy(dtype=object)
    grouped: dict[object, list[int]] = {}
    for row in rows:
        key = sets[row] if pd.notna(sets[row]) else ("item", row)
        grouped.setdefault(key, []).append(int(row))
    units = [np.array(members) for members in grouped.values()]
    return units, [frozenset(g for row in unit for g in enemies[row]) for unit in units]


def cell_table(table: pd.DataFrame, spec: PaperSpec) -> list[Cell]:
    """The 细目表 cells of one paper of the spec over the item table's rows."""
    _disjoint(spec.blueprint)
    shares = [_share(rule) for rule in spec.blueprint]
    cells = []
    for section in spec.sections:
        of_type = (table["type"] == section.type).to_numpy()
        counts = apportion(section.count, shares)
        for rule, count in zip(spec.blueprint, counts, strict=True):
            rows = np.flatnonzero(of_type & under_node(table["element"], rule.node))
            if count > len(rows):
                raise ValueError(f"cell {rule.node} × {section.type} needs {count} items, the bank "
                                 f"holds {len(rows)}")
            units, enemies = _units(table, rows)
            cells.append(Cell(rule.node, section.type, count, units, enemies))
    return cells


def _draw_cell(cell: Cell, taken: set[str], rng: np.random.Generator) -> list[int]:
    """Units in random order, each taken if it fits the cell's remaining count and clashes with
    no enemy group already in the paper."""
    rows: list[int] = []
    for k in rng.permutation(len(cell.units)):
        unit = cell.units[k]
        if len(rows) + len(unit) > cell.count or cell.enemies[k] & taken:
            continue
        rows.extend(unit.tolist())
        taken |= cell.enemies[k]
        if len(rows) == cell.count:
            return rows
    raise ValueError(f"cell {cell.node} × {cell.type}: no draw of {cell.count} items fits")


def draw_papers(table: pd.DataFrame, spec: PaperSpec, names: Sequence[str], *, seed: int
                ) -> list[Form]:
    """One randomly drawn paper per candidate name, reproducible for a seed."""
    cells = cell_table(table, spec)
    ids = table["item_id"].to_numpy(dtype=object)
    rng = np.random.default_rng(seed)
    forms = []
    for name in names:
        taken: set[str] = set()
        rows = [row for cell in cells for row in _draw_cell(cell, taken, rng)]
        forms.append(Form(name, "loft", ids[rows].tolist()))
    return forms
