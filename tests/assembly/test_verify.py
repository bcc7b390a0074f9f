"""The independent verifier, and the engine refusing a wrong solver answer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import assembly.engine as engine
from assembly import RejectedSolution, assemble, verify
from assembly.synthetic import synthetic_bank
from tests.assembly.conftest import small_spec


def test_wrong_solver_answer_is_refused(bank, monkeypatch):
    real = engine.run_solver

    def swap_one_item(model, settings, start=None):
        outcome = real(model, settings, start)
        chosen = np.flatnonzero(outcome.selection[0])
        outcome.selection[0, chosen[0]] = False
        return outcome

    monkeypatch.setattr(engine, "run_solver", swap_one_item)
    with pytest.raises(RejectedSolution) as caught:
        assemble(bank, small_spec(forms={"main": 1, "backup": 0}))
    assert "total_points[main-1]" in caught.value.constraints


def test_verifier_catches_enemies_broken_sets_and_overlap(bank):
    spec = small_spec(information=None, blueprint=[], importance=[], forms={"main": 2, "backup": 0})
    result = assemble(bank, spec)
    a, b = result.forms[0].item_ids, result.forms[1].item_ids
    assert verify(bank, spec, {"main-1": a, "main-2": b})["ok"].all()
    enemies = bank[bank["enemy_groups"] == "E02"]["item_id"].tolist()
    report = verify(bank, spec, {"main-1": a[:-2] + enemies, "main-2": a[:5] + b[5:]})
    failed = set(report.loc[~report["ok"], "constraint"])
    assert "enemy[main-1][E02]" in failed
    assert "overlap[main-1,main-2]" in failed


BANK = synthetic_bank(300, rng=1)
ids = st.lists(st.integers(0, 299), min_size=0, max_size=40, unique=True)


@settings(max_examples=40, deadline=None)
@given(first=ids, second=ids)
def test_overlap_check_matches_set_intersection(first, second):
    bank = BANK
    spec = small_spec(overlap={"main_main": 3}, forms={"main": 2, "backup": 0})
    names = bank["item_id"].tolist()
    report = verify(bank, spec, {"main-1": [names[i] for i in first],
                                 "main-2": [names[i] for i in second]})
    row = report.set_index("constraint").loc["overlap[main-1,main-2]"]
    assert row["achieved"] == len(set(first) & set(second))
    assert bool(row["ok"]) == (len(set(first) & set(second)) <= 3)
