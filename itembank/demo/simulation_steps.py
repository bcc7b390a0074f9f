"""Demo step: a CAT simulation study (pure mode) on the bank as the cycle leaves it, and its report section.

The study reads the active items with their operational parameters out of the bank and hands the table
to ``itembank.simulation.simulate_cat`` with the demo's spec: no database write, the same call as
``itembank simulate cat``. The simulees answer from those parameters, so the study shows what the
CAT would do if the calibration were right: the sign-off a psychometrician runs before CAT goes live.
"""

from __future__ import annotations

import base64

import pandas as pd

from itembank import html_report
from itembank.db import transaction
from itembank.demo.state import DemoRun
from itembank.models import Blueprint
from itembank.services.supply import active_item_table
from itembank.simulation import SimulationReport, simulate_cat, write_report
from itembank.simulation.figure import figure_png
from itembank.simulation.report import key_figures

STUDY_DIR = "cat-simulation"


def cat_study(run: DemoRun) -> str:
    """Run the CAT study on the active bank and keep its report (and its files under ``out/cat-simulation``)."""
    options = run.options
    with transaction(run.engine) as session:
        blueprint = session.get(Blueprint, run.facts["blueprint"]["id"])
        assert blueprint is not None
        table = active_item_table(session, blueprint)
    report = simulate_cat(table, options.spec_path, options.cat_candidates, length=options.cat_length,
                          seed=options.seed)
    write_report(report, options.out / STUDY_DIR)
    run.facts["cat_study"] = report
    accuracy = report.classification["reference_tcc"].accuracy
    return (f"{report.candidates} simulees × {report.engine['length']} items: θ RMSE {report.recovery.rmse:.3f}, "
            f"pass/fail accuracy {100 * accuracy:.1f} %, max exposure {report.exposure.max_rate:.2f}, "
            f"{report.violations} violations")


def cat_section(run: DemoRun) -> str:
    """The report section: the headline cards, the study's figure, its key figures and θ error by decile."""
    report: SimulationReport | None = run.facts.get("cat_study")
    if report is None:
        return ""
    c, e = report.classification["reference_tcc"], report.exposure
    per_choice = report.timings["per_choice"]
    png = base64.b64encode(figure_png(report)).decode("ascii")
    return (
        "<h2>CAT simulation study</h2>"
        f"<p>{report.candidates} simulated candidates (true θ ~ N(0, 1)) each sat a shadow-test CAT of "
        f"{report.engine['length']} items from the {e.pool:,} eligible active items, with the spec's rules "
        "scaled to that length and conditional Sympson–Hetter exposure control learning as it went "
        f"(r<sub>max</sub> {report.limits['max_exposure']:g} within each θ̂ segment). Answers come from the "
        "operational parameters, θ̂ is the EAP, and the reported score is the reference paper's TCC at θ̂ "
        f"(百分制; pass mark {report.pass_mark:g} at θ = {report.pass_theta:+.3f}). Every full-length test was "
        "checked again by the independent verifier.</p>"
        + html_report.cards([
            ("θ RMSE", f"{report.recovery.rmse:.3f}"), ("θ bias", f"{report.recovery.bias:+.3f}"),
            ("pass/fail accuracy", f"{100 * c.accuracy:.1f} %"),
            ("false pass / fail", f"{100 * c.false_pass:.1f} / {100 * c.false_fail:.1f} %"),
            ("max exposure", f"{e.max_rate:.3f}"),
            ("within a θ̂ segment", "n/a" if report.conditional_exposure is None
             else f"{report.conditional_exposure:.3f}"),
            ("unused share of the pool", f"{100 * e.unused_share:.1f} %"),
            ("violations", str(report.violations)),
            ("item choice p50 / p95", f"{1000 * per_choice['p50']:.0f} / {1000 * per_choice['p95']:.0f} ms"),
        ])
        + f"<img alt='CAT exposure, conditional error and scores' src='data:image/png;base64,{png}'>"
        + html_report.table(key_figures(report), 3)
        + "<details><summary>θ recovery by decile of true θ</summary>"
        + html_report.table(report.recovery.by_decile, 3) + "</details>"
        + "<details><summary>Exposure distribution (items per rate band)</summary>"
        + html_report.table(pd.DataFrame(e.histogram), 0) + "</details>"
        + f"<p>The study's own files: <a href='{STUDY_DIR}/report.html'>{STUDY_DIR}/report.html</a>, "
        f"report.json, figure.png and simulees.csv.</p>"
    )
