"""Header checks at the bank's edges (files imported, pure-mode tables, response logs): the rule of
``assembly.columns`` with its refusal in the bank's terms, a ``ValidationError`` naming the column."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from itembank.errors import ValidationError

if TYPE_CHECKING:
    from assembly.columns import UnknownColumn


def check_header(header: Iterable[object], known: Iterable[str], *, table: str,
                 field_prefix: str = "") -> list[UnknownColumn]:
    """The header's unknown columns, as warnings to show; a column that looks like a known one is a
    ``ValidationError`` whose field is that column (after ``field_prefix``) and whose details list
    each such column with the known one it resembles."""
    # Imported here: the assembly package loads the solver stack, which the CLI's start is spared.
    from assembly.columns import LookAlikeColumn, check_columns

    try:
        return check_columns(header, known, table=table)
    except LookAlikeColumn as exc:
        raise ValidationError(
            str(exc), field=f"{field_prefix}{exc.column}",
            details=[{"column": found.column, "suggestion": found.known} for found in exc.look_alikes],
        ) from exc
