"""Keys: per-paper AES-256 data keys, wrapping them at rest, and the bank's Ed25519 signing key.

    ValidationError (ValueError)
    └── KeyUnwrapFailed     a wrapped key does not open under this master key/context
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from itembank.errors import ValidationError

KEY_BYTES = 32
NONCE_BYTES = 12
_WRAP_LABEL = b"itembank-key-wrap/1\x00"
_FINGERPRINT_LABEL = b"itembank-master-key-fingerprint/1\x00"


class KeyUnwrapFailed(ValidationError):
    code = "key_unwrap_failed"



def new_data_key() -> bytes:
    """A fresh AES-256 key for one paper."""
    return AESGCM.generate_key(bit_length=256)


def check_key(key: bytes, name: str) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise ValidationError(f"the {name} must be {KEY_BYTES} bytes", field=name)


def wrap_key(master: bytes, key: bytes, *, context: str) -> bytes:
    """Encrypt a key for storage; the context is bound as AAD so a key moved elsewhere won't open."""
    check_key(master, "master_key")
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(master).encrypt(nonce, key, _WRAP_LABEL + context.encode("utf-8"))


def unwrap_key(master: bytes, wrapped: bytes, *, context: str) -> bytes:
    """Inverse of ``wrap_key``; fails on a different master key, context or any altered byte."""
    check_key(master, "master_key")
    try:
        return AESGCM(master).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _WRAP_LABEL + context.encode("utf-8")
        )
    except (InvalidTag, ValueError) as exc:
        raise KeyUnwrapFailed(
            f"wrapped key does not open under this master key for context {context!r}",
            field="wrapped_key",
        ) from exc


def data_key_context(paper_id: str | int) -> str:
    """The one wrapping context of a paper's data key, so it cannot be replayed for another paper."""
    return f"paper:{paper_id}:data-key"


def key_id_of(public: Ed25519PublicKey) -> str:
    """A short fingerprint of a public key; packages name the key that signed them by it."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def master_key_fingerprint(master: bytes) -> str:
    """A short public name of a master key, for the ledger and operators; never the key itself.

    Domain-separated, so it matches no other hash the bank takes of the same bytes.
    """
    check_key(master, "master_key")
    return hashlib.sha256(_FINGERPRINT_LABEL + master).hexdigest()[:16]


@dataclass(frozen=True)
class SigningKey:
    """The bank's Ed25519 signing key; ``key_id`` is derived from the public half."""

    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        return key_id_of(self.public_key)

    def public_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def public_b64(self) -> str:
        raw = self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return base64.b64encode(raw).decode("ascii")

    def wrap(self, master: bytes) -> bytes:
        """The private key encrypted by the master key, for storage at rest."""
        raw = self.private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return wrap_key(master, raw, context="signing-key")

    @classmethod
    def unwrap(cls, master: bytes, wrapped: bytes, *, key_id: str | None = None) -> SigningKey:
        """Restore a stored key; ``key_id`` (if given) must match, so rows cannot be swapped."""
        key = cls(
            Ed25519PrivateKey.from_private_bytes(unwrap_key(master, wrapped, context="signing-key"))
        )
        if key_id is not None and key.key_id != key_id:
            raise KeyUnwrapFailed(
                f"unwrapped signing key has id {key.key_id}, expected {key_id}", field="key_id"
            )
        return key


def load_public_key(text: str | bytes) -> Ed25519PublicKey:
    """Accept a PEM public key or the base64 of the 32 raw bytes."""
    data = text.encode("ascii") if isinstance(text, str) else text
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(data)
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(data, validate=True))
    except (ValueError, binascii.Error) as exc:
        raise ValidationError(
            "public key is neither PEM nor base64 of 32 raw bytes", field="public_key"
        ) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValidationError("public key is not an Ed25519 key", field="public_key")
    return key

