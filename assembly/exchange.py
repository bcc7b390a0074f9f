"""Unit exchange between papers: one-for-one swaps that even out their information.

A *unit* is what moves: an item set (its stimulus and all its items) moves whole, every item
outside a set is a unit of one. A swap moves a unit out of one paper and another in, either
between two papers or between a paper and the unused units. The per-paper content rows
(sections, blueprint, importance, difficulty, per-element caps and enemy groups, see
:func:`assembly.fit.paper_caps`) are summed per unit, so a swap is checked against exactly the
rows the MIP would hold, in numpy, with no solver: an enemy group is a row capped at 1, so an item
in two groups counts in both, and sets stay whole because they only ever move whole. Anchors and
items pinned to several papers never move, so overlaps stay as dealt. Swaps between units of
different shapes (a four-item set for one item) break the section counts and are never taken;
pair re-assembly (:mod:`assembly.polish`) covers those.

A swap is scored by a soft minimum of every paper's weighted information, Σ exp(−TIF/τ): it
rewards lifting the weakest paper at its weakest θ, yet still moves when several papers tie at
the bottom, where the plain max-min objective sees a plateau. When no swap helps, τ shrinks (a
sharper minimum has other downhill swaps); when none helps at any τ, a few random swaps kick the
best papers off their local optimum, and after ``patience`` kicks without a better paper the
exchange hands back what it has. A start that breaks the parallelism band is repaired first
(swaps that shrink the excess); from then on every step keeps the band.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from assembly.bank import Pool, unit_keys
from assembly.fit import ContentRows, paper_caps
from assembly.information import item_information
from assembly.solve import relative_gap
from assembly.spec import PaperSpec

SOFTNESS = (0.01, 0.005, 0.002, 0.001, 0.0005)
SHORTLIST = 4000
BAND_SHORTLIST = 4 * SHORTLIST
UNUSED = -1
BAND_SLACK = 1e-9
MIN_SCALE = 1e-6
KICK_SWAPS = 4
KICK_TRIES = 20


def movable_items(pool: Pool, spec: PaperSpec) -> np.ndarray:
    """Items a swap may move (inside their unit): every item but the anchors."""
    return ~pool.table["item_id"].isin(spec.include).to_numpy()


@dataclass
class Units:
    """The movable units: ``unit_of[item]`` (−1 for an item that never moves) and their count.
    A set with a member that never moves does not move either."""

    unit_of: np.ndarray
    count: int

    @classmethod
    def of(cls, pool: Pool, movable: np.ndarray) -> Units:
        codes, _ = unit_keys(pool.table).factorize()
        stuck = np.unique(codes[~movable])
        codes = np.where(np.isin(codes, stuck), -1, codes)
        moving = codes >= 0
        unit_of = np.full(len(codes), -1)
        unit_of[moving] = np.unique(codes[moving], return_inverse=True)[1]
        return cls(unit_of, int(unit_of.max()) + 1 if moving.any() else 0)

    def summed(self, values: np.ndarray) -> np.ndarray:
        """Per unit, the sum of its members' rows of ``values`` (items × k)."""
        total = np.zeros((self.count, values.shape[1]))
        members = self.unit_of >= 0
        np.add.at(total, self.unit_of[members], values[members])
        return total

    def owners(self, selection: np.ndarray) -> np.ndarray:
        """The paper holding each unit (UNUSED if none), from a [paper, item] selection."""
        owner = np.full(self.count, UNUSED)
        for f, chosen in enumerate(selection):
            rows = chosen & (self.unit_of >= 0)
            owner[self.unit_of[rows]] = f
        return owner

    def selection(self, owner: np.ndarray, papers: int, fixed: np.ndarray) -> np.ndarray:
        """[paper, item] from unit owners, plus the ``fixed`` [paper, item] items that never move."""
        item_owner = np.where(self.unit_of >= 0, owner[np.maximum(self.unit_of, 0)], UNUSED)
        return np.array([item_owner == f for f in range(papers)]) | fixed


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
    """The current papers: owner per unit, weighted information and content totals per paper
    (items that never move count in every paper that holds them)."""

    def __init__(self, owner: np.ndarray, tif: np.ndarray, totals: np.ndarray) -> None:
        self.owner = owner
        self.tif = tif
        self.totals = totals

    def swap(self, i: int, j: int, info: np.ndarray, content: ContentRows) -> None:
        p, q = self.owner[i], self.owner[j]
        self.tif[p] += info[j] - info[i]
        self.totals[p] += content.rows[j] - content.rows[i]
        if q != UNUSED:
            self.tif[q] += info[i] - info[j]
            self.totals[q] += content.rows[i] - content.rows[j]
        self.owner[i], self.owner[j] = q, p


