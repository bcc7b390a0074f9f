"""Psychometrics core: response logs in, item and person estimates out. No database imports."""

from calibration.calibrate import calibrate
from calibration.config import CalibrationConfig
from calibration.errors import (
    CalibrationError,
    CalibrationSpecError,
    CalibrationWarning,
    ResponseLogError,
    ResponseLogWarning,
)
from calibration.responses import ResponseMatrix, load_responses
from calibration.result import CalibrationResult

__all__ = [
    "CalibrationConfig",
    "CalibrationError",
    "CalibrationResult",
    "CalibrationSpecError",
    "CalibrationWarning",
    "ResponseLogError",
    "ResponseLogWarning",
    "ResponseMatrix",
    "calibrate",
    "load_responses",
]
