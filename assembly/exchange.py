"""Item exchange between papers: one-for-one swaps that even out their information.

A swap moves an item out of one paper and another in, either between two papers or between a
paper and the unused items. The per-paper content rows (sections, blueprint, importance,
difficulty, per-element caps) are read from a one-paper assembly model, so a swap is checked
against exactly the rows the MIP would hold, in numpy, with no solver. Items in item sets, in enemy
groups, anchors and items pinned to several papers never move, so sets stay whole, enemies apart
and overlaps as dealt.

A swap is scored by a soft minimum of every paper's weighted information, Σ exp(−TIF/τ): it
rewards lifting the weakest paper at its weakest θ, yet still moves when several papers tie at
the bottom, where the plain max-min objective sees a plateau. When no swap helps, τ shrinks (a
sharper minimum has other downhill swaps); when none helps at any τ, a few random swaps kick the
best papers off their local optimum. A start that breaks the parallelism band is repaired first
(swaps that shrink the excess); from then on every step keeps the band.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pulp

from assembly.bank import Pool, enemy_lists
from assembly.build import build_model
from assembly.information import item_information
from assembly.model import family
from assembly.solve import relative_gap
from assembly.spec import PaperSpec

SOFTNESS = (0.01, 0.005, 0.002, 0.001, 0.0005)
SHORTLIST = 4000
UNUSED = -1
PAPER_FAMILIES = ("section", "blueprint", "importance", "per_element", "difficulty")
SLACK = 1e-9
BAND_SLACK = 1e-9
MIN_SCALE = 1e-6
KICK_SWAPS = 4
KICK_TRIES = 20


@dataclass
class ContentRows:
    """Per-paper content rules as a dense matrix: lower ≤ Σ rows[i]·x_i ≤ upper for each rule."""

    rows: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    def holds(self, totals: np.ndarray) -> np.ndarray:
        """Which papers' (or candidates') row totals meet every rule."""
        return np.all((totals >= self.lower - SLACK) & (totals <= self.upper + SLACK), axis=-1)


def content_rows(pool: Pool, spec: PaperSpec) -> ContentRows:
    """The content rows of one paper, read from the assembly model itself (one source of truth)."""
    one = spec.model_copy(update={"forms": spec.forms.model_copy(update={"main": 1, "backup": 0}),
                                  "include": []})
    model = build_model(pool, one)
    column = {v.name: i for i, v in enumerate(model.x[0])}
    constraints: list[pulp.LpConstraint] = [
        c for group, rows in model.groups.items() if family(group) in PAPER_FAMILIES for c in rows]
    matrix = np.zeros((len(constraints), len(pool.table)))
    lower = np.full(len(constraints), -np.inf)
    upper = np.full(len(constraints), np.inf)
    for r, constraint in enumerate(constraints):
        for var, coefficient in constraint.items():
            matrix[r, column[var.name]] = coefficient
        if constraint.sense in (pulp.LpConstraintGE, pulp.LpConstraintEQ):
            lower[r] = -constraint.constant
        if constraint.sense in (pulp.LpConstraintLE, pulp.LpConstraintEQ):
            upper[r] = -constraint.constant
    return ContentRows(matrix.T, lower, upper)


def movable_items(pool: Pool, spec: PaperSpec) -> np.ndarray:
    """Items a swap may move: not in an item set, not in an enemy group, not an anchor."""
    table = pool.table
    return ~(table["set_id"].notna().to_numpy()
             | np.array([bool(groups) for groups in enemy_lists(table)], dtype=bool)
             | table["item_id"].isin(spec.include).to_numpy())


def _softmin(levels: np.ndarray, floor: float, scale: float) -> np.ndarray:
    """exp(−(level − floor)/τ) summed over the last axis, measured from the current floor."""
    return np.exp(-(levels - floor) / scale).sum(axis=-1)


def band_excess(levels: np.ndarray, band: float) -> np.ndarray:
    """How far papers break the band, Σ over θ of max(0, largest − (1 + band)·smallest); papers
    on the second-to-last axis, θ on the last."""
    return np.maximum(levels.max(axis=-2) - (1 + band) * levels.min(axis=-2), 0.0).sum(axis=-1)


def _excess_after(tif: np.ndarray, p: int, q: np.ndarray, new_p: np.ndarray, new_q: np.ndarray,
                  band: float) -> np.ndarray:
    """The band excess after each candidate swap (p's and q's levels replaced)."""
    excess = np.zeros(new_p.shape[:-1])
    for other in np.unique(q):
        rows = q == other
        rest = [f for f in range(len(tif)) if f not in (p, other)]
        levels = [new_p[rows]]
        if other != UNUSED:
            levels.append(new_q[rows])
        if rest:
            levels += [np.broadcast_to(tif[rest].min(axis=0), new_p[rows].shape),
                       np.broadcast_to(tif[rest].max(axis=0), new_p[rows].shape)]
        excess[rows] = band_excess(np.stack(levels, axis=-2), band)
    return excess


class _Papers:
    """The current papers: owner per movable item, weighted information and content totals per
    paper (an item that never moves may stand in several papers; its owner is then immaterial)."""

    def __init__(self, selection: np.ndarray, info: np.ndarray, content: ContentRows) -> None:
        self.owner = np.full(selection.shape[1], UNUSED)
        for f, chosen in enumerate(selection):
            self.owner[chosen] = f
        self.tif = selection.astype(float) @ info
        self.totals = selection.astype(float) @ content.rows

    def swap(self, i: int, j: int, info: np.ndarray, content: ContentRows) -> None:
        p, q = self.owner[i], self.owner[j]
        self.tif[p] += info[j] - info[i]
        self.totals[p] += content.rows[j] - content.rows[i]
        if q != UNUSED:
            self.tif[q] += info[i] - info[j]
            self.totals[q] += content.rows[i] - content.rows[j]
        self.owner[i], self.owner[j] = q, p


def _best_swap(papers: _Papers, info: np.ndarray, content: ContentRows, movable: np.ndarray,
               band: float | None, scale: float) -> tuple[int, int] | None:
    """The best feasible swap for the weakest paper that has one: while the band is broken, the
    swap that shrinks the excess most; after that, the one that lowers the soft minimum most
    without breaking the band."""
    tif, owner = papers.tif, papers.owner
    floor = float(tif.min())
    excess = float(band_excess(tif, band)) if band is not None else 0.0
    for p in np.argsort(tif.min(axis=1), kind="stable"):
        mine = np.flatnonzero((owner == p) & movable)
        others = np.flatnonzero((owner != p) & movable)
        if not len(mine) or not len(others):
            continue
        q = np.broadcast_to(owner[others], (len(mine), len(others))).ravel()
        delta = (info[others][None, :, :] - info[mine][:, None, :]).reshape(len(q), -1)
        q_tif = np.where((q == UNUSED)[:, None], np.inf, tif[np.maximum(q, 0)])
        new_p, new_q = tif[p] + delta, q_tif - delta
        gain = (_softmin(tif[p], floor, scale) + _softmin(q_tif, floor, scale)
                - _softmin(new_p, floor, scale) - _softmin(new_q, floor, scale))
        after = _excess_after(tif, int(p), q, new_p, new_q, band) if band is not None \
            else np.zeros(len(q))
        if excess > BAND_SLACK:
            useful = np.flatnonzero(after < excess - BAND_SLACK)
            order = useful[np.lexsort((-gain[useful], after[useful]))]
        else:
            useful = np.flatnonzero((gain > 1e-12) & (after <= BAND_SLACK))
            order = useful[np.argsort(-gain[useful], kind="stable")]
        order = order[:SHORTLIST]
        i, j = mine[order // len(others)], others[order % len(others)]
        change = content.rows[j] - content.rows[i]
        ok = content.holds(papers.totals[p] + change)
        paired = q[order] != UNUSED
        ok[paired] &= content.holds(papers.totals[q[order][paired]] - change[paired])
        if ok.any():
            k = int(np.flatnonzero(ok)[0])
            return int(i[k]), int(j[k])
    return None


def _kick(papers: _Papers, info: np.ndarray, content: ContentRows, movable: np.ndarray,
          band: float | None, rng: np.random.Generator) -> None:
    """One random swap between two papers that keeps the content rules (and the band, once it
    holds): a step off a local optimum."""
    for _ in range(KICK_TRIES):
        p = int(rng.integers(len(papers.tif)))
        mine = np.flatnonzero((papers.owner == p) & movable)
        others = np.flatnonzero((papers.owner != p) & (papers.owner != UNUSED) & movable)
        if not len(mine) or not len(others):
            return
        i = np.full(len(others), rng.choice(mine))
        q = papers.owner[others]
        change = content.rows[others] - content.rows[i]
        ok = content.holds(papers.totals[p] + change) & content.holds(papers.totals[q] - change)
        if band is not None and band_excess(papers.tif, band) <= BAND_SLACK:
            step = info[others] - info[i]
            ok &= _excess_after(papers.tif, p, q, papers.tif[p] + step,
                                papers.tif[q] - step, band) <= BAND_SLACK
        if ok.any():
            papers.swap(int(i[0]), int(rng.choice(others[ok])), info, content)
            return


def exchange(pool: Pool, spec: PaperSpec, selection: np.ndarray, deadline: float,
             bound: float, clock: float, pinned: np.ndarray | None = None,
             ) -> tuple[np.ndarray | None, list[tuple[float, float]]]:
    """Improve disjoint papers by swaps until the gap to ``bound`` is within the tolerance or the
    deadline, kicking the best papers with a few random swaps whenever the descent stalls. The
    start must meet the content rules; a broken band is repaired first; ``pinned`` items (e.g.
    shared by several papers) stay where they are. Returns the best papers
    that meet the band (None if it was never met) and their (seconds, objective) record."""
    target = spec.information
    assert target is not None
    table = pool.table
    band = target.parallel_band
    weights = np.asarray(target.weights or [1.0] * len(target.theta))
    info = item_information(table["a"], table["b"], table["c"], target.theta) / weights
    content = content_rows(pool, spec)
    movable = movable_items(pool, spec)
    if pinned is not None:
        movable &= ~pinned
    rng = np.random.default_rng(spec.solver.seed)
    pinned = selection & ~movable

    def papers_of(owner: np.ndarray) -> np.ndarray:
        """[paper, item] from owners, with items that never move (some in several papers)."""
        return np.array([owner == f for f in range(len(selection))]) | pinned

    papers = _Papers(selection, info, content)
    best: np.ndarray | None = None
    trajectory: list[tuple[float, float]] = []
    softness = list(SOFTNESS)
    while time.perf_counter() < deadline:
        value = float(papers.tif.min())
        parallel = band is None or band_excess(papers.tif, band) <= BAND_SLACK
        if parallel and (not trajectory or value > trajectory[-1][1]):
            trajectory.append((time.perf_counter() - clock, value))
            best = papers.owner.copy()
        gap = relative_gap(trajectory[-1][1], bound) if trajectory else None
        if gap is not None and gap <= spec.solver.gap:
            break
        if not softness:
            if best is not None:
                papers = _Papers(papers_of(best), info, content)
            for _ in range(KICK_SWAPS):
                _kick(papers, info, content, movable, band, rng)
            softness = list(SOFTNESS)
        move = _best_swap(papers, info, content, movable, band,
                          softness[0] * max(value, MIN_SCALE))
        if move is None:
            softness.pop(0)
            continue
        papers.swap(*move, info, content)
    return (None if best is None else papers_of(best)), trajectory
