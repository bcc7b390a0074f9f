"""Errors raised by the calibration core.

    CalibrationError
    ├── ResponseLogError (ValueError)   a response log that cannot be read as stated
    └── CalibrationSpecError (ValueError)   a model choice, fixed-parameter table or config that is invalid

Non-convergence is not an error: it is reported on the result (``converged``) with a warning.

    UserWarning
    ├── CalibrationWarning      a result that needs a look (no convergence, no standard errors)
    └── ResponseLogWarning      a response-log column the reader ignores
"""

from __future__ import annotations


class CalibrationError(Exception):
    """Base of the calibration core's errors; ``field`` names the offending column or setting."""

    def __init__(self, message: str, *, field: str | None = None, rows: list[int] | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.rows = rows or []


class ResponseLogError(CalibrationError, ValueError):
    """The response log is malformed: a missing column, a bad score, a duplicate or an unknown item."""


class CalibrationSpecError(CalibrationError, ValueError):
    """The requested calibration is ill-posed: unknown model, bad fixed parameters, bad config."""


class CalibrationWarning(UserWarning):
    """A calibration finished but its result needs a look: no convergence, or unusable standard errors."""


class ResponseLogWarning(UserWarning):
    """A response log holds a column the reader ignores; the message names it (作答记录的列 note 未识别，已忽略)."""
