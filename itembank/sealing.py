"""Sealed papers: a delivery package encrypted per paper, signed by the bank, released by policy.

Pure: bytes and dicts in, bytes and dicts out; the services store the results and log each
handover (交接记录). The answer key never enters a delivery package: fields are whitelisted.

    ItemBankError
    ├── ValidationError (ValueError)
    │   └── KeyUnwrapFailed                 a wrapped key does not open under this master key/context
    ├── Forbidden (PermissionError)
    │   └── KeyReleaseRefused (ValueError)  wrong engine, too early or window closed; ``reason`` says which
    └── IntegrityFailure
        └── TamperedPackage (ValueError)    a sealed package fails parsing, signature, decryption or hash
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pandas as pd
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from itembank.errors import Forbidden, IntegrityFailure, ValidationError
from itembank.hashing import canonical_json, content_hash

SEAL_FORMAT = "itembank-sealed/1"
DELIVERY_FORMAT = "itembank-delivery/1"
KEY_BYTES = 32
NONCE_BYTES = 12
_WRAP_LABEL = b"itembank-key-wrap/1\x00"
_SIGN_LABEL = b"itembank-seal-signature/1\x00"

PAPER_FIELDS = (
    "paper_id",
    "name",
    "title",
    "occupation",
    "level",
    "exam_kind",
    "duration_minutes",
    "instructions",
)
ITEM_FIELDS = ("item_id", "version", "type", "stem", "stimulus", "set_id", "media")
OPTION_FIELDS = ("text", "media")
SHUFFLED_TYPES = frozenset({"single_choice", "multiple_choice"})


class KeyUnwrapFailed(ValidationError):
    code = "key_unwrap_failed"


class KeyReleaseRefused(Forbidden, ValueError):
    """``reason`` is one of ``engine_not_allowed``, ``too_early``, ``window_closed``."""

    code = "key_release_refused"

    def __init__(self, message: str, *, reason: str, field: str, details: Any = None) -> None:
        super().__init__(message, field=field, details=details)
        self.reason = reason


class TamperedPackage(IntegrityFailure, ValueError):
    code = "tampered_package"


# ---------------------------------------------------------------- keys


def new_data_key() -> bytes:
    """A fresh AES-256 key for one paper."""
    return AESGCM.generate_key(bit_length=256)


def _check_key(key: bytes, name: str) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise ValidationError(f"the {name} must be {KEY_BYTES} bytes", field=name)


def wrap_key(master: bytes, key: bytes, *, context: str) -> bytes:
    """Encrypt a key for storage; the context is bound as AAD so a key moved elsewhere won't open."""
    _check_key(master, "master_key")
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(master).encrypt(nonce, key, _WRAP_LABEL + context.encode("utf-8"))


def unwrap_key(master: bytes, wrapped: bytes, *, context: str) -> bytes:
    """Inverse of ``wrap_key``; fails on a different master key, context or any altered byte."""
    _check_key(master, "master_key")
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


def _key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


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
        return _key_id(self.public_key)

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


# ---------------------------------------------------------------- sealed package


def _utc(moment: datetime, name: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValidationError(f"{name} must be a timezone-aware datetime", field=name)
    return moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class ReleaseWindow:
    """When a paper may be delivered: from ``not_before`` until (excluding) ``not_after``, UTC."""

    not_before: datetime
    not_after: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "not_before", _utc(self.not_before, "not_before"))
        object.__setattr__(self, "not_after", _utc(self.not_after, "not_after"))
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
            "not_before": _iso(self.not_before),
            "not_after": _iso(self.not_after),
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
        if header.format != SEAL_FORMAT:
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
    _check_key(data_key, "data_key")
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
    ciphertext = AESGCM(data_key).encrypt(nonce, canonical_json(package), header_bytes)
    signature = signing_key.private_key.sign(_signed_bytes(header_bytes, nonce, ciphertext))
    return SealedPackage(header, nonce, ciphertext, signature)


