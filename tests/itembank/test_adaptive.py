"""Shadow-test CAT sessions against known truth: θ recovery, exposure control that holds, resume
from the log alone, refusal of tampered logs, stopping rules and the pool's sealed form."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from assembly.information import probability
from assembly.synthetic_pool import synthetic_cat_pool
from itembank.adaptive import CatPool, CatSession, TamperedLog, simulate_cat
from itembank.errors import Conflict, IntegrityFailure, ValidationError
from tests.assembly.conftest import small_spec

LENGTH = 15


@pytest.fixture(scope="module")
def items() -> pd.DataFrame:
    return synthetic_cat_pool(300, rng=21, share_3pl=0.4, n_enemy_pairs=20, n_sets=4)


@pytest.fixture(scope="module")
def pool(items: pd.DataFrame) -> CatPool:
    """The 30-item, 50-point small spec as the reference paper; CATs of 15 items."""
    return CatPool.build(items, small_spec(cat={"length": LENGTH, "max_exposure": 0.3}), seed=5)


def answers_for(theta: float, seed: int):
    """A fixed answer per item, drawn once from its 3PL curve at ``theta``."""
    rng = np.random.default_rng(seed)
    fixed: dict[str, int] = {}

    def answer(session: CatSession, item_id: str) -> int:
        if item_id not in fixed:
            p = probability(*[[v] for v in session.item_parameters(item_id)], [theta])[0, 0]
            fixed[item_id] = int(rng.random() < p)
        return fixed[item_id]

    return answer


def run(session: CatSession, answer) -> CatSession:
    while not session.finished:
        item = session.next_item()
        session.record(item, answer(session, item))
    return session


def test_theta_is_recovered_and_no_item_repeats(pool: CatPool) -> None:
    """40 simulees x 15 items: θ̂ RMSE about 0.35 against the truth, the mean SE close to it."""
    rng = np.random.default_rng(3)
    truth = rng.normal(size=40)
    outcome = simulate_cat(pool, truth, rng)
    sessions = outcome.sessions
    error = float(np.sqrt(np.mean((sessions["theta"] - truth) ** 2)))
    assert error <= 0.45
    assert sessions["se"].mean() == pytest.approx(error, rel=0.3)
    assert (sessions["length"] == LENGTH).all()
    assert not outcome.choices.duplicated(["candidate_id", "item_id"]).any()
    assert outcome.violations().empty
    reported = sessions["score"].to_numpy()
    assert np.array_equal(np.argsort(reported), np.argsort(sessions["theta"].to_numpy()))
    assert (sessions["passed"] == (sessions["score"] >= 60)).all()


EXPOSURE_SPEC = {
    "name": "exposure", "total_points": 50,
    "sections": [{"type": "single_choice", "count": 16, "points": 2.5},
                 {"type": "multiple_choice", "count": 4, "points": 2.5}],
    "blueprint": [{"node": m, "weight": w, "tolerance": 5}
                  for m, w in zip("ABCDEF", [15, 20, 20, 20, 15, 10], strict=True)],
    "cat": {"length": 8, "max_exposure": 0.3},
}


def test_exposure_control_holds_r_max_where_an_uncontrolled_cat_does_not() -> None:
    """150 items, 8-item CATs. Uncontrolled, the best items at θ̂ = 0 go to nearly everyone.
    Learning, no item goes to more than r_max + 0.01 of 250 simulees, nor to more than
    r_max + 1/n of the n simulees whose θ̂ visited a segment (for segments n ≥ 25 visited),
    unless the rules forced it; the sealed probabilities then keep a new cohort's rates within
    sampling error (r_max + 0.1) of r_max."""
    pool = CatPool.build(synthetic_cat_pool(150, rng=8, n_enemy_pairs=10), EXPOSURE_SPEC, seed=1)
    r_max = pool.spec.cat.max_exposure
    rng = np.random.default_rng(4)
    free = simulate_cat(pool, rng.normal(size=40), rng, exposure_control="none")
    assert free.summary()["max_exposure"] > 0.8
    held = simulate_cat(pool, rng.normal(size=250), rng)
    summary = held.summary()
    assert summary["exposure_control"] == "learn" and "Sympson-Hetter" in summary["method"]
    assert summary["forced_choices"] == 0
    assert summary["max_exposure"] <= r_max + 0.01
    segments = held.exposure[(held.exposure["segment"] != "all") & (held.exposure["candidates"] >= 25)]
    assert (segments["rate"] <= r_max + 1 / segments["candidates"]).all()
    sealed = simulate_cat(pool.with_eligibility(held.eligibility), rng.normal(size=100), rng,
                          exposure_control="sealed")
    assert sealed.summary()["max_exposure"] <= r_max + 0.1


def test_a_session_resumed_at_any_point_makes_the_same_choices(pool: CatPool) -> None:
    answer = answers_for(0.7, seed=12)
    whole = run(CatSession(pool, "cand-17"), answer)
    for k in range(len(whole.log) + 1):
        resumed = run(CatSession.resume(pool, "cand-17", whole.log[:k]), answer)
        assert resumed.log == whole.log


def test_a_tampered_log_is_refused_naming_the_entry(pool: CatPool) -> None:
    log = run(CatSession(pool, "cand-3"), answers_for(-0.4, seed=2)).log
    other = next(i for i in pool.item_ids if i not in {e["item_id"] for e in log})
    cases = [(4, "item_id", other, "log[4].item_id"), (6, "theta", log[6]["theta"] + 0.01, "log[6].theta"),
             (2, "score", 1 - log[2]["score"], "log[2].theta"), (3, "position", 9, "log[3].position")]
    for k, name, value, where in cases:
        forged = [dict(e) for e in log]
        forged[k][name] = value
        with pytest.raises(TamperedLog) as caught:
            CatSession.resume(pool, "cand-3", forged)
        assert caught.value.field == where
    with pytest.raises(ValidationError) as missing:
        CatSession.resume(pool, "cand-3", [{"position": 1, "item_id": log[0]["item_id"]}])
    assert missing.value.field == "log[0].score"


def test_the_session_refuses_answers_out_of_turn(pool: CatPool) -> None:
    session = CatSession(pool, "cand-9")
    first = session.next_item()
    assert session.next_item() == first
    other = next(i for i in pool.item_ids if i != first)
    with pytest.raises(ValidationError) as wrong_item:
        session.record(other, 1)
    assert wrong_item.value.field == "item_id"
    with pytest.raises(ValidationError) as wrong_score:
        session.record(first, 2)
    assert wrong_score.value.field == "score"
    run(session, answers_for(0.0, seed=1))
    with pytest.raises(Conflict):
        session.next_item()


def test_the_se_target_stops_between_min_length_and_length(items: pd.DataFrame, pool: CatPool) -> None:
    early = CatPool(items, small_spec(cat={"length": 25, "se_target": 0.42, "min_length": 8}),
                    pool.reference, seed=5)
    lengths = []
    for k, theta in enumerate([-2.0, -0.5, 0.0, 0.5, 2.5]):
        session = run(CatSession(early, f"c{k}"), answers_for(theta, seed=k))
        assert 8 <= len(session.log) <= 25
        assert session.se <= 0.42 or len(session.log) == 25
        lengths.append(len(session.log))
    assert min(lengths) < 25


def test_the_sealed_form_rebuilds_the_same_pool(pool: CatPool) -> None:
    learned = simulate_cat(pool, np.zeros(5), np.random.default_rng(0)).eligibility
    document = json.loads(json.dumps(pool.with_eligibility(learned).to_dict()))
    loaded = CatPool.from_dict(document)
    assert loaded.eligibility.to_dict() == learned.to_dict()
    answer = answers_for(1.1, seed=4)
    original = run(CatSession(pool.with_eligibility(learned), "cand-5"), answer)
    assert run(CatSession(loaded, "cand-5"), answer).log == original.log
    assert loaded.percent(0.3) == pytest.approx(pool.percent(0.3), abs=1e-12)
    reference_item = document["reference"]["item_ids"][0]
    for record in document["items"]:
        if record["item_id"] == reference_item:
            record["b"] += 1.0
    with pytest.raises(IntegrityFailure) as caught:
        CatPool.from_dict(document)
    assert caught.value.field == "reference.pass_theta"


def test_the_reported_score_is_the_reference_tcc_crossing_the_pass_mark_at_its_theta(pool: CatPool) -> None:
    assert pool.percent(pool.reference.pass_theta) == pytest.approx(pool.spec.equivalence.pass_mark)
    assert pool.percent(-3.0) < pool.percent(0.0) < pool.percent(3.0)
