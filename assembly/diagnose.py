"""Why a spec cannot be met, in sentences a bank manager understands.

Two stages: a pre-check that compares demand with supply (per section type, blueprint node,
importance level and difficulty band, across all papers and overlap limits) before any solver
runs; and, when the model is still infeasible, a deletion filter over the named constraint groups
(first whole families, then the groups inside the families that remain) that leaves a minimal
conflicting set.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from assembly.bank import Pool, difficulty_band_mask, under_node
from assembly.model import AssemblyModel, family, overlap_group
from assembly.solve import is_feasible
from assembly.spec import PaperSpec, SolverSettings

FILTER_TIME_LIMIT = 5.0


@dataclass(frozen=True)
class Finding:
    """One unmet requirement: the constraint group it concerns and a sentence about it."""

    constraint: str
    sentence: str


def distinct_needed(per_paper: float, spec: PaperSpec) -> tuple[float, str]:
    """Fewest distinct items (or points) all papers together need, given the overlap limits."""
    limits, mains, backups = spec.overlap, spec.forms.main, spec.forms.backup
    main_need = max(per_paper, mains * per_paper - math.comb(mains, 2) * limits.main_main)
    backup_need = 0.0
    if backups and limits.backup_main == 0:
        backup_need = max(per_paper, backups * per_paper - math.comb(backups, 2) * limits.backup_backup)
    papers = mains + backups
    need = main_need + backup_need
    if spec.exposure.max_item_uses is not None:
        need = max(need, papers * per_paper / spec.exposure.max_item_uses)
    overlap = "with no overlap" if limits.main_main == 0 and limits.backup_main == 0 \
        and limits.backup_backup == 0 else "within the overlap limits"
    return need, f"{papers} paper{'s' if papers > 1 else ''} {overlap}"


def _supply_findings(pool: Pool, spec: PaperSpec) -> list[Finding]:
    table, score = pool.table, pool.score
    findings: list[Finding] = []

    def compare(constraint: str, what: str, per_paper: float, mask: np.ndarray, unit: str) -> None:
        supply = float(score[mask].sum()) if unit == "points" else float(mask.sum())
        need, papers = distinct_needed(per_paper, spec)
        if supply + 1e-9 < need:
            findings.append(Finding(constraint, (
                f"{what}: {papers} need {need:g} {unit}; the bank has {supply:g} usable "
                f"(short by {need - supply:g})")))

    for section in spec.sections:
        mask = (table["type"] == section.type).to_numpy()
        compare(f"section[*][{section.type}]", f"section {section.type}", section.count, mask,
                f"{section.type.replace('_', '-')} items")
    for rule in spec.blueprint:
        mask = under_node(table["element"], rule.node)
        if rule.weight is not None:
            compare(f"blueprint[*][{rule.node}]", f"blueprint node {rule.node}",
                    rule.weight / 100 * spec.total_points - rule.tolerance, mask, "points")
        else:
            least = rule.count if rule.count is not None else rule.min_count or 0
            compare(f"blueprint[*][{rule.node}]", f"blueprint node {rule.node}", least, mask, "items")
    for imp in spec.importance:
        mask = table["importance"].isin(imp.levels).to_numpy()
        compare(f"importance[*][{'+'.join(imp.levels)}]", f"importance {'+'.join(imp.levels)}",
                imp.min_share / 100 * spec.total_points, mask, "points")
    if spec.difficulty is not None:
        weight = sum(band.proportion for band in spec.difficulty.bands)
        for band in spec.difficulty.bands:
            mask = difficulty_band_mask(table, spec.difficulty.by, band)
            compare(f"difficulty[*][{band.name}]", f"difficulty band {band.name}",
                    band.proportion / weight * spec.total_points - spec.difficulty.tolerance,
                    mask, "points")
    return findings


def precheck(pool: Pool, spec: PaperSpec) -> list[Finding]:
    """Demand-versus-supply checks that need no solver; empty when nothing is obviously short."""
    findings = []
    usable = set(pool.table["item_id"])
    for item_id in spec.include:
        if item_id not in usable:
            findings.append(Finding(f"include[*][{item_id}]", (
                f"anchor item {item_id} must stand in every main paper but is not usable "
                "(missing from the bank, excluded, over-exposed, or in a paper already in use)")))
    if spec.forms.main > 1 and len(spec.include) > spec.overlap.main_main:
        mains = [name for name in spec.form_names if name.startswith("main")]
        findings.append(Finding(overlap_group(mains), (
            f"{len(spec.include)} anchor items stand in every main paper, but two main papers "
            f"may share only {spec.overlap.main_main} items")))
    findings += _supply_findings(pool, spec)
    if findings and pool.removed:
        removed = ", ".join(f"{n} {reason}" for reason, n in pool.removed.items())
        findings.append(Finding("bank", f"of {pool.bank_size} items in the bank, {removed}"))
    return findings


def _overlap_sentence(papers: list[str], spec: PaperSpec) -> str:
    """E.g. "papers main-1 and main-2 may share at most 6 items" or, for a row over many papers,
    "no two of papers main-1, main-2 and backup-1 may share more items than allowed (...)"."""
    if len(papers) == 2:
        return f"papers {papers[0]} and {papers[1]} may share at most " \
               f"{spec.overlap_limit(*papers)} items"
    limits = {"-".join(sorted((p.split("-")[0], q.split("-")[0]), reverse=True)):
              spec.overlap_limit(p, q) for k, p in enumerate(papers) for q in papers[k + 1:]}
    allowed = ", ".join(f"{kind} at most {limit}" for kind, limit in sorted(limits.items()))
    listed = ", ".join(papers[:-1]) + f" and {papers[-1]}"
    return f"no two of papers {listed} may share more items than allowed ({allowed})"


def describe(group: str, spec: PaperSpec) -> str:
    """A sentence for a constraint group name such as ``blueprint[main-2][B-02]``."""
    parts = group[len(family(group)):].strip("[]").split("][")
    paper = parts[0]
    key = parts[1] if len(parts) > 1 else ""
    sentences = {
        "section": f"paper {paper} must hold the {key} section as specified",
        "blueprint": f"paper {paper} must meet the blueprint rule for node {key}",
        "importance": f"in paper {paper}, importance {key} items must carry their minimum share of points",
        "per_element": f"paper {paper} may hold at most {spec.max_per_element} items of element {key}",
        "difficulty": f"paper {paper} must meet the {key} difficulty band",
        "enemy": f"paper {paper} may hold only one item of enemy group {key}",
        "item_set": f"paper {paper} must hold item set {key} whole or not at all",
        "include": f"anchor item {key} must stand in paper {paper}",
        "overlap": _overlap_sentence(paper.split(","), spec),
        "item_use": "no item may be used in more new papers than allowed",
        "tcc": f"paper {paper}'s expected 百分制 score at {key} must lie within "
               f"±{spec.equivalence.tolerance:g} points of the reference paper's",
        "parallel": f"papers must stay within {spec.information.parallel_band if spec.information else 0:.0%}"
                    f" of each other's information at {paper}",
    }
    return f"{group}: {sentences.get(family(group), 'required by the spec')}"


def deletion_filter(model: AssemblyModel, settings: SolverSettings,
                    budget_seconds: float = 60.0) -> tuple[list[str], bool]:
    """A minimal set of constraint groups that still cannot be met together, and whether the
    filter finished (``False`` when a check ran out of time and a group was kept to be safe)."""
    check = settings.model_copy(update={"time_limit": min(FILTER_TIME_LIMIT, settings.time_limit)})
    deadline = time.perf_counter() + budget_seconds
    kept = list(model.groups)
    complete = True

    def still_infeasible(groups: list[str]) -> bool:
        nonlocal complete
        if time.perf_counter() > deadline:
            complete = False
            return False
        verdict = is_feasible(model.feasibility_problem(groups), check)
        if verdict is None:
            complete = False
        return verdict is False

    return minimal_conflict(kept, still_infeasible), complete


def minimal_conflict(groups: list[str], still_infeasible: Callable[[list[str]], bool]) -> list[str]:
    """Drop whole families, then single groups, while what is left still cannot be met: a minimal
    conflicting set for any infeasibility check (the full model's, LOFT's summed rows)."""
    kept = list(groups)
    for name in dict.fromkeys(family(g) for g in kept):
        without = [g for g in kept if family(g) != name]
        if still_infeasible(without):
            kept = without
    for group in list(kept):
        without = [g for g in kept if g != group]
        if still_infeasible(without):
            kept = without
    return kept
