"""The sample bank is deterministic, complete, importable as exchange records and rich enough to assemble from."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr

from assembly import assemble
from assembly.bank import normalise_items
from assembly.information import item_information
from assembly.spec import load_spec
from itembank.blueprint import parse_blueprint
from itembank.errors import ValidationError
from itembank.records import RowProblem, validate_rows
from itembank.sample_bank import (
    DATA_DIR,
    ITEM_COLUMNS,
    MIN_ITEMS_PER_ELEMENT,
    TRUTH_COLUMNS,
    TYPE_MIX,
    SampleBank,
    generate_sample_bank,
    load_blueprint_file,
    shipped_blueprint_path,
)

N_ITEMS = 3000
SEED = 7


@pytest.fixture(scope="module")
def level3() -> dict[str, Any]:
    return load_blueprint_file(shipped_blueprint_path(3))


@pytest.fixture(scope="module")
def bank(level3: dict[str, Any]) -> SampleBank:
    return generate_sample_bank(level3, N_ITEMS, SEED)


@pytest.fixture(scope="module")
def importance(level3: dict[str, Any]) -> dict[str, str | None]:
    return {e.code: e.importance for e in parse_blueprint(level3).elements()}


def _import_problems(bank: SampleBank) -> list[RowProblem]:
    """What the bank's import would refuse; rows go in as generated (absent text is None, never NaN)."""
    return validate_rows(enumerate(bank.items.to_dict("records"), start=1))[1]


def test_the_bank_knows_each_elements_importance(bank: SampleBank, importance: dict[str, str | None]) -> None:
    assert bank.importance == importance


def test_same_seed_same_bank_and_another_seed_another(level3: dict[str, Any], bank: SampleBank) -> None:
    again = generate_sample_bank(level3, N_ITEMS, SEED)
    pd.testing.assert_frame_equal(again.items, bank.items)
    pd.testing.assert_frame_equal(again.truth, bank.truth)
    other = generate_sample_bank(level3, N_ITEMS, SEED + 1)
    assert (other.items["key"].fillna("") != bank.items["key"].fillna("")).mean() > 0.3
    assert not np.allclose(other.truth["a"], bank.truth["a"])


def test_counts_columns_and_unique_ids(bank: SampleBank) -> None:
    assert list(bank.items.columns) == ITEM_COLUMNS
    assert list(bank.truth.columns) == TRUTH_COLUMNS
    assert len(bank.items) == len(bank.truth) == N_ITEMS
    assert bank.items["external_id"].is_unique
    assert (bank.truth["external_id"] == bank.items["external_id"]).all()
    assert bank.items["external_id"].str.match(r"^L3-[A-H]-[A-Z]-\d{3}-\d{4}$").all()


def test_type_mix_is_a_theory_bank(bank: SampleBank) -> None:
    shares = bank.items["type"].value_counts(normalize=True)
    for kind, share in TYPE_MIX.items():
        assert shares.get(kind, 0.0) == pytest.approx(share, abs=0.005), kind
    assert shares[["single_choice", "multiple_choice"]].sum() == pytest.approx(0.85, abs=0.01)


def test_every_element_has_at_least_the_minimum(bank: SampleBank, importance: dict[str, str | None]) -> None:
    per_element = bank.items["element"].value_counts()
    assert set(per_element.index) == set(importance)
    assert per_element.min() >= MIN_ITEMS_PER_ELEMENT


def test_module_shares_track_the_blueprint_weights(bank: SampleBank, level3: dict[str, Any]) -> None:
    """The per-element floor tilts small modules up a little; within 1.5 percentage points."""
    shares = bank.items["element"].str[0].value_counts(normalize=True) * 100
    for module in level3["nodes"]:
        assert shares[module["code"]] == pytest.approx(module["weight"], abs=1.5), module["code"]


