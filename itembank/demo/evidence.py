"""Tables the report shows, read back from the bank after the run (never from the demo's own bookkeeping)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from assembly.information import item_information
from calibration.irt import info_3pl, prob_3pl
from itembank.demo.state import short_paper_name
from itembank.models import AssemblyRun, Blueprint, Item, ItemVersion, Paper, PaperItem
from itembank.services.blueprints import blueprint_nodes
from itembank.services.calibration import operational_parameters
from itembank.services.delivery import CARRIER_ROLES
from itembank.services.papers import IN_USE, papers_in_use
from itembank.services.supply import active_item_table

THETA_GRID = np.linspace(-4.0, 4.0, 161)


def paper_items(session: Session, blueprint: Blueprint) -> pd.DataFrame:
    """Every fixed paper's items (not an exam session's carrier) with points, type (section), element, module and the paper's name, role and status."""
    rows = session.execute(
        sa_select(*(col(c) for c in (Paper.id, Paper.name, Paper.role, Paper.status, Item.id, Item.external_id,
                                     PaperItem.points, PaperItem.section, ItemVersion.element)))
        .join(PaperItem, col(PaperItem.paper_id) == Paper.id)
        .join(Item, col(Item.id) == PaperItem.item_id)
        .join(ItemVersion, (col(ItemVersion.item_id) == PaperItem.item_id) & (col(ItemVersion.version) == PaperItem.version))
        .where(col(Paper.role).not_in(CARRIER_ROLES))
        .order_by(col(Paper.id), col(PaperItem.position))
    ).all()
    frame = pd.DataFrame(rows, columns=["paper_id", "paper", "role", "status", "item_pk", "item_id", "points", "type",
                                       "element"])
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


COMPARABLE_WITHIN = 0.05  # a replacement this close to the weakest paper beside it is called comparable
BINDING_WITHIN = 0.01  # target points within this of a paper's weakest one set its max-min figure too
SCARCE_CELLS_NAMED = 3


def target_information(items: pd.DataFrame, theta: Sequence[float]) -> pd.DataFrame:
    """Each paper's test information at the spec's target θ points (papers × θ), summed from the assembler's own
    item information, so the figures are the ones its objective saw."""
    information = item_information(items["a"], items["b"], items["c"], list(theta))
    return pd.DataFrame(information, columns=list(theta)).groupby(items["paper"].to_numpy(), sort=False).sum()


def relative_information(information: pd.DataFrame, weights: Sequence[float] | None = None) -> pd.DataFrame:
    """Information at each target point over the spec's weight for it (all 1 unless the spec gives a shape)."""
    return information if weights is None else information / np.asarray(weights, dtype=float)


def max_min(information: pd.DataFrame, weights: Sequence[float] | None = None) -> pd.Series:
    """Each paper's information at its weakest target point, relative to the spec's weights: the y the maximin
    objective raises, so papers are compared by what the assembler optimised."""
    return relative_information(information, weights).min(axis=1)


def scarce_cells(peer_items: pd.DataFrame, available: pd.DataFrame, theta: Sequence[float]) -> pd.DataFrame:
    """Blueprint cells (item type × module) where the bank has fewer unused informative items than a paper draws.

    An item counts as informative at θ when it carries at least the median information of the items of its type on
    the papers compared against; ``per_paper`` is how many items those papers draw from the cell on average. Over
    the given θ points (the replacement's binding ones) each cell keeps its scarcest point; the table lists cells
    short of a paper's draw, the largest deficit first.
    """
    columns = ["type", "module", "theta", "available", "per_paper", "deficit"]
    rows = []
    papers = peer_items["paper"].nunique()
    per_paper = peer_items.groupby(["type", "module"]).size() / papers
    for point in theta:
        peer_information = item_information(peer_items["a"], peer_items["b"], peer_items["c"], [point])[:, 0]
        median = pd.Series(peer_information).groupby(peer_items["type"].to_numpy()).median()
        pool = available[available["type"].isin(median.index)]
        pool_information = item_information(pool["a"], pool["b"], pool["c"], [point])[:, 0]
        informative = pool.loc[pool_information >= pool["type"].map(median).to_numpy()]
        counts = informative.groupby(["type", "module"]).size().reindex(per_paper.index, fill_value=0)
        rows.append(pd.DataFrame({"theta": point, "available": counts, "per_paper": per_paper}))
    if not rows:
        return pd.DataFrame(columns=columns)
    table = pd.concat(rows).reset_index().assign(deficit=lambda t: t["per_paper"] - t["available"])
    worst = table.sort_values("deficit", ascending=False, kind="stable").drop_duplicates(["type", "module"])
    return worst.loc[worst["deficit"] > 0, columns].reset_index(drop=True)


