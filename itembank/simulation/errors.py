"""The cores' errors as the bank's, so the CLI prints one line naming the field and exits 2 or 6."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from assembly.equivalence import Reference
from assembly.errors import InfeasibleSpec, ItemTableError, SpecError
from itembank.errors import Infeasible, IntegrityFailure, ValidationError


@contextmanager
def core_errors() -> Iterator[None]:
    """Translate a bad spec or item table to ``ValidationError`` and an impossible spec to ``Infeasible``."""
    try:
        yield
    except SpecError as exc:
        raise ValidationError(str(exc), field=exc.field or "spec") from exc
    except ItemTableError as exc:
        raise ValidationError(str(exc), field=f"items.{exc.column}" if exc.column else "items") from exc
    except InfeasibleSpec as exc:
        raise Infeasible(str(exc), field="spec", details={"conflicts": exc.constraints}) from exc


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
