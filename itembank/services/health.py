"""Bank health: where the active bank is thin against the blueprint (题库结构分析)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from sqlmodel import Session, col, select

from itembank.config import get_settings
from itembank.models import Blueprint, Item, ItemStatus, ItemVersion
from itembank.services.blueprints import blueprint_nodes


@dataclass
class BankHealth:
    """Active supply per element and item type, importance shares of points, and the problems found."""

    blueprint: str
    cells: pd.DataFrame
    importance: pd.DataFrame
    thin_elements: list[str]
    unknown_elements: list[str]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        lines = [f"bank health for {self.blueprint}: {int(self.cells['active'].sum())} active items"]
        lines += [f"  - {p}" for p in self.problems] or ["  no problems found"]
        return "\n".join(lines)


def bank_health(session: Session, blueprint: Blueprint, *, min_items: int | None = None) -> BankHealth:
    """Compare the active items with the blueprint; thresholds come from settings unless given."""
    settings = get_settings()
    min_items = settings.health_min_items_per_element if min_items is None else min_items
    nodes = blueprint_nodes(session, blueprint.id)  # type: ignore[arg-type]
    elements = nodes[nodes["is_element"]][["code", "name", "importance", "absolute_weight"]]
    rows = session.exec(
        select(ItemVersion.element, ItemVersion.type, ItemVersion.points, Item.status)
        .join(Item, (col(Item.id) == col(ItemVersion.item_id)) & (col(Item.current_version) == col(ItemVersion.version)))
        .where(Item.occupation_code == blueprint.occupation_code, Item.level == blueprint.level,
               Item.exam_kind == blueprint.exam_kind)
    ).all()
    items = pd.DataFrame(rows, columns=["element", "type", "points", "status"]).astype({"type": str, "status": str})
    active = items[items["status"] == ItemStatus.ACTIVE.value]
    counts = active.pivot_table(index="element", columns="type", values="points", aggfunc="size", fill_value=0)
    cells = elements.set_index("code").join(counts, how="left").fillna(0)
    type_columns = [c for c in counts.columns]
    cells["active"] = cells[type_columns].sum(axis=1) if type_columns else 0
    cells["points"] = active.groupby("element")["points"].sum().reindex(cells.index).fillna(0)
    cells = cells.reset_index().rename(columns={"code": "element"})
    for column in type_columns:
        cells[column] = cells[column].astype(int)
    cells["active"] = cells["active"].astype(int)

    merged = active.merge(elements, left_on="element", right_on="code", how="inner")
    total = merged["points"].sum()
    shares = merged.groupby("importance")["points"].sum().reindex(["X", "Y", "Z"]).fillna(0)
    limits = {"X": (settings.health_x_min_share, None), "Y": (None, settings.health_y_max_share),
              "Z": (None, settings.health_z_max_share)}
    importance = pd.DataFrame({
        "importance": ["X", "Y", "Z"],
        "points": shares.values,
        "share": (shares / total).fillna(0).values if total else [0.0, 0.0, 0.0],
        "min_share": [limits[k][0] for k in "XYZ"],
        "max_share": [limits[k][1] for k in "XYZ"],
    })
    thin = cells.loc[cells["active"] < min_items, "element"].tolist()
    unknown = sorted(set(items["element"]) - set(elements["code"]))
    problems = []
    empty = cells.loc[cells["active"] == 0, "element"].tolist()
    if empty:
        problems.append(f"{len(empty)} element(s) have no active item: {', '.join(empty[:10])}")
    few = [e for e in thin if e not in empty]
    if few:
        problems.append(f"{len(few)} element(s) have fewer than {min_items} active items: {', '.join(few[:10])}")
    for row in importance.itertuples():
        if row.min_share is not None and row.share < row.min_share:
            problems.append(f"{row.importance} items hold {row.share:.0%} of active points, below {row.min_share:.0%}")
        if row.max_share is not None and row.share > row.max_share:
            problems.append(f"{row.importance} items hold {row.share:.0%} of active points, above {row.max_share:.0%}")
    if unknown:
        problems.append(f"items keyed to {len(unknown)} element(s) not in the blueprint: {', '.join(unknown[:10])}")
    label = f"{blueprint.occupation} {blueprint.occupation_code} level {blueprint.level} {blueprint.exam_kind} v{blueprint.version}"
    return BankHealth(label, cells, importance, thin, unknown, problems)
