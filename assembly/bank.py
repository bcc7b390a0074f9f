"""The item table as the assembly core sees it: checked columns, sensible defaults, and the pool
of items a spec may use.

The pool drops every item the spec rules out before any model is built (wrong type, excluded,
over-exposed, used too recently, in a paper already in use, or in an item set that lost a member),
so the model stays small and the pre-check can say how many items each rule removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from assembly.columns import check_columns
from assembly.errors import ItemTableError
from assembly.spec import ITEM_TYPES, DifficultyBand, PaperSpec

REQUIRED_COLUMNS = ("item_id", "type", "points", "element")
OPTIONAL_DEFAULTS: dict[str, object] = {
    "importance": "Y",
    "set_id": None,
    "enemy_groups": "",
    "exposure": 0,
    "last_used": pd.NaT,
    "a": np.nan,
    "b": np.nan,
    "c": np.nan,
    "p_value": np.nan,
    "difficulty": np.nan,
}
ITEM_TABLE_COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_DEFAULTS)
"""Every column the core reads from an item table; any other is ignored (``assembly.columns``)."""


def normalise_items(items: pd.DataFrame) -> pd.DataFrame:
    """Check required columns and fill optional ones, returning a fresh table indexed 0..n-1.

    A column that looks like a known one (``enemy_group``) is refused here, wherever the table comes
    from; warning about the other unknown columns is left to the caller that shows the user.
    """
    check_columns(items.columns, ITEM_TABLE_COLUMNS)
    missing = [column for column in REQUIRED_COLUMNS if column not in items.columns]
    if missing:
        raise ItemTableError(
            f"the item table lacks required column(s) {', '.join(missing)}", column=missing[0]
        )
    table = items.reset_index(drop=True).copy()
    for column, default in OPTIONAL_DEFAULTS.items():
        if column not in table.columns:
            table[column] = default
    table["item_id"] = table["item_id"].astype(str)
    duplicated = table["item_id"][table["item_id"].duplicated()]
    if len(duplicated):
        raise ItemTableError(f"item_id {duplicated.iloc[0]} appears more than once", column="item_id")
    unknown = sorted(set(table["type"]) - set(ITEM_TYPES))
    if unknown:
        raise ItemTableError(f"unknown item type {unknown[0]!r}; expected one of {', '.join(ITEM_TYPES)}",
                             column="type")
    table["points"] = pd.to_numeric(table["points"], errors="coerce")
    if table["points"].isna().any() or (table["points"] <= 0).any():
        bad = table.loc[table["points"].isna() | (table["points"] <= 0), "item_id"].iloc[0]
        raise ItemTableError(f"item {bad} has no positive points", column="points")
    table["element"] = table["element"].astype(str)
    table["importance"] = table["importance"].fillna("Y").astype(str)
    table["set_id"] = table["set_id"].astype(object).where(table["set_id"].notna(), None)
    table["set_id"] = table["set_id"].map(lambda s: None if s in (None, "") else str(s))
    table["enemy_groups"] = table["enemy_groups"].fillna("").astype(str)
    table["exposure"] = pd.to_numeric(table["exposure"], errors="coerce").fillna(0).astype(int)
    table["last_used"] = pd.to_datetime(table["last_used"], errors="coerce")
    for column in ("a", "b", "c", "p_value", "difficulty"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    return table


def enemy_lists(table: pd.DataFrame) -> list[list[str]]:
    """The enemy group ids of each row, parsed from the ';'-separated column."""
    return [[g.strip() for g in text.split(";") if g.strip()] for text in table["enemy_groups"]]


def enemy_members(table: pd.DataFrame) -> dict[str, list[int]]:
    """Row positions of the members of each enemy group."""
    members: dict[str, list[int]] = {}
    for i, groups in enumerate(enemy_lists(table)):
        for g in groups:
            members.setdefault(g, []).append(i)
    return members


def unit_keys(table: pd.DataFrame) -> pd.Series:
    """What enters or leaves a paper as one: an item set (its id) whole, every other item alone
    (``item:<id>``)."""
    return table["set_id"].where(table["set_id"].notna(), "item:" + table["item_id"])


def under_node(elements: pd.Series, node: str) -> np.ndarray:
    """Rows whose element code lies under a blueprint node (a prefix of whole segments)."""
    codes = elements.astype(str)
    return ((codes == node) | codes.str.startswith(node + "-")).to_numpy()


def difficulty_band_mask(table: pd.DataFrame, by: str, band: DifficultyBand) -> np.ndarray:
    """Rows in a difficulty band: by writer's rating, or p-value in [p_min, p_max) (p_max = 1 closed)."""
    if by == "rating":
        return table["difficulty"].isin(band.ratings or []).to_numpy()
    p = table["p_value"].to_numpy(dtype=float)
    p_min, p_max = float(band.p_min or 0.0), float(band.p_max or 1.0)
    upper = p <= p_max if p_max >= 1.0 else p < p_max
    return (p >= p_min) & upper


