"""Infeasible specs are explained by named constraints, before a solver runs where possible."""

from __future__ import annotations

import pytest

from assembly import InfeasibleSpec, SpecError, assemble, verify
from tests.assembly.conftest import small_spec


def test_starved_element_is_named_by_the_precheck(bank):
    element = bank["element"].value_counts().index[-1]
    supply = int((bank["element"] == element).sum())
    spec = small_spec(blueprint=[{"node": element, "min_count": supply}],
                      forms={"main": 3, "backup": 0})
    result = assemble(bank, spec)
    assert result.status == "infeasible"
    assert result.conflicts == [f"blueprint[*][{element}]"]
    assert f"blueprint node {element}: 3 papers with no overlap need {3 * supply} items" \
        in result.diagnosis[0]
    assert f"the bank has {supply} usable" in result.diagnosis[0]
    assert result.solve_time == 0.0


def test_enemy_conflict_between_anchors_is_found_by_the_deletion_filter(bank, solver):
    enemies = bank[bank["enemy_groups"] == "E01"]["item_id"].tolist()
    spec = small_spec(include=enemies, overlap={"main_main": 2},
                      forms={"main": 1, "backup": 0}, solver={"name": solver})
    result = assemble(bank, spec)
    assert result.status == "infeasible"
    assert "enemy[main-1][E01]" in result.conflicts
    assert set(result.conflicts) <= {"enemy[main-1][E01]"} | {
        f"include[main-1][{i}]" for i in enemies}
    with pytest.raises(InfeasibleSpec, match=r"enemy\[main-1\]\[E01\]") as caught:
        result.raise_for_status()
    assert "enemy[main-1][E01]" in caught.value.constraints


def test_overlap_limit_too_tight_for_the_bank(bank):
    n_true_false = int((bank["type"] == "true_false").sum())
    papers = n_true_false // 5 + 1
    spec = small_spec(forms={"main": papers, "backup": 0}, information=None)
    result = assemble(bank, spec)
    assert result.status == "infeasible"
    assert "section[*][true_false]" in result.conflicts
    assert f"the bank has {n_true_false} usable" in " ".join(result.diagnosis)


def test_points_that_cannot_sum_to_100_are_refused_with_the_field():
    spec = small_spec(total_points=100)
    with pytest.raises(SpecError, match="sections add up to 50 points") as caught:
        assemble(None, spec)  # type: ignore[arg-type]
    assert caught.value.field == "total_points"


def test_conflicting_blueprint_rules_found_after_precheck_passes(bank):
    spec = small_spec(forms={"main": 1, "backup": 0}, blueprint=[
        {"node": "A", "count": 20}, {"node": "B", "count": 20}])
    result = assemble(bank, spec)
    assert result.status == "infeasible"
    assert set(result.conflicts) >= {"blueprint[main-1][A]", "blueprint[main-1][B]"}
    assert any("node A" in sentence for sentence in result.diagnosis)


def test_overlap_findings_name_the_papers_as_the_verifier_does(bank):
    anchors = bank[(bank["type"] == "true_false") & (bank["enemy_groups"] == "")
                   & bank["set_id"].isna()]["item_id"].iloc[:3].tolist()
    spec = small_spec(include=anchors, overlap={"main_main": 2}, forms={"main": 2, "backup": 0})
    result = assemble(bank, spec)
    assert result.status == "infeasible"
    assert result.conflicts == ["overlap[main-1,main-2]"]
    assert "3 anchor items stand in every main paper" in result.diagnosis[0]
    report = verify(bank, spec, {"main-1": anchors, "main-2": anchors})
    row = report.set_index("constraint").loc["overlap[main-1,main-2]"]
    assert not row["ok"] and row["achieved"] == 3
