"""Errors raised by the assembly core.

Tree (each co-inherits a built-in so callers can catch either)::

    AssemblyError
    ├── SpecError(ValueError)            the paper spec is malformed; ``field`` names the path
    ├── ItemTableError(ValueError)       the item table lacks a column or holds bad values
    │   └── LookAlikeColumn              a column looks like a known one (``assembly.columns``)
    ├── InfeasibleSpec(ValueError)       the bank cannot meet the spec; ``constraints`` names why
    └── RejectedSolution(RuntimeError)   a solver answer failed independent verification
"""

from __future__ import annotations


class AssemblyError(Exception):
    """Base class of every error the assembly core raises on purpose."""


class SpecError(AssemblyError, ValueError):
    """A paper spec failed validation; ``field`` is the path such as ``sections[1].points``."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class ItemTableError(AssemblyError, ValueError):
    """The item table cannot be used; ``column`` names the offending column."""

    def __init__(self, message: str, column: str = "") -> None:
        super().__init__(message)
        self.column = column


class InfeasibleSpec(AssemblyError, ValueError):
    """No set of papers meets the spec; ``constraints`` are the conflicting constraint groups."""

    def __init__(self, message: str, constraints: list[str] | None = None) -> None:
        super().__init__(message)
        self.constraints = list(constraints or [])


class RejectedSolution(AssemblyError, RuntimeError):
    """The solver returned papers that break a constraint; ``constraints`` names the broken ones."""

    def __init__(self, message: str, constraints: list[str] | None = None) -> None:
        super().__init__(message)
        self.constraints = list(constraints or [])
