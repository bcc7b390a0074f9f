"""An ability posterior that grows one response at a time, for adaptive testing.

A CAT re-estimates θ after every answer. Re-scoring the whole pattern each time through
:func:`calibration.scoring.score_persons` would rebuild response matrices per item; here the
log-posterior over the calibration's own quadrature grid (61 points over ±6 prior sd, as
:class:`calibration.config.CalibrationConfig`) is kept and each answer adds its log-likelihood,
vectorised over the grid. Same grid, same prior, same clipping as the E-step, so after the same
answers the EAP and posterior sd equal ``score_persons(..., method="EAP")``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from calibration.config import CalibrationConfig
from calibration.errors import CalibrationSpecError
from calibration.irt import FloatArray, prob_3pl, prob_gpcm, prob_grm
from calibration.quadrature import Quadrature

_TINY = 1e-300
_DEFAULTS = CalibrationConfig()


class GridPosterior:
    """The posterior of one person's θ on a fixed grid under a N(prior_mean, prior_sd²) prior;
    ``theta`` is the EAP and ``se`` the posterior sd."""

    def __init__(self, prior_mean: float = 0.0, prior_sd: float = 1.0, *,
                 points: int = _DEFAULTS.quadrature_points,
                 bound: float = _DEFAULTS.quadrature_bound) -> None:
        if not prior_sd > 0:
            raise CalibrationSpecError(f"prior_sd must be positive, not {prior_sd}", field="prior_sd")
        quadrature = Quadrature.rectangular(points, bound)
        self.nodes: FloatArray = prior_mean + prior_sd * quadrature.z
        self.log_posterior: FloatArray = quadrature.log_weights.copy()
        self.n_responses = 0
        self._refresh()

    def update(self, a: float, b: float, c: float, score: int) -> None:
        """Add one dichotomous (1PL/2PL/3PL) answer scored 0 or 1."""
        if score not in (0, 1):
            raise CalibrationSpecError(f"a dichotomous score is 0 or 1, not {score!r}", field="score")
        p = prob_3pl(self.nodes, [a], [b], [0.0 if np.isnan(c) else c])[:, 0]
        self._add(p if score == 1 else 1.0 - p)

    def update_polytomous(self, model: Literal["GRM", "GPCM"], a: float,
                          thresholds: FloatArray | list[float], score: int) -> None:
        """Add one graded (GRM) or partial-credit (GPCM) answer in category ``score``."""
        probs = {"GRM": prob_grm, "GPCM": prob_gpcm}.get(model)
        if probs is None:
            raise CalibrationSpecError(f"unknown polytomous model {model!r}; choose GRM or GPCM",
                                       field="model")
        categories = probs(self.nodes, [a], np.atleast_2d(np.asarray(thresholds, dtype=float)))[:, 0, :]
        if not 0 <= score < categories.shape[1] or not np.any(categories[:, score] > 0):
            raise CalibrationSpecError(f"score {score!r} is not a category of this item", field="score")
        self._add(categories[:, score])

    def _add(self, likelihood: FloatArray) -> None:
        self.log_posterior = self.log_posterior + np.log(np.maximum(likelihood, _TINY))
        self.n_responses += 1
        self._refresh()

    def _refresh(self) -> None:
        weights = np.exp(self.log_posterior - self.log_posterior.max())
        weights /= weights.sum()
        mean = float(weights @ self.nodes)
        self.theta = mean
        self.se = float(np.sqrt(max(float(weights @ self.nodes**2) - mean**2, 0.0)))
