"""Mantel–Haenszel DIF against a hand-computed table and on simulated uniform DIF."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calibration.dif import ets_class, mantel_haenszel, polytomous_dif
from calibration.errors import ResponseLogError
from calibration.irt import prob_grm
from calibration.simulate import simulate_dichotomous, to_long

N_ITEMS, N_PER_GROUP, DIF_ITEM = 25, 2000, 0


def _dif_log(seed: int = 9) -> pd.DataFrame:
    """Rasch items; the focal group is 0.5 lower on average (impact, not DIF) and item 0 is
    0.6 logits harder for it (uniform DIF)."""
    rng = np.random.default_rng(seed)
    b = np.linspace(-1.5, 1.5, N_ITEMS)
    b_focal = b.copy()
    b_focal[DIF_ITEM] += 0.6
    ones = np.ones(N_ITEMS)
    reference = simulate_dichotomous(rng.normal(0.0, 1.0, N_PER_GROUP), ones, b, 0.0, rng)
    focal = simulate_dichotomous(rng.normal(-0.5, 1.0, N_PER_GROUP), ones, b_focal, 0.0, rng)
    group = np.repeat(["ref", "foc"], N_PER_GROUP)
    return to_long(
        np.vstack([reference, focal]),
        np.arange(2 * N_PER_GROUP),
        [f"I{j:02d}" for j in range(N_ITEMS)],
        extra={"group": group},
    )


@pytest.fixture(scope="module")
def dif_log() -> pd.DataFrame:
    return _dif_log()


@pytest.mark.parametrize("purify", [False, True])
def test_uniform_dif_item_is_b_or_c_and_others_mostly_a(
    dif_log: pd.DataFrame, purify: bool
) -> None:
    table = mantel_haenszel(dif_log, reference="ref", focal="foc", purify=purify).set_index(
        "item_id"
    )
    studied = table.loc[f"I{DIF_ITEM:02d}"]
    assert studied["ets_class"] in {"B", "C"}
    assert studied["favours"] == "reference"
    # Rasch: ln alpha_MH estimates the logit shift 0.6, i.e. delta ≈ -1.41 (SE here ≈ 0.17).
    assert studied["delta_mh"] == pytest.approx(-2.35 * 0.6, abs=0.4)
    others = table.drop(index=f"I{DIF_ITEM:02d}")
    assert (others["ets_class"] == "A").mean() >= 0.9
    assert (others["ets_class"] != "C").all()
    assert (table["n_ref"] == N_PER_GROUP).all() and (table["n_focal"] == N_PER_GROUP).all()


def _hand_log() -> pd.DataFrame:
    """Sixteen takers of the studied item 'q' and a polytomous filler 'f' worth 1 or 2 points."""
    rows = []
    layout = [
        ("ref", 1, [1, 1, 1, 0]),
        ("foc", 1, [1, 0, 0, 0]),
        ("ref", 2, [1, 1, 0, 0]),
        ("foc", 2, [1, 0, 0, 0]),
    ]
    person = 0
    for group, filler, q_scores in layout:
        for q in q_scores:
            rows.append((person, "q", q, group))
            rows.append((person, "f", filler, group))
            person += 1
    return pd.DataFrame(rows, columns=["person_id", "item_id", "score", "group"])


def test_matches_hand_computed_mantel_haenszel() -> None:
    log = _hand_log()
    table = mantel_haenszel(log, reference="ref", focal="foc", max_scores={"f": 2, "q": 1})
    row = table.set_index("item_id").loc["q"]
    # The textbook sums over strata of the total score (studied item included).
    log = log.assign(total=log.groupby("person_id")["score"].transform("sum"))
    q = log[log["item_id"] == "q"]
    r_sum = s_sum = a_sum = e_sum = v_sum = 0.0
    pr = ps_qr = qs = 0.0  # Robins–Breslow–Greenland terms
    for _, stratum in q.groupby("total"):
        ref, foc = stratum[stratum["group"] == "ref"], stratum[stratum["group"] == "foc"]
        a, b = ref["score"].sum(), (1 - ref["score"]).sum()
        c, d = foc["score"].sum(), (1 - foc["score"]).sum()
        n = a + b + c + d
        if min(a + b, c + d) == 0 or n < 2:
            continue
        r, s_, p, q = a * d / n, b * c / n, (a + d) / n, (b + c) / n
        r_sum += r
        s_sum += s_
        pr += p * r
        ps_qr += p * s_ + q * r
        qs += q * s_
        a_sum += a
        e_sum += (a + b) * (a + c) / n
        v_sum += (a + b) * (c + d) * (a + c) * (b + d) / (n**2 * (n - 1))
    assert row["alpha_mh"] == pytest.approx(r_sum / s_sum, rel=1e-12)
    assert row["delta_mh"] == pytest.approx(-2.35 * np.log(r_sum / s_sum), rel=1e-12)
    rbg = pr / (2 * r_sum**2) + ps_qr / (2 * r_sum * s_sum) + qs / (2 * s_sum**2)
    assert row["se_delta"] == pytest.approx(2.35 * np.sqrt(rbg), rel=1e-12)
    assert row["chi2_mh"] == pytest.approx((abs(a_sum - e_sum) - 0.5) ** 2 / v_sum, rel=1e-12)
    assert "f" not in set(table["item_id"])  # polytomous items are matched on, not studied


def test_ets_rules() -> None:
    delta = pd.Series([-0.8, -1.2, -1.7, -1.7, 2.0])
    se = pd.Series([0.1, 0.1, 0.1, 0.5, 0.2])
    p = pd.Series([0.001, 0.001, 0.001, 0.001, 0.2])
    assert ets_class(delta, se, p).tolist() == ["A", "B", "C", "B", "A"]


def test_bad_group_data_raises_naming_the_column(dif_log: pd.DataFrame) -> None:
    with pytest.raises(ResponseLogError, match="group"):
        mantel_haenszel(dif_log.drop(columns="group"), reference="ref", focal="foc")
    with pytest.raises(ResponseLogError, match="group"):
        mantel_haenszel(dif_log, reference="ref", focal="nobody")


def _graded(theta: np.ndarray, thresholds: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scores 0..m drawn from the graded response model with slope 1."""
    probs = prob_grm(theta, np.ones(len(thresholds)), thresholds)
    return (rng.random(probs.shape[:2] + (1,)) > probs.cumsum(axis=2)).sum(axis=2)


