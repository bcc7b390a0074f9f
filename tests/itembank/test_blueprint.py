"""Blueprint parsing and validation: errors name the node; weights, codes and importance are checked."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy.engine import Engine

from itembank.blueprint import parse_blueprint
from itembank.db import transaction
from itembank.errors import Conflict, Forbidden, ValidationError
from itembank.services import blueprints
from itembank.services.actors import Actor
from tests.conftest import small_blueprint_document


def test_absolute_weights_multiply_down_the_tree() -> None:
    spec = parse_blueprint(small_blueprint_document())
    by_code = {n.code: n for n in spec.nodes()}
    assert by_code["B-A"].absolute_weight == pytest.approx(30.0)
    assert by_code["A-A-001"].absolute_weight == pytest.approx(20.0)
    assert [e.code for e in spec.elements()] == ["A-A-001", "A-A-002", "B-A-001", "B-B-001", "B-B-002"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["nodes"][0].update(weight=35), "weights sum to 95"),
        (lambda d: d["nodes"][1]["children"][0].update(weight=70), "the children of B: weights sum to 120"),
        (lambda d: d["nodes"][0]["children"][0]["children"][1].update(code="A-A-001"), "node A-A-001: code is not unique"),
        (lambda d: d["nodes"][0]["children"][0]["children"][0].pop("importance"), "element A-A-001: importance must be X, Y or Z"),
        (lambda d: d["nodes"][1]["children"][1].update(code="C-B"), "node C-B: code does not start with its parent's code B-"),
        (lambda d: d.pop("version"), "'version' is missing"),
    ],
)
def test_invalid_blueprints_name_the_node(mutate, expected: str) -> None:
    document = copy.deepcopy(small_blueprint_document())
    mutate(document)
    with pytest.raises(ValidationError) as caught:
        parse_blueprint(document)
    assert expected in str(caught.value)


def test_versions_are_kept_and_never_replaced(engine: Engine, staff: dict[str, Actor]) -> None:
    with transaction(engine) as session:
        blueprints.import_blueprint(session, staff["manager"], small_blueprint_document("1"))
    with pytest.raises(Conflict, match="already exists"), transaction(engine) as session:
        blueprints.import_blueprint(session, staff["manager"], small_blueprint_document("1"))
    with transaction(engine) as session:
        blueprints.import_blueprint(session, staff["manager"], small_blueprint_document("2"))
        newest = blueprints.find_blueprint(session, "4-07-03-04", 3)
        first = blueprints.find_blueprint(session, "4-07-03-04", 3, version="1")
    assert (newest.version, first.version) == ("2", "1")


def test_only_managers_import_blueprints(engine: Engine, staff: dict[str, Actor]) -> None:
    with pytest.raises(Forbidden, match="writer .* may not import blueprints"), transaction(engine) as session:
        blueprints.import_blueprint(session, staff["writer"], small_blueprint_document())


def test_excel_blueprint_builds_the_same_tree(tmp_path) -> None:
    from openpyxl import Workbook

    from itembank.blueprint import load_document

    spec = parse_blueprint(small_blueprint_document())
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["code", "name", "weight", "importance"])
    for node in spec.nodes():
        sheet.append([node.code, node.name, node.weight, node.importance])
    meta = workbook.create_sheet("meta")
    for key in ("occupation", "occupation_code", "level", "version"):
        meta.append([key, small_blueprint_document()[key]])
    workbook.save(tmp_path / "bp.xlsx")
    again = parse_blueprint(load_document(tmp_path / "bp.xlsx"))
    assert [(n.code, n.absolute_weight, n.importance) for n in again.nodes()] == [
        (n.code, n.absolute_weight, n.importance) for n in spec.nodes()
    ]


def test_keys_the_parser_does_not_read_are_named_and_look_alikes_refused(tmp_path) -> None:
    """Ignored, a misspelt ``wieght`` on every element would leave them equally weighted without a word."""
    from itembank.blueprint import check_document

    document = small_blueprint_document()
    assert check_document(document) == []
    noted = copy.deepcopy(document) | {"note": "草稿"}
    noted["nodes"][0]["备注"] = "x"
    assert [str(u) for u in check_document(noted)] == ["细目表的列 note 未识别，已忽略", "细目表的列 备注 未识别，已忽略"]
    misspelt = copy.deepcopy(document)
    element = misspelt["nodes"][0]["children"][0]["children"][0]
    element["wieght"] = element.pop("weight", 50)
    with pytest.raises(ValidationError, match="细目表的列 wieght 未识别，是否应为 weight？") as caught:
        check_document(misspelt)
    assert caught.value.field == "nodes.wieght"
    with pytest.raises(ValidationError, match="细目表的列 levle 未识别，是否应为 level？"):
        check_document({**document, "levle": 3})


def test_an_excel_blueprint_column_the_parser_does_not_read_is_named(tmp_path) -> None:
    from openpyxl import Workbook

    from itembank.blueprint import check_document, load_document

    workbook = Workbook()
    workbook.active.append(["code", "name", "importance", "weigth"])
    workbook.active.append(["A", "模块", None, 100])
    workbook.save(tmp_path / "bp.xlsx")
    with pytest.raises(ValidationError, match="细目表的列 weigth 未识别，是否应为 weight？"):
        check_document(load_document(tmp_path / "bp.xlsx"))
