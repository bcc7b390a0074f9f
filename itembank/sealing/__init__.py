"""Sealed papers: a delivery package encrypted per paper, signed by the bank, released by policy.

Pure: bytes and dicts in, bytes and dicts out; the services store the results and log each
handover (交接记录). The answer key never enters a delivery package: fields are whitelisted.
One module per job: ``keys`` (data keys, wrapping, the signing key), ``package`` (seal, verify,
open), ``release`` (the key-release policy), ``delivery`` (what candidates see, site variants).

    ItemBankError
    ├── ValidationError (ValueError)
    │   └── KeyUnwrapFailed                 a wrapped key does not open under this master key/context
    ├── Forbidden (PermissionError)
    │   └── KeyReleaseRefused (ValueError)  wrong engine, too early or window closed; ``reason`` says which
    └── IntegrityFailure
        └── TamperedPackage (ValueError)    a sealed package fails parsing, signature, decryption or hash
"""

from itembank.hashing import canonical_json, content_hash
from itembank.sealing.delivery import (
    DELIVERY_FORMAT,
    ITEM_FIELDS,
    OPTION_FIELDS,
    PAPER_FIELDS,
    SHUFFLED_TYPES,
    VariantRecord,
    build_delivery_package,
    shuffle_variant,
    unshuffle_responses,
)
from itembank.sealing.keys import (
    KEY_BYTES,
    NONCE_BYTES,
    KeyUnwrapFailed,
    SigningKey,
    data_key_context,
    key_id_of,
    load_public_key,
    master_key_fingerprint,
    new_data_key,
    unwrap_key,
    wrap_key,
)
from itembank.sealing.package import (
    SEAL_FORMAT,
    ReleaseWindow,
    SealedPackage,
    SealHeader,
    TamperedPackage,
    open_sealed,
    seal,
    verify,
)
from itembank.sealing.release import (
    KeyReleaseRefused,
    ReleaseTerms,
    check_key_release,
    release_data_key,
)

__all__ = [
    "DELIVERY_FORMAT",
    "ITEM_FIELDS",
    "KEY_BYTES",
    "NONCE_BYTES",
    "OPTION_FIELDS",
    "PAPER_FIELDS",
    "SEAL_FORMAT",
    "SHUFFLED_TYPES",
    "KeyReleaseRefused",
    "KeyUnwrapFailed",
    "ReleaseTerms",
    "ReleaseWindow",
    "SealHeader",
    "SealedPackage",
    "SigningKey",
    "TamperedPackage",
    "VariantRecord",
    "build_delivery_package",
    "canonical_json",
    "check_key_release",
    "content_hash",
    "data_key_context",
    "key_id_of",
    "load_public_key",
    "master_key_fingerprint",
    "new_data_key",
    "open_sealed",
    "release_data_key",
    "seal",
    "shuffle_variant",
    "unshuffle_responses",
    "unwrap_key",
    "verify",
    "wrap_key",
]
