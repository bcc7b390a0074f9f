"""Spec parsing: the documented example, field paths in errors, files, property tests."""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from assembly import SpecError, load_spec

HR_MANAGER_L3_THEORY = """
# HR Manager level 3 theory paper: 60 single choice x 1 + 20 multiple choice x 2 = 100 points
name: hr-manager-l3-theory
total_points: 100
sections:
  - {type: single_choice, count: 60, points: 1}
  - {type: multiple_choice, count: 20, points: 2}
blueprint:          # weight = percent of the paper's points, tolerance in points
  - {node: A, weight: 5, tolerance: 2}
  - {node: B, weight: 15, tolerance: 2}
  - {node: C, weight: 14, tolerance: 2}
  - {node: D, weight: 14, tolerance: 2}
  - {node: E, weight: 13, tolerance: 2}
  - {node: F, weight: 13, tolerance: 2}
  - {node: G, weight: 13, tolerance: 2}
  - {node: H, weight: 13, tolerance: 2}
importance:
  - {levels: [X], min_share: 70}
max_per_element: 3
information: {objective: maximin, theta: [-1, 0, 1], parallel_band: 0.05}
forms: {main: 4, backup: 2}
overlap: {main_main: 0, backup_main: 0, backup_backup: 0}
exposure: {max_exposure: 5, not_used_since: 2026-01-01}
exclude: [HR-0042]
solver: {name: highs, time_limit: 60, gap: 0.005, threads: 1, seed: 0}
"""


def test_documented_example_spec_parses(tmp_path):
    path = tmp_path / "hr.yaml"
    path.write_text(HR_MANAGER_L3_THEORY, encoding="utf-8")
    spec = load_spec(path)
    assert spec.form_names == ["main-1", "main-2", "main-3", "main-4", "backup-1", "backup-2"]
    assert sum(s.section_points for s in spec.sections) == 100
    as_json = tmp_path / "hr.json"
    as_json.write_text(json.dumps(yaml.safe_load(HR_MANAGER_L3_THEORY), default=str))
    assert load_spec(as_json) == spec


@pytest.mark.parametrize(("change", "field"), [
    ({"sections": [{"type": "single_choice", "count": 60, "points": 1},
                   {"type": "multiple_choice", "count": 20, "points": -2}]}, "sections[1].points"),
    ({"sections": [{"type": "essay", "count": 100, "points": 1}]}, "sections[0].type"),
    ({"blueprint": [{"node": "A", "weight": 5, "count": 3}]}, "blueprint[0].count"),
    ({"forms": {"main": 0}}, "forms.main"),
    ({"information": {"theta": [0, 1], "weights": [1]}}, "information.weights"),
    ({"solver": {"name": "gurobi"}}, "solver.name"),
    ({"sections": [{"type": "single_choice", "count": 60, "points": 1}]}, "total_points"),
])
def test_errors_name_the_field_path(change, field):
    document = yaml.safe_load(HR_MANAGER_L3_THEORY) | change
    with pytest.raises(SpecError) as caught:
        load_spec(document)
    assert caught.value.field == field
    assert field in str(caught.value)


@given(st.lists(st.tuples(st.integers(1, 80), st.sampled_from([0.5, 1, 1.5, 2, 5])),
                min_size=1, max_size=3), st.floats(50, 150))
def test_points_must_add_up_to_the_total(parts, total):
    types = ["single_choice", "multiple_choice", "true_false"]
    document = {"total_points": total, "sections": [
        {"type": t, "count": n, "points": p} for t, (n, p) in zip(types, parts, strict=False)]}
    declared = sum(n * p for n, p in parts)
    if abs(declared - total) <= 1e-6:
        assert load_spec(document).total_points == total
    else:
        with pytest.raises(SpecError, match="total_points"):
            load_spec(document)
