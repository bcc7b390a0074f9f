"""The full role × endpoint matrix: 401 without a token, 403 for every role not allowed, neither for the rest.

The table below is the specification; a route missing from it fails the completeness test, so a new
endpoint cannot ship without deciding who may call it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from itembank.models import Role
from tests.api.conftest import ROLE_USER

R = Role
EVERYONE = frozenset(Role)
STAFF = frozenset({R.ITEM_WRITER, R.PROOFREADER, R.REVIEWER, R.PANEL_MEMBER, R.BANK_MANAGER, R.PSYCHOMETRICIAN, R.ADMIN})
MANAGERS = frozenset({R.BANK_MANAGER, R.ADMIN})
JOB_READERS = frozenset({R.BANK_MANAGER, R.PSYCHOMETRICIAN, R.ADMIN, R.AUDITOR})
CALIBRATION_READERS = frozenset({R.PSYCHOMETRICIAN, R.BANK_MANAGER, R.ADMIN})
SCORERS = frozenset({R.PSYCHOMETRICIAN, R.BANK_MANAGER})
PAPER_READERS = frozenset({R.BANK_MANAGER, R.AUDITOR, R.PSYCHOMETRICIAN, R.ADMIN})
ENGINE = frozenset({R.EXAM_ENGINE})

MATRIX: list[tuple[str, str, str, frozenset[Role]]] = [
    # method, route as documented, a concrete URL, roles allowed
    ("POST", "/users", "/users", frozenset({R.ADMIN})),
    ("GET", "/users", "/users", frozenset({R.ADMIN})),
    ("GET", "/users/me", "/users/me", EVERYONE),
    ("POST", "/users/{name}/deactivate", "/users/nobody/deactivate", frozenset({R.ADMIN})),
    ("POST", "/blueprints", "/blueprints", MANAGERS),
    ("GET", "/blueprints", "/blueprints", STAFF),
    ("GET", "/blueprints/{blueprint_id}", "/blueprints/999999", STAFF),
    ("GET", "/blueprints/{blueprint_id}/health", "/blueprints/999999/health", CALIBRATION_READERS),
    ("POST", "/items", "/items", frozenset({R.ITEM_WRITER, R.BANK_MANAGER, R.ADMIN})),
    ("GET", "/items", "/items", STAFF),
    ("POST", "/items/import", "/items/import", frozenset({R.ITEM_WRITER, R.BANK_MANAGER, R.ADMIN})),
    ("GET", "/items/export", "/items/export", STAFF),
    ("GET", "/items/{external_id}", "/items/NOPE", STAFF),
    ("PUT", "/items/{external_id}", "/items/NOPE", frozenset({R.ITEM_WRITER, R.BANK_MANAGER})),
    ("GET", "/items/{external_id}/versions", "/items/NOPE/versions", STAFF),
    ("POST", "/reviews/proofread", "/reviews/proofread", frozenset({R.PROOFREADER})),
    ("POST", "/reviews/review", "/reviews/review", frozenset({R.REVIEWER})),
    ("POST", "/reviews/return", "/reviews/return", frozenset({R.PROOFREADER, R.REVIEWER})),
    ("POST", "/reviews/sign", "/reviews/sign", frozenset({R.PANEL_MEMBER})),
    *[("POST", f"/reviews/{a}", f"/reviews/{a}", frozenset({R.BANK_MANAGER}))
      for a in ("activate", "suspend", "reinstate", "retire", "compromise")],
    ("POST", "/assembly-runs", "/assembly-runs", frozenset({R.BANK_MANAGER})),
    ("GET", "/assembly-runs", "/assembly-runs", PAPER_READERS),
    ("GET", "/assembly-runs/{run_id}", "/assembly-runs/999999", PAPER_READERS),
    ("GET", "/papers", "/papers", PAPER_READERS),
    ("GET", "/papers/{paper_id}", "/papers/999999", PAPER_READERS),
    ("POST", "/papers/{paper_id}/approve", "/papers/999999/approve", frozenset({R.BANK_MANAGER})),
    ("POST", "/papers/{paper_id}/pretest", "/papers/999999/pretest", frozenset({R.BANK_MANAGER})),
    ("POST", "/incidents/leak", "/incidents/leak", frozenset({R.BANK_MANAGER})),
    ("POST", "/incidents/damage", "/incidents/damage", frozenset({R.BANK_MANAGER})),
    ("POST", "/incidents/item-error", "/incidents/item-error", frozenset({R.BANK_MANAGER})),
    ("GET", "/incidents", "/incidents", frozenset({R.BANK_MANAGER, R.AUDITOR})),
    ("POST", "/papers/{paper_id}/seal", "/papers/999999/seal", frozenset({R.BANK_MANAGER})),
    ("GET", "/handovers", "/handovers", frozenset({R.AUDITOR, R.BANK_MANAGER})),
    ("GET", "/signing-keys", "/signing-keys", frozenset({R.ADMIN, R.AUDITOR})),
    ("POST", "/signing-keys/rotate", "/signing-keys/rotate", frozenset({R.ADMIN})),
    ("POST", "/papers/{paper_id}/grades", "/papers/999999/grades", SCORERS),
    ("GET", "/papers/{paper_id}/results", "/papers/999999/results", SCORERS | {R.AUDITOR}),
    ("POST", "/papers/{paper_id}/rescore", "/papers/999999/rescore", SCORERS),
    ("GET", "/engine/papers", "/engine/papers", ENGINE),
    ("GET", "/engine/papers/{paper_id}/package", "/engine/papers/999999/package", ENGINE),
    ("GET", "/engine/public-key", "/engine/public-key", ENGINE),
    ("POST", "/engine/papers/{paper_id}/key", "/engine/papers/999999/key", ENGINE),
    ("POST", "/engine/papers/{paper_id}/responses", "/engine/papers/999999/responses", ENGINE),
    ("POST", "/calibration-runs", "/calibration-runs", frozenset({R.PSYCHOMETRICIAN})),
    ("GET", "/calibration-runs", "/calibration-runs", CALIBRATION_READERS),
    ("GET", "/calibration-runs/{name}", "/calibration-runs/nope", CALIBRATION_READERS),
    ("GET", "/calibration-runs/{name}/parameters", "/calibration-runs/nope/parameters", CALIBRATION_READERS),
    ("POST", "/calibration-runs/{name}/approve", "/calibration-runs/nope/approve", frozenset({R.PSYCHOMETRICIAN})),
    ("POST", "/exam-sessions/loft", "/exam-sessions/loft", frozenset({R.BANK_MANAGER})),
    ("POST", "/exam-sessions/cat", "/exam-sessions/cat", frozenset({R.BANK_MANAGER})),
    ("GET", "/exam-sessions/{session_id}", "/exam-sessions/999999", PAPER_READERS),
    ("GET", "/exam-sessions/{session_id}/forms/{ticket}", "/exam-sessions/999999/forms/X1", PAPER_READERS),
    ("GET", "/exam-sessions/{session_id}/results", "/exam-sessions/999999/results", SCORERS | {R.AUDITOR}),
    ("POST", "/engine/sessions/{session_id}/cat-logs", "/engine/sessions/999999/cat-logs", ENGINE),
    ("GET", "/jobs", "/jobs", JOB_READERS),
    ("GET", "/jobs/{job_id}", "/jobs/999999", JOB_READERS),
    ("GET", "/audit/events", "/audit/events", frozenset({R.AUDITOR, R.ADMIN})),
    ("GET", "/audit/verify", "/audit/verify", frozenset({R.AUDITOR, R.ADMIN})),
]


def _call(client: TestClient, method: str, url: str, headers: dict[str, str]) -> int:
    body = {} if method in ("POST", "PUT") else None
    return client.request(method, url, headers=headers, json=body).status_code


def test_the_matrix_covers_every_route_and_the_docs_name_the_same_roles() -> None:
    paths = create_app(migrate=False).openapi()["paths"]
    documented = {(method.upper(), path): set(operation.get("x-roles", [r.value for r in Role]))
                  for path, operations in paths.items() for method, operation in operations.items()}
    assert documented == {(m, route): {r.value for r in allowed} for m, route, _, allowed in MATRIX}


def test_no_token_or_a_wrong_token_is_401_everywhere(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}):
        statuses = {(m, url): _call(client, m, url, headers) for m, _, url, _ in MATRIX}
        assert {k: s for k, s in statuses.items() if s != 401} == {}


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_each_role_gets_exactly_its_endpoints(role: Role, client: TestClient, auth: Callable[[str], dict[str, str]]) -> None:
    headers = auth(ROLE_USER[role])
    wrong = []
    for method, route, url, allowed in MATRIX:
        status = _call(client, method, url, headers)
        if role in allowed and status in (401, 403):
            wrong.append(f"{method} {route}: {status}, but {role.value} is allowed")
        if role not in allowed and status != 403:
            wrong.append(f"{method} {route}: {status}, but {role.value} must get 403")
    assert wrong == []
