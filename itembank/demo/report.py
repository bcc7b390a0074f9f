"""The demo's self-contained HTML report: inline CSS and PNG data URIs, every number read from the run or the bank."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from itembank import html_report
from itembank.db import transaction
from itembank.demo import evidence, figures, loft_steps, simulation_steps
from itembank.demo.state import DemoRun, Recovery, short_paper_name
from itembank.models import Blueprint
from itembank.services.health import bank_health
from itembank.services.papers import load_spec_document


def pass_rate_table(run: DemoRun) -> pd.DataFrame:
    """One row per main paper: candidates, mean and sd of the 100-point score, pass rate."""
    return pd.DataFrame([
        {"paper": paper, "candidates": len(frame), "mean score": frame["score_100"].mean(),
         "sd": frame["score_100"].std(), "passed": int(frame["passed"].sum()),
         "pass rate %": 100 * frame["passed"].mean()}
        for paper, frame in run.results.items()
    ])


def _models(models: dict[str, str] | str | None) -> str:
    """``single choice 3PL, multiple choice 2PL, …`` from a run's stored model choice."""
    if isinstance(models, dict):
        return ", ".join(f"{kind.replace('_', ' ')} {model}" for kind, model in models.items())
    return str(models)


def _beta(prior: dict[str, float] | None) -> str:
    return "default Beta" if prior is None else f"Beta({prior['alpha']:g}, {prior['beta']:g})"


