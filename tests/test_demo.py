"""The demo runs in the suite at a reduced size so it cannot rot: report, numbers against the bank, clean restarts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlmodel import select

from itembank import audit
from itembank.db import make_engine, transaction
from itembank.demo import DemoOptions, DemoRun, run_demo
from itembank.demo.report import pass_rate_table
from itembank.models import Incident, Item, Paper

SMALL = {"n_items": 800, "n_candidates": 800, "pilot_responses_per_item": 150}


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
    assert sum(line.startswith("[9/9]") for line in lines) == 2
    engine = make_engine(f"sqlite:///{second.options.database}")
    with transaction(engine) as session:
        assert len(session.exec(select(Item)).all()) == SMALL["n_items"]  # not twice: the first bank was deleted
        assert len(session.exec(select(Incident)).all()) == 1
    engine.dispose()


def test_report_sections_and_numbers_match_the_bank(demo_runs: tuple[DemoRun, DemoRun, list[str]]) -> None:
    _, run, _ = demo_runs
    page = Path(run.options.report).read_text(encoding="utf-8")
    for section in ("Timings", "Bank health", "Blueprint coverage", "Test information", "parameter recovery",
                    "Delivery and results", "Operational calibration", "leak drill", "Audit ledger"):
        assert section in page, section
    assert page.count("data:image/png;base64,") == 4
    assert "<script" not in page and "http://" not in page.replace("http://127.0.0.1", "")
    table = pass_rate_table(run)
    for row in table.itertuples():
        results = run.results[row.paper]
        assert row.candidates == len(results) == SMALL["n_candidates"] // 4
        assert f"{100 * results['passed'].mean():.1f}" in page
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
    two_pl = recovery[recovery["true_model"] == "2PL"]
    # 2PL-generated items with ≥150 responses each: the typical b error is small and both parameters track the
    # truth (RMSE alone is dominated by a few low-a items whose b is barely identified).
    assert (two_pl["b_est"] - two_pl["b_true"]).abs().median() < 0.3
    assert two_pl["b_est"].corr(two_pl["b_true"]) > 0.85
    assert two_pl["a_est"].corr(two_pl["a_true"]) > 0.6
    groups = run.facts["operational"]["groups"]
    assert groups and all(abs(g["mean"] - g["true_mean"]) < 0.15 for g in groups)
    assert all(re.fullmatch(r"\[\d/9\] .*", line) for line in
               (f"[{t.number}/9] {t.title}" for t in run.timings))
