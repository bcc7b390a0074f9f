"""The sealed package: a delivery package encrypted under the paper's data key and signed by the bank.

    IntegrityFailure
    └── TamperedPackage (ValueError)    a sealed package fails parsing, signature, decryption or hash
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from itembank.errors import IntegrityFailure, ValidationError
from itembank.hashing import canonical_json, content_hash
from itembank.sealing.keys import NONCE_BYTES, SigningKey, check_key, key_id_of

SEAL_FORMAT = "itembank-sealed/2"
#: Formats this bank opens, and whether their plaintext is zlib-compressed before encryption.
#: /2 compresses: a paper's JSON shrinks several-fold (81 KB -> 12 KB sealed for a 100-item sample
#: paper), which is what an exam site on a slow line waits for and what a morning's pull storm
#: copies 200 times. Only the compressed length shows, to engines allowed to pull the paper anyway.
#: /1 packages sealed before it stay readable.
OPENABLE_FORMATS = {"itembank-sealed/1": False, SEAL_FORMAT: True}
MAX_CONTENT_BYTES = 64 * 2**20
"""A package's plaintext is refused beyond this size, even when signed (no decompression bomb)."""
_SIGN_LABEL = b"itembank-seal-signature/1\x00"


class TamperedPackage(IntegrityFailure, ValueError):
    code = "tampered_package"



def require_utc(moment: datetime, name: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValidationError(f"{name} must be a timezone-aware datetime", field=name)
    return moment.astimezone(UTC)


def iso_utc(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class ReleaseWindow:
    """When a paper may be delivered: from ``not_before`` until (excluding) ``not_after``, UTC."""

    not_before: datetime
    not_after: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "not_before", require_utc(self.not_before, "not_before"))
        object.__setattr__(self, "not_after", require_utc(self.not_after, "not_after"))
        if self.not_after <= self.not_before:
            raise ValidationError("the release window must end after it starts", field="not_after")


@dataclass(frozen=True)
class SealHeader:
    """The clear, signed part of a sealed package; also the AES-GCM associated data."""

    paper_id: str
    content_hash: str
    not_before: datetime
    not_after: datetime
    engines: tuple[str, ...]
    key_id: str
    variant_seed: int | None = None
    format: str = SEAL_FORMAT

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "paper_id": self.paper_id,
            "content_hash": self.content_hash,
            "not_before": iso_utc(self.not_before),
            "not_after": iso_utc(self.not_after),
            "engines": list(self.engines),
            "variant_seed": self.variant_seed,
            "key_id": self.key_id,
        }

    @classmethod
    def from_dict(cls, raw: Any) -> SealHeader:
        try:
            header = cls(
                paper_id=_typed(raw["paper_id"], str),
                content_hash=_typed(raw["content_hash"], str),
                not_before=datetime.fromisoformat(_typed(raw["not_before"], str)),
                not_after=datetime.fromisoformat(_typed(raw["not_after"], str)),
                engines=tuple(_typed(e, str) for e in _typed(raw["engines"], list)),
                key_id=_typed(raw["key_id"], str),
                variant_seed=None
                if raw["variant_seed"] is None
                else _typed(raw["variant_seed"], int),
                format=_typed(raw["format"], str),
            )
            if set(raw) != set(header.to_dict()):
                raise ValueError(f"unexpected fields {sorted(set(raw) - set(header.to_dict()))}")
        except (KeyError, TypeError, ValueError) as exc:
            raise TamperedPackage(
                f"sealed package header is malformed: {exc}", field="header"
            ) from exc
        if header.format not in OPENABLE_FORMATS:
            raise TamperedPackage(
                f"unknown sealed package format {header.format!r}", field="header.format"
            )
        return header


def _typed(value: Any, kind: type) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: Any, name: str) -> bytes:
    """Strict base64: a changed padding bit or a non-canonical spelling is tampering too."""
    try:
        raw = base64.b64decode(_typed(text, str), validate=True)
    except (TypeError, ValueError, binascii.Error) as exc:
        raise TamperedPackage(f"{name} is not valid base64", field=name) from exc
    if _b64(raw) != text:
        raise TamperedPackage(f"{name} is not canonical base64", field=name)
    return raw