def test_keys_fit_options_and_types(bank: SampleBank) -> None:
    items = bank.items
    for row in items.itertuples():
        if row.type == "single_choice":
            assert sorted(row.options) == list("ABCD") and len(row.key) == 1 and row.key in row.options
            assert row.points == 1
        elif row.type == "multiple_choice":
            assert sorted(row.options) == list("ABCDE") and 2 <= len(row.key) <= 5
            assert set(row.key) <= set(row.options) and row.key == "".join(sorted(row.key))
            assert row.points == 2
        elif row.type == "true_false":
            assert row.options is None and row.key in ("T", "F") and row.points == 1
        else:
            assert row.options is None and row.key is None and 10 <= row.points <= 20
            assert row.rubric.startswith(f"评分要点（共{row.points:g}分）")
        assert (row.rubric is None) == (row.type in ("single_choice", "multiple_choice", "true_false"))
    single_keys = items.loc[items["type"] == "single_choice", "key"].value_counts(normalize=True)
    assert single_keys.between(0.2, 0.3).all()


def test_stems_name_their_element(bank: SampleBank, level3: dict[str, Any]) -> None:
    names = {e.code: e.name for e in parse_blueprint(level3).elements()}
    pairs = zip(bank.items["stem"], bank.items["element"], strict=True)
    assert all(stem.startswith(f"【{names[code]}】") for stem, code in pairs)
    assert bank.items["stem"].nunique() > 0.9 * N_ITEMS


def test_every_record_passes_the_import_validation(bank: SampleBank) -> None:
    records, problems = validate_rows(enumerate(bank.items.to_dict("records"), start=1))
    assert problems == [] and len(records) == N_ITEMS
    assert records[0][1].model_dump()["stem"] == bank.items["stem"].iloc[0]


def test_item_sets_are_whole_and_share_a_stimulus(bank: SampleBank) -> None:
    members = bank.items[bank.items["set_id"].notna()]
    assert 0.02 <= len(members) / N_ITEMS <= 0.10
    for set_id, group in members.groupby("set_id"):
        assert 3 <= len(group) <= 5, set_id
        assert group["element"].nunique() == 1 and group["type"].nunique() == 1, set_id
        assert group["stimulus"].nunique() == 1 and group["stimulus"].iloc[0].startswith("【案例材料】"), set_id
    assert bank.items.loc[bank.items["set_id"].isna(), "stimulus"].isna().all()


def test_enemies_are_pairs_of_twins_outside_sets(bank: SampleBank) -> None:
    flagged = bank.items[bank.items["enemy_groups"].map(len) > 0]
    assert len(flagged) / N_ITEMS == pytest.approx(0.02, abs=0.005)
    assert flagged["set_id"].isna().all()
    groups = flagged.explode("enemy_groups").groupby("enemy_groups")
    assert (groups.size() == 2).all()
    assert (groups["element"].nunique() == 1).all() and (groups["type"].nunique() == 1).all()


def test_true_parameters_are_plausible(bank: SampleBank) -> None:
    truth = bank.truth.set_index(bank.items["type"])
    expected = {"single_choice": "3PL", "multiple_choice": "2PL", "true_false": "2PL"}
    assert (truth["model"] == [expected.get(t, "GRM") for t in truth.index]).all()
    assert truth["a"].between(0.35, 2.5).all() and truth["a"].median() == pytest.approx(1.0, abs=0.1)
    assert truth["b"].between(-3.0, 3.0).all() and truth["b"].mean() == pytest.approx(0.0, abs=0.1)
    guessing = truth.loc[truth["model"] == "3PL", "c"]
    assert guessing.between(0.05, 0.35).all() and guessing.mean() == pytest.approx(0.2, abs=0.02)
    assert truth.loc[truth["model"] != "3PL", "c"].isna().all()
    graded = truth[truth["model"] == "GRM"]
    steps = np.array(graded["thresholds"].tolist())
    assert steps.shape == (len(graded), 4) and (np.diff(steps, axis=1) >= 0).all()
    assert np.allclose(steps.mean(axis=1), graded["b"])
    assert truth.loc[truth["model"] != "GRM", "thresholds"].isna().all()


def test_writer_difficulty_tracks_true_difficulty(bank: SampleBank) -> None:
    assert bank.items["difficulty"].between(1, 5).all()
    rho = spearmanr(bank.items["difficulty"], bank.truth["b"]).statistic
    assert 0.5 <= rho <= 0.9


