"""Reference exam-engine client: list, pull and verify sealed papers, get the key, open, submit responses
and CAT logs (an exam session's package is run offline with ``itembank.engine_offline``).

It trusts nothing it downloads: every package is checked against the bank's public key (fetched
once per client) and must be the paper that was asked for. Submissions retry with the same batch
id, so a retry after a lost answer never stores responses twice. HTTP error bodies
(``{"code", "message", "field"}``) come back as the bank's own domain errors.

    ItemBankError
    └── EngineUnavailable (ConnectionError)   the bank did not answer, even after the retries
"""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from itembank import sealing
from itembank.adaptive import TamperedLog
from itembank.errors import (
    Busy,
    Conflict,
    Forbidden,
    IntegrityFailure,
    ItemBankError,
    NotFound,
    ValidationError,
)

RETRIED_STATUSES = frozenset({502, 503, 504})
ERRORS_BY_STATUS: dict[int, type[ItemBankError]] = {
    401: Forbidden,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: ValidationError,
}
ERRORS_BY_CODE: dict[str, type[ItemBankError]] = {
    "busy": Busy,
    "integrity_failure": IntegrityFailure,
    "tampered_log": TamperedLog,
    "tampered_package": sealing.TamperedPackage,
}


class EngineUnavailable(ItemBankError, ConnectionError):
    code = "engine_unavailable"


def _domain_error(response: httpx.Response) -> ItemBankError:
    """The bank's error body as a domain error; key-release refusals keep their reason."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = str(body.get("message") or f"the bank answered HTTP {response.status_code}")
    field, details, code = body.get("field"), body.get("details"), str(body.get("code", ""))
    if code == sealing.KeyReleaseRefused.code:
        reason = details.get("reason", "refused") if isinstance(details, dict) else "refused"
        return sealing.KeyReleaseRefused(message, reason=reason, field=field or "engine_id", details=details)
    kind = ERRORS_BY_CODE.get(code) or ERRORS_BY_STATUS.get(response.status_code, ItemBankError)
    return kind(message, field=field, details=details)


class EngineClient:
    """One exam engine talking to the bank over HTTP with its bearer token."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        http: httpx.Client | None = None,
        retries: int = 3,
        backoff_seconds: float = 0.5,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = http or httpx.Client(timeout=30.0)
        self._headers = {"Authorization": f"Bearer {token}"}
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self._public_keys: dict[str, Ed25519PublicKey] = {}

    def _request(self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None,
                 attempts: int = 1) -> Any:
        """Send, retrying transport failures and gateway errors ``attempts`` times in all."""
        for attempt in range(1, attempts + 1):
            try:
                response = self._http.request(method, f"{self.base_url}{path}", json=json, params=params,
                                              headers=self._headers)
            except httpx.TransportError as exc:
                if attempt == attempts:
                    raise EngineUnavailable(
                        f"the bank at {self.base_url} did not answer {method} {path} after {attempts} attempt(s): {exc}",
                        field="url",
                    ) from exc
            else:
                if response.status_code not in RETRIED_STATUSES or attempt == attempts:
                    break
            time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
        if response.is_error:
            raise _domain_error(response)
        return response.json()

    def papers(self) -> list[dict[str, Any]]:
        """Sealed papers this engine may pull, with their windows and content hashes."""
        return list(self._request("GET", "/engine/papers"))

    def public_key(self, key_id: str) -> Ed25519PublicKey:
        """The bank's signing key of that id (a package names its own), fetched once; the key the bank
        sends must really have that id, so a substituted key cannot pass."""
        if key_id not in self._public_keys:
            body = self._request("GET", "/engine/public-key", params={"key_id": key_id})
            key = sealing.load_public_key(body["public_key_pem"])
            if sealing.key_id_of(key) != key_id:
                raise sealing.TamperedPackage("the bank's public key does not match its key id", field="key_id")
            self._public_keys[key_id] = key
        return self._public_keys[key_id]

    def pull(self, paper_id: int) -> sealing.SealedPackage:
        """Download a sealed paper and verify the bank's signature before keeping it."""
        sealed = sealing.SealedPackage.from_dict(self._request("GET", f"/engine/papers/{paper_id}/package"))
        header = sealing.verify(sealed, self.public_key(sealed.header.key_id))
        if header.paper_id != str(paper_id):
            raise sealing.TamperedPackage(
                f"asked for paper {paper_id} but received a package for paper {header.paper_id}",
                field="header.paper_id",
            )
        return sealed

    def data_key(self, paper_id: int) -> bytes:
        """Ask for the paper's data key; the bank refuses outside the release window."""
        body = self._request("POST", f"/engine/papers/{paper_id}/key")
        return base64.b64decode(body["data_key"], validate=True)

    def open(self, paper_id: int, sealed: sealing.SealedPackage) -> dict[str, Any]:
        """Get the key and decrypt: the candidates' paper, verified against signature and content hash."""
        if sealed.header.paper_id != str(paper_id):
            raise sealing.TamperedPackage(
                f"package is for paper {sealed.header.paper_id}, not {paper_id}", field="header.paper_id"
            )
        return sealing.open_sealed(sealed, self.data_key(paper_id), self.public_key(sealed.header.key_id))

    def submit(self, paper_id: int, batch_id: str, responses: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Send a response batch, retrying with the same batch id (the bank stores it once)."""
        body = {"batch_id": batch_id, "responses": list(responses)}
        return dict(
            self._request("POST", f"/engine/papers/{paper_id}/responses", json=body, attempts=1 + self.retries)
        )

    def submit_cat_log(self, session_id: int, ticket: str, log: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Send a finished CAT's log (from ``CatPackage.logs()``), retrying: the same log again is a no-op."""
        body = {"ticket": ticket, "log": list(log)}
        return dict(self._request("POST", f"/engine/sessions/{session_id}/cat-logs", json=body,
                                  attempts=1 + self.retries))
