"""Item families: Jacobians against finite differences, and agreement with calibration.irt."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.estimation.families import Dichotomous, Graded, PartialCredit
from calibration.irt import prob_3pl, prob_gpcm, prob_grm

THETA = np.linspace(-3, 3, 7)[:, None]
PARAMS = {
    Dichotomous: np.array([[1.2, 0.3, -1.5], [0.7, -1.0, -np.inf]]),
    Graded: np.array([[1.1, 2.0, 0.5, -1.0], [0.8, 1.0, -0.5, np.nan]]),
    PartialCredit: np.array([[0.9, 0.5, 0.2, -0.8], [1.3, -0.4, 0.6, np.nan]]),
}


@pytest.mark.parametrize("family", list(PARAMS))
def test_probabilities_sum_to_one_and_jacobian_matches_differences(family) -> None:
    params = PARAMS[family]
    probs = family.probs(THETA, params)
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, atol=1e-12)
    jac = family.jacobian(THETA, params)
    for p in range(params.shape[1]):
        if not np.all(np.isfinite(params[:, p])):
            continue
        step = np.zeros_like(params)
        step[:, p] = 1e-6
        numeric = (family.probs(THETA, params + step) - family.probs(THETA, params - step)) / 2e-6
        np.testing.assert_allclose(jac[..., p], numeric, atol=1e-6)
    numeric_theta = (family.probs(THETA + 1e-6, params) - family.probs(THETA - 1e-6, params)) / 2e-6
    np.testing.assert_allclose(family.theta_derivative(THETA, params), numeric_theta, atol=1e-6)


def test_reported_parameters_reproduce_irt_probabilities() -> None:
    for family, reference in ((Graded, prob_grm), (PartialCredit, prob_gpcm)):
        params = PARAMS[family]
        item = family.report(params)
        np.testing.assert_allclose(family.probs(THETA, params), reference(THETA[:, 0], item.a, item.thresholds), atol=1e-12)
        back = family.from_reported(item.a, item.b, item.c, item.thresholds)
        np.testing.assert_allclose(back, params, atol=1e-12)
    params = PARAMS[Dichotomous]
    item = Dichotomous.report(params)
    np.testing.assert_allclose(Dichotomous.probs(THETA, params)[..., 1], prob_3pl(THETA[:, 0], item.a, item.b, item.c), atol=1e-12)
    np.testing.assert_allclose(Dichotomous.from_reported(item.a, item.b, item.c, item.thresholds), params)
