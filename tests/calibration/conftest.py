"""Seeded simulated logs shared by the estimation and scoring tests (built once per session)."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import CalibrationResult, calibrate, load_responses
from calibration.simulate import PaperDesign, simulate_paper_design
from tests.calibration.truth import DenseLog, dense_log


@pytest.fixture(scope="session")
def dense_2pl() -> DenseLog:
    return dense_log(10_000, 100, seed=101)


@pytest.fixture(scope="session")
def sparse_design() -> PaperDesign:
    """The issue's sparse reference design at full size: 40,000 persons, 8 papers, groups −0.6..+0.6."""
    return simulate_paper_design(40_000, np.random.default_rng(7))


@pytest.fixture(scope="session")
def sparse_fit(sparse_design: PaperDesign) -> CalibrationResult:
    """The grouped 2PL fit of the full sparse design, shared by the tests that inspect it."""
    return calibrate(load_responses(sparse_design.responses), "2PL")
