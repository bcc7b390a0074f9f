"""LOFT: every paper valid, TCCs within tolerance of the reference (recomputed here from a, b, c),
exposure and overlap within their limits, and a short bank named before solving."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assembly import assemble_loft, load_spec, loft_solver, verify_loft
from assembly.synthetic import synthetic_bank

SPEC = {
    "name": "loft", "total_points": 100,
    "sections": [{"type": "single_choice", "count": 20, "points": 3},
                 {"type": "multiple_choice", "count": 10, "points": 4}],
    "blueprint": [{"node": m, "weight": w, "tolerance": 6}
                  for m, w in zip("ABCDEF", [15, 20, 20, 20, 15, 10], strict=True)],
    "solver": {"time_limit": 10},
}


@pytest.fixture(scope="module")
def loft() -> tuple:
    bank = synthetic_bank(600, rng=3)
    return bank, assemble_loft(bank, SPEC, 12, seed=5)


def test_every_paper_is_valid_and_score_equivalent(loft: tuple) -> None:
    bank, result = loft
    assert result.ok and len(result.forms) == 12
    assert result.attainment["ok"].all()
    spec = load_spec(SPEC)
    rows = bank.set_index("item_id")
    theta = result.reference.theta
    for form in result.forms:
        paper = rows.loc[form.item_ids]
        assert len(set(form.item_ids)) == len(form.item_ids) == 30
        points = paper["type"].map({"single_choice": 3.0, "multiple_choice": 4.0}).to_numpy()
        p = 1 / (1 + np.exp(-paper["a"].to_numpy()[:, None] * (theta[None, :] - paper["b"].to_numpy()[:, None])))
        tcc = (p * points[:, None]).sum(axis=0)
        assert np.all(np.abs(tcc - result.reference.tcc) <= spec.equivalence.tolerance + 1e-6)
        groups = [g for text in paper["enemy_groups"] for g in text.split(";") if g]
        assert len(groups) == len(set(groups))


def test_exposure_and_overlap_hold(loft: tuple) -> None:
    _, result = loft
    uses = result.exposure["uses"].to_numpy()
    assert uses.max() <= np.floor(0.25 * 12)
    assert result.max_exposure <= 0.25
    assert result.mean_overlap <= 0.15
    assert len({tuple(sorted(f.item_ids)) for f in result.forms}) == 12


def test_same_seed_same_papers() -> None:
    bank = synthetic_bank(600, rng=3)
    first = assemble_loft(bank, SPEC, 4, seed=9)
    again = assemble_loft(bank, SPEC, 4, seed=9)
    assert [f.item_ids for f in first.forms] == [f.item_ids for f in again.forms]


def test_short_bank_named_before_solving() -> None:
    bank = synthetic_bank(150, rng=1)
    result = assemble_loft(bank, SPEC, 40, seed=0)
    assert result.status == "infeasible" and not result.forms
    assert any("short by" in sentence for sentence in result.diagnosis)


def test_full_model_takes_over_when_the_short_list_yields_no_paper(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """No time for the short list: every paper after the first comes from the full model (its
    item bounds restored), and the papers still meet every rule."""
    monkeypatch.setattr(loft_solver, "SHORTLIST_SECONDS", 0.0)
    result = assemble_loft(synthetic_bank(600, rng=3), SPEC, 4, seed=2)
    assert result.ok and len(result.forms) == 4
    assert result.attainment["ok"].all()


def test_rules_the_cap_cannot_meet_together_are_named_before_solving() -> None:
    """Each rule alone has the items (the count pre-check passes), but a most-informative
    reference has a steep TCC that only the most discriminating items match: 20 papers with each
    item in at most 5 of them cannot all match it, whichever papers are chosen. The session is
    refused before any paper, naming the TCC band and the least cap that would do."""
    spec = {**SPEC, "information": {"objective": "maximin", "theta": [-1.0, 0.0, 1.0]}}
    result = assemble_loft(synthetic_bank(300, rng=3), spec, 20, seed=5)
    assert result.status == "infeasible" and not result.forms and not result.paper_seconds
    assert any(group.startswith("tcc[") for group in result.conflicts)
    assert "max_exposure ≥ 0.35" in result.message


@settings(max_examples=6, deadline=None)
@given(weights=st.lists(st.integers(5, 30), min_size=6, max_size=6),
       tolerance=st.sampled_from([3.0, 6.0]), share=st.integers(0, 60),
       per_element=st.sampled_from([None, 2, 3]), max_exposure=st.sampled_from([0.25, 0.5]),
       candidates=st.integers(4, 8), seed=st.integers(0, 10_000))
def test_random_specs_give_papers_without_violations(weights: list[int], tolerance: float,
                                                     share: int, per_element: int | None,
                                                     max_exposure: float, candidates: int,
                                                     seed: int) -> None:
    """Whatever the rules: either the session is refused with a named reason, or every paper
    passes the independent verifier (content rules, TCC band, exposure, overlap, distinctness)."""
    scaled = [w * 100 / sum(weights) for w in weights]
    spec = {**SPEC, "blueprint": [{"node": m, "weight": w, "tolerance": tolerance}
                                  for m, w in zip("ABCDEF", scaled, strict=True)],
            "importance": [{"levels": ["X"], "min_share": share}],
            "max_per_element": per_element, "loft": {"max_exposure": max_exposure}}
    bank = synthetic_bank(600, rng=3)
    result = assemble_loft(bank, spec, candidates, seed=seed)
    if not result.ok:
        assert result.status in ("infeasible", "not_solved") and result.message
        return
    assert result.reference is not None and len(result.forms) == candidates
    report = verify_loft(bank, spec, result.forms, result.reference)
    assert report["ok"].all(), report[~report["ok"]]
