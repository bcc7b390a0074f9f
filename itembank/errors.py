"""Domain errors raised by the bank's services and mapped once to HTTP codes and CLI exit codes.

    ItemBankError
    ├── ValidationError (ValueError)    bad input; carries the field at fault
    ├── NotFound (LookupError)          a named record does not exist
    ├── Forbidden (PermissionError)     the actor lacks the role for the operation
    ├── Conflict                        the operation clashes with the current state
    │   └── RetentionViolation          a retained record may not be deleted
    ├── Infeasible (ValueError)         a paper spec cannot be met by the bank
    ├── IntegrityFailure                the audit ledger or a sealed package does not verify
    └── Busy                            a concurrent operation or the database got in the way; retry
"""

from __future__ import annotations

from typing import Any


class ItemBankError(Exception):
    """Base of every error the bank raises on purpose; ``field`` names the input at fault."""

    code = "itembank_error"

    def __init__(self, message: str, *, field: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message, "field": self.field}
        if self.details is not None:
            body["details"] = self.details
        return body


class ValidationError(ItemBankError, ValueError):
    code = "validation_error"


class NotFound(ItemBankError, LookupError):
    code = "not_found"


class Forbidden(ItemBankError, PermissionError):
    code = "forbidden"


class Conflict(ItemBankError):
    code = "conflict"


class RetentionViolation(Conflict):
    code = "retention_violation"


class Infeasible(ItemBankError, ValueError):
    code = "infeasible"


class IntegrityFailure(ItemBankError):
    code = "integrity_failure"


class Busy(ItemBankError):
    """The database refused the transaction for a passing reason (a deadlock with a concurrent
    operation, a lock or serialisation conflict, a locked SQLite file): it was rolled back whole and
    the same request may simply be sent again. A lost connection is one too, but one that dropped
    while committing leaves the outcome unknown, and its message says so."""

    code = "busy"