@dataclass(frozen=True)
class ReplacementStrength:
    """How the replacement backup a leak drill assembled compares with the papers it stands beside.

    The papers it stands beside are the leaked paper's assembly siblings still in use: the surviving main papers,
    the backup released in the leaked paper's place, and any backup still held. Those are what candidates sit (or
    may sit) in its place, and they were assembled together inside the spec's parallel band, so the fair yardstick is
    the weakest of them: the replacement is judged by how far it falls below the least informative paper that a
    candidate could equally have been given. The leaked paper is left out because it is no longer in use.
    """

    replacement: str
    peers: tuple[str, ...]
    information: pd.DataFrame  # papers × target θ: test information
    weights: tuple[float, ...] | None = None
    scarce: pd.DataFrame = field(default_factory=pd.DataFrame)
    module_names: dict[str, str] = field(default_factory=dict)
    optimal: bool = False  # the replacement's and its peers' assemblies were both solved to optimality

    @property
    def figures(self) -> pd.Series:
        return max_min(self.information, self.weights)

    @property
    def replacement_information(self) -> float:
        return float(self.figures[self.replacement])

    @property
    def weakest_peer(self) -> str:
        return str(self.figures[list(self.peers)].idxmin())

    @property
    def weakest_peer_information(self) -> float:
        return float(self.figures[self.weakest_peer])

    @property
    def ratio(self) -> float:
        """The replacement's max-min information over the weakest peer's."""
        return self.replacement_information / self.weakest_peer_information

    @property
    def comparable(self) -> bool:
        return self.ratio >= 1 - COMPARABLE_WITHIN

    def binding_theta(self) -> list[float]:
        """The target points where the replacement is at (or within 1 % of) its weakest."""
        row = relative_information(self.information, self.weights).loc[self.replacement]
        return [float(t) for t, v in row.items() if v <= (1 + BINDING_WITHIN) * row.min()]

    def _difference(self) -> str:
        change = 100 * (self.ratio - 1)
        return f"{abs(change):.0f} % {'less' if change < 0 else 'more'}"

    def figure(self) -> str:
        """The short form for a progress line."""
        return (f"max-min information {self.replacement_information:.2f} vs {self.weakest_peer_information:.2f} "
                f"for the weakest paper beside it ({self._difference()})")

    def _cells(self) -> str:
        cells = self.scarce.head(SCARCE_CELLS_NAMED)
        if cells.empty:
            return ""
        names = (f"{row.type.replace('_', ' ')} × {row.module} {self.module_names.get(row.module, '')}".rstrip()
                 for row in cells.itertuples())
        points = sorted(set(cells["theta"]))
        noun = "item" if cells["available"].tolist() == [1] else "items"
        return (f": the bank is running short of informative items in {_enumerate(names)} (at θ = "
                f"{_enumerate(_theta(t) for t in points)}: {_enumerate(f'{v:.0f}' for v in cells['available'])} unused "
                f"{noun} as informative as those papers' median item of the type, against "
                f"{_enumerate(f'{v:.1f}' for v in cells['per_paper'])} per paper)")

    def sentence(self) -> str:
        """One sentence for the exam office, every figure from the run."""
        weakest = f"{self.weakest_peer_information:.2f}, {short_paper_name(self.weakest_peer)}"
        if self.comparable:
            return (f"The replacement backup {short_paper_name(self.replacement)} is comparable with the papers it stands "
                    f"beside: at its weakest target point it carries {self.replacement_information:.2f} units of test "
                    f"information against {weakest} for the weakest of them ({self._difference()}).")
        solver = ("; both assemblies were solved to optimality, so the shortfall lies in the bank, not the solver"
                  if self.optimal else "")
        return (f"Warning: the replacement backup {short_paper_name(self.replacement)} carries {self._difference()} test "
                f"information at its weakest target point than the weakest paper it stands beside "
                f"({self.replacement_information:.2f} vs {weakest}){self._cells()}{solver}.")

    def table(self) -> pd.DataFrame:
        """Test information at each target point and the max-min figure, peers first, for the report."""
        rows = [*self.peers, self.replacement]
        table = self.information.loc[rows].rename(columns=lambda t: f"θ = {_theta(t)}")
        return table.assign(**{"max-min": self.figures[rows]}).rename_axis("paper").reset_index() \
            .assign(paper=lambda t: t["paper"].map(short_paper_name))


