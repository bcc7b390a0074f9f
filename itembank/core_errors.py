"""The assembly core's errors as the bank's, once for every caller that runs the core in pure mode
(CAT pools and sessions, simulation studies), so the CLI prints one line naming the field and
exits 2 (bad spec or item table) or 6 (the bank cannot meet the spec)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from assembly.errors import InfeasibleSpec, ItemTableError, RejectedSolution, SpecError
from itembank.errors import Infeasible, ValidationError


@contextmanager
def core_errors() -> Iterator[None]:
    """Translate a bad spec or item table to ``ValidationError``, an impossible spec to
    ``Infeasible`` with its conflicts, and papers the independent verifier refused to ``Infeasible``
    naming the solver (no paper leaves, as the assembly service does)."""
    try:
        yield
    except SpecError as exc:
        raise ValidationError(str(exc), field=exc.field or "spec") from exc
    except ItemTableError as exc:
        raise ValidationError(str(exc), field=f"items.{exc.column}" if exc.column else "items") from exc
    except InfeasibleSpec as exc:
        raise Infeasible(str(exc), field="spec", details={"conflicts": exc.constraints}) from exc
    except RejectedSolution as exc:
        raise Infeasible(f"the solver's papers failed independent verification and were refused: {exc}",
                         field="solver", details={"broken": exc.constraints}) from exc
