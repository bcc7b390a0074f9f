"""One candidate's shadow-test CAT session, and its resumption from the response log alone.

Before each item the session solves the shadow test at the current EAP θ̂ with the candidate's
ineligible items priced out (:mod:`assembly.exposure_control`) and gives its next item. Every
random draw comes from a generator seeded by the pool seed and the candidate id (SHA-256), and the
shadow-test re-solves are deterministic, so the log — item, score, θ̂ and SE after each answer —
is all an engine keeps: :meth:`CatSession.resume` replays it, checks that this pool would have
chosen every logged item and reached every logged θ̂, and continues with exactly the same
choices. A log that does not replay is refused (:class:`TamperedLog`).

Stopping: after ``length`` items, or with ``cat.se_target`` once SE(θ̂) ≤ target and at least
``cat.min_length`` items are given, never inside an item set. A fixed-length test equals its
last shadow test, so it meets every rule of the spec; a test that stops early on SE is a prefix
of a test that would.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from assembly.exposure_control import CandidateExposure, segment_of
from assembly.shadow_test import ShadowChoice
from calibration.errors import CalibrationSpecError
from calibration.posterior import GridPosterior
from itembank.adaptive.pool import CatPool
from itembank.core_errors import core_errors
from itembank.errors import Conflict, IntegrityFailure, ValidationError

LOG_TOLERANCE = 1e-9
LOG_FIELDS = ("position", "item_id", "score", "theta", "se")


class TamperedLog(IntegrityFailure):
    """A response log that this pool would not have produced: a different item at some position,
    or a θ̂/SE that the logged answers do not give; ``field`` names the entry, e.g. ``log[4].item_id``."""

    code = "tampered_log"


def candidate_rng(seed: int, candidate_id: str, stream: str) -> np.random.Generator:
    """A generator fixed by the pool seed, the candidate and the purpose of the draws."""
    digest = hashlib.sha256(f"{seed}\x1f{candidate_id}\x1f{stream}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "big"))


class CatSession:
    """A candidate's CAT: ask :meth:`next_item`, then :meth:`record` the answer, until
    :attr:`finished`; :attr:`score` is the 百分制 score on the reference paper at θ̂."""

    def __init__(self, pool: CatPool, candidate_id: str) -> None:
        if not str(candidate_id).strip():
            raise ValidationError("a CAT session needs a candidate id", field="candidate_id")
        self.pool = pool
        self.candidate_id = str(candidate_id)
        self.shadow = pool.shadow.fresh()
        self.posterior = GridPosterior(pool.settings.prior_mean, pool.settings.prior_sd)
        self.log: list[dict[str, Any]] = []
        self.choices: list[ShadowChoice] = []
        self.exposure = CandidateExposure(
            marginal=pool.eligibility.draw_marginal(self._rng("marginal")))
        self._pending: tuple[str, int] | None = None

    def item_parameters(self, item_id: str) -> tuple[float, float, float]:
        """The 3PL a, b, c of a pool item (c = 0 for 2PL items)."""
        return self.shadow.item_parameters(item_id)

    def _rng(self, stream: str) -> np.random.Generator:
        return candidate_rng(self.pool.seed, self.candidate_id, stream)

    @property
    def theta(self) -> float:
        return self.posterior.theta

    @property
    def se(self) -> float:
        return self.posterior.se

    @property
    def administered(self) -> list[str]:
        return [str(entry["item_id"]) for entry in self.log]

    @property
    def finished(self) -> bool:
        given = len(self.log)
        if given >= self.pool.length:
            return True
        cat = self.pool.spec.cat
        if cat.se_target is None or given < (cat.min_length or 1):
            return False
        return self.se <= cat.se_target and not self.shadow.has_open_set(self.administered)

    @property
    def score(self) -> float:
        """The expected 百分制 score on the reference paper at θ̂ (its TCC)."""
        return self.pool.percent(self.theta)

    @property
    def passed(self) -> bool:
        return self.score >= self.pool.spec.equivalence.pass_mark

    def next_item(self) -> str:
        """The item to give now (the same one again until its answer is recorded)."""
        if self._pending is not None:
            return self._pending[0]
        if self.finished:
            raise Conflict(f"the CAT of candidate {self.candidate_id} is finished after "
                           f"{len(self.log)} items", field="next_item")
        segment = segment_of(self.theta, self.pool.eligibility.cuts)
        if segment not in self.exposure.segments:
            self.exposure.segments[segment] = self.pool.eligibility.draw_segment(
                segment, self._rng(f"segment-{segment}"))
        eligible = self.exposure.marginal & self.exposure.segments[segment]
        with core_errors():
            choice = self.shadow.select(self.theta, self.administered,
                                        self.shadow.penalty(self.theta, ~eligible),
                                        self.pool.eligibility.price)
        self.choices.append(choice)
        self._pending = (choice.item_id, segment)
        return choice.item_id

    def record(self, item_id: str, score: int) -> dict[str, Any]:
        """Score the answer to the item just given; returns the new log entry."""
        if self._pending is None or item_id != self._pending[0]:
            expected = self._pending[0] if self._pending else "none (ask next_item first)"
            raise ValidationError(f"item {item_id} is not the item this CAT gave next ({expected})",
                                  field="item_id")
        if isinstance(score, bool) or score not in (0, 1):
            raise ValidationError(f"a CAT answer is scored 0 or 1, not {score!r}", field="score")
        try:
            self.posterior.update(*self.item_parameters(item_id), int(score))
        except CalibrationSpecError as exc:
            raise ValidationError(str(exc), field="score") from exc
        segment = self._pending[1]
        given = self.exposure.given.setdefault(segment, np.zeros(len(self.pool.item_ids), dtype=bool))
        given[self.shadow.rows([item_id])] = True
        entry = {"position": len(self.log) + 1, "item_id": item_id, "score": int(score),
                 "theta": self.theta, "se": self.se}
        self.log.append(entry)
        self._pending = None
        return dict(entry)

    @classmethod
    def resume(cls, pool: CatPool, candidate_id: str, log: Sequence[Mapping[str, Any]]) -> CatSession:
        """Rebuild a session from its log alone, refusing a log this pool would not have written."""
        session = cls(pool, candidate_id)
        for k, entry in enumerate(log):
            missing = [name for name in LOG_FIELDS if name not in entry]
            if missing:
                raise ValidationError(f"log entry {k} lacks {missing[0]}", field=f"log[{k}].{missing[0]}")
            if entry["position"] != k + 1:
                raise TamperedLog(f"log entry {k} says position {entry['position']}, not {k + 1}",
                                  field=f"log[{k}].position")
            if session.finished:
                raise TamperedLog(f"the CAT was finished before log entry {k}", field=f"log[{k}]")
            chosen = session.next_item()
            if entry["item_id"] != chosen:
                raise TamperedLog(f"log entry {k} gives item {entry['item_id']}, but this pool "
                                  f"chooses {chosen} there", field=f"log[{k}].item_id")
            replayed = session.record(chosen, entry["score"])
            for name in ("theta", "se"):
                if not math.isclose(float(entry[name]), replayed[name], abs_tol=LOG_TOLERANCE):
                    raise TamperedLog(f"log entry {k} says {name} {entry[name]}, but its answers "
                                      f"give {replayed[name]:.9f}", field=f"log[{k}].{name}")
        return session

    def result(self) -> dict[str, Any]:
        """θ̂, SE, the 百分制 score on the reference paper and the pass decision, without the log."""
        return {"candidate_id": self.candidate_id, "length": len(self.log), "theta": self.theta,
                "se": self.se, "score": self.score, "passed": self.passed, "finished": self.finished}

    def to_dict(self) -> dict[str, Any]:
        return self.result() | {"log": [dict(entry) for entry in self.log]}

    def summary(self) -> str:
        state = "finished" if self.finished else "in progress"
        return (f"CAT of {self.candidate_id} ({state}): {len(self.log)} items, θ̂ = {self.theta:.3f} "
                f"(SE {self.se:.3f}), score {self.score:.1f} — {'pass' if self.passed else 'fail'}")
