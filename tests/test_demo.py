"""The demo runs in the suite at a reduced size so it cannot rot: report, numbers against the bank, clean restarts."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from sqlmodel import select

from itembank import audit
from itembank.db import make_engine, transaction
from itembank.demo import DemoOptions, DemoRun, evidence, run_demo
from itembank.demo.report import pass_rate_table
from itembank.demo.run import STEPS
from itembank.demo.simulation_steps import STUDY_DIR
from itembank.models import Incident, Item, Paper

SMALL = {"n_items": 800, "n_candidates": 800, "pilot_responses_per_item": 300, "pretest_per_paper": 10,
         "cat_candidates": 20, "cat_length": 20}


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoRun, DemoRun, list[str]]:
    """The demo twice on the same folder, as `make demo` twice in a row would."""
    out = tmp_path_factory.mktemp("demo")
    lines: list[str] = []
    first = run_demo(DemoOptions(out=out, **SMALL), echo=lines.append)
    second = run_demo(DemoOptions(out=out, **SMALL), echo=lines.append)
    return first, second, lines


def test_second_run_starts_clean(demo_runs: tuple[DemoRun, DemoRun, list[str]]) -> None:
    first, second, lines = demo_runs
    assert sum("starting clean" in line for line in lines) == 2
    assert sum(line.startswith(f"[{STEPS}/{STEPS}]") for line in lines) == 2
    engine = make_engine(f"sqlite:///{second.options.database}")
    with transaction(engine) as session:
        assert len(session.exec(select(Item)).all()) == SMALL["n_items"]  # not twice: the first bank was deleted
        assert len(session.exec(select(Incident)).all()) == 1
    engine.dispose()


def test_report_sections_and_numbers_match_the_bank(demo_runs: tuple[DemoRun, DemoRun, list[str]]) -> None:
    _, run, _ = demo_runs
    page = Path(run.options.report).read_text(encoding="utf-8")
    for section in ("Timings", "Bank health", "Blueprint coverage", "Test information", "parameter recovery",
                    "Delivery and results", "Operational calibration", "Pretest items on the bank scale", "leak drill",
                    "Audit ledger", "CAT simulation study"):
        assert section in page, section
    assert page.count("data:image/png;base64,") == 6
    assert f"RMSE b {run.facts['operational']['pretest_rmse_b']:.3f}" in page
    assert "<script" not in page and "http://" not in page.replace("http://127.0.0.1", "")
    table = pass_rate_table(run)
    for row in table.itertuples():
        results = run.results[row.paper]
        assert row.candidates == len(results) == SMALL["n_candidates"] // 4
        assert f"{100 * results['passed'].mean():.1f}" in page
        assert (results["max"] == 100).all()  # the pretest block answered beside the paper adds nothing
    with transaction(run.engine) as session:
        leaked = session.exec(select(Paper).where(Paper.name == run.facts["incident"]["paper"])).one()
        assert leaked.status == "invalidated"
        check = audit.verify(session)
    assert check.ok and f"Hash chain intact over {check.events:,} events" in page


def test_demo_outcomes_are_plausible(demo_runs: tuple[DemoRun, DemoRun, list[str]]) -> None:
    _, run, _ = demo_runs
    assert run.facts["assembly"]["status"] in ("optimal", "feasible")
    assert run.facts["assembly"]["gap"] is not None and run.facts["assembly"]["gap"] < 0.05
    assert len(run.main_papers()) == 4 and len(run.papers) == 6
    pilot = run.facts["pilot"]
    assert pilot["min_per_item"] >= SMALL["pilot_responses_per_item"]
    recovery = run.pilot_recovery
    assert set(recovery["model"]) == {"2PL", "3PL"}
    assert (recovery["model"] == recovery["true_model"]).all()  # single choice fitted by the 3PL that generated it
    # ≥300 responses per item: the typical b error is small and both parameters track the truth (RMSE alone is
    # dominated by a few items whose b is barely identified, e.g. a hard single-choice item that looks like guessing).
    for model, part in recovery.groupby("model"):
        assert (part["b_est"] - part["b_true"]).abs().median() < 0.3, model
        assert part["b_est"].corr(part["b_true"], method="spearman") > 0.85, model
        assert part["a_est"].corr(part["a_true"]) > 0.6, model
    three_pl = recovery[recovery["model"] == "3PL"]
    assert ((three_pl["c_est"] - three_pl["c_true"]) ** 2).mean() ** 0.5 < 0.08  # true c ~ Beta(16, 64), sd 0.045
    operational = run.facts["operational"]
    groups = operational["groups"]
    assert groups and all(abs(g["mean"] - g["true_mean"]) < 0.15 for g in groups)
    # Pretest items: never in the pilot, estimated only by the FIPC run from ~200 candidates each.
    pretest = run.pretest_recovery
    assert len(pretest) == operational["pretest_items"] == 4 * SMALL["pretest_per_paper"] == operational["estimated_items"]
    assert set(pretest["item_id"]).isdisjoint(recovery["item_id"])
    assert operational["min_per_pretest_item"] == SMALL["n_candidates"] // 4
    assert operational["pretest_rmse_b"] < 0.6 and operational["pretest_corr_b"] > 0.9
    pass_rate = run.facts["sitting"]["pass_rate"]
    assert 0.5 < pass_rate < 0.85  # prepared candidates (mean ability 0.5 above the pilot's) against a 60-point cut
    assert [t.number for t in run.timings] == list(range(1, STEPS + 1))


def test_leak_drill_weighs_the_replacement_against_the_papers_beside_it(
        demo_runs: tuple[DemoRun, DemoRun, list[str]]) -> None:
    _, run, lines = demo_runs
    with transaction(run.engine) as session:
        incident = session.exec(select(Incident)).one()
        strength = evidence.leak_replacement(session, incident.report)
    assert strength is not None
    leaked = run.facts["incident"]["paper"]
    assert leaked not in strength.peers and strength.replacement not in strength.peers
    assert len(strength.peers) == 5  # three surviving main papers, the released backup and the one still held
    assert strength.ratio == pytest.approx(run.facts["replacement"]["ratio"])
    step = [line for line in lines if line.startswith(f"[8/{STEPS}]")][-1]
    assert step.endswith(strength.figure())
    page = Path(run.options.report).read_text(encoding="utf-8")
    sentence = strength.sentence()
    assert html.escape(sentence) in page
    assert f"{strength.replacement_information:.2f}" in sentence and f"{strength.weakest_peer_information:.2f}" in sentence
    assert sentence.startswith("Warning") != strength.comparable


def test_the_loft_session_is_sealed_run_offline_and_score_equivalent(
        demo_runs: tuple[DemoRun, DemoRun, list[str]]) -> None:
    """20 candidates, one paper each: every form in the ledger, exposure within the session's limit, and each
    candidate's expected score on their own paper close to the reference paper's at their true θ: the TCC band
    holds papers within 1.5 points at the pass-mark θ and ±1; candidates far from those points see more (seen: mean
    |Δ| 0.81, max 2.37 points)."""
    _, run, _ = demo_runs
    loft = run.facts["loft"]
    assert loft["candidates"] == loft["ledger_forms"] == 20
    assert loft["max_exposure"] <= loft["exposure_limit"] and loft["max_tcc_deviation"] <= 1.5
    assert loft["mean_abs_difference"] < 1.5 and loft["max_abs_difference"] < 4.0
    assert all(r["max"] == 100 for r in loft["results"])
    assert "LOFT exam session" in Path(run.options.report).read_text(encoding="utf-8")


def test_cat_study_on_the_demo_bank(demo_runs: tuple[DemoRun, DemoRun, list[str]]) -> None:
    """20 simulees × 20 items on the calibrated bank: every test verified clean, θ̂ about as accurate as its
    reported SE says (RMSE within 1.6 × the RMS SE, which is about 0.3 at this length), and the report shows
    the study's own figures and files."""
    _, run, lines = demo_runs
    report = run.facts["cat_study"]
    simulees = report.simulees
    assert report.candidates == SMALL["cat_candidates"] and (simulees["length"] == SMALL["cat_length"]).all()
    assert report.violations == 0 and report.engine["checked_tests"] == SMALL["cat_candidates"]
    assert report.recovery.rmse < 1.6 * float((simulees["se"] ** 2).mean() ** 0.5) < 0.8
    assert report.classification["reference_tcc"].accuracy >= 0.75
    slots = SMALL["cat_candidates"] * SMALL["cat_length"]  # at most this many distinct items can be used
    assert 0 < report.exposure.max_rate <= 1 and report.exposure.unused_share >= 1 - slots / report.exposure.pool
    page = Path(run.options.report).read_text(encoding="utf-8")
    section = page[page.index("CAT simulation study"):]
    for shown in (f"{report.recovery.rmse:.3f}", f"{100 * report.classification['reference_tcc'].accuracy:.1f} %",
                  f"{report.exposure.max_rate:.3f}", f"{STUDY_DIR}/report.html"):
        assert shown in section, shown
    assert "data:image/png;base64," in section
    assert (run.options.out / STUDY_DIR / "report.json").stat().st_size > 0
    assert sum(line.startswith(f"[{STEPS}/{STEPS}] CAT simulation study") for line in lines) == 2
