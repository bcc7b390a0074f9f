"""Refusals of a study whose assembler returned no usable papers (the cores' own errors are
``itembank.core_errors``)."""

from __future__ import annotations

from collections.abc import Sequence

from assembly.equivalence import Reference
from itembank.errors import Infeasible, IntegrityFailure


def refuse_infeasible(ok: bool, status: str, diagnosis: Sequence[str], what: str) -> None:
    """Raise ``Infeasible`` with the solver's diagnosis when no tests came back."""
    if not ok:
        reasons = "; ".join(diagnosis) or status
        raise Infeasible(f"no {what} could be assembled ({status}): {reasons}", field="spec")


def feasible_reference(reference: Reference | None) -> Reference:
    """The reference paper the LOFT papers were made score-equivalent to. Papers that came back
    without it cannot be checked against the TCC band, so they are refused as ``IntegrityFailure``
    (the assembler's contract broken) rather than scored."""
    if reference is None:
        raise IntegrityFailure("the assembler returned LOFT papers without the reference paper they are "
                               "equivalent to; their score equivalence cannot be verified", field="reference")
    return reference