def _best_swap(papers: _Papers, info: np.ndarray, content: ContentRows,
               band: float | None, scale: float) -> tuple[int, int] | None:
    """The best feasible swap for the weakest paper that has one: while the band is broken, the
    swap that shrinks the excess most; after that, the one that lowers the soft minimum most
    without breaking the band."""
    tif, owner = papers.tif, papers.owner
    floor = float(tif.min())
    excess = float(band_excess(tif, band)) if band is not None else 0.0
    for p in np.argsort(tif.min(axis=1), kind="stable"):
        mine = np.flatnonzero(owner == p)
        others = np.flatnonzero(owner != p)
        if not len(mine) or not len(others):
            continue
        q = np.broadcast_to(owner[others], (len(mine), len(others))).ravel()
        delta = (info[others][None, :, :] - info[mine][:, None, :]).reshape(len(q), -1)
        q_tif = np.where((q == UNUSED)[:, None], np.inf, tif[np.maximum(q, 0)])
        new_p, new_q = tif[p] + delta, q_tif - delta
        gain = (_softmin(tif[p], floor, scale) + _softmin(q_tif, floor, scale)
                - _softmin(new_p, floor, scale) - _softmin(new_q, floor, scale))
        if excess > BAND_SLACK:
            assert band is not None
            after = _excess_after(tif, int(p), q, new_p, new_q, band)
            useful = np.flatnonzero(after < excess - BAND_SLACK)
            order = useful[np.lexsort((-gain[useful], after[useful]))]
        else:  # the band is read only for the most promising swaps: it is the costly part
            useful = np.flatnonzero(gain > 1e-12)
            order = useful[np.argsort(-gain[useful], kind="stable")][:BAND_SHORTLIST]
            if band is not None:
                after = _excess_after(tif, int(p), q[order], new_p[order], new_q[order], band)
                order = order[after <= BAND_SLACK]
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


def _kick(papers: _Papers, info: np.ndarray, content: ContentRows, band: float | None,
          rng: np.random.Generator) -> None:
    """One random swap between two papers that keeps the content rules (and the band, once it
    holds): a step off a local optimum."""
    for _ in range(KICK_TRIES):
        p = int(rng.integers(len(papers.tif)))
        mine = np.flatnonzero(papers.owner == p)
        others = np.flatnonzero((papers.owner != p) & (papers.owner != UNUSED))
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


def weighted_information(pool: Pool, spec: PaperSpec) -> np.ndarray:
    """Items × θ information divided by the θ weights: a paper's objective is its column minimum."""
    target = spec.information
    assert target is not None
    table = pool.table
    weights = np.asarray(target.weights or [1.0] * len(target.theta))
    return item_information(table["a"], table["b"], table["c"], target.theta) / weights


def exchange(pool: Pool, spec: PaperSpec, selection: np.ndarray, deadline: float,
             bound: float, clock: float, pinned: np.ndarray | None = None,
             patience: int | None = None,
             ) -> tuple[np.ndarray | None, list[tuple[float, float]]]:
    """Improve papers by unit swaps until the gap to ``bound`` is within the tolerance, the
    deadline, or ``patience`` kicks in a row found no better papers (None: kick until the
    deadline). The start must meet the content rules; a broken band is repaired first;
    ``pinned`` items (e.g. shared by several papers) stay where they are, with their whole set.
    Returns the best papers that meet the band (None if it was never met) and their
    (seconds, objective) record."""
    assert spec.information is not None
    band = spec.information.parallel_band
    info = weighted_information(pool, spec)
    content = paper_caps(pool, spec)
    movable = movable_items(pool, spec)
    if pinned is not None:
        movable &= ~pinned
    units = Units.of(pool, movable)
    fixed = selection & (units.unit_of < 0)
    unit_info, unit_content = units.summed(info), content.summed(units.unit_of, units.count)
    rng = np.random.default_rng(spec.solver.seed)

    def papers_of(owner: np.ndarray) -> _Papers:
        chosen = units.selection(owner, len(selection), fixed).astype(float)
        return _Papers(owner.copy(), chosen @ info, chosen @ content.rows)

    papers = papers_of(units.owners(selection))
    best: np.ndarray | None = None
    trajectory: list[tuple[float, float]] = []
    softness = list(SOFTNESS)
    idle_kicks = 0
    while time.perf_counter() < deadline:
        value = float(papers.tif.min())
        parallel = band is None or band_excess(papers.tif, band) <= BAND_SLACK
        if parallel and (not trajectory or value > trajectory[-1][1]):
            trajectory.append((time.perf_counter() - clock, value))
            best = papers.owner.copy()
            idle_kicks = 0
        gap = relative_gap(trajectory[-1][1], bound) if trajectory else None
        if gap is not None and gap <= spec.solver.gap:
            break
        if not softness:
            if patience is not None and idle_kicks >= patience:
                break
            if best is not None:
                papers = papers_of(best)
            for _ in range(KICK_SWAPS):
                _kick(papers, unit_info, unit_content, band, rng)
            idle_kicks += 1
            softness = list(SOFTNESS)
        move = _best_swap(papers, unit_info, unit_content, band,
                          softness[0] * max(value, MIN_SCALE))
        if move is None:
            softness.pop(0)
            continue
        papers.swap(*move, unit_info, unit_content)
    if best is None:
        return None, trajectory
    return units.selection(best, len(selection), fixed), trajectory