def verify(sealed: SealedPackage, public_key: Ed25519PublicKey) -> SealHeader:
    """Check the bank's signature over header, nonce and ciphertext; return the trusted header."""
    if sealed.header.key_id != _key_id(public_key):
        raise TamperedPackage(
            f"package names signing key {sealed.header.key_id}, not the given key {_key_id(public_key)}",
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
    _check_key(data_key, "data_key")
    try:
        plain = AESGCM(data_key).decrypt(
            sealed.nonce, sealed.ciphertext, canonical_json(header.to_dict())
        )
    except InvalidTag as exc:
        raise TamperedPackage(
            f"paper {header.paper_id} does not decrypt: wrong data key or altered ciphertext",
            field="ciphertext",
        ) from exc
    package: dict[str, Any] = json.loads(plain.decode("utf-8"))
    if content_hash(package) != header.content_hash:
        raise TamperedPackage(
            f"content hash of paper {header.paper_id} does not match", field="content_hash"
        )
    return package


# ---------------------------------------------------------------- key release policy


class ReleaseTerms(Protocol):
    """Anything carrying a paper's release terms: a ``SealHeader`` or a stored sealed-paper row."""

    @property
    def paper_id(self) -> Any: ...
    @property
    def engines(self) -> Sequence[str]: ...
    @property
    def not_before(self) -> Any: ...
    @property
    def not_after(self) -> Any: ...


def check_key_release(
    terms: ReleaseTerms, engine_id: str, now: datetime, *, lead: timedelta = timedelta(minutes=15)
) -> None:
    """Refuse, with the reason, unless an allowed engine asks from ``lead`` before the window to its end."""
    now = _utc(now, "now")
    not_before, not_after = _utc(terms.not_before, "not_before"), _utc(terms.not_after, "not_after")
    context = {"paper_id": str(terms.paper_id), "engine_id": engine_id, "now": _iso(now)}
    if engine_id not in terms.engines:
        raise KeyReleaseRefused(
            f"engine {engine_id!r} is not allowed to pull paper {terms.paper_id}",
            reason="engine_not_allowed",
            field="engine_id",
            details=context,
        )
    opens = not_before - lead
    if now < opens:
        raise KeyReleaseRefused(
            f"too early: the key of paper {terms.paper_id} is released from {_iso(opens)} "
            f"({lead} before the window opens at {_iso(not_before)}); now is {_iso(now)}",
            reason="too_early",
            field="now",
            details=context | {"opens": _iso(opens)},
        )
    if now >= not_after:
        raise KeyReleaseRefused(
            f"window closed at {_iso(not_after)} for paper {terms.paper_id}; now is {_iso(now)}",
            reason="window_closed",
            field="now",
            details=context | {"closed": _iso(not_after)},
        )


def release_data_key(
    master: bytes,
    wrapped_data_key: bytes,
    terms: ReleaseTerms,
    engine_id: str,
    now: datetime,
    *,
    lead: timedelta = timedelta(minutes=15),
) -> bytes:
    """Apply the release policy, then unwrap the paper's data key for the engine."""
    check_key_release(terms, engine_id, now, lead=lead)
    return unwrap_key(master, wrapped_data_key, context=data_key_context(terms.paper_id))


# ---------------------------------------------------------------- delivery package and variants


def _plain(value: Any, path: str) -> Any:
    """Whitelisted values must be scalars or lists of strings, so nothing can hide inside them."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValidationError(f"{path} must be a scalar or a list of strings", field=path)


def _pick(source: dict[str, Any], names: Sequence[str], path: str) -> dict[str, Any]:
    return {name: _plain(source[name], f"{path}.{name}") for name in names if name in source}


def _delivery_options(options: Any, path: str) -> list[dict[str, Any]]:
    if options is None:
        return []
    if isinstance(options, dict):
        pairs = sorted(options.items())
    elif isinstance(options, list | tuple):
        pairs = [
            (str(o.get("label")), o) if isinstance(o, dict) else (chr(65 + i), o)
            for i, o in enumerate(options)
        ]
    else:
        raise ValidationError(f"{path} must be a mapping label -> text or a list", field=path)
    delivered = []
    for label, option in pairs:
        where = f"{path}.{label}"
        body = (
            _pick(option, OPTION_FIELDS, where)
            if isinstance(option, dict)
            else {"text": _plain(option, where)}
        )
        delivered.append({"label": str(label), **body})
    return delivered


def build_delivery_package(paper: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    """What candidates see, and nothing more: whitelisted paper/item/option fields, no keys or rubrics.

    ``paper["items"]`` lists ``{item_id, points?, section?, position?}`` (the paper's item rows);
    ``items`` are the full item versions. Sections keep their first-appearance order.
    """
    if "paper_id" not in paper:
        raise ValidationError("paper has no paper_id", field="paper.paper_id")
    by_id = {item["item_id"]: item for item in items}
    entries = sorted(
        enumerate(paper.get("items", [])), key=lambda e: (e[1].get("position", e[0]), e[0])
    )
    if not entries:
        raise ValidationError("paper has no items", field="paper.items")
    sections: dict[str, list[dict[str, Any]]] = {}
    for index, entry in entries:
        path = f"paper.items[{index}]"
        item = by_id.get(entry.get("item_id"))
        if item is None:
            raise ValidationError(
                f"{path}: item {entry.get('item_id')!r} is not among the items", field=path
            )
        points = entry.get("points", item.get("points"))
        if not isinstance(points, int | float) or points <= 0:
            raise ValidationError(
                f"{path}: points must be a positive number", field=f"{path}.points"
            )
        delivered = _pick(item, ITEM_FIELDS, f"item[{item['item_id']}]")
        delivered["points"] = points
        delivered["options"] = _delivery_options(
            item.get("options"), f"item[{item['item_id']}].options"
        )
        sections.setdefault(str(entry.get("section", "main")), []).append(delivered)
    return {
        "format": DELIVERY_FORMAT,
        "paper": _pick(paper, PAPER_FIELDS, "paper")
        | {"total_points": sum(i["points"] for s in sections.values() for i in s)},
        "sections": [{"name": name, "items": section} for name, section in sections.items()],
    }


def _rank(seed: int, *parts: Any) -> str:
    """A stable pseudo-random sort key; the same on every platform and library version."""
    return hashlib.sha256(json.dumps([seed, *parts]).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class VariantRecord:
    """How a variant was shuffled: presented item order per section and option label maps."""

    seed: int
    item_order: dict[str, list[Any]] = field(default_factory=dict)
    option_maps: dict[str, dict[str, str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "item_order": self.item_order, "option_maps": self.option_maps}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> VariantRecord:
        return cls(
            int(raw["seed"]),
            dict(raw["item_order"]),
            {str(k): dict(v) for k, v in raw["option_maps"].items()},
        )


def _shuffle_section(items: list[dict[str, Any]], seed: int, section: str) -> list[dict[str, Any]]:
    """Shuffle items, keeping each item set (testlet) together and in its own order."""
    blocks: dict[Any, list[dict[str, Any]]] = {}
    for item in items:
        group = (
            ("set", item["set_id"]) if item.get("set_id") is not None else ("item", item["item_id"])
        )
        blocks.setdefault(group, []).append(item)
    order = sorted(blocks, key=lambda group: _rank(seed, "section", section, list(group)))
    return [item for group in order for item in blocks[group]]


def shuffle_variant(package: dict[str, Any], seed: int) -> tuple[dict[str, Any], VariantRecord]:
    """A site variant: item and option order derived from ``seed``, so a leaked copy names its site."""
    record = VariantRecord(seed=seed)
    sections = []
    for section in package["sections"]:
        shuffled = []
        for item in _shuffle_section(section["items"], seed, section["name"]):
            options = item.get("options", [])
            if item.get("type") in SHUFFLED_TYPES and options:
                labels = [o["label"] for o in options]
                presented = sorted(
                    options, key=lambda o: _rank(seed, "option", str(item["item_id"]), o["label"])
                )
                record.option_maps[str(item["item_id"])] = {
                    new: old["label"] for new, old in zip(labels, presented, strict=True)
                }
                options = [o | {"label": new} for new, o in zip(labels, presented, strict=True)]
            shuffled.append(item | {"options": options})
        record.item_order[section["name"]] = [i["item_id"] for i in shuffled]
        sections.append(section | {"items": shuffled})
    return package | {"sections": sections}, record


def unshuffle_responses(responses: pd.DataFrame, record: VariantRecord) -> pd.DataFrame:
    """Map presented option labels back to the bank's labels so the bank's keys score them."""
    restored = responses.copy()
    item_keys = restored["item_id"].astype(str)
    for item_id, mapping in record.option_maps.items():
        mask = item_keys == item_id
        if mask.any():
            restored.loc[mask, "response"] = restored.loc[mask, "response"].str.translate(
                str.maketrans(mapping)
            )
    return restored
