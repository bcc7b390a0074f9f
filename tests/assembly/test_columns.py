"""Header checks: a column that looks like a known one is refused (naming both), any other unknown
column is a warning, and the tables the project itself writes raise neither."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from assembly.bank import ITEM_TABLE_COLUMNS, eligible_pool, normalise_items
from assembly.columns import LookAlikeColumn, UnknownColumn, check_columns, resembled
from assembly.errors import ItemTableError
from assembly.spec import load_spec
from assembly.synthetic import synthetic_bank
from assembly.synthetic_pool import synthetic_cat_pool
from tests.assembly.conftest import small_spec


@pytest.mark.parametrize(("column", "meant"), [
    ("enemy_group", "enemy_groups"),
    ("Enemy Groups", "enemy_groups"),
    ("enemy-groups", "enemy_groups"),
    ("ENEMY_GROUPS", "enemy_groups"),
    ("enemy", "enemy_groups"),
    ("setid", "set_id"),
    ("set", "set_id"),
    ("Set ID", "set_id"),
    ("pionts", "points"),
    ("Points", "points"),
    (" points", "points"),
    ("dificulty", "difficulty"),
    ("pvalue", "p_value"),
    ("P-Value", "p_value"),
    ("last_use", "last_used"),
    ("last_used_at", "last_used"),
    ("importence", "importance"),
    ("exposures", "exposure"),
    ("elements", "element"),
    ("item", "item_id"),
    ("typ", "type"),
    ("A", "a"),
])
def test_a_look_alike_is_refused_naming_the_known_column(column: str, meant: str) -> None:
    header = [c for c in ITEM_TABLE_COLUMNS if c != meant] + [column]
    with pytest.raises(LookAlikeColumn) as caught:
        check_columns(header, ITEM_TABLE_COLUMNS)
    error = caught.value
    assert isinstance(error, ItemTableError) and isinstance(error, ValueError)
    assert error.column == column
    assert [(f.column, f.known) for f in error.look_alikes] == [(column, meant)]
    assert f"是否应为 {meant}？" in str(error)


def test_the_enemy_group_message_reads_in_chinese_with_english_names() -> None:
    with pytest.raises(LookAlikeColumn, match="题目表的列 enemy_group 未识别，是否应为 enemy_groups？"):
        check_columns(["item_id", "enemy_group"], ITEM_TABLE_COLUMNS)


def test_every_look_alike_is_named_at_once() -> None:
    with pytest.raises(LookAlikeColumn) as caught:
        check_columns(["item_id", "enemy_group", "note", "pionts"], ITEM_TABLE_COLUMNS)
    assert [(f.column, f.known) for f in caught.value.look_alikes] == [("enemy_group", "enemy_groups"),
                                                                       ("pionts", "points")]
    assert caught.value.column == "enemy_group"


@pytest.mark.parametrize("column", ["note", "notes", "备注", "comment", "remark", "source", "version", "se_a",
                                    "theta", "model", "author", "difficulty_rating", "b2", "p",
                                    "exposure_rate", "points_max", "element_name", "set_id_old"])
def test_a_column_unlike_any_known_one_is_a_warning(column: str) -> None:
    warnings = check_columns([*ITEM_TABLE_COLUMNS, column], ITEM_TABLE_COLUMNS, table="测试表")
    assert warnings == [UnknownColumn(column, "测试表")]
    assert str(warnings[0]) == f"测试表的列 {column} 未识别，已忽略"


def test_known_columns_raise_nothing() -> None:
    assert check_columns(ITEM_TABLE_COLUMNS, ITEM_TABLE_COLUMNS) == []
    assert check_columns([], ITEM_TABLE_COLUMNS) == []


@pytest.mark.parametrize("table", [synthetic_bank(40, rng=1), synthetic_cat_pool(40, rng=1)],
                         ids=["synthetic_bank", "synthetic_cat_pool"])
def test_the_shared_generators_write_only_known_columns(table: pd.DataFrame) -> None:
    assert check_columns(table.columns, ITEM_TABLE_COLUMNS) == []


def test_a_misspelt_enemy_column_no_longer_drops_the_enemies(bank: pd.DataFrame) -> None:
    """The bug: an ``enemy_group`` column was ignored, so enemies could share a paper."""
    misspelt = bank.rename(columns={"enemy_groups": "enemy_group"})
    with pytest.raises(LookAlikeColumn, match="enemy_groups"):
        normalise_items(misspelt)
    with pytest.raises(LookAlikeColumn):
        eligible_pool(misspelt, load_spec(small_spec()))


def test_an_unknown_column_is_still_ignored_by_the_core(bank: pd.DataFrame) -> None:
    table = normalise_items(bank.assign(note="待复核"))
    assert len(table) == len(bank)


def test_a_look_alike_of_a_required_column_is_named_before_the_missing_one(bank: pd.DataFrame) -> None:
    with pytest.raises(LookAlikeColumn, match="是否应为 points"):
        normalise_items(bank.rename(columns={"points": "Points"}))


def _variant(name: str, upper: bool, separator: str, plural: bool) -> str:
    text = name.upper() if upper else name
    text = text.replace("_", separator)
    return text + "s" if plural and not name.endswith("s") else text


@given(st.sampled_from([c for c in ITEM_TABLE_COLUMNS if len(c) > 3]), st.booleans(),
       st.sampled_from(["_", " ", "-", "", "."]), st.booleans())
def test_case_separator_and_plural_variants_resemble_their_column(name: str, upper: bool, separator: str,
                                                                  plural: bool) -> None:
    variant = _variant(name, upper, separator, plural)
    assert resembled(variant, ITEM_TABLE_COLUMNS) == name