def test_supply_covers_six_disjoint_papers_of_the_level3_spec(bank: SampleBank,
                                                              importance: dict[str, str | None]) -> None:
    """Per module and section type, core (X) items outside sets outnumber what six papers could take at the
    upper tolerance; a bank with that headroom leaves the assembler room to balance information too."""
    spec = load_spec(DATA_DIR / "specs" / "hr-manager-l3-theory.yaml")
    papers = spec.forms.main + spec.forms.backup
    items = bank.items[(bank.items["set_id"].isna()) & (bank.items["element"].map(importance) == "X")]
    supply = items.groupby([items["element"].str[0], "type"]).size()
    for rule in spec.blueprint:
        assert rule.weight is not None
        for section in spec.sections:
            assert section.points is not None
            share = (rule.weight + rule.tolerance) / 100
            demand = papers * section.count * share
            assert supply.get((rule.node, section.type), 0) >= 2 * demand, (rule.node, section.type)


def test_item_table_is_what_the_assembly_core_reads(bank: SampleBank) -> None:
    table = normalise_items(bank.item_table())
    assert len(table) == N_ITEMS
    assert table["importance"].isin(["X", "Y", "Z"]).all()
    paired = table[table["enemy_groups"] != ""]
    assert len(paired) == (bank.items["enemy_groups"].map(len) > 0).sum()
    assert (paired["enemy_groups"].str.count(";") == 0).all()
    graded = (bank.truth["model"] == "GRM").to_numpy()
    assert table.loc[graded, ["a", "b", "c"]].isna().all().all()
    assert np.allclose(table.loc[~graded, "a"], bank.truth.loc[~graded, "a"])
    information = item_information(table["a"], table["b"], table["c"], [0.0])
    assert (information[~graded] > 0).all() and (information[graded] == 0).all()


@settings(max_examples=15, deadline=None)
@given(n_items=st.integers(min_value=145, max_value=2500), seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_any_size_and_seed_gives_a_complete_valid_bank(level3: dict[str, Any], n_items: int, seed: int) -> None:
    bank = generate_sample_bank(level3, n_items, seed)
    assert len(bank.items) == n_items and bank.items["external_id"].is_unique
    assert bank.items["element"].nunique() == len(bank.importance)
    assert _import_problems(bank) == []
    sizes = bank.items.groupby("set_id").size()
    assert sizes.between(3, 5).all()
    enemies = bank.items["enemy_groups"].explode().dropna().value_counts()
    assert (enemies == 2).all()


@pytest.mark.slow
def test_the_level3_spec_assembles_six_disjoint_verified_papers(bank: SampleBank) -> None:
    """The real check of supply: HiGHS finds 4 main + 2 backup papers within the time limit (the first incumbent comes
    after about 0.5 s) and the independent verifier passes every rule (blueprint ±2, X ≥ 70 %, zero overlap,
    enemies, sets, parallel band)."""
    spec = load_spec(DATA_DIR / "specs" / "hr-manager-l3-theory.yaml")
    spec = spec.model_copy(update={"solver": spec.solver.model_copy(update={"time_limit": 20, "gap": 0.02})})
    result = assemble(bank.item_table(), spec)
    assert result.ok, result.message
    assert result.attainment["ok"].all()
    assert [f.name for f in result.forms] == ["main-1", "main-2", "main-3", "main-4", "backup-1", "backup-2"]
    assert len({item for form in result.forms for item in form.item_ids}) == 6 * 80


@pytest.mark.parametrize("level", [4, 2, 1])
def test_every_level_generates_an_importable_bank(level: int) -> None:
    bank = generate_sample_bank(load_blueprint_file(shipped_blueprint_path(level)), 1200, 3)
    assert len(bank.items) == 1200 and bank.level == level
    assert bank.items["external_id"].str.startswith(f"L{level}-").all()
    assert _import_problems(bank) == []


def test_generation_is_fast(level3: dict[str, Any]) -> None:
    start = time.perf_counter()
    generate_sample_bank(level3, N_ITEMS, 11)
    assert time.perf_counter() - start < 1.0


def test_too_small_a_bank_is_refused(level3: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as caught:
        generate_sample_bank(level3, 50, SEED)
    assert caught.value.field == "n_items"


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        shipped_blueprint_path(5)
    assert caught.value.field == "level"
