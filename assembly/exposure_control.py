"""Item exposure control for shadow-test CAT: Sympson–Hetter eligibility, conditional on θ̂
segments (van der Linden & Veldkamp 2004, 2007), with a marginal level beside it, and an
exposure price per item in the shadow test's objective that decides who gets a popular item.

Each item has an eligibility probability for the whole test (marginal) and one per θ̂ segment
(cut at ``cat.segments``). A candidate draws the marginal eligibility of every item once, at the
start, and the segment's eligibility the first time θ̂ enters a segment; at each choice an item
is eligible when both draws say so. Ineligible items are priced out of the shadow test (a
penalty, so the shadow test stays feasible; an ineligible item is given only when the rules
leave no other way, and then it counts as given).

After every candidate the probabilities follow the self-adjusting update
P(E_i) ← min(1, r_max · ε_i / α_i), with ε_i the number of candidates for whom item i was
eligible and α_i the number given item i: since P(A_i) = P(A_i | E_i) P(E_i), this P(E_i) makes
P(A_i) = r_max whenever the item would be given more often. Marginally the counts run over all
candidates; per segment over the candidates whose θ̂ visited the segment, "given" meaning given
while θ̂ was in it. Both levels are needed: one candidate visits several segments (everyone
starts in the middle one), so an item good at a cut point could be given to r_max of each
neighbouring segment's visitors, more than r_max of all.

The ratio only aims at r_max: its estimate lags while the other items' probabilities move, and
each candidate's draws are random, so the rates it reaches scatter around r_max (measured: up to
0.28 for r_max = 0.25 over 1,000 simulees). While the counts are live (a simulation, or a bank
that counts administrations) an item whose rate so far has reached r_max is also frozen —
ineligible for the next candidate — as in Sympson–Hetter online with freeze (Chen, Lei & Liao
2008); then a rate can pass r_max only by one candidate's share, (r_max·n + 1)/(n + 1), or by an
administration the rules forced. A pool sealed for an engine carries the ratio probabilities
without the freeze (:meth:`ExposureControl.eligibility` with ``freeze=False``).

Why prices as well. Sympson–Hetter rations a popular item by lot: the candidate at whose θ̂ it
is worth most loses it as often as one for whom it is barely better than the next item. On the
``make bench`` pool (500 items, 30-item CATs, r_max 0.25, 300 simulees) the content rules alone
cost +0.005 in θ̂ RMSE over the unconstrained maximum-information CAT and the lot another
+0.028; dropping the conditional level (+0.034) or the freeze (+0.031, but rates to 0.29) did
not help, the marginal lot is the cost. So each item also carries a price λ_i in information
units, subtracted from its information at θ̂ in the shadow test's objective and learnt as the
dual price of its exposure limit: after every candidate
λ_i ← max(0, λ_i + PRICE_STEP · (given_i − PRICE_TARGET · r_max)), a stochastic subgradient step
on the Lagrangian of "rate ≤ r_max". An item the candidates want more than r_max of the time
grows a price until it goes only to those whose θ̂ makes it worth more than its price, where the
lot would hand it to anyone. The eligibility draw and the freeze stay as the guarantee of r_max
(the price only steers the rate towards it). The live price moves with every candidate (one
admission adds about 0.07 to it), so a pool sealed for an engine carries the price averaged over
the last ``PRICE_WINDOW`` candidates (an exponential average; averaging is what settles
subgradient steps) instead.

Measured on the same 300 simulees, θ̂ RMSE minus the max-information CAT's (0.2505): SH alone
+0.033; with prices, step 0.02 / 0.05 / 0.1 at target 0.9·r_max +0.032 / +0.028 / +0.027;
step 0.1 at target r_max +0.023 (kept), step 0.2 +0.028, step 0.1 at 1.1·r_max +0.029; the
largest exposure stayed ≤ 0.25 and no test broke a rule in every run. The 2,000-simulee figure
is in :mod:`benchmarks.assembly.cat_compare`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assembly.errors import SpecError
from assembly.information import FloatArray

METHOD = ("conditional Sympson-Hetter item eligibility (van der Linden & Veldkamp 2007) per "
          "theta-hat segment, plus a marginal level; P <- min(1, r_max * eligible / given) after "
          "every candidate, and items whose rate so far has reached r_max frozen for the next "
          "(online freeze); ineligible items penalised in the shadow test; plus an exposure price "
          "per item in the shadow-test objective, lambda <- max(0, lambda + step * (given - r_max))")

PRICE_STEP = 0.1
PRICE_TARGET = 1.0
PRICE_WINDOW = 100


def segment_of(theta: float, cuts: Sequence[float]) -> int:
    """The θ segment of θ̂: 0 below the first cut point, len(cuts) above the last."""
    return int(np.searchsorted(np.asarray(cuts, dtype=float), theta, side="right"))


@dataclass(frozen=True)
class Eligibility:
    """Eligibility probabilities: ``marginal`` per item, ``conditional`` per item and segment,
    in the order of ``item_ids``."""

    item_ids: list[str]
    cuts: list[float]
    marginal: FloatArray
    conditional: FloatArray
    price: FloatArray

    @classmethod
    def everyone(cls, item_ids: Sequence[str], cuts: Sequence[float]) -> Eligibility:
        """Every item always eligible at no price (no exposure control yet)."""
        n = len(item_ids)
        return cls(list(item_ids), list(cuts), np.ones(n), np.ones((n, len(cuts) + 1)), np.zeros(n))

    def draw_marginal(self, rng: np.random.Generator) -> np.ndarray:
        """One candidate's marginal eligibility draw (True = eligible)."""
        return rng.random(len(self.item_ids)) < self.marginal

    def draw_segment(self, segment: int, rng: np.random.Generator) -> np.ndarray:
        """One candidate's eligibility draw for one segment."""
        return rng.random(len(self.item_ids)) < self.conditional[:, segment]

    def to_dict(self) -> dict[str, Any]:
        return {"item_ids": list(self.item_ids), "cuts": list(self.cuts),
                "marginal": self.marginal.tolist(), "conditional": self.conditional.tolist(),
                "price": self.price.tolist()}

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Eligibility:
        try:
            eligibility = cls(list(map(str, document["item_ids"])), [float(c) for c in document["cuts"]],
                              np.asarray(document["marginal"], dtype=float),
                              np.asarray(document["conditional"], dtype=float),
                              np.asarray(document.get("price", np.zeros(len(document["item_ids"]))),
                                         dtype=float))
        except (KeyError, TypeError, ValueError) as exc:
            raise SpecError(f"eligibility is malformed: {exc}", field="eligibility") from exc
        n, segments = len(eligibility.item_ids), len(eligibility.cuts) + 1
        if eligibility.marginal.shape != (n,) or eligibility.conditional.shape != (n, segments):
            raise SpecError(f"eligibility needs {n} marginal and {n} x {segments} conditional "
                            "probabilities", field="eligibility")
        if eligibility.price.shape != (n,) or not np.all(eligibility.price >= 0):
            raise SpecError(f"eligibility needs {n} exposure prices, none negative",
                            field="eligibility.price")
        probabilities = np.concatenate([eligibility.marginal, eligibility.conditional.ravel()])
        if not np.all((probabilities >= 0) & (probabilities <= 1)):
            raise SpecError("eligibility probabilities must lie in [0, 1]", field="eligibility")
        return eligibility


