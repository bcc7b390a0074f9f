"""The shipped HR-Manager blueprints and the level-3 paper spec are well-formed and agree with each other."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from assembly.spec import load_spec
from itembank.blueprint import load_document, parse_blueprint

DATA = Path(__file__).resolve().parents[1] / "data"
LEVELS = (4, 3, 2, 1)
PROFESSIONAL = {"C": "人力资源规划", "D": "招聘与配置", "E": "培训与开发", "F": "绩效管理", "G": "薪酬管理", "H": "劳动关系管理"}
BASICS_WEIGHT = {4: 20, 3: 15, 2: 10}
PATTERNS = (re.compile(r"^[A-Z]$"), re.compile(r"^[A-Z]-[A-Z]$"), re.compile(r"^[A-Z]-[A-Z]-\d{3}$"))


def _document(level: int) -> dict[str, Any]:
    return yaml.safe_load((DATA / "blueprints" / f"hr-manager-l{level}-theory.yaml").read_text(encoding="utf-8"))


def _walk(nodes: list[dict[str, Any]], depth: int = 0, parent: str | None = None):
    """Yield (node, depth, parent code) depth-first."""
    for node in nodes:
        yield node, depth, parent
        yield from _walk(node.get("children") or [], depth + 1, node["code"])


def _elements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [node for node, _, _ in _walk(document["nodes"]) if not node.get("children")]


@pytest.mark.parametrize("level", LEVELS)
def test_header_names_the_occupation_and_level(level: int) -> None:
    document = _document(level)
    assert document["occupation"] == "企业人力资源管理师"
    assert document["occupation_code"] == "4-07-03-04"
    assert document["level"] == level
    assert document["exam_kind"] == "theory"
    assert "illustrative" in document["source"]


@pytest.mark.parametrize("level", LEVELS)
def test_codes_are_unique_well_formed_and_nest_under_their_parent(level: int) -> None:
    codes = []
    for node, depth, parent in _walk(_document(level)["nodes"]):
        code = node["code"]
        codes.append(code)
        assert depth < 3, f"{code} is deeper than module → unit → element"
        assert PATTERNS[depth].match(code), f"{code} is not a depth-{depth} code"
        assert parent is None or code.startswith(parent + "-"), f"{code} does not start with {parent}-"
        assert str(node.get("name") or "").strip(), f"{code} has no name"
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize("level", LEVELS)
def test_sibling_weights_sum_to_100(level: int) -> None:
    document = _document(level)
    groups = [document["nodes"]] + [n["children"] for n, _, _ in _walk(document["nodes"]) if n.get("children")]
    for siblings in groups:
        weights = [s.get("weight") for s in siblings]
        if all(w is None for w in weights) and not any(s.get("children") for s in siblings):
            continue  # elements without weights share their unit's weight equally
        assert sum(weights) == pytest.approx(100, abs=0.01), [s["code"] for s in siblings]


@pytest.mark.parametrize("level", LEVELS)
def test_elements_carry_importance_mostly_core(level: int) -> None:
    elements = _elements(_document(level))
    assert 120 <= len(elements) <= 200
    assert all(e.get("importance") in ("X", "Y", "Z") for e in elements)
    share_x = sum(e["importance"] == "X" for e in elements) / len(elements)
    assert 0.75 <= share_x <= 0.85
    assert any(e["importance"] == "Z" for e in elements)


@pytest.mark.parametrize("level", LEVELS)
def test_module_weights_follow_the_standard(level: int) -> None:
    modules = {m["code"]: m for m in _document(level)["nodes"]}
    assert modules["A"]["name"] == "职业道德" and modules["A"]["weight"] == 5
    if level in BASICS_WEIGHT:
        assert modules["B"]["name"] == "基础知识" and modules["B"]["weight"] == BASICS_WEIGHT[level]
    else:
        assert "B" not in modules
    assert {code: modules[code]["name"] for code in PROFESSIONAL} == PROFESSIONAL
    upper = {4: 16, 3: 17, 2: 18, 1: 18}[level]
    assert all(12 <= modules[code]["weight"] <= upper for code in PROFESSIONAL)
    for module in modules.values():
        assert 2 <= len(module["children"]) <= 4, module["code"]
        assert all(3 <= len(unit["children"]) <= 8 for unit in module["children"]), module["code"]


@pytest.mark.parametrize("level", LEVELS)
def test_the_bank_parser_accepts_the_file_and_weights_reach_every_element(level: int) -> None:
    spec = parse_blueprint(load_document(DATA / "blueprints" / f"hr-manager-l{level}-theory.yaml"))
    elements = spec.elements()
    assert spec.level == level and spec.version == "2026.1"
    assert sum(e.absolute_weight for e in elements) == pytest.approx(100.0, abs=1e-9)
    assert min(e.absolute_weight for e in elements) > 0


def test_level3_spec_loads_and_repeats_the_blueprint_module_weights() -> None:
    spec = load_spec(DATA / "specs" / "hr-manager-l3-theory.yaml")
    modules = {m["code"]: m["weight"] for m in _document(3)["nodes"]}
    assert {rule.node: rule.weight for rule in spec.blueprint} == modules
    assert all(rule.tolerance == 2 for rule in spec.blueprint)
    assert [(s.type, s.count, s.section_points) for s in spec.sections] == [
        ("single_choice", 60, 60), ("multiple_choice", 20, 40)]
    assert (spec.forms.main, spec.forms.backup) == (4, 2)
    assert (spec.overlap.main_main, spec.overlap.backup_main, spec.overlap.backup_backup) == (0, 0, 0)
    assert spec.importance[0].levels == ["X"] and spec.importance[0].min_share == 70
    assert spec.information is not None and spec.information.theta == [-1.0, 0.0, 1.0]
    assert spec.information.objective == "maximin" and spec.information.parallel_band == 0.05
    assert spec.solver.name == "highs" and spec.solver.time_limit == 30