def _sections(run: DemoRun) -> list[str]:
    facts = run.facts
    spec = load_spec_document(run.options.spec_path)
    with transaction(run.engine) as session:
        blueprint = session.get(Blueprint, facts["blueprint"]["id"])
        assert blueprint is not None
        health = bank_health(session, blueprint)
        items = evidence.paper_items(session, blueprint)
        original = items[items["paper"].isin([p["name"] for p in run.papers])]
        coverage = evidence.coverage(session, blueprint, original)
        information, expected = evidence.paper_curves(session, items)
        replacement = evidence.leak_replacement(session, facts["incident"])
    papers = list(dict.fromkeys(original["paper"]))
    statuses = items.drop_duplicates("paper")[["paper", "role", "status"]]
    timings = pd.DataFrame([{"step": f"{t.number}. {t.title}", "seconds": t.seconds, "result": t.line} for t in run.timings])
    assembly, pilot, ledger, operational = facts["assembly"], facts["pilot"], facts["ledger"], facts["operational"]
    incident = facts["incident"]
    groups = pd.DataFrame(facts["operational"]["groups"])
    if not groups.empty:
        groups = groups[[c for c in ("group", "mean", "true_mean", "sd", "n") if c in groups.columns]]
    health_counts = health.cells.drop(columns=[c for c in ("name", "importance", "absolute_weight") if c in health.cells])
    return [
        f"<h1>itembank demo — {html_report.esc(facts['blueprint']['name'])} 三级 theory</h1>"
        f"<p class='sub'>Run at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on a fresh SQLite bank "
        f"({html_report.esc(run.options.database)}), seed {run.options.seed}. Blueprint version {html_report.esc(facts['blueprint']['version'])}.</p>",
        html_report.cards([("items in the bank", f"{len(run.item_ids):,}"), ("pilot responses", f"{pilot['responses']:,}"),
                ("papers assembled", str(len(run.papers))), ("solver gap", _gap(assembly["gap"])),
                ("candidates", f"{facts['sitting']['candidates']:,}"),
                ("overall pass rate", f"{100 * pd.concat(run.results.values())['passed'].mean():.1f} %"),
                ("pretest items calibrated", f"{operational['pretest_items']:,}"),
                ("pretest RMSE b", f"{operational['pretest_rmse_b']:.3f}"),
                ("ledger events", f"{ledger['events']:,}"),
                ("ledger", "intact" if ledger["ok"] else "BROKEN")]),
        "<h2>Timings</h2>" + html_report.table(timings, 1)
        + f"<p>Total {sum(t.seconds for t in run.timings):,.1f} s.</p>",
        "<h2>Bank health</h2>"
        + f"<p>{html_report.esc(health.summary()).replace(chr(10), '<br>')}</p>"
        + "<p>Importance shares of active points:</p>" + html_report.table(health.importance.round({"points": 0}), 3)
        + f"<details><summary>Active items per element and type ({len(health_counts)} elements, "
        f"{len(health.thin_elements)} thin)</summary>" + html_report.table(health_counts, 0) + "</details>",
        "<h2>Assembly</h2>"
        + f"<p>Spec <b>{html_report.esc(spec.get('name'))}</b>: {html_report.esc(spec['forms'])} forms. Solver status <b>{html_report.esc(assembly['status'])}</b>, "
        f"objective {assembly['objective']:.4f}, best bound {assembly['best_bound']:.4f}, gap {_gap(assembly['gap'])} "
        f"(assembly run {assembly['run_id']}).</p>"
        + "<h3>Blueprint coverage (points per module)</h3>" + f"<img src='{figures.coverage_bars(coverage, papers)}'>"
        + html_report.table(coverage.rename(columns=short_paper_name), 0)
        + "<h3>Test information and characteristic curves (operational parameters)</h3>"
        + f"<img src='{figures.paper_curves(information, expected, list(spec['information']['theta']))}'>"
        + "<p>Paper status at the end of the run:</p>" + html_report.table(statuses),
        "<h2>Pilot calibration and parameter recovery</h2>"
        + f"<p>{pilot['candidates']:,} pilot candidates in {pilot['booklets']:,} random booklets gave "
        f"{pilot['responses']:,} responses on {pilot['items']:,} items (at least {pilot['min_per_item']} per item). "
        f"MML-EM with a model per item type ({html_report.esc(_models(pilot['models']))}; the 3PL with a "
        f"{html_report.esc(_beta(pilot['c_prior']))} prior on c) "
        f"{'converged' if pilot['converged'] else 'did NOT converge'} in {pilot['n_iter']} iterations; "
        "the run was approved, so its estimates became operational. Recovery against the generator's truth, "
        "by fitted model:</p>"
        + html_report.table(Recovery(run.pilot_recovery).by_model(), 3)
        + f"<img src='{figures.recovery_scatter(run.pilot_recovery, 'pilot')}'>",
        "<h2>Delivery and results</h2>"
        + f"<p>The exam engine <b>{html_report.esc(run.engine_name)}</b> saw {facts['delivery']['offered']} sealed papers, pulled and "
        f"verified {facts['delivery']['pulled']}, and opened {facts['delivery']['opened']} after the window opened at "
        f"{html_report.esc(facts['delivery']['not_before'])} UTC. {facts['sitting']['candidates']:,} simulated candidates "
        f"(abilities drawn around {facts['sitting']['ability_mean']:+.2f} on the pilot scale: certification candidates "
        "have prepared) answered the papers and, after them, the papers' unscored pretest blocks. "
        "Scores are on the 100-point scale from the paper's own items only; pass is 60 or more.</p>"
        + html_report.table(pass_rate_table(run), 1) + f"<img src='{figures.score_histograms(run.results)}'>",
        "<h2>Operational calibration (FIPC)</h2>"
        + f"<p>{operational['responses']:,} operational responses; {operational['fixed_items']} items held "
        f"at their pilot values, so each paper's candidate group is placed on the pilot scale and the "
        f"{operational['estimated_items']} items without operational parameters are estimated on it. "
        f"{'Converged' if operational['converged'] else 'Did NOT converge'} in {operational['n_iter']} "
        "iterations; run approved. Estimated group means against the simulated candidates' true mean ability:</p>"
        + html_report.table(groups, 3)
        + "<h3>Pretest items on the bank scale</h3>"
        + f"<p>{operational['pretest_items']} accepted items rode along the main papers as unscored pretest blocks: "
        f"{operational['pretest_responses']:,} responses, at least {operational['min_per_pretest_item']:,} per item. "
        f"Recovery against the truth (all pretest items: RMSE b {operational['pretest_rmse_b']:.3f}, "
        f"RMSE a {operational['pretest_rmse_a']:.3f}), by fitted model:</p>"
        + html_report.table(Recovery(run.pretest_recovery).by_model(), 3)
        + f"<img src='{figures.recovery_scatter(run.pretest_recovery, 'pretest (FIPC)')}'>",
        "<h2>Incident: leak drill</h2>"
        + f"<p>Paper <b>{html_report.esc(incident.get('paper'))}</b>, scope {html_report.esc(incident.get('scope'))}, reported by "
        f"{html_report.esc(incident.get('reported_by'))} at {html_report.esc(incident.get('at'))}.<br>Cause: {html_report.esc(incident.get('cause'))}</p>"
        + "<ol>" + "".join(f"<li>{html_report.esc(a)}</li>" for a in incident.get("actions", [])) + "</ol>"
        + html_report.table(pd.DataFrame([incident.get("results", {})]), 0)
        + _replacement_strength(replacement),
        loft_steps.report_section(run),
        "<h2>Audit ledger</h2>"
        + (f"<p class='ok'>Hash chain intact over {ledger['events']:,} events.</p>" if ledger["ok"] else
           f"<p class='bad'>Hash chain BROKEN at event {ledger['first_bad']}: {html_report.esc(ledger['reason'])}</p>"),
        simulation_steps.cat_section(run),
    ]


def _replacement_strength(strength: evidence.ReplacementStrength | None) -> str:
    """The replacement backup against the papers it stands beside: one sentence (a warning when it falls short) and
    the test information at the spec's target points behind it."""
    if strength is None:
        return ""
    return (f"<p class='{'ok' if strength.comparable else 'bad'}' id='replacement-strength'>{html_report.esc(strength.sentence())}</p>"
            "<details><summary>Test information at the spec's target points (max-min: the figure the assembly "
            "maximises)</summary>" + html_report.table(strength.table()) + "</details>")


def _gap(gap: float | None) -> str:
    return "n/a" if gap is None else f"{100 * gap:.2f} %"


def write_report(run: DemoRun) -> None:
    """Write ``demo-report.html`` next to the demo database."""
    run.options.report.write_text(html_report.page("itembank demo report", _sections(run)), encoding="utf-8")