@dataclass
class CandidateExposure:
    """What one candidate's test did: the marginal draw, each visited segment's draw, the items
    given overall and the items given while θ̂ was in each segment (pool row masks)."""

    marginal: np.ndarray
    segments: dict[int, np.ndarray] = field(default_factory=dict)
    given: dict[int, np.ndarray] = field(default_factory=dict)


class ExposureControl:
    """Counts of eligibility and administration that learn the eligibility probabilities."""

    def __init__(self, item_ids: Sequence[str], cuts: Sequence[float], r_max: float) -> None:
        if not 0 < r_max <= 1:
            raise SpecError(f"cat.max_exposure must lie in (0, 1], not {r_max}", field="cat.max_exposure")
        n, segments = len(item_ids), len(cuts) + 1
        self.item_ids, self.cuts, self.r_max = list(item_ids), list(cuts), float(r_max)
        self.candidates = 0
        self.eligible = np.zeros(n)
        self.given = np.zeros(n)
        self.visits = np.zeros(segments)
        self.segment_eligible = np.zeros((n, segments))
        self.segment_given = np.zeros((n, segments))
        self.price = np.zeros(n)
        self.sealed_price = np.zeros(n)

    def record(self, candidate: CandidateExposure) -> None:
        """Count one finished test."""
        self.candidates += 1
        self.eligible += candidate.marginal
        given = np.zeros(len(self.item_ids), dtype=bool)
        for segment, mask in candidate.given.items():
            given |= mask
            self.segment_given[:, segment] += mask
        self.given += given
        self.price = np.maximum(0.0, self.price + PRICE_STEP * (given - PRICE_TARGET * self.r_max))
        self.sealed_price += (self.price - self.sealed_price) / min(self.candidates, PRICE_WINDOW)
        for segment, drawn in candidate.segments.items():
            self.visits[segment] += 1
            self.segment_eligible[:, segment] += drawn

    def eligibility(self, *, freeze: bool = True) -> Eligibility:
        """The probabilities for the next candidate: min(1, r_max · eligible / given), and 0 for
        items whose rate so far has reached r_max when ``freeze``."""
        marginal = self._update(self.eligible, self.given)
        conditional = self._update(self.segment_eligible, self.segment_given)
        if freeze:
            overall, per_segment = self.exposure()
            marginal = np.where(overall >= self.r_max, 0.0, marginal)
            conditional = np.where(np.nan_to_num(per_segment) >= self.r_max, 0.0, conditional)
        price = self.price if freeze else self.sealed_price
        return Eligibility(self.item_ids, self.cuts, marginal, conditional, price.copy())

    def _update(self, eligible: FloatArray, given: FloatArray) -> FloatArray:
        ratio = np.divide(self.r_max * eligible, given, out=np.ones_like(eligible), where=given > 0)
        return np.minimum(1.0, ratio)

    def exposure(self) -> tuple[FloatArray, FloatArray]:
        """Observed exposure rates: per item over all candidates, and per item and segment over
        the segment's visitors (NaN for a segment nobody visited)."""
        overall = self.given / max(self.candidates, 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            conditional = np.where(self.visits > 0, self.segment_given / self.visits, np.nan)
        return overall, conditional
