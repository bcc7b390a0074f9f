"""Pure modes of the CLI for notebooks and scripts: assemble and calibrate without a database."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from assembly import AssemblyResult
from assembly.synthetic import synthetic_bank
from calibration.simulate import simulate_dichotomous, to_long
from itembank.errors import Infeasible
from itembank.sample_bank import generate_sample_bank, load_blueprint_file, shipped_blueprint_path
from itembank.services.papers import require_papers
from tests.assembly.conftest import small_spec
from tests.itembank.test_cli import cli, run
from tests.itembank.test_papers_incidents import SPEC, _spec


def test_assemble_pure_mode_writes_verified_papers(tmp_path: Path) -> None:
    bank = generate_sample_bank(load_blueprint_file(shipped_blueprint_path(3)), 900, 3).item_table()
    bank.to_csv(tmp_path / "items.csv", index=False)
    spec = _spec()
    spec["forms"] = {"main": 2, "backup": 1}
    (tmp_path / "spec.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    done = run(tmp_path, "assemble", "spec.json", "--items", "items.csv", "--out", "result.json")
    assert done.returncode == 0, done.stderr
    assert "warning:" not in done.stderr  # the sample bank's table holds only columns the core reads
    result = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    assert [f["role"] for f in result["forms"]] == ["main", "main", "backup"]
    assert all(row["ok"] for row in result["attainment"])


def test_calibrate_pure_mode_recovers_difficulty(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    a, b = rng.uniform(0.8, 2.0, 20), rng.normal(0, 1, 20)
    scores = simulate_dichotomous(rng.normal(0, 1, 3000), a, b, 0.0, rng)
    log = to_long(scores, [f"p{i}" for i in range(3000)], [f"i{j}" for j in range(20)])
    log.to_csv(tmp_path / "log.csv", index=False)
    done = run(tmp_path, "calibrate", "log.csv", "--model", "2PL", "--out", "items.csv")
    assert done.returncode == 0, done.stderr
    items = pd.read_csv(tmp_path / "items.csv").set_index("item_id").loc[[f"i{j}" for j in range(20)]]
    assert np.sqrt(np.mean((items["b"].to_numpy() - b) ** 2)) < 0.15  # 3,000 persons: sampling error ~0.05-0.1
    bad = run(tmp_path, "calibrate", "missing.csv", "--out", "x.csv")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_pure_mode_on_a_spec_the_table_cannot_meet_prints_the_diagnosis_and_exits_6(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    bank = synthetic_bank(400, rng=7)
    element = bank["element"].value_counts().index[-1]
    supply = int((bank["element"] == element).sum())
    bank.to_csv(tmp_path / "items.csv", index=False)
    spec = small_spec(blueprint=[{"node": element, "min_count": supply}], forms={"main": 3, "backup": 0})
    (tmp_path / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(monkeypatch, capsys, "assemble", "spec.json", "--items", "items.csv", "--out", "result.json")
    sentence = f"blueprint node {element}: 3 papers with no overlap need {3 * supply} items"
    assert code == 6, err
    assert err.startswith("error [spec]: the spec cannot be met: ") and sentence in err and err.count("\n") == 1
    assert f"- {sentence}" in out and "status: infeasible" in out
    assert json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))["status"] == "infeasible"


def test_pure_mode_refuses_a_misspelt_enemy_column_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """``enemy_group`` was ignored, and with it every enemy pair: now the command stops and names it."""
    synthetic_bank(60, rng=3).rename(columns={"enemy_groups": "enemy_group"}).to_csv(tmp_path / "items.csv", index=False)
    (tmp_path / "spec.json").write_text(json.dumps(small_spec()), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(monkeypatch, capsys, "assemble", "spec.json", "--items", "items.csv", "--out", "result.json")
    assert code == 2, err
    assert err.startswith("error [enemy_group]: 题目表的列 enemy_group 未识别，是否应为 enemy_groups？")
    assert err.count("\n") == 1 and out == ""
    assert not (tmp_path / "result.json").exists()


def test_pure_mode_warns_about_an_unknown_column_and_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    bank = synthetic_bank(400, rng=7)
    element = bank["element"].value_counts().index[-1]
    bank.assign(note="待复核").to_csv(tmp_path / "items.csv", index=False)
    supply = int((bank["element"] == element).sum())  # an infeasible spec: the diagnosis is quick
    spec = small_spec(blueprint=[{"node": element, "min_count": supply}], forms={"main": 3, "backup": 0})
    (tmp_path / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(monkeypatch, capsys, "assemble", "spec.json", "--items", "items.csv")
    lines = err.splitlines()
    assert lines[0] == "warning: 题目表的列 note 未识别，已忽略"
    assert code == 6 and lines[1].startswith("error [spec]: ") and len(lines) == 2
    assert "status: infeasible" in out


def test_calibrate_warns_about_unknown_log_columns_and_refuses_look_alikes(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    scores = simulate_dichotomous(rng.normal(0, 1, 300), np.ones(5), np.zeros(5), 0.0, rng)
    log = to_long(scores, [f"p{i}" for i in range(300)], [f"i{j}" for j in range(5)])
    log.assign(note="x", response="B").to_csv(tmp_path / "log.csv", index=False)
    done = run(tmp_path, "calibrate", "log.csv", "--model", "1PL", "--out", "items.csv")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines().count("warning: 作答记录的列 note 未识别，已忽略") == 1  # the core warns, shown once
    assert "ResponseLogWarning" not in done.stderr  # as the CLI's one-line warning, not Python's
    assert "response" not in done.stderr  # the raw answer the bank logs beside the score is known
    log.rename(columns={"score": "scores"}).assign(paperid="P1").to_csv(tmp_path / "bad.csv", index=False)
    bad = run(tmp_path, "calibrate", "bad.csv", "--model", "1PL", "--out", "items.csv")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert bad.stderr.startswith("error [scores]: 作答记录的列 scores 未识别，是否应为 score？")
    assert "列 paperid 未识别，是否应为 paper_id？" in bad.stderr


def test_bank_mode_on_a_bank_too_small_for_the_spec_prints_the_diagnosis_and_exits_6(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/bank.db"
    for args in (["init"], ["users", "add", "lin", "--role", "bank_manager"], ["sample-bank", "--items", "150"]):
        assert cli(monkeypatch, capsys, "--db", url, *args)[0] == 0, args
    engine = sa.create_engine(url)
    with engine.begin() as connection:  # the review itself is tested in test_workflow
        connection.execute(sa.text("UPDATE items SET status = 'active'"))
    engine.dispose()
    code, _, err = cli(monkeypatch, capsys, "--db", url, "--actor", "lin", "assemble", str(SPEC), "--level", "3")
    assert code == 6, err
    assert err.startswith("error [spec]: the spec cannot be met: section single_choice: ") and "short by" in err
    assert "; blueprint node A: " in err and err.count("\n") == 1


def test_a_result_without_papers_is_infeasible_with_the_solver_s_message() -> None:
    unsolved = AssemblyResult(status="not_solved", message="the time limit ran out before any paper was found")
    with pytest.raises(Infeasible, match="the spec cannot be met: the time limit ran out before any paper"):
        require_papers(unsolved)
    with pytest.raises(Infeasible, match="solver status infeasible"):
        require_papers(AssemblyResult(status="infeasible"))
