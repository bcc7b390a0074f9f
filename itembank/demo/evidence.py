"""Tables the report shows, read back from the bank after the run (never from the demo's own bookkeeping)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from calibration.irt import info_3pl, prob_3pl
from itembank.models import Blueprint, Item, ItemVersion, Paper, PaperItem
from itembank.services.blueprints import blueprint_nodes
from itembank.services.calibration import operational_parameters

THETA_GRID = np.linspace(-4.0, 4.0, 161)


def paper_items(session: Session, blueprint: Blueprint) -> pd.DataFrame:
    """Every paper's items with points, element, module and the paper's name, role and status."""
    rows = session.execute(
        sa_select(*(col(c) for c in (Paper.id, Paper.name, Paper.role, Paper.status, Item.id, Item.external_id,
                                     PaperItem.points, ItemVersion.element)))
        .join(PaperItem, col(PaperItem.paper_id) == Paper.id)
        .join(Item, col(Item.id) == PaperItem.item_id)
        .join(ItemVersion, (col(ItemVersion.item_id) == PaperItem.item_id) & (col(ItemVersion.version) == PaperItem.version))
        .order_by(col(Paper.id), col(PaperItem.position))
    ).all()
    frame = pd.DataFrame(rows, columns=["paper_id", "paper", "role", "status", "item_pk", "item_id", "points", "element"])
    return frame.assign(module=frame["element"].map(element_modules(session, blueprint)))


def element_modules(session: Session, blueprint: Blueprint) -> dict[str, str]:
    """Element code → module code, by walking each element's parents to depth 1."""
    nodes = blueprint_nodes(session, blueprint.id)  # type: ignore[arg-type]
    parent = dict(zip(nodes["code"], nodes["parent_code"], strict=True))
    depth = dict(zip(nodes["code"], nodes["depth"], strict=True))
    modules = {}
    for code in nodes.loc[nodes["is_element"], "code"]:
        node = code
        while depth[node] > 1:
            node = parent[node]
        modules[code] = node
    return modules


def coverage(session: Session, blueprint: Blueprint, items: pd.DataFrame) -> pd.DataFrame:
    """Points per module on each paper beside the blueprint's weight (percent of the paper)."""
    nodes = blueprint_nodes(session, blueprint.id)  # type: ignore[arg-type]
    modules = nodes.loc[nodes["depth"] == 1, ["code", "name", "absolute_weight"]].set_index("code")
    points = items.pivot_table(index="module", columns="paper", values="points", aggfunc="sum", fill_value=0.0)
    order = list(dict.fromkeys(items["paper"]))
    table = modules.rename(columns={"absolute_weight": "blueprint"}).join(points[order]).fillna(0.0)
    return table.reset_index().rename(columns={"code": "module"})


def paper_curves(session: Session, items: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Test information and expected score (out of the paper's points) over θ, from operational parameters."""
    parameters = operational_parameters(session, items["item_pk"].unique().tolist())
    merged = items.merge(parameters[["item_id", "a", "b", "c"]], on="item_id", how="left")
    merged["c"] = merged["c"].fillna(0.0)
    information, expected = {}, {}
    for paper, group in merged.dropna(subset=["a", "b"]).groupby("paper", sort=False):
        a, b, c = (group[k].to_numpy(float) for k in ("a", "b", "c"))
        information[paper] = info_3pl(THETA_GRID, a, b, c).sum(axis=1)
        expected[paper] = prob_3pl(THETA_GRID, a, b, c) @ group["points"].to_numpy(float)
    return pd.DataFrame(information, index=THETA_GRID), pd.DataFrame(expected, index=THETA_GRID)
