"""The LOFT benchmark table: our LOFT assembler (:func:`assembly.assemble_loft`) and stratified
random drawing per blueprint cell (:mod:`benchmarks.assembly.random_draw`, what exam systems do
today) side by side in one run, on the shipped HR-Manager 三级 spec and a 1,800-item sample bank,
both held to the same reference paper (the spec's own optimal paper, as ``assemble_loft`` picks
when a bank names none) and judged by the same independent verifier (:func:`assembly.verify_loft`).

Columns: papers every check of which holds (content rules and the TCC band), papers that meet
the content rules alone, papers whose TCC lies within ±tolerance of the reference at every θ
(the pass-mark θ and its offsets), the largest and mean |TCC deviation|, the deviation's mean
(signed), standard deviation and largest absolute value at each θ, the largest item exposure, the mean pairwise overlap, the checks
failed by family, and wall seconds per paper (ours: the whole ``assemble_loft`` call, its own
verification included; random: the draw).

Usage: python -m benchmarks.assembly.loft_compare [--papers 1000] [--items 1800] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from assembly import assemble_loft, load_spec, verify_loft
from assembly.equivalence import Reference, reference_paper
from assembly.loft import calibrated_pool, candidate_names
from assembly.model import family
from assembly.result import Form
from assembly.spec import PaperSpec
from benchmarks.assembly.random_draw import draw_papers
from itembank.sample_bank import DATA_DIR, shipped_sample_table

VARIANTS = ("ours", "random")
SPEC_PATH = DATA_DIR / "specs" / "hr-manager-l3-theory.yaml"
LEVEL, BANK_SEED = 3, 7
OFFSET_NAMES = {-1.0: "minus1", 0.0: "pass", 1.0: "plus1"}


@dataclass(frozen=True)
class LoftProblem:
    """The bank, the spec, the candidates and the reference paper both variants are held to."""

    items: pd.DataFrame
    spec: PaperSpec
    names: list[str]
    reference: Reference
    seed: int


def loft_problem(papers: int = 1000, n_items: int = 1800, seed: int = 0) -> LoftProblem:
    items = shipped_sample_table(LEVEL, n_items, BANK_SEED)
    spec = load_spec(SPEC_PATH)
    reference = reference_paper(calibrated_pool(items, spec).table, spec, seed=seed)
    return LoftProblem(items, spec, candidate_names(papers), reference, seed)


def _ours(problem: LoftProblem) -> list[Form]:
    result = assemble_loft(problem.items, problem.spec, problem.names, seed=problem.seed,
                           reference=problem.reference.item_ids)
    return result.raise_for_status().forms


def _random(problem: LoftProblem) -> list[Form]:
    table = calibrated_pool(problem.items, problem.spec).table
    return draw_papers(table, problem.spec, problem.names, seed=problem.seed)


def _offset_name(offset: float) -> str:
    return OFFSET_NAMES.get(offset, f"{offset:+g}")


def row(variant: str, problem: LoftProblem, forms: list[Form], wall: float) -> dict[str, Any]:
    """The variant's figures, every one recomputed from its papers by the verifier."""
    spec, reference = problem.spec, problem.reference
    checks = verify_loft(problem.items, spec, forms, reference)
    checks["family"] = checks["constraint"].map(family)
    per_paper = checks[checks["form"] != ""]
    valid = per_paper.groupby("form")["ok"].all()
    content = per_paper[per_paper["family"] != "tcc"].groupby("form")["ok"].all()
    tcc = per_paper[per_paper["family"] == "tcc"]
    deviation = tcc["achieved"].to_numpy().reshape(len(forms), len(reference.theta))
    within = (np.abs(deviation) <= spec.equivalence.tolerance + 1e-6).all(axis=1)
    whole_set = checks.set_index("constraint")["achieved"]
    failed = checks.loc[~checks["ok"], "family"].value_counts()
    figures: dict[str, Any] = {
        "variant": variant, "papers": len(forms),
        "valid_pct": 100.0 * float(valid.mean()), "content_valid_pct": 100.0 * float(content.mean()),
        "tcc_within_pct": 100.0 * float(within.mean()),
        "max_tcc_dev": float(np.abs(deviation).max()), "mean_tcc_dev": float(np.abs(deviation).mean()),
    }
    for k, offset in enumerate(spec.equivalence.offsets):
        figures[f"tcc_mean_{_offset_name(offset)}"] = float(deviation[:, k].mean())
        figures[f"tcc_sd_{_offset_name(offset)}"] = float(deviation[:, k].std())
        figures[f"tcc_max_{_offset_name(offset)}"] = float(np.abs(deviation[:, k]).max())
    figures.update({
        "max_exposure": float(whole_set["exposure[max]"]),
        "mean_overlap": float(whole_set["overlap[mean]"]),
        "failed_checks": int(failed.sum()),
        "failed_by_family": ", ".join(f"{name} {count}" for name, count in failed.items()) or "none",
        "s_per_paper": wall / len(forms), "wall_s": wall,
    })
    return figures


def measure(variant: str, problem: LoftProblem) -> dict[str, Any]:
    """One variant's papers for every candidate, timed, then verified (untimed)."""
    build = {"ours": _ours, "random": _random}.get(variant)
    if build is None:
        raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    started = time.perf_counter()
    forms = build(problem)
    return row(variant, problem, forms, time.perf_counter() - started)


def compare(papers: int, n_items: int, seed: int) -> pd.DataFrame:
    problem = loft_problem(papers, n_items, seed)
    return pd.DataFrame([measure(variant, problem) for variant in VARIANTS])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=1000)
    parser.add_argument("--items", type=int, default=1800)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    table = compare(args.papers, args.items, args.seed)
    with pd.option_context("display.width", 200, "display.max_columns", None,
                           "display.float_format", "{:.3f}".format):
        print(table.set_index("variant").T.to_string())


if __name__ == "__main__":
    main()
