"""The CAT pool: everything an exam engine needs to run shadow-test CAT sessions on its own.

Items (with their IRT parameters and content codes), the exam's spec (its ``cat`` block says the
length, stopping rule, exposure limit and θ segments), the reference paper whose TCC turns θ̂
into the reported 百分制 score, the learned eligibility probabilities, a seed for the candidates'
eligibility draws, and the session settings. ``to_dict``/``from_dict`` carry it into a sealed
package and out again in an engine; the reference paper is rebuilt from its item ids and checked
against the pass-mark θ it was sealed with.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from assembly.bank import normalise_items
from assembly.equivalence import Reference, reference_from, reference_paper
from assembly.exposure_control import Eligibility
from assembly.shadow_test import ShadowSettings, ShadowTest
from assembly.spec import PaperSpec, load_spec
from itembank.core_errors import core_errors
from itembank.errors import IntegrityFailure, ValidationError

FORMAT = "itembank-cat-pool/1"
PASS_THETA_TOLERANCE = 1e-6


@dataclass(frozen=True)
class CatSettings:
    """Session settings: the N(prior_mean, prior_sd²) ability prior of the EAP and how hard each
    shadow-test re-solve tries."""

    prior_mean: float = 0.0
    prior_sd: float = 1.0
    shadow: ShadowSettings = field(default_factory=ShadowSettings)

    def to_dict(self) -> dict[str, Any]:
        return {"prior_mean": self.prior_mean, "prior_sd": self.prior_sd, "shadow": self.shadow.to_dict()}

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> CatSettings:
        try:
            return cls(float(document.get("prior_mean", 0.0)), float(document.get("prior_sd", 1.0)),
                       ShadowSettings(**document.get("shadow", {})))
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"CAT settings are malformed: {exc}", field="settings") from exc


class CatPool:
    """A CAT pool; building it builds the shadow-test model once (each session gets its own
    solver loaded from it), so a pool the spec cannot fill is refused here, not mid-exam."""

    def __init__(self, items: pd.DataFrame, spec: PaperSpec | dict[str, Any] | str | Path,
                 reference: Reference, *, eligibility: Eligibility | None = None, seed: int = 0,
                 settings: CatSettings | None = None) -> None:
        with core_errors():
            self.items = normalise_items(items)
            self.spec = load_spec(spec)
            self.settings = settings or CatSettings()
            self.shadow = ShadowTest(self.items, self.spec, settings=self.settings.shadow)
        self.reference = reference
        self.seed = int(seed)
        ids = self.item_ids
        self.eligibility = eligibility or Eligibility.everyone(ids, self.spec.cat.segments)
        if self.eligibility.item_ids != ids or self.eligibility.cuts != list(self.spec.cat.segments):
            raise ValidationError("the eligibility probabilities are for other items or θ segments "
                                  "than this pool's", field="eligibility")

    @classmethod
    def build(cls, items: pd.DataFrame, spec: PaperSpec | dict[str, Any] | str | Path, *,
              reference_ids: Sequence[str] | None = None, seed: int = 0,
              settings: CatSettings | None = None) -> CatPool:
        """A pool whose reference paper is the given items (an operational paper) or, without
        them, the spec's own single paper assembled from ``items``."""
        with core_errors():
            paper_spec = load_spec(spec)
            reference = (reference_from(items, paper_spec, list(reference_ids)) if reference_ids
                         else reference_paper(items, paper_spec, seed=seed))
        return cls(items, paper_spec, reference, seed=seed, settings=settings)

    @property
    def item_ids(self) -> list[str]:
        """The items a session can give, in the order of the eligibility probabilities."""
        return self.shadow.table["item_id"].tolist()

    @property
    def length(self) -> int:
        return self.shadow.length

    def with_eligibility(self, eligibility: Eligibility) -> CatPool:
        """The same pool (sharing its shadow-test model) with other eligibility probabilities."""
        twin = copy.copy(self)
        if eligibility.item_ids != self.item_ids:
            raise ValidationError("the eligibility probabilities are for other items", field="eligibility")
        twin.eligibility = eligibility
        return twin

    def percent(self, theta: float) -> float:
        """The reported score at θ: the reference paper's expected 百分制 score (its TCC)."""
        return float(self.reference.percent(theta, self.spec)[0])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe document from which :meth:`from_dict` rebuilds the same pool."""
        return {"format": FORMAT, "seed": self.seed, "spec": self.spec.model_dump(mode="json"),
                "items": json.loads(self.items.to_json(orient="records", date_format="iso")),
                "reference": self.reference.to_dict(), "eligibility": self.eligibility.to_dict(),
                "settings": self.settings.to_dict()}

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> CatPool:
        if document.get("format") != FORMAT:
            raise ValidationError(f"a CAT pool document has format {FORMAT!r}, not "
                                  f"{document.get('format')!r}", field="format")
        try:
            items = pd.DataFrame(list(document["items"]))
            stored = document["reference"]
            ids, pass_theta = list(stored["item_ids"]), float(stored["pass_theta"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError(f"a CAT pool document lacks {exc}", field="reference") from exc
        with core_errors():
            spec = load_spec(dict(document.get("spec", {})))
            reference = reference_from(items, spec, ids)
            eligibility = Eligibility.from_dict(document.get("eligibility", {}))
        if not math.isclose(reference.pass_theta, pass_theta, abs_tol=PASS_THETA_TOLERANCE):
            raise IntegrityFailure(
                f"the reference paper gives the pass mark at θ = {reference.pass_theta:.6f}, not the "
                f"sealed {pass_theta:.6f}: items or spec changed", field="reference.pass_theta")
        return cls(items, spec, reference, eligibility=eligibility, seed=int(document.get("seed", 0)),
                   settings=CatSettings.from_dict(document.get("settings", {})))
