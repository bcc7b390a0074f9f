"""Pure modes of the CLI for notebooks and scripts: assemble and calibrate without a database."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.simulate import simulate_dichotomous, to_long
from itembank.sample_bank import generate_sample_bank, load_blueprint_file, shipped_blueprint_path
from tests.itembank.test_cli import run
from tests.itembank.test_papers_incidents import _spec


def test_assemble_pure_mode_writes_verified_papers(tmp_path: Path) -> None:
    bank = generate_sample_bank(load_blueprint_file(shipped_blueprint_path(3)), 900, 3).item_table()
    bank.to_csv(tmp_path / "items.csv", index=False)
    spec = _spec()
    spec["forms"] = {"main": 2, "backup": 1}
    (tmp_path / "spec.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    done = run(tmp_path, "assemble", "spec.json", "--items", "items.csv", "--out", "result.json")
    assert done.returncode == 0, done.stderr
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