def _enumerate(values: Any) -> str:
    items = list(values)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def leak_replacement(session: Session, incident: dict[str, Any]) -> ReplacementStrength | None:
    """The replacement backup of a leak report against the leaked paper's siblings still in use, read from the bank
    (None when the leak assembled no replacement, its spec sets no information target, or no sibling is in use).

    Parameters are the operational ones the report's curves use; the unused items are the active ones no paper in use
    holds, which is what the replacement was assembled from.
    """
    results = incident.get("results") or {}
    names = [incident.get("paper"), results.get("replacement_backup")]
    if None in names:
        return None
    leaked, replacement = (session.exec(select(Paper).where(Paper.name == name)).one() for name in names)
    runs = [session.get(AssemblyRun, p.assembly_run_id) if p.assembly_run_id else None for p in (leaked, replacement)]
    target = (runs[1].spec.get("information") if runs[1] else None) or {}
    if runs[0] is None or not target.get("theta"):
        return None
    in_use = {s.value for s in IN_USE}
    peers = session.exec(select(Paper).where(Paper.assembly_run_id == leaked.assembly_run_id,
                                             col(Paper.status).in_(in_use)).order_by(col(Paper.id))).all()
    if not peers:
        return None
    blueprint = session.get(Blueprint, replacement.blueprint_id)
    assert blueprint is not None
    compared = [p.name for p in peers]
    items = paper_items(session, blueprint)
    items = items[items["paper"].isin([*compared, replacement.name])]
    parameters = operational_parameters(session, items["item_pk"].unique().tolist())
    items = items.merge(parameters[["item_id", "a", "b", "c"]], on="item_id", how="left")
    information = target_information(items, target["theta"])
    taken = {i for held in papers_in_use(session).values() for i in held}
    pool = active_item_table(session, blueprint)
    available = pool[~pool["item_id"].isin(taken)].assign(module=lambda t: t["element"].map(element_modules(session, blueprint)))
    nodes = blueprint_nodes(session, blueprint.id)  # type: ignore[arg-type]
    strength = ReplacementStrength(
        replacement=replacement.name, peers=tuple(compared), information=information,
        weights=tuple(target["weights"]) if target.get("weights") else None,
        module_names=dict(zip(nodes.loc[nodes["depth"] == 1, "code"], nodes.loc[nodes["depth"] == 1, "name"], strict=True)),
        optimal=all(run is not None and run.status == "optimal" for run in runs),
    )
    if strength.weakest_peer_information <= 0:
        return None  # papers without calibrated items carry no information to compare
    if strength.comparable:
        return strength
    scarce = scarce_cells(items[items["paper"].isin(compared)], available, strength.binding_theta())
    return replace(strength, scarce=scarce)


def _theta(value: float) -> str:
    return f"{value:g}".replace("-", "−")
