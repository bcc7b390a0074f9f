"""Who is acting, and the role checks every service applies."""

from __future__ import annotations

from dataclasses import dataclass

from itembank.errors import Forbidden
from itembank.models import Role


@dataclass(frozen=True)
class Actor:
    """A user or exam-engine client acting on the bank."""

    name: str
    role: Role

    def require(self, *roles: Role, action: str) -> None:
        """Refuse the operation unless the actor holds one of ``roles``."""
        if self.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(
                f"{self.name} ({self.role.value}) may not {action}; it needs the role {allowed}",
                field="role",
            )


SYSTEM = Actor("system", Role.ADMIN)
