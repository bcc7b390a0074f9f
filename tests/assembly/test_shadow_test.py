"""The shadow test: every re-solve meets every rule, holds what was given, prices out ineligible
items without ever becoming infeasible; and the spec scaled to the CAT's length."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assembly import InfeasibleSpec, SpecError, load_spec, verify
from assembly.information import probability
from assembly.scaled_spec import apportion, scale_spec
from assembly.shadow_test import ShadowTest
from assembly.synthetic_pool import CAT_SPEC, synthetic_cat_pool
from tests.assembly.conftest import small_spec


@pytest.fixture(scope="module")
def pool() -> pd.DataFrame:
    """300 items, a third 3PL, 20 enemy pairs and 6 item sets."""
    return synthetic_cat_pool(300, rng=11, share_3pl=0.3, n_enemy_pairs=20, n_sets=6)


def run_session(shadow: ShadowTest, true_theta: float, seed: int,
                ineligible: np.ndarray | None = None) -> tuple[list[str], list[list[str]]]:
    """A whole test with answers drawn at ``true_theta`` and a crude running θ̂: the items given
    and every shadow test."""
    rng = np.random.default_rng(seed)
    table = shadow.table.set_index("item_id")
    given: list[str] = []
    shadows: list[list[str]] = []
    theta = 0.0
    while len(given) < shadow.length:
        penalty = None if ineligible is None else shadow.penalty(theta, ineligible)
        choice = shadow.select(theta, given, penalty)
        assert choice.item_id in choice.shadow and choice.item_id not in given
        assert set(given) <= set(choice.shadow) and len(choice.shadow) == shadow.length
        row = table.loc[choice.item_id]
        correct = rng.random() < probability([row["a"]], [row["b"]], [row["c"]], [true_theta])[0, 0]
        theta += (0.6 if correct else -0.6) / np.sqrt(len(given) + 1)
        given.append(choice.item_id)
        shadows.append(choice.shadow)
    return given, shadows


def broken(items: pd.DataFrame, shadow: ShadowTest, ids: list[str]) -> list[str]:
    report = verify(items, shadow.spec, {"main-1": ids})
    return report.loc[~report["ok"], "constraint"].tolist()


def test_a_whole_test_meets_every_rule_and_equals_its_last_shadow_test(pool: pd.DataFrame) -> None:
    shadow = ShadowTest(pool, small_spec(cat={"length": 20}))
    for true_theta, seed in [(-1.5, 1), (0.3, 2), (2.0, 3)]:
        given, shadows = run_session(shadow.fresh(), true_theta, seed)
        assert len(set(given)) == len(given) == 20
        assert sorted(given) == sorted(shadows[-1])
        assert broken(pool, shadow, given) == []
        assert all(broken(pool, shadow, s) == [] for s in shadows[::5])


def test_an_item_set_once_started_is_finished_first(pool: pd.DataFrame) -> None:
    shadow = ShadowTest(pool, small_spec(cat={"length": 20}))
    sets = shadow.table.set_index("item_id")["set_id"]
    runs = [run_session(shadow.fresh(), theta, seed)[0] for theta, seed in [(-1, 4), (0, 5), (1, 6)]]
    seen = 0
    for items in runs:
        labels = [sets[i] for i in items]
        for k, label in enumerate(labels):
            if label is not None and (k == 0 or labels[k - 1] != label):
                run = labels[k:k + (sets == label).sum()]
                assert run == [label] * len(run)
                seen += 1
    assert seen > 0


def test_ineligible_items_are_left_out_while_the_rules_allow(pool: pd.DataFrame) -> None:
    shadow = ShadowTest(pool, small_spec(cat={"length": 20}))
    rng = np.random.default_rng(8)
    ineligible = rng.random(len(shadow.table)) < 0.3
    given, _ = run_session(shadow.fresh(), 0.5, 9, ineligible)
    barred = set(shadow.table["item_id"][ineligible])
    assert not barred & set(given)
    everything = np.ones(len(shadow.table), dtype=bool)
    nothing_eligible, _ = run_session(shadow.fresh(), 0.5, 9, everything)
    assert broken(pool, shadow, nothing_eligible) == []


def test_a_fresh_copy_chooses_exactly_as_a_new_build(pool: pd.DataFrame) -> None:
    spec = small_spec(cat={"length": 15})
    first = ShadowTest(pool, spec)
    run_session(first, 0.0, 10)
    assert run_session(first.fresh(), 1.0, 11) == run_session(ShadowTest(pool, spec), 1.0, 11)


def test_a_held_item_outside_the_pool_is_named(pool: pd.DataFrame) -> None:
    shadow = ShadowTest(pool, small_spec(cat={"length": 15}))
    with pytest.raises(ValueError, match="NOPE"):
        shadow.select(0.0, ["NOPE"])


def test_a_pool_that_cannot_fill_the_test_names_the_rule(pool: pd.DataFrame) -> None:
    spec = small_spec(blueprint=[{"node": "F", "min_count": 18}], cat={"length": 30})
    with pytest.raises(InfeasibleSpec) as caught:
        ShadowTest(pool.assign(element=pool["element"].str.replace("F-", "E-")), spec)
    assert any("F" in c for c in caught.value.constraints)


def test_scaling_keeps_shares_and_widens_only_for_granularity() -> None:
    spec = load_spec(CAT_SPEC)
    half = scale_spec(spec, 30)
    assert [s.count for s in half.sections] == [20, 5, 5]
    assert half.total_points == pytest.approx(50.0)
    assert [r.weight for r in half.blueprint] == [r.weight for r in spec.blueprint]
    assert [r.tolerance for r in half.blueprint] == [1.0] * 6
    assert half.forms.main == 1 and half.forms.backup == 0 and half.information is None
    short = scale_spec(spec, 10)
    assert sum(s.count for s in short.sections) == 10
    assert min(r.tolerance for r in short.blueprint) == pytest.approx(0.75)  # half of 1.5 points
    same = scale_spec(spec, 60)
    assert same.sections == spec.sections and same.blueprint == spec.blueprint


def test_scaled_count_rules_become_the_ranges_rounding_forces() -> None:
    spec = load_spec(small_spec(blueprint=[{"node": "A", "count": 6}, {"node": "B", "min_count": 5},
                                           {"node": "C", "max_count": 5}], max_per_element=3))
    scaled = scale_spec(spec, 20)  # two thirds of 30
    a, b, c = scaled.blueprint
    assert (a.count, a.min_count, a.max_count) == (4, None, None)
    assert (b.min_count, c.max_count) == (3, 4)
    assert scaled.max_per_element == 2
    odd = scale_spec(spec, 22)  # 6 x 22/30 = 4.4 items
    assert (odd.blueprint[0].count, odd.blueprint[0].min_count, odd.blueprint[0].max_count) == (None, 4, 5)
    assert apportion(7, [3, 3, 1]) == [3, 3, 1] and sum(apportion(11, [20, 5, 5])) == 11


def test_a_section_with_its_own_points_cannot_be_scaled() -> None:
    spec = load_spec(small_spec(sections=[{"type": "single_choice", "count": 20, "total": 30},
                                          {"type": "multiple_choice", "count": 10, "points": 2}],
                                blueprint=[]))
    with pytest.raises(SpecError) as caught:
        scale_spec(spec, 15)
    assert caught.value.field == "sections[0].total"


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(weights=st.lists(st.integers(5, 30), min_size=6, max_size=6),
       tolerance=st.sampled_from([1.0, 2.0, 4.0]), share=st.integers(0, 70),
       length=st.integers(8, 25), per_element=st.sampled_from([None, 2, 3]),
       theta=st.floats(-2.5, 2.5), seed=st.integers(0, 10_000))
def test_random_specs_give_tests_without_violations(pool: pd.DataFrame, weights: list[int],
                                                    tolerance: float, share: int, length: int,
                                                    per_element: int | None, theta: float,
                                                    seed: int) -> None:
    """Whatever the rules: either building names a conflict, or every test meets them all."""
    scaled = [w * 100 / sum(weights) for w in weights]
    spec = small_spec(blueprint=[{"node": m, "weight": w, "tolerance": tolerance}
                                 for m, w in zip("ABCDEF", scaled, strict=True)],
                      importance=[{"levels": ["X"], "min_share": share}],
                      max_per_element=per_element, cat={"length": length})
    try:
        shadow = ShadowTest(pool, spec)
    except InfeasibleSpec:
        return
    given, _ = run_session(shadow, theta, seed)
    assert len(set(given)) == length
    assert broken(pool, shadow, given) == []