def _self_enemy_sets(table: pd.DataFrame) -> set[str]:
    """Item sets with two members in one enemy group: such a set can never stand whole in a paper."""
    in_sets = table[table["set_id"].notna()]
    pairs = [(s, g) for s, groups in zip(in_sets["set_id"], enemy_lists(in_sets), strict=True)
             for g in groups]
    counts = pd.Series(pairs, dtype=object).value_counts()
    return {s for (s, _), n in counts.items() if n > 1}


def ruled_out(table: pd.DataFrame, spec: PaperSpec) -> dict[str, np.ndarray]:
    """One boolean mask per reason an item cannot enter any new paper."""
    reasons = {
        "type not in the spec": ~table["type"].isin([s.type for s in spec.sections]).to_numpy(),
        "excluded": table["item_id"].isin(spec.exclude).to_numpy(),
        "in a paper already in use": table["item_id"].isin(
            {item for paper in spec.disjoint_from for item in paper}).to_numpy(),
    }
    if spec.exposure.max_exposure is not None:
        reasons["over-exposed"] = (table["exposure"] > spec.exposure.max_exposure).to_numpy()
    if spec.exposure.not_used_since is not None:
        since = pd.Timestamp(spec.exposure.not_used_since)
        reasons["used too recently"] = (table["last_used"] >= since).fillna(False).to_numpy(dtype=bool)
    reasons["item set holds two enemies"] = table["set_id"].isin(_self_enemy_sets(table)).to_numpy()
    blocked = np.logical_or.reduce(list(reasons.values()))
    broken_sets = set(table.loc[blocked & table["set_id"].notna().to_numpy(), "set_id"])
    reasons["item set incomplete"] = table["set_id"].isin(broken_sets).to_numpy() & ~blocked
    return reasons


def item_scores(table: pd.DataFrame, spec: PaperSpec) -> np.ndarray:
    """Points each item earns in a paper: its section's points per item, else its own points."""
    per_item = {s.type: s.points for s in spec.sections}
    section_points = table["type"].map(per_item).astype(float).to_numpy()
    return np.where(np.isnan(section_points), table["points"].to_numpy(dtype=float), section_points)


@dataclass
class Pool:
    """The eligible items (a re-indexed table) plus counts of what each rule removed."""

    table: pd.DataFrame
    score: np.ndarray
    removed: dict[str, int] = field(default_factory=dict)
    bank_size: int = 0

    def subset(self, mask: np.ndarray) -> Pool:
        """The pool of the masked items only (re-indexed), keeping the bank's counts."""
        return Pool(table=self.table[mask].reset_index(drop=True), score=self.score[mask],
                    removed=self.removed, bank_size=self.bank_size)


def eligible_pool(items: pd.DataFrame, spec: PaperSpec) -> Pool:
    """Normalise the item table and keep only the items the spec allows."""
    table = normalise_items(items)
    reasons = ruled_out(table, spec)
    keep = ~np.logical_or.reduce(list(reasons.values()))
    pool_table = table[keep].reset_index(drop=True)
    return Pool(
        table=pool_table,
        score=item_scores(pool_table, spec),
        removed={reason: int(mask.sum()) for reason, mask in reasons.items() if mask.any()},
        bank_size=len(table),
    )
