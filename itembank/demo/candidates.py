"""Simulated candidates for the demo: a pilot booklet design and answers to opened papers, from the true parameters.

The demo plays the candidates, so it may know the keys and the generator's truth; the bank never does.
Everything random takes an explicit ``numpy.random.Generator`` so a seed reproduces the run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from calibration.irt import logistic
from itembank.scoring import TRUE_TOKENS

PILOT_BOOKLET_ITEMS = 60
TRUE_FALSE_ANSWERS = ("T", "F")


@dataclass(frozen=True)
class PilotDesign:
    """A pilot administration: who saw which items and how they scored, with the abilities that generated it."""

    responses: pd.DataFrame
    theta: np.ndarray
    booklets: int

    @property
    def responses_per_item(self) -> pd.Series:
        return self.responses.groupby("item_id").size()


def correct_probability(theta: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """3PL P(correct) for aligned (response-level) arrays; 2PL items carry c = 0."""
    return c + (1.0 - c) * logistic(a * (theta - b))


def simulate_pilot(truth: pd.DataFrame, responses_per_item: int, rng: np.random.Generator,
                   booklet_items: int = PILOT_BOOKLET_ITEMS) -> PilotDesign:
    """Random booklets of ``booklet_items`` items: each round shuffles the bank and cuts it into booklets.

    Every item lands in one booklet per round, so a round of ``per_booklet`` candidates per booklet gives each
    item ``per_booklet`` responses; rounds reshuffle, which links every booklet to the others.
    ``truth`` has columns item_id, a, b, c (c may be NaN for 2PL items).
    """
    n_items = len(truth)
    booklet_items = min(booklet_items, n_items)
    per_booklet = 30
    rounds = max(1, int(np.ceil(responses_per_item / per_booklet)))
    n_booklets = int(np.ceil(n_items / booklet_items))
    item_rows, person_rows = [], []
    person = 0
    for _ in range(rounds):
        order = rng.permutation(n_items)
        for booklet in np.array_split(order, n_booklets):
            persons = np.arange(person, person + per_booklet)
            person += per_booklet
            item_rows.append(np.tile(booklet, per_booklet))
            person_rows.append(np.repeat(persons, len(booklet)))
    items, persons = np.concatenate(item_rows), np.concatenate(person_rows)
    theta = rng.normal(0.0, 1.0, person)
    a, b = truth["a"].to_numpy(float), truth["b"].to_numpy(float)
    c = truth["c"].fillna(0.0).to_numpy(float)
    p = correct_probability(theta[persons], a[items], b[items], c[items])
    scores = (rng.random(p.shape) < p).astype(np.int8)
    frame = pd.DataFrame({
        "person_id": np.char.add("pilot-", persons.astype(str)),
        "item_id": truth["item_id"].to_numpy()[items],
        "score": scores,
    })
    return PilotDesign(responses=frame, theta=theta, booklets=rounds * n_booklets)


def wrong_answer(item_type: str, key: str, options: str, rng: np.random.Generator) -> str:
    """A plausible wrong response: another option, a key with one letter toggled, or the other truth value."""
    if item_type == "true_false":
        return TRUE_FALSE_ANSWERS[1] if key.strip().upper() in TRUE_TOKENS else TRUE_FALSE_ANSWERS[0]
    letters = list(options)
    if item_type == "single_choice":
        return str(rng.choice([letter for letter in letters if letter != key]))
    chosen = set(key)
    while True:
        toggled = chosen ^ {str(rng.choice(letters))}
        if toggled:
            return "".join(sorted(toggled))


def simulate_sitting(paper_items: pd.DataFrame, theta: np.ndarray, person_ids: list[str],
                     rng: np.random.Generator) -> list[dict[str, str]]:
    """Candidates' responses to one opened paper, as the engine submits them (person_id, item_id, response).

    ``paper_items`` has item_id, type, key, options (letters) and the true a, b, c.
    """
    c = paper_items["c"].fillna(0.0).to_numpy(float)
    p = c + (1.0 - c) * logistic(paper_items["a"].to_numpy(float) * (theta[:, None] - paper_items["b"].to_numpy(float)))
    correct = rng.random(p.shape) < p
    records = paper_items[["item_id", "type", "key", "options"]].to_dict("records")
    return [
        {"person_id": person, "item_id": item["item_id"],
         "response": item["key"] if correct[i, j] else wrong_answer(item["type"], item["key"], item["options"], rng)}
        for i, person in enumerate(person_ids)
        for j, item in enumerate(records)
    ]
