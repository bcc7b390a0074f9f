"""LOFT and CAT simulation studies end to end on a small synthetic bank (known truth), and the
``itembank simulate`` commands: exit codes, files, JSON keys."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from assembly.bank import ITEM_TABLE_COLUMNS
from assembly.columns import check_columns
from assembly.errors import InfeasibleSpec, ItemTableError, RejectedSolution, SpecError
from assembly.synthetic import synthetic_bank
from itembank.core_errors import core_errors
from itembank.errors import Infeasible, IntegrityFailure, ItemBankError, ValidationError
from itembank.simulation import SimulationReport, simulate_cat, simulate_loft, write_report
from itembank.simulation.report import key_figures
from tests.itembank.test_cli import run

JSON_KEYS = {"mode", "candidates", "pass_mark", "pass_theta", "theta", "classification", "exposure", "overlap",
             "limits", "violations", "timings"}


def small_spec(**blocks: Any) -> dict[str, Any]:
    """A 30-item paper (100 points) with a blueprint rule, for a 400-item synthetic bank."""
    return {
        "name": "small", "total_points": 100,
        "sections": [{"type": "single_choice", "count": 20, "points": 3},
                     {"type": "multiple_choice", "count": 5, "points": 4},
                     {"type": "true_false", "count": 5, "points": 4}],
        "blueprint": [{"node": "B", "weight": 20, "tolerance": 8}],
        **blocks,
    }


@pytest.fixture(scope="module")
def bank() -> pd.DataFrame:
    table = synthetic_bank(400, 5, n_enemy_pairs=10, n_sets=0)
    return table.assign(exposure=0, last_used=pd.NaT)


def _check_known_truth(report: SimulationReport, length: int) -> None:
    simulees = report.simulees
    assert report.violations == 0
    assert (simulees["length"] == length).all()
    # EAP is calibrated: the error is about the reported posterior sd (30 items of a ≈ 1.1: SE ≈ 0.3)
    rms_se = float(np.sqrt(np.mean(simulees["se"] ** 2)))
    assert 0.15 < rms_se < 0.45
    assert report.recovery.rmse < 1.4 * rms_se
    assert abs(report.recovery.bias) < 0.2
    assert report.classification["reference_tcc"].accuracy > 0.8
    assert report.exposure.max_rate <= report.limits["max_exposure"] + 1e-9


def test_loft_study_on_known_truth(bank: pd.DataFrame, tmp_path: Path) -> None:
    report = simulate_loft(bank, small_spec(), 40, seed=3)
    _check_known_truth(report, 30)
    assert report.mean_overlap <= report.limits["max_mean_overlap"] + 1e-9
    assert set(report.classification) == {"reference_tcc", "own_paper"}
    assert report.conditional_exposure is None
    assert report.simulees["raw_score"].between(0, 100).all()
    assert report.timings["per_paper"]["n"] == 40
    files = write_report(report, tmp_path / "loft")
    assert all(path.stat().st_size > 0 for path in files.paths())
    document = json.loads(files.json.read_text(encoding="utf-8"))
    assert set(document) >= JSON_KEYS and document["violations"]["count"] == 0
    assert len(document["theta"]["by_decile"]) == 10
    assert pd.read_csv(files.simulees).shape[0] == 40
    assert "data:image/png;base64," in files.html.read_text(encoding="utf-8")


def test_given_abilities_are_the_truth(bank: pd.DataFrame) -> None:
    theta = np.linspace(-2, 2, 20)
    report = simulate_loft(bank, small_spec(), 20, seed=4, theta=theta)
    assert report.simulees["true_theta"].to_numpy() == pytest.approx(theta)
    # high true θ, high θ̂: the estimates follow the given truth
    assert np.corrcoef(theta, report.simulees["theta"])[0, 1] > 0.85
    with pytest.raises(ValidationError) as refused:
        simulate_loft(bank, small_spec(), 21, seed=4, theta=theta)
    assert refused.value.field == "theta"


def test_cat_study_on_known_truth(bank: pd.DataFrame) -> None:
    report = simulate_cat(bank, small_spec(), 30, seed=5, length=15)
    assert report.engine["checked_tests"] == 30
    # every candidate's test is checked on its own, as a main paper (its include rule too)
    checks = report.verification
    assert set(checks["form"]) == set(report.simulees["candidate"])
    assert checks["constraint"].str.startswith("include[").sum() == 30
    # r_max binds the exposure within each θ̂ segment (conditional Sympson–Hetter; how closely is
    # test_adaptive's), so the report shows that rate against the limit
    assert report.conditional_exposure is not None and 0 < report.conditional_exposure <= 1
    figures = key_figures(report).set_index("figure")
    assert figures.loc["max item exposure within a θ̂ segment", "limit"] == report.limits["max_exposure"]
    assert "within a θ̂ segment" in report.summary()
    assert report.to_dict()["exposure"]["max_conditional"] == report.conditional_exposure
    assert report.timings["per_choice"]["n"] == 30 * 15
    simulees = report.simulees
    assert report.violations == 0 and (simulees["length"] == 15).all()
    assert report.recovery.rmse < 1.4 * float(np.sqrt(np.mean(simulees["se"] ** 2)))
    assert report.classification["reference_tcc"].accuracy > 0.75
    with pytest.raises(ValidationError) as refused:
        simulate_cat(bank, small_spec(), 5, seed=5, length=401)
    assert refused.value.field == "length"


def test_simulate_commands(bank: pd.DataFrame, tmp_path: Path) -> None:
    bank.to_csv(tmp_path / "bank.csv", index=False)
    (tmp_path / "spec.json").write_text(json.dumps(small_spec()), encoding="utf-8")
    done = run(tmp_path, "simulate", "loft", "spec.json", "--items", "bank.csv", "--candidates", "12",
               "--seed", "2", "--out", "loft")
    assert done.returncode == 0, done.stderr
    assert "warning:" not in done.stderr
    assert "θ recovery" in done.stdout and "report.html" in done.stdout
    assert set(json.loads((tmp_path / "loft" / "report.json").read_text(encoding="utf-8"))) >= JSON_KEYS
    pd.DataFrame({"theta": [-1.0, 0.0, 1.0], "person_id": ["a", "b", "c"]}).to_csv(tmp_path / "theta.csv", index=False)
    done = run(tmp_path, "simulate", "cat", "spec.json", "--items", "bank.csv", "--theta", "theta.csv",
               "--length", "10", "--seed", "2", "--out", "cat")
    assert done.returncode == 0, done.stderr
    assert "warning: 能力值文件的列 person_id 未识别，已忽略" in done.stderr.splitlines()
    assert pd.read_csv(tmp_path / "cat" / "simulees.csv")["true_theta"].tolist() == [-1.0, 0.0, 1.0]


@pytest.mark.parametrize(("args", "field"), [
    (("loft", "spec.json", "--items", "missing.csv", "--candidates", "5", "--out", "o"), "items"),
    (("loft", "spec.json", "--items", "bank.csv", "--candidates", "0", "--out", "o"), "candidates"),
    (("loft", "spec.json", "--items", "bank.csv", "--theta", "bad.csv", "--out", "o"), "theta"),
    (("loft", "spec.json", "--items", "bank.csv", "--theta", "thetas.csv", "--out", "o"), "theta.Thetas"),
    (("cat", "spec.json", "--items", "bank.csv", "--candidates", "5", "--length", "500", "--out", "o"), "length"),
    (("loft", "nospec.json", "--items", "bank.csv", "--candidates", "5", "--out", "o"), "spec"),
    (("loft", "spec.json", "--items", "misspelt.csv", "--candidates", "5", "--out", "o"), "items.enemy_group"),
    (("cat", "spec.json", "--items", "misspelt.csv", "--candidates", "5", "--out", "o"), "items.enemy_group"),
])
def test_simulate_refuses_bad_input(bank: pd.DataFrame, tmp_path: Path, args: tuple[str, ...], field: str) -> None:
    bank.to_csv(tmp_path / "bank.csv", index=False)
    bank.rename(columns={"enemy_groups": "enemy_group"}).to_csv(tmp_path / "misspelt.csv", index=False)
    (tmp_path / "spec.json").write_text(json.dumps(small_spec()), encoding="utf-8")
    pd.DataFrame({"ability": [0.0]}).to_csv(tmp_path / "bad.csv", index=False)
    pd.DataFrame({"Thetas": [0.0]}).to_csv(tmp_path / "thetas.csv", index=False)
    done = run(tmp_path, "simulate", *args)
    assert done.returncode == 2, done.stderr
    assert f"[{field}]" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_simulate_infeasible_exits_6(bank: pd.DataFrame, tmp_path: Path) -> None:
    bank.to_csv(tmp_path / "bank.csv", index=False)
    # an item may stand in at most 1 of 30 papers (4 % of 30): 900 item slots from 400 items
    (tmp_path / "spec.json").write_text(json.dumps(small_spec(loft={"max_exposure": 0.04})), encoding="utf-8")
    done = run(tmp_path, "simulate", "loft", "spec.json", "--items", "bank.csv", "--candidates", "30", "--out", "o")
    assert done.returncode == 6, done.stderr
    assert "[spec]" in done.stderr


def test_sample_bank_writes_a_pure_mode_item_table(tmp_path: Path) -> None:
    done = run(tmp_path, "sample-bank", "--level", "3", "--items", "600", "--seed", "7", "--out", "bank.csv")
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "bank.csv")
    assert len(table) == 600 and {"item_id", "type", "points", "element", "a", "b", "c"} <= set(table.columns)
    assert check_columns(table.columns, ITEM_TABLE_COLUMNS) == []  # read back without a warning
    assert table.loc[table["type"] == "single_choice", "c"].notna().all()
    assert not (tmp_path / "cli.db").exists()


def test_papers_without_their_reference_are_refused(bank: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    import assembly

    real = assembly.assemble_loft

    def without_reference(*args: Any, **kwargs: Any) -> Any:
        return dataclasses.replace(real(*args, **kwargs), reference=None)

    monkeypatch.setattr(assembly, "assemble_loft", without_reference)
    with pytest.raises(IntegrityFailure) as refused:
        simulate_loft(bank, small_spec(), 12, seed=1)
    assert refused.value.field == "reference"


@pytest.mark.parametrize(("error", "kind", "field"), [
    (SpecError("bad count", "sections[0].count"), ValidationError, "sections[0].count"),
    (ItemTableError("no b column", "b"), ValidationError, "items.b"),
    (InfeasibleSpec("short bank", ["blueprint[B]"]), Infeasible, "spec"),
    (RejectedSolution("paper breaks a rule", ["exposure[max]"]), Infeasible, "solver"),
])
def test_core_errors_name_the_field(error: Exception, kind: type[ItemBankError], field: str) -> None:
    with pytest.raises(kind) as translated, core_errors():
        raise error
    assert translated.value.field == field and str(error) in translated.value.message


def test_progress_says_what_follows_the_last_test(capsys: pytest.CaptureFixture[str]) -> None:
    from itembank.cli.simulate import _progress

    with _progress("papers", "papers assembled; verifying and scoring", delay=0.0) as update:
        update(1, 2)
        assert "verifying" not in capsys.readouterr().err
        update(2, 2)
        shown = capsys.readouterr().err
    assert "2/2" in shown and "papers assembled; verifying and scoring" in shown