@dataclass(frozen=True)
class SealedPackage:
    """What an exam engine pulls: header, nonce, ciphertext and the bank's signature."""

    header: SealHeader
    nonce: bytes
    ciphertext: bytes
    signature: bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "header": self.header.to_dict(),
            "nonce": _b64(self.nonce),
            "ciphertext": _b64(self.ciphertext),
            "signature": _b64(self.signature),
        }

    def to_json(self) -> bytes:
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, raw: Any) -> SealedPackage:
        if not isinstance(raw, dict) or set(raw) != {"header", "nonce", "ciphertext", "signature"}:
            raise TamperedPackage(
                "sealed package must have exactly header, nonce, ciphertext and signature",
                field="package",
            )
        return cls(
            header=SealHeader.from_dict(raw["header"]),
            nonce=_unb64(raw["nonce"], "nonce"),
            ciphertext=_unb64(raw["ciphertext"], "ciphertext"),
            signature=_unb64(raw["signature"], "signature"),
        )

    @classmethod
    def from_json(cls, data: bytes) -> SealedPackage:
        """Parse and insist on the canonical spelling, so no two byte strings mean one package."""
        try:
            sealed = cls.from_dict(json.loads(data.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise TamperedPackage(
                f"sealed package is not valid UTF-8 JSON: {exc}", field="package"
            ) from exc
        if sealed.to_json() != data:
            raise TamperedPackage("sealed package is not in canonical form", field="package")
        return sealed


def _signed_bytes(header_bytes: bytes, nonce: bytes, ciphertext: bytes) -> bytes:
    return _SIGN_LABEL + b"".join(
        struct.pack(">Q", len(part)) + part for part in (header_bytes, nonce, ciphertext)
    )


def seal(
    package: dict[str, Any],
    *,
    paper_id: str | int,
    window: ReleaseWindow,
    engines: Iterable[str],
    data_key: bytes,
    signing_key: SigningKey,
    variant_seed: int | None = None,
) -> SealedPackage:
    """Encrypt a delivery package under the paper's data key and sign it with the bank's key."""
    check_key(data_key, "data_key")
    allowed = tuple(sorted(set(engines)))
    if not allowed:
        raise ValidationError("a sealed paper needs at least one allowed engine", field="engines")
    header = SealHeader(
        paper_id=str(paper_id),
        content_hash=content_hash(package),
        not_before=window.not_before,
        not_after=window.not_after,
        engines=allowed,
        key_id=signing_key.key_id,
        variant_seed=variant_seed,
    )
    header_bytes = canonical_json(header.to_dict())
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(data_key).encrypt(nonce, zlib.compress(canonical_json(package)), header_bytes)
    signature = signing_key.private_key.sign(_signed_bytes(header_bytes, nonce, ciphertext))
    return SealedPackage(header, nonce, ciphertext, signature)


def verify(sealed: SealedPackage, public_key: Ed25519PublicKey) -> SealHeader:
    """Check the bank's signature over header, nonce and ciphertext; return the trusted header."""
    if sealed.header.key_id != key_id_of(public_key):
        raise TamperedPackage(
            f"package names signing key {sealed.header.key_id}, not the given key {key_id_of(public_key)}",
            field="header.key_id",
        )
    if len(sealed.nonce) != NONCE_BYTES:
        raise TamperedPackage(f"nonce must be {NONCE_BYTES} bytes", field="nonce")
    header_bytes = canonical_json(sealed.header.to_dict())
    try:
        public_key.verify(
            sealed.signature, _signed_bytes(header_bytes, sealed.nonce, sealed.ciphertext)
        )
    except InvalidSignature as exc:
        raise TamperedPackage(
            f"signature of paper {sealed.header.paper_id} does not verify: header, nonce, ciphertext "
            "or signature was altered",
            field="signature",
        ) from exc
    return sealed.header


def open_sealed(
    sealed: SealedPackage, data_key: bytes, public_key: Ed25519PublicKey
) -> dict[str, Any]:
    """Verify, decrypt and check the content hash; what an engine does after a key release."""
    header = verify(sealed, public_key)
    check_key(data_key, "data_key")
    try:
        plain = AESGCM(data_key).decrypt(
            sealed.nonce, sealed.ciphertext, canonical_json(header.to_dict())
        )
    except InvalidTag as exc:
        raise TamperedPackage(
            f"paper {header.paper_id} does not decrypt: wrong data key or altered ciphertext",
            field="ciphertext",
        ) from exc
    package: dict[str, Any] = json.loads(_plaintext(header, plain).decode("utf-8"))
    if content_hash(package) != header.content_hash:
        raise TamperedPackage(
            f"content hash of paper {header.paper_id} does not match", field="content_hash"
        )
    return package


def _plaintext(header: SealHeader, decrypted: bytes) -> bytes:
    """The package JSON of a decrypted payload: inflated (within ``MAX_CONTENT_BYTES``) if its format compresses."""
    if not OPENABLE_FORMATS[header.format]:
        return decrypted
    inflater = zlib.decompressobj()
    try:
        plain = inflater.decompress(decrypted, MAX_CONTENT_BYTES)
    except zlib.error as exc:
        raise TamperedPackage(f"paper {header.paper_id} does not decompress: {exc}", field="ciphertext") from exc
    if not inflater.eof or inflater.unconsumed_tail or inflater.unused_data:
        raise TamperedPackage(f"paper {header.paper_id} is not one complete package of at most "
                              f"{MAX_CONTENT_BYTES} bytes", field="ciphertext")
    return plain