def _mixed_log(seed: int = 21) -> pd.DataFrame:
    """20 Rasch items and 4 rubric items (0-3 points); rubric item R0 is 0.6 logits harder
    for the focal group at every step, which is also 0.5 lower in ability on average."""
    rng = np.random.default_rng(seed)
    theta = np.r_[rng.normal(0.0, 1.0, N_PER_GROUP), rng.normal(-0.5, 1.0, N_PER_GROUP)]
    focal = np.arange(2 * N_PER_GROUP) >= N_PER_GROUP
    b = np.linspace(-1.5, 1.5, 20)
    steps = np.array([[-1.0, 0.0, 1.0]] * 4) + np.linspace(-0.5, 0.5, 4)[:, None]
    dichotomous = simulate_dichotomous(theta, np.ones(20), b, 0.0, rng)
    rubric = np.where(
        focal[:, None],
        _graded(theta, steps + np.array([[0.6], [0], [0], [0]]), rng),
        _graded(theta, steps, rng),
    )
    ids = [f"I{j:02d}" for j in range(20)] + [f"R{j}" for j in range(4)]
    return to_long(
        np.hstack([dichotomous, rubric]),
        np.arange(2 * N_PER_GROUP),
        ids,
        extra={"group": np.where(focal, "foc", "ref")},
    )


def test_polytomous_dif_flags_the_shifted_rubric_item() -> None:
    log = _mixed_log()
    table = polytomous_dif(
        log, reference="ref", focal="foc", max_scores={f"R{j}": 3 for j in range(4)}
    )
    table = table.set_index("item_id")
    assert list(table.index) == ["R0", "R1", "R2", "R3"]
    assert (
        table.loc["R0", "ets_class"] in {"BB", "CC"} and table.loc["R0", "favours"] == "reference"
    )
    assert table.loc["R0", "smd"] < -0.2  # 0.6 logits at each step costs ~0.3 points here
    assert (table.drop(index="R0")["ets_class"] == "AA").all()
    dichotomous = mantel_haenszel(log, reference="ref", focal="foc")
    assert len(dichotomous) == 20 and (dichotomous["ets_class"] != "C").all()


def test_polytomous_dif_matches_textbook_mantel_and_smd() -> None:
    log = _mixed_log(seed=5)
    log = log[log["person_id"] % 10 == 0]  # small sample: many sparse strata
    table = polytomous_dif(log, reference="ref", focal="foc").set_index("item_id")
    totals = log.groupby("person_id")["score"].sum()
    item = log[log["item_id"] == "R1"].assign(total=lambda f: f["person_id"].map(totals))
    observed = expected = variance = gap = focal_n = 0.0
    for _, stratum in item.groupby("total"):
        ref = stratum.loc[stratum["group"] == "ref", "score"].to_numpy(dtype=float)
        foc = stratum.loc[stratum["group"] == "foc", "score"].to_numpy(dtype=float)
        both = np.r_[ref, foc]
        n = len(both)
        if len(ref) == 0 or len(foc) == 0 or n < 2:
            continue
        observed += ref.sum()
        expected += len(ref) * both.sum() / n
        variance += len(ref) * len(foc) * (n * (both**2).sum() - both.sum() ** 2) / (n**2 * (n - 1))
        gap += len(foc) * (foc.mean() - ref.mean())
        focal_n += len(foc)
    assert table.loc["R1", "chi2_mantel"] == pytest.approx(
        (observed - expected) ** 2 / variance, rel=1e-10
    )
    assert table.loc["R1", "smd"] == pytest.approx(gap / focal_n, rel=1e-10)
