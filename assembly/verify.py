"""Independent re-verification of assembled papers in plain numpy/pandas.

Nothing here reads the MIP: every rule of the spec is recomputed from the item table and the
papers' item ids, so a wrong solver answer (or a modelling slip) is caught before a paper leaves
the engine. Each row of the attainment table is one (paper, constraint) with bounds, the achieved
value and ``ok``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from assembly.bank import (
    difficulty_band_mask,
    enemy_lists,
    item_scores,
    normalise_items,
    ruled_out,
    under_node,
)
from assembly.information import expected_score, item_information
from assembly.model import overlap_group
from assembly.objective import theta_label
from assembly.spec import PaperSpec, load_spec

TOLERANCE = 1e-6
COLUMNS = ["form", "constraint", "lower", "upper", "achieved", "ok"]


class _Ledger:
    """Collects attainment rows; ``ok`` is decided here, once, with one tolerance."""

    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []

    def record(self, form: str, constraint: str, achieved: float,
               lower: float | None = None, upper: float | None = None) -> None:
        ok = (lower is None or achieved >= lower - TOLERANCE) and (
            upper is None or achieved <= upper + TOLERANCE)
        self.rows.append({"form": form, "constraint": constraint, "lower": lower,
                          "upper": upper, "achieved": float(achieved), "ok": bool(ok)})

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=COLUMNS)


def _worst(counts: pd.Series) -> tuple[str, float]:
    if counts.empty:
        return "", 0.0
    return str(counts.idxmax()), float(counts.max())


def _check_paper(ledger: _Ledger, name: str, paper: pd.DataFrame, score: np.ndarray,
                 spec: PaperSpec, is_main: bool) -> None:
    ledger.record(name, f"total_points[{name}]", score.sum(), spec.total_points, spec.total_points)
    ledger.record(name, f"distinct[{name}]", paper["item_id"].duplicated().sum(), upper=0)
    for section in spec.sections:
        in_section = (paper["type"] == section.type).to_numpy()
        group = f"section[{name}][{section.type}]"
        ledger.record(name, group, in_section.sum(), section.count, section.count)
        ledger.record(name, f"{group}.points", score[in_section].sum(),
                      section.section_points, section.section_points)
    ledger.record(name, f"section[{name}][other]",
                  (~paper["type"].isin([s.type for s in spec.sections])).sum(), upper=0)
    for rule in spec.blueprint:
        inside = under_node(paper["element"], rule.node)
        group = f"blueprint[{name}][{rule.node}]"
        if rule.weight is not None:
            target = rule.weight / 100 * spec.total_points
            ledger.record(name, group, score[inside].sum(), target - rule.tolerance,
                          target + rule.tolerance)
        else:
            low = rule.count if rule.count is not None else rule.min_count
            high = rule.count if rule.count is not None else rule.max_count
            ledger.record(name, group, inside.sum(), low, high)
    for share in spec.importance:
        core = paper["importance"].isin(share.levels).to_numpy()
        ledger.record(name, f"importance[{name}][{'+'.join(share.levels)}]", score[core].sum(),
                      share.min_share / 100 * spec.total_points)
    if spec.max_per_element is not None:
        element, most = _worst(paper["element"].value_counts())
        ledger.record(name, f"per_element[{name}][{element}]", most, upper=spec.max_per_element)
    if spec.difficulty is not None:
        weight = sum(band.proportion for band in spec.difficulty.bands)
        for band in spec.difficulty.bands:
            target = band.proportion / weight * spec.total_points
            points = score[difficulty_band_mask(paper, spec.difficulty.by, band)].sum()
            ledger.record(name, f"difficulty[{name}][{band.name}]", points,
                          target - spec.difficulty.tolerance, target + spec.difficulty.tolerance)
    enemies = pd.Series([g for groups in enemy_lists(paper) for g in groups], dtype=object)
    group, most = _worst(enemies.value_counts())
    ledger.record(name, f"enemy[{name}][{group}]", most, upper=1)
    if is_main:
        missing = sorted(set(spec.include) - set(paper["item_id"]))
        ledger.record(name, f"include[{name}]", len(missing), upper=0)


def _check_sets(ledger: _Ledger, bank: pd.DataFrame, forms: Mapping[str, Sequence[str]]) -> None:
    members = bank.dropna(subset=["set_id"]).groupby("set_id")["item_id"].apply(set)
    for name, ids in forms.items():
        chosen = set(ids)
        touched = bank.loc[bank["item_id"].isin(chosen) & bank["set_id"].notna(), "set_id"].unique()
        broken = [s for s in touched if not members[s] <= chosen]
        label = f"item_set[{name}][{broken[0]}]" if broken else f"item_set[{name}]"
        ledger.record(name, label, len(broken), upper=0)


def _check_overlap(ledger: _Ledger, forms: Mapping[str, Sequence[str]], spec: PaperSpec) -> None:
    for p, q in combinations(forms, 2):
        ledger.record("", overlap_group((p, q)), len(set(forms[p]) & set(forms[q])),
                      upper=spec.overlap_limit(p, q))
    if spec.exposure.max_item_uses is not None:
        uses = pd.Series([i for ids in forms.values() for i in ids]).value_counts()
        item, most = _worst(uses)
        ledger.record("", f"item_use[{item}]", most, upper=spec.exposure.max_item_uses)


def _check_information(ledger: _Ledger, bank: pd.DataFrame, forms: Mapping[str, Sequence[str]],
                       spec: PaperSpec) -> None:
    target = spec.information
    if target is None:
        return
    per_item = item_information(bank["a"], bank["b"], bank["c"], target.theta)
    curves = expected_score(bank["a"], bank["b"], bank["c"], target.theta, item_scores(bank, spec))
    rows = {name: bank["item_id"].isin(ids).to_numpy() for name, ids in forms.items()}
    tif = np.array([per_item[mask].sum(axis=0) for mask in rows.values()])
    tcc = np.array([curves[mask].sum(axis=0) for mask in rows.values()])
    for k, theta in enumerate(target.theta):
        label = theta_label(theta)
        for f, name in enumerate(rows):
            goal = target.tif[k] if target.tif is not None else None
            ledger.record(name, f"information[{name}][{label}]", tif[f, k])
            if target.tcc is not None:
                ledger.record(name, f"tcc[{name}][{label}]", tcc[f, k])
            if goal is not None:
                ledger.record(name, f"tif_target[{name}][{label}]", tif[f, k] - goal)
        if target.parallel_band is not None and len(rows) > 1:
            spread = tif[:, k].max() / max(tif[:, k].min(), TOLERANCE) - 1.0
            ledger.record("", f"parallel[{label}]", spread, upper=target.parallel_band)


def verify(items: pd.DataFrame, spec: PaperSpec | dict | str, forms: Mapping[str, Sequence[str]],
           *, across_papers: bool = True) -> pd.DataFrame:
    """Check papers (name → item ids) against every rule of the spec; one row per check.
    ``across_papers=False`` checks each paper on its own as a main paper (one paper per
    candidate, LOFT): no overlap or parallelism rows, which would be one per pair of papers."""
    spec = load_spec(spec)
    bank = normalise_items(items)
    barred = bank.loc[np.logical_or.reduce(list(ruled_out(bank, spec).values())), "item_id"]
    ledger = _Ledger()
    by_id = bank.set_index("item_id", drop=False)
    for name, ids in forms.items():
        unknown = [i for i in ids if i not in by_id.index]
        ledger.record(name, f"in_bank[{name}]", len(unknown), upper=0)
        paper = by_id.loc[[i for i in ids if i in by_id.index]].reset_index(drop=True)
        ledger.record(name, f"eligible[{name}]", paper["item_id"].isin(barred).sum(), upper=0)
        _check_paper(ledger, name, paper, item_scores(paper, spec), spec,
                     name.startswith("main") or not across_papers)
    _check_sets(ledger, bank, forms)
    if across_papers:
        _check_overlap(ledger, forms, spec)
        _check_information(ledger, bank, forms, spec)
    return ledger.table()
