"""Decomposition for identical papers: the shadow's bound, the exchange, and verified papers."""

from __future__ import annotations

import time

import numpy as np
import pytest

from assembly import assemble, load_spec, verify
from assembly.bank import eligible_pool
from assembly.build import build_model
from assembly.decompose import decomposable, shadow_lp_bound, share_out, solve_shadow
from assembly.engine import forms_from_selection
from assembly.exchange import exchange
from assembly.fit import paper_caps
from assembly.solve import relaxation_bound
from assembly.warmstart import deal_subpools, warm_start
from tests.assembly.conftest import small_spec

LP_TOLERANCE = 1e-6


@pytest.mark.parametrize("band", [0.05, None])
def test_shadow_lp_bound_equals_the_full_models_root_lp_bound(bank, band):
    """The proof in assembly.decompose, checked: same LP optimum with N times fewer columns."""
    spec = load_spec(small_spec(information={"parallel_band": band}))
    pool = eligible_pool(bank, spec)
    full = relaxation_bound(build_model(pool, spec), spec.solver)
    shadow = shadow_lp_bound(pool, spec)
    assert full is not None and shadow is not None
    assert shadow == pytest.approx(full, rel=LP_TOLERANCE)


def test_shadow_bound_bounds_papers_from_the_full_model(bank):
    spec = load_spec(small_spec(solver={"decompose": False, "time_limit": 6}))
    result = assemble(bank, spec)
    shadow = solve_shadow(eligible_pool(bank, spec), spec, 4.0)
    assert result.ok and shadow is not None
    assert result.objective <= shadow.bound + 1e-6
    assert shadow.bound <= shadow.lp_bound + 1e-9


def test_decomposition_returns_verified_papers_within_its_bound(bank):
    spec = small_spec(forms={"main": 3, "backup": 1}, solver={"time_limit": 6})
    assert decomposable(load_spec(spec))
    result = assemble(bank, spec)
    assert result.ok, result.message
    assert result.message.startswith("decomposition")
    assert result.attainment["ok"].all()
    assert result.objective <= result.best_bound + 1e-9
    assert result.gap == pytest.approx((result.best_bound - result.objective) / result.objective)
    times = [t for t, _ in result.trajectory]
    values = [v for _, v in result.trajectory]
    assert times == sorted(times) and values == sorted(values)
    assert values[-1] == pytest.approx(result.objective)


@pytest.mark.parametrize("changes", [
    {"overlap": {"backup_main": 2}},
    {"include": ["I00001"]},
    {"information": {"objective": "target", "tif": [6, 7, 6], "parallel_band": None}},
    {"forms": {"main": 1, "backup": 0}},
])
def test_decomposition_only_where_the_shadow_is_a_relaxation(changes):
    assert not decomposable(load_spec(small_spec(**changes)))


def test_exchange_keeps_papers_valid_and_never_loses_information(bank):
    spec = load_spec(small_spec(forms={"main": 3, "backup": 0}))
    pool = eligible_pool(bank, spec)
    unbanded = load_spec(small_spec(forms={"main": 3, "backup": 0}, information={"parallel_band": None}))
    start = warm_start(pool, unbanded, 3.0)  # as the engine deals: the band is the exchange's to meet
    assert start is not None
    content = paper_caps(pool, spec)
    assert content.holds(start.astype(float) @ content.rows).all()
    shadow = solve_shadow(pool, spec, 2.0)
    assert shadow is not None
    clock = time.perf_counter()
    selection, trajectory = exchange(pool, spec, start, clock + 3.0, shadow.bound, clock)
    forms = forms_from_selection(pool, spec, selection)
    report = verify(bank, spec, {f.name: f.item_ids for f in forms})
    assert report["ok"].all(), report[~report["ok"]]
    values = [v for _, v in trajectory]
    assert values == sorted(values)
    tif = report[report["constraint"].str.startswith("information[")]
    assert tif["achieved"].min() == pytest.approx(values[-1])
    assert values[-1] <= shadow.bound + 1e-9
    assert not np.any(selection.sum(axis=0) > 1)


def test_item_set_holding_two_enemies_is_ruled_out(bank):
    set_id = bank["set_id"].dropna().iloc[0]
    members = bank.index[bank["set_id"] == set_id][:2]
    poisoned = bank.copy()
    poisoned.loc[members, "enemy_groups"] = "E99"
    pool = eligible_pool(poisoned, load_spec(small_spec()))
    assert set_id not in set(pool.table["set_id"].dropna())
    assert pool.removed["item set holds two enemies"] == int((bank["set_id"] == set_id).sum())


def test_mains_sharing_items_stay_within_the_limit_and_the_shadow_bound(bank):
    spec = small_spec(overlap={"main_main": 3}, forms={"main": 3, "backup": 1},
                      information={"parallel_band": None}, solver={"time_limit": 6})
    result = assemble(bank, spec)
    assert result.ok and result.message.startswith("decomposition"), result.message
    assert result.attainment["ok"].all()
    mains = [set(f.item_ids) for f in result.forms if f.role == "main"]
    backup = set(result.form("backup-1").item_ids)
    assert all(len(p & q) <= 3 for k, p in enumerate(mains) for q in mains[k + 1:])
    assert not backup & set().union(*mains)
    assert result.objective <= result.best_bound + 1e-9


def test_shadow_with_sharing_bounds_the_exact_pairs_model(bank):
    """The bound relaxes the exact pairwise rule, so papers from the pairs model respect it."""
    spec = load_spec(small_spec(overlap={"main_main": 3, "model": "pairs"},
                                forms={"main": 3, "backup": 0},
                                solver={"decompose": False, "time_limit": 8}))
    result = assemble(bank, spec)
    shadow = solve_shadow(eligible_pool(bank, spec), spec, 4.0)
    assert result.ok and shadow is not None
    assert result.objective <= shadow.bound + 1e-6


def test_deal_respects_pins_and_the_roles_the_shadow_chose(bank):
    spec = load_spec(small_spec(overlap={"main_main": 3}, forms={"main": 3, "backup": 1}))
    pool = eligible_pool(bank, spec)
    shadow = solve_shadow(pool, spec, 4.0)
    assert shadow is not None and len(shadow.roles) == 2
    pinned = share_out(pool, spec, shadow.main_uses)
    shared = pinned[:3].astype(int)
    assert (shared @ shared.T - np.diag(np.diag(shared @ shared.T))).max() <= 3
    dealt_to = shadow.dealt_to(spec)
    assert not dealt_to[3, shadow.uses[0] > 0].any()
    masks = deal_subpools(pool, spec, np.arange(len(pool.table), dtype=float),
                          np.random.default_rng(0), pinned, dealt_to)
    for f, mask in enumerate(masks):
        assert (pinned[f] <= mask).all()
        assert dealt_to[f, mask & ~pinned[f]].all()
    dealt = np.array(masks) & ~pinned
    assert dealt.sum(axis=0).max() <= 1
