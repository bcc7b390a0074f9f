"""Property-based conformance: schemathesis drives every operation of the OpenAPI document against a
small seeded bank with one sealed paper (the documented example id), each with a token of a role allowed there, and finds no 5xx and no response that
breaks the documented status codes, content types, headers or schemas.

Driven through schemathesis' Python API (``from_asgi`` + ``APIOperation.as_strategy``) under one
Hypothesis ``given`` per operation, because its pytest plugin does not yet run under pytest 9.
Bounded: a few derandomized examples per operation keep the whole run well under a minute.
"""

from __future__ import annotations

from collections.abc import Callable

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import ROLE_USER
from tests.api.test_bank_routes import seed_bank
from tests.api.test_roles import MATRIX

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
ALLOWED = {(method, route): sorted(allowed)[0] for method, route, _, allowed in MATRIX}
BOUND = settings(max_examples=5, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
                 suppress_health_check=list(HealthCheck), database=None)


def check_operation(operation: APIOperation, headers: dict[str, str]) -> None:
    """Run the bounded examples of one operation with the given token."""

    @BOUND
    @given(case=operation.as_strategy())
    def conforms(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    conforms()


def test_the_api_keeps_its_documented_contract(client: TestClient, auth: Callable[[str], dict[str, str]],
                                               sealed_paper: int) -> None:
    assert sealed_paper == 1, "the documented example id should name the sealed paper"
    seed_bank(client, auth, n=5)
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(MATRIX)
    for operation in operations:
        check_operation(operation, auth(ROLE_USER[ALLOWED[(operation.method.upper(), operation.path)]]))
    handovers = client.get("/handovers", params={"paper_id": sealed_paper}, headers=auth("auditor")).json()["items"]
    assert "pull" in {h["action"] for h in handovers}, "the generated requests never reached the sealed paper"
