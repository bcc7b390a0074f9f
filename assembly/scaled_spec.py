"""One paper spec for a test of another length: the shadow test of a CAT shorter (or longer)
than the spec's paper.

The rules keep their meaning as shares of the paper, and are widened only as far as the coarser
granularity of a different length forces:

* section counts are the paper's split of the new length by largest remainder (a section that
  gets no item is dropped); points per item stay, so the total is the new sections' points;
* count rules scale by length/paper length: an exact count ``c`` becomes the range
  ``floor(c·s)..ceil(c·s)`` (exact again when ``c·s`` is whole), a minimum rounds down and a
  maximum up, and ``max_per_element`` rounds up;
* weight rules (percent of the points) and importance shares keep their percent; a tolerance in
  points keeps its share of the paper's points, but never falls below half the smallest item's
  points, the finest step by which a paper's points under a node can move;
* one main paper, no backups, no information target (the CAT's objective is its own).
"""

from __future__ import annotations

import math

import numpy as np

from assembly.errors import SpecError
from assembly.spec import PaperSpec, parse_spec


def apportion(total: int, weights: list[float]) -> list[int]:
    """Largest-remainder split of ``total`` whole items by weights (ties to the earlier)."""
    quotas = np.asarray(weights, dtype=float) / sum(weights) * total
    counts = np.floor(quotas).astype(int)
    for k in np.argsort(-(quotas - counts), kind="stable")[: total - int(counts.sum())]:
        counts[k] += 1
    return [int(n) for n in counts]


def _scaled_count(value: int | None, scale: float, rounding: str) -> int | None:
    if value is None:
        return None
    exact = value * scale
    if abs(exact - round(exact)) < 1e-9:
        return int(round(exact))
    return math.floor(exact) if rounding == "down" else math.ceil(exact)


def scale_spec(spec: PaperSpec, length: int) -> PaperSpec:
    """The one-paper spec of ``length`` items that keeps ``spec``'s rules (see module docstring)."""
    single = {"forms": spec.forms.model_copy(update={"main": 1, "backup": 0}), "information": None}
    if length == spec.length:
        return spec.model_copy(update=single)
    if length < 1:
        raise SpecError(f"paper spec cat.length: a CAT needs at least one item, not {length}",
                        field="cat.length")
    scale = length / spec.length
    counts = apportion(length, [float(s.count) for s in spec.sections])
    sections = []
    for k, (section, count) in enumerate(zip(spec.sections, counts, strict=True)):
        if count == 0:
            continue
        if section.points is None:
            raise SpecError(f"paper spec sections[{k}].total: a CAT of {length} items, not the "
                            f"paper's {spec.length}, needs points per item in section "
                            f"{section.type}", field=f"sections[{k}].total")
        sections.append(section.model_copy(update={"count": count, "total": None}))
    total = sum(s.section_points for s in sections)
    smallest_step = min(float(s.points or 0.0) for s in sections) / 2.0

    def tolerance(points: float) -> float:
        return max(points * total / spec.total_points, smallest_step)

    blueprint = []
    for rule in spec.blueprint:
        if rule.weight is not None:
            blueprint.append(rule.model_copy(update={"tolerance": tolerance(rule.tolerance)}))
            continue
        low = _scaled_count(rule.count if rule.count is not None else rule.min_count, scale, "down")
        high = _scaled_count(rule.count if rule.count is not None else rule.max_count, scale, "up")
        if rule.count is not None and low == high:
            blueprint.append(rule.model_copy(update={"count": low}))
        else:
            blueprint.append(rule.model_copy(update={"count": None, "min_count": low, "max_count": high}))
    difficulty = spec.difficulty
    if difficulty is not None:
        difficulty = difficulty.model_copy(update={"tolerance": tolerance(difficulty.tolerance)})
    cap = _scaled_count(spec.max_per_element, scale, "up")
    return parse_spec(spec.model_copy(update={
        **single, "sections": sections, "total_points": total, "blueprint": blueprint,
        "difficulty": difficulty, "max_per_element": None if cap is None else max(cap, 1),
        "cat": spec.cat.model_copy(update={"length": length}),
    }).model_dump())
