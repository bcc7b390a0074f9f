"""Demo step: a LOFT exam session (一人一卷) in bank mode, and its section of the report.

The sample candidates get one paper each from the active bank; the session's carrier paper is approved,
sealed, pulled over HTTP and opened, and from then on the engine works offline from the package: each
candidate's form, checked against its sealed hash, is answered by a simulee. The bank scores every
form on its own and checks the forms against the ledger. Score equivalence is measured against the
generator's truth: each candidate's expected 百分制 score on their own paper and on the reference
paper at their true ability.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from itembank import html_report
from itembank.db import transaction
from itembank.demo.candidates import correct_probability, simulate_sitting
from itembank.demo.delivery_steps import WINDOW_LENGTH, WINDOW_OPENS_AFTER, answer_keys
from itembank.demo.state import DemoRun
from itembank.engine_client import EngineClient
from itembank.engine_offline import LoftPackage, open_session
from itembank.models import AssemblyRun, Blueprint, Paper
from itembank.models.base import utcnow
from itembank.services import exam_results, exam_sessions
from itembank.services import papers as paper_service
from itembank.services.delivery import seal_paper
from itembank.services.supply import active_item_table

CANDIDATES = 20
SETTINGS = {"max_exposure": 0.5, "max_mean_overlap": 0.45}
"""Each item on at most half of the 20 papers: a quarter (the spec's default) leaves the 12th paper no room on a
bank of a few hundred items per module; with half, two papers of the suite's 800-item bank (less a leaked paper)
shared more than the 0.3 tried first, so the overlap limit sits just under the exposure limit."""


def tickets(run: DemoRun) -> list[str]:
    """The sample candidates' admission numbers (准考证号)."""
    return [f"2026{run.options.level:02d}{n:04d}" for n in range(1, CANDIDATES + 1)]


def expected_percent(items: pd.DataFrame, theta: float) -> float:
    """The expected 百分制 score at ``theta`` on these items (true a, b, c; points)."""
    c = items["c"].fillna(0.0).to_numpy(float)
    p = correct_probability(np.full(len(items), theta), items["a"].to_numpy(float), items["b"].to_numpy(float), c)
    points = items["points"].to_numpy(float)
    return float(100 * (p * points).sum() / points.sum())


def loft_session(run: DemoRun, client: EngineClient) -> str:
    """Assemble, approve, seal; the engine pulls, opens and runs the session offline; the bank scores each form."""
    rng = np.random.default_rng(run.options.seed + 3)
    with transaction(run.engine) as session:
        exam = exam_sessions.assemble_loft_session(session, run.manager, run.options.spec_path, tickets(run),
                                                   level=run.options.level, seed=run.options.seed, **SETTINGS)
        carrier = session.get(Paper, exam.paper_id)
        assert carrier is not None and carrier.assembly_run_id is not None
        figures = dict(session.get(AssemblyRun, carrier.assembly_run_id).result)  # type: ignore[union-attr]
        paper_id, exam_id = exam.paper_id, int(exam.id)  # type: ignore[arg-type]
        not_before = utcnow() + WINDOW_OPENS_AFTER
        paper_service.approve_paper(session, run.manager, paper_id)
        seal_paper(session, run.manager, paper_id, not_before=not_before, not_after=not_before + WINDOW_LENGTH,
                   engines=[run.engine_name])
    sealed = client.pull(paper_id)
    time.sleep(max(0.0, (not_before - utcnow()).total_seconds()))
    offline = open_session(client.open(paper_id, sealed))  # no network needed from here until results go back
    assert isinstance(offline, LoftPackage)
    keys = answer_keys(run, paper_id).join(run.truth.set_index("item_id")[["a", "b", "c"]])
    theta = rng.normal(run.options.candidate_mean, 1.0, len(offline.tickets))
    rows = []
    for ticket, ability in zip(offline.tickets, theta, strict=True):
        order = [i["item_id"] for s in offline.form(ticket)["sections"] for i in s["items"]]
        rows += simulate_sitting(keys.loc[order].reset_index(), np.array([ability]), [ticket], rng)
    client.submit(paper_id, "demo-loft", rows)
    with transaction(run.engine) as session:
        results = exam_results.session_results(session, run.manager, exam_id)
        vouched = exam_sessions.ledger_forms(session, run.manager, exam_id)
        bank = active_item_table(session, session.get(Blueprint, carrier.blueprint_id))  # type: ignore[arg-type]
    truth = run.truth.set_index("item_id")[["a", "b", "c"]].join(bank.set_index("item_id")["points"], how="inner")
    reference = list(exam.reference_ids)
    equivalence = pd.DataFrame([
        {"ticket": t, "theta": a, "own paper": expected_percent(truth.loc[vouched[t]], a),
         "reference paper": expected_percent(truth.loc[reference], a)} for t, a in zip(offline.tickets, theta, strict=True)])
    equivalence["difference"] = equivalence["own paper"] - equivalence["reference paper"]
    run.facts["loft"] = {"session": exam_id, "candidates": len(results), "items_used": len(keys),
                         "max_exposure": figures["max_exposure"], "exposure_limit": SETTINGS["max_exposure"],
                         "mean_overlap": figures["mean_overlap"], "max_tcc_deviation": figures["max_tcc_deviation"],
                         "mean_abs_difference": float(equivalence["difference"].abs().mean()),
                         "max_abs_difference": float(equivalence["difference"].abs().max()),
                         "pass_rate": float(results["passed"].mean()), "ledger_forms": len(vouched),
                         "results": results.to_dict("records"), "equivalence": equivalence.to_dict("records")}
    loft = run.facts["loft"]
    return (f"{len(results)} candidates, one paper each from {len(keys)} items (max exposure {loft['max_exposure']:.2f}, "
            f"mean overlap {loft['mean_overlap']:.3f}); sealed, pulled, run offline, scored per form; expected score on "
            f"own paper vs reference at true θ: mean |Δ| {loft['mean_abs_difference']:.2f}, max {loft['max_abs_difference']:.2f} "
            f"points; pass rate {100 * loft['pass_rate']:.1f} %")


def report_section(run: DemoRun) -> str:
    """The report's LOFT section: exposure, parallelism and score equivalence, and each candidate's result."""
    loft = run.facts.get("loft")
    if not loft:
        return ""
    equivalence = pd.DataFrame(loft["equivalence"]).merge(pd.DataFrame(loft["results"]), on="ticket")
    return ("<h2>LOFT exam session (一人一卷)</h2>"
            + f"<p>{loft['candidates']} candidates each sat their own paper, assembled from the active bank under every "
            f"rule of the spec and sealed as one package (session {loft['session']}); the engine ran it offline from "
            f"the package and sent the responses back. The papers used {loft['items_used']} items, none on more than "
            f"{100 * loft['max_exposure']:.0f} % of the papers (limit {100 * loft['exposure_limit']:.0f} %); two papers "
            f"share {100 * loft['mean_overlap']:.1f} % of their items on average. Each paper's TCC lies within "
            f"{loft['max_tcc_deviation']:.2f} points of the reference paper's at the pass-mark θ and ±1. "
            f"All {loft['ledger_forms']} forms match the ledger.</p>"
            + f"<p>Score equivalence against the truth: a candidate's expected 百分制 score on their own paper differs "
            f"from the reference paper's at their true ability by {loft['mean_abs_difference']:.2f} points on average "
            f"(at most {loft['max_abs_difference']:.2f}). Pass rate {100 * loft['pass_rate']:.1f} %.</p>"
            + "<details><summary>Each candidate: true θ, expected scores, observed result</summary>"
            + html_report.table(equivalence[["ticket", "theta", "own paper", "reference paper", "difference", "raw",
                                             "score_100", "passed"]], 2)
            + "</details>")
