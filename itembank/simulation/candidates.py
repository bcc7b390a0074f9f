"""Simulated candidates with known truth: their abilities, the tests they sat as an incidence matrix,
their answers from the item parameters and their EAP scores on the bank scale.

The study plays the candidates, so it may use the parameters as the truth; randomness comes from one
explicit ``numpy.random.Generator`` so a seed reproduces the study.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from calibration.scoring import score_persons
from calibration.simulate import simulate_dichotomous, to_long
from itembank.errors import ValidationError
from itembank.simulation.metrics import FloatArray


def simulee_rng(seed: int | None) -> np.random.Generator:
    """The simulees' own stream: a child of the seed, never the stream the assembler draws from the
    same seed. Sharing it correlated the answers with the papers (the first LOFT paper takes the
    items with the smallest jitter, which were then the items answered right: θ = −2 scored 22/30)."""
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])


def true_abilities(candidates: int, rng: np.random.Generator, theta: npt.ArrayLike | None = None) -> FloatArray:
    """The candidates' true θ: drawn from N(0, 1), or given (one finite value per candidate)."""
    if candidates <= 0:
        raise ValidationError(f"the number of candidates must be positive, not {candidates}", field="candidates")
    if theta is None:
        return rng.normal(0.0, 1.0, candidates)
    given = np.asarray(theta, dtype=float).ravel()
    if len(given) != candidates:
        raise ValidationError(f"{len(given)} θ values given for {candidates} candidates", field="theta")
    if not np.isfinite(given).all():
        raise ValidationError(f"θ of candidate {int(np.argmax(~np.isfinite(given))) + 1} is not a number",
                              field="theta")
    return given


def incidence(item_ids: pd.Series, tests: Sequence[Sequence[str]]) -> npt.NDArray[np.bool_]:
    """Which items (columns, in ``item_ids`` order) each test (rows) holds."""
    lengths = np.fromiter((len(t) for t in tests), dtype=np.int64, count=len(tests))
    flat = [item for test in tests for item in test]
    columns = pd.Index(item_ids).get_indexer(flat)
    if (columns < 0).any():
        raise ValidationError(f"item {flat[int(np.argmax(columns < 0))]} of a test is not in the item table",
                              field="items.item_id")
    matrix = np.zeros((len(tests), len(item_ids)), dtype=bool)
    matrix[np.repeat(np.arange(len(tests)), lengths), columns] = True
    return matrix


def scoring_parameters(table: pd.DataFrame) -> pd.DataFrame:
    """The calibration scorer's item table (item_id, model, a, b, c) from the assembly table's a, b, c:
    3PL where c is given, 2PL otherwise."""
    guessing = table["c"].fillna(0.0)
    return pd.DataFrame({"item_id": table["item_id"], "model": np.where(guessing > 0, "3PL", "2PL"),
                         "a": table["a"], "b": table["b"], "c": guessing})


def answer_and_score(table: pd.DataFrame, held: npt.NDArray[np.bool_], theta: FloatArray,
                     rng: np.random.Generator) -> tuple[npt.NDArray[np.int8], pd.DataFrame]:
    """0/1 answers of each candidate (rows of ``held``) to their test's items (columns: rows of the
    normalised ``table``), drawn from the 3PL at true θ, and their EAP θ̂ and SE on the bank scale.

    Only items some test holds are simulated, so memory follows the tests, not the bank. The scorer
    reads every item on its model's 0/1 scale, so an item nobody answered right still counts as a
    wrong answer.
    """
    used = held.any(axis=0)
    chosen = table.loc[used]
    uncalibrated = chosen["a"].isna() | chosen["b"].isna()
    if uncalibrated.any():
        raise ValidationError(f"item {chosen.loc[uncalibrated, 'item_id'].iloc[0]} is on a test but has no a, b "
                              "parameters to simulate answers from", field="items.a")
    answers = np.zeros(held.shape, dtype=np.int8)
    drawn = simulate_dichotomous(theta, chosen["a"].to_numpy(), chosen["b"].to_numpy(),
                                 chosen["c"].fillna(0.0).to_numpy(), rng)
    answers[:, used] = drawn * held[:, used]
    persons = np.array([f"c{k + 1:06d}" for k in range(len(theta))])
    log = to_long(drawn, persons, chosen["item_id"].to_numpy(), seen=held[:, used])
    scores = score_persons(log, scoring_parameters(chosen), "EAP").set_index("person_id").loc[persons]
    return answers, scores.reset_index()
