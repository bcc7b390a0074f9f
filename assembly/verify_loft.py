"""Independent checks of a LOFT paper set: every paper under every content rule on its own
(:func:`assembly.verify.verify` without the pairwise rows), plus what only the set can break:
distinct papers, item exposure, mean pairwise overlap, and each paper's TCC against the reference.
Nothing here reads the solver."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from assembly.bank import normalise_items
from assembly.equivalence import Reference, paper_tcc, percent_curves
from assembly.objective import theta_label
from assembly.result import Form
from assembly.spec import PaperSpec, load_spec
from assembly.verify import COLUMNS, TOLERANCE, verify


def _incidence(bank: pd.DataFrame, forms: Sequence[Form]) -> np.ndarray:
    """[paper, item] over the bank's rows."""
    row = pd.Series(np.arange(len(bank)), index=bank["item_id"])
    held = np.zeros((len(forms), len(bank)), dtype=bool)
    for p, form in enumerate(forms):
        held[p, row.reindex(form.item_ids).dropna().astype(int).to_numpy()] = True
    return held


def mean_pairwise_overlap(held: np.ndarray) -> float:
    """Mean over pairs of papers of the share of a paper's items they have in common."""
    papers = held.shape[0]
    if papers < 2:
        return 0.0
    uses = held.sum(axis=0)
    length = held.sum(axis=1).mean()
    return float((uses * (uses - 1) / 2).sum() / math.comb(papers, 2) / length)


def loft_figures(items: pd.DataFrame, spec: PaperSpec, forms: Sequence[Form], reference: Reference
                 ) -> tuple[pd.DataFrame, pd.DataFrame, float, float]:
    """(tcc table, exposure table, max exposure, mean overlap) of a LOFT paper set."""
    bank = normalise_items(items)
    held = _incidence(bank, forms)
    curves = paper_tcc(percent_curves(bank, spec, reference.theta), held)
    tcc = pd.DataFrame([
        {"candidate": form.name, "theta": float(theta), "tcc": float(curves[p, k]),
         "reference": float(reference.tcc[k]), "deviation": float(curves[p, k] - reference.tcc[k])}
        for p, form in enumerate(forms) for k, theta in enumerate(reference.theta)])
    uses = held.sum(axis=0)
    exposure = pd.DataFrame({"item_id": bank["item_id"], "uses": uses, "rate": uses / len(forms)})
    return tcc, exposure, float(exposure["rate"].max()), mean_pairwise_overlap(held)


def verify_loft(items: pd.DataFrame, spec: PaperSpec | dict | str, forms: Sequence[Form],
                reference: Reference) -> pd.DataFrame:
    """One row per check (form, constraint, lower, upper, achieved, ok), as :func:`verify`."""
    spec = load_spec(spec)
    single = spec.model_copy(update={"information": None})
    rows = verify(items, single, {f.name: f.item_ids for f in forms}, across_papers=False)
    tcc, _, max_exposure, overlap = loft_figures(items, spec, forms, reference)
    distinct = len({tuple(sorted(f.item_ids)) for f in forms})
    tolerance = spec.equivalence.tolerance
    extra = [
        ("", "distinct_papers", len(forms) - distinct, None, 0),
        ("", "exposure[max]", max_exposure, None, spec.loft.max_exposure),
        ("", "overlap[mean]", overlap, None, spec.loft.max_mean_overlap),
    ] + [(r.candidate, f"tcc[{r.candidate}][{theta_label(round(r.theta, 3))}]", r.deviation,
          -tolerance, tolerance) for r in tcc.itertuples()]
    table = pd.DataFrame(extra, columns=["form", "constraint", "achieved", "lower", "upper"])
    table["ok"] = ((table["lower"].isna() | (table["achieved"] >= table["lower"] - TOLERANCE))
                   & (table["upper"].isna() | (table["achieved"] <= table["upper"] + TOLERANCE)))
    return pd.concat([rows, table[COLUMNS]], ignore_index=True)
