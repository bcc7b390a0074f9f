"""The master key that wraps every key at rest: make one, check the bank against it, rotate to a new one.

Two tables hold wrapped keys: each sealed paper's AES data key (``sealed_papers``, bound to its
paper) and each signing key's Ed25519 private half (``signing_keys``). Rotation rewraps them all
in the caller's one transaction, and only after every one has opened under the old key, so a
wrong old key or a damaged row changes nothing and no sealed paper is lost. The ledger gets the
two keys' fingerprints, never the keys.
"""

from __future__ import annotations

import base64
import hmac
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from itembank import audit, sealing
from itembank.config import MASTER_KEY_BYTES
from itembank.errors import Conflict, ValidationError
from itembank.models import Role, SealedPaper, SigningKey
from itembank.sealing.keys import check_key
from itembank.services.actors import Actor

DATA_KEYS = "sealed_papers"
SIGNING_KEYS = "signing_keys"
LISTED = 10
"""At most this many failing rows are named in a message (all are in the error's ``details``)."""


@dataclass(frozen=True)
class WrappedKeyRow:
    """Where one stored wrapped key lives."""

    table: str
    row_id: int

    def __str__(self) -> str:
        return f"{self.table} row {self.row_id}"


@dataclass(frozen=True)
class KeyCheck:
    """How many wrapped keys were tried under one master key, and the rows that did not open."""

    data_keys: int
    signing_keys: int
    failed: tuple[WrappedKeyRow, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failed

    def describe(self, master: str) -> str:
        """One line for an operator; ``master`` names the key tried (e.g. "the configured master key")."""
        total = self.data_keys + self.signing_keys
        if self.ok:
            return (f"all {total} wrapped keys open under {master} "
                    f"({self.data_keys} paper data keys, {self.signing_keys} signing keys)")
        shown = ", ".join(str(row) for row in self.failed[:LISTED])
        more = f" and {len(self.failed) - LISTED} more" if len(self.failed) > LISTED else ""
        return f"{len(self.failed)} of {total} wrapped keys do not open under {master}: {shown}{more}"

    def failed_rows(self) -> list[dict[str, Any]]:
        """Every failing row, for an error's ``details``."""
        return [asdict(row) for row in self.failed]


@dataclass(frozen=True)
class RotationResult:
    """What a rotation rewrapped, and the fingerprints that name the old and the new master key."""

    data_keys: int
    signing_keys: int
    old_fingerprint: str
    new_fingerprint: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _OpenedKeys:
    """Every wrapped key of the bank opened under one master key (the failures are in ``check``)."""

    check: KeyCheck
    data_keys: list[tuple[SealedPaper, bytes]]
    signing_keys: list[tuple[SigningKey, sealing.SigningKey]]


def check_master_key(session: Session, master: bytes) -> KeyCheck:
    """Whether every wrapped key in the bank opens under ``master`` with its own context.

    Run it before trusting a configured key (a paper whose key does not open cannot be released)
    and after a rotation, once every worker uses the new key.
    """
    check_key(master, "master_key")
    return _open_all(session, master).check


def rotate_master_key(session: Session, actor: Actor, old: bytes, new: bytes) -> RotationResult:
    """Rewrap every data key and signing key from ``old`` to ``new`` in the caller's transaction (admin).

    Nothing is written until every key has opened under ``old``: one that does not is named in a
    ``KeyUnwrapFailed`` and the bank stays as it was. Packages are not re-encrypted (their data
    keys do not change), so engines and pulled packages are unaffected. It holds the ledger head,
    as a seal does before it opens the signing key, so a worker still holding ``old`` is refused
    from then on instead of sealing a paper under it; until it restarts with ``new`` it cannot
    seal or release keys, hence: rotate with the API stopped.
    """
    actor.require(Role.ADMIN, action="rotate the master key")
    check_key(old, "old_master_key")
    check_key(new, "new_master_key")
    if hmac.compare_digest(old, new):
        raise ValidationError("the new master key is the current one; make a new one with "
                              "`itembank keys new-master`", field="new_master_key")
    audit.lock_head(session)  # one rotation at a time, and no signing key created meanwhile
    opened = _open_all(session, old)
    if not opened.check.ok:
        raise sealing.KeyUnwrapFailed(
            f"the master key was not rotated and nothing changed: {opened.check.describe('the old master key')}",
            field="old_master_key", details=opened.check.failed_rows(),
        )
    for sealed, data_key in opened.data_keys:
        wrapped = sealing.wrap_key(new, data_key, context=sealing.data_key_context(sealed.paper_id))
        sealed.wrapped_data_key = base64.b64encode(wrapped).decode("ascii")
        session.add(sealed)
    for row, signer in opened.signing_keys:
        row.wrapped_private_key = base64.b64encode(signer.wrap(new)).decode("ascii")
        session.add(row)
    session.flush()
    result = RotationResult(
        data_keys=len(opened.data_keys), signing_keys=len(opened.signing_keys),
        old_fingerprint=sealing.master_key_fingerprint(old), new_fingerprint=sealing.master_key_fingerprint(new),
    )
    audit.record(session, actor.name, "master_key.rotate", "master_key", result.new_fingerprint, result.to_dict())
    return result


def new_master_key_file(path: Path) -> str:
    """Write a fresh random master key (base64) to a new file only its owner can read; returns its fingerprint.

    An existing file is never overwritten: it may be the only copy of the key that opens the bank.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise Conflict(f"{path} already exists; a master key file is never overwritten, choose a new name",
                       field="master_key_file") from exc
    except OSError as exc:
        raise ValidationError(f"cannot create the master key file {path}: {exc.strerror or exc}",
                              field="master_key_file") from exc
    key = os.urandom(MASTER_KEY_BYTES)
    with os.fdopen(descriptor, "wb") as out:
        os.fchmod(out.fileno(), 0o600)  # exactly owner read/write, whatever the umask
        out.write(base64.b64encode(key) + b"\n")
    return sealing.master_key_fingerprint(key)


def _open_all(session: Session, master: bytes) -> _OpenedKeys:
    """Try every wrapped key under ``master``; a row that does not open is noted, not raised."""
    failed: list[WrappedKeyRow] = []
    data_keys: list[tuple[SealedPaper, bytes]] = []
    sealed_rows = session.exec(
        select(SealedPaper).options(defer(SealedPaper.package)).order_by(col(SealedPaper.id))  # type: ignore[arg-type]
    ).all()
    for sealed in sealed_rows:
        try:
            wrapped = base64.b64decode(sealed.wrapped_data_key, validate=True)
            data_keys.append((sealed, sealing.unwrap_key(
                master, wrapped, context=sealing.data_key_context(sealed.paper_id))))
        except ValueError:  # bad base64, a wrong key or context, or an altered byte
            failed.append(WrappedKeyRow(DATA_KEYS, sealed.id))  # type: ignore[arg-type]
    signing_keys: list[tuple[SigningKey, sealing.SigningKey]] = []
    signing_rows = session.exec(select(SigningKey).order_by(col(SigningKey.id))).all()
    for row in signing_rows:
        try:
            wrapped = base64.b64decode(row.wrapped_private_key, validate=True)
            signing_keys.append((row, sealing.SigningKey.unwrap(master, wrapped, key_id=row.key_id)))
        except ValueError:  # as above, or the key opens but is not the one the row names
            failed.append(WrappedKeyRow(SIGNING_KEYS, row.id))  # type: ignore[arg-type]
    return _OpenedKeys(KeyCheck(len(sealed_rows), len(signing_rows), tuple(failed)), data_keys, signing_keys)
