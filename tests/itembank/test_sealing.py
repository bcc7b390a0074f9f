"""Sealed papers: tamper evidence, key release policy, key wrapping, answer-key stripping, variants."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from itembank.errors import ValidationError
from itembank.sealing import (
    KeyReleaseRefused,
    KeyUnwrapFailed,
    ReleaseWindow,
    SealedPackage,
    SealHeader,
    SigningKey,
    TamperedPackage,
    VariantRecord,
    build_delivery_package,
    canonical_json,
    check_key_release,
    content_hash,
    data_key_context,
    load_public_key,
    new_data_key,
    open_sealed,
    release_data_key,
    seal,
    shuffle_variant,
    unshuffle_responses,
    unwrap_key,
    verify,
    wrap_key,
)
from itembank.sealing import package as package_module

MASTER = bytes(range(32))
START = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
WINDOW = ReleaseWindow(START, START + timedelta(hours=2))
SECRETS = ("SECRET-KEY-ANSWER", "SECRET-RUBRIC", "SECRET-EXPLANATION", "SECRET-NOTE")


def _items() -> list[dict]:
    return [
        {
            "item_id": "I1",
            "version": 2,
            "type": "single_choice",
            "stem": "Which fuse?",
            "options": {"A": "1 A", "B": "2 A", "C": "5 A", "D": "10 A"},
            "points": 1,
            "key": SECRETS[0],
            "answer": SECRETS[0],
            "analysis": SECRETS[2],
            "element": "B-01-001",
        },
        {
            "item_id": "I2",
            "type": "multiple_choice",
            "stem": "Which are PPE?",
            "options": [
                {"label": "A", "text": "gloves", "correct": SECRETS[0]},
                {"label": "B", "text": "goggles", "is_key": True, "note": SECRETS[3]},
                {"label": "C", "text": "radio"},
            ],
            "points": 2,
            "key": "AB",
            "difficulty": 3,
        },
        {
            "item_id": "I3",
            "type": "true_false",
            "stem": "Earth first.",
            "points": 1,
            "key": "T",
            "options": None,
            "correct_answer": SECRETS[0],
        },
        {
            "item_id": "I4",
            "type": "case_analysis",
            "stem": "Diagnose.",
            "points": 10,
            "rubric": SECRETS[1],
            "scoring_rubric": {"steps": SECRETS[1]},
            "model_answer": SECRETS[0],
            "set_id": "S1",
            "stimulus": "A motor hums.",
        },
        {
            "item_id": "I5",
            "type": "short_answer",
            "stem": "Why?",
            "points": 5,
            "rubric": SECRETS[1],
            "set_id": "S1",
            "stimulus": "A motor hums.",
        },
    ]


PAPER = {
    "paper_id": 17,
    "name": "Electrician L3 theory A",
    "duration_minutes": 90,
    "approved_by": "SECRET-NOTE",
    "key_sheet": {"I1": SECRETS[0]},
    "items": [
        {"item_id": "I1", "section": "single", "position": 1},
        {"item_id": "I2", "section": "multiple", "position": 2, "points": 3},
        {"item_id": "I3", "section": "single", "position": 0},
        {"item_id": "I4", "section": "case", "position": 3},
        {"item_id": "I5", "section": "case", "position": 4},
    ],
}


@pytest.fixture(scope="module")
def bank_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="module")
def package() -> dict:
    return build_delivery_package(PAPER, _items())


@pytest.fixture(scope="module")
def sealed(package: dict, bank_key: SigningKey) -> tuple[SealedPackage, bytes]:
    data_key = new_data_key()
    return seal(
        package,
        paper_id=17,
        window=WINDOW,
        engines=["site-b", "site-a"],
        data_key=data_key,
        signing_key=bank_key,
        variant_seed=7,
    ), data_key


def test_canonical_json_is_compact_sorted_unicode_and_refuses_nan() -> None:
    assert canonical_json({"b": [1, 2], "a": "鉴定"}) == '{"a":"鉴定","b":[1,2]}'.encode()
    assert content_hash({"a": 1, "b": 2}) == content_hash({"b": 2, "a": 1})
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_seal_then_open_returns_the_package(sealed, package, bank_key) -> None:
    sealed_package, data_key = sealed
    header = verify(sealed_package, bank_key.public_key)
    assert header.paper_id == "17" and header.engines == ("site-a", "site-b")
    assert header.content_hash == content_hash(package) and header.variant_seed == 7
    assert open_sealed(sealed_package, data_key, bank_key.public_key) == package
    again = SealedPackage.from_json(sealed_package.to_json())
    assert again == sealed_package
    assert SealedPackage.from_dict(json.loads(sealed_package.to_json())) == sealed_package


def test_the_package_is_compressed_before_encryption(bank_key) -> None:
    """A paper's text repeats (stems, options, keys of JSON): the sealed package must be far smaller
    than its plaintext, which only compression before encryption can give (ciphertext does not shrink)."""
    paper = {**PAPER, "items": [{"item_id": f"I{n}", "section": "single", "position": n} for n in range(60)]}
    items = [{**_items()[0], "item_id": f"I{n}", "stem": f"第{n}题：关于劳动合同的说法，正确的是哪一项？"} for n in range(60)]
    plain = build_delivery_package(paper, items)
    sealed_package = seal(plain, paper_id=17, window=WINDOW, engines=["site-a"], data_key=new_data_key(),
                          signing_key=bank_key)
    assert sealed_package.header.format == "itembank-sealed/2"
    assert len(sealed_package.ciphertext) < len(canonical_json(plain)) / 3


def _legacy_seal(package: dict, data_key: bytes, bank_key: SigningKey) -> SealedPackage:
    """A package as format /1 sealed it: the canonical JSON encrypted without compression."""
    header = SealHeader(paper_id="17", content_hash=content_hash(package), not_before=WINDOW.not_before,
                        not_after=WINDOW.not_after, engines=("site-a",), key_id=bank_key.key_id,
                        format="itembank-sealed/1")
    header_bytes = canonical_json(header.to_dict())
    nonce = bytes(12)
    ciphertext = AESGCM(data_key).encrypt(nonce, canonical_json(package), header_bytes)
    signature = bank_key.private_key.sign(package_module._signed_bytes(header_bytes, nonce, ciphertext))
    return SealedPackage(header, nonce, ciphertext, signature)


def test_packages_sealed_before_compression_still_open(package, bank_key) -> None:
    data_key = new_data_key()
    legacy = SealedPackage.from_json(_legacy_seal(package, data_key, bank_key).to_json())
    assert open_sealed(legacy, data_key, bank_key.public_key) == package


def test_a_signed_package_that_inflates_past_the_limit_is_refused(package, bank_key, monkeypatch) -> None:
    data_key = new_data_key()
    sealed_package = seal(package, paper_id=17, window=WINDOW, engines=["site-a"], data_key=data_key,
                          signing_key=bank_key)
    monkeypatch.setattr(package_module, "MAX_CONTENT_BYTES", len(canonical_json(package)) - 1)
    with pytest.raises(TamperedPackage, match="at most"):
        open_sealed(sealed_package, data_key, bank_key.public_key)


def test_every_flipped_byte_of_the_serialised_package_is_detected(sealed, bank_key) -> None:
    sealed_package, data_key = sealed
    blob = sealed_package.to_json()
    for position in range(len(blob)):
        for bit in (0x01, 0x20, 0x80):
            tampered = bytearray(blob)
            tampered[position] ^= bit
            with pytest.raises(TamperedPackage):
                open_sealed(SealedPackage.from_json(bytes(tampered)), data_key, bank_key.public_key)


def test_every_flipped_byte_of_each_decoded_field_is_detected(sealed, bank_key) -> None:
    sealed_package, data_key = sealed
    for name in ("nonce", "ciphertext", "signature"):
        raw = getattr(sealed_package, name)
        for position in range(len(raw)):
            tampered = bytearray(raw)
            tampered[position] ^= 0x01
            altered = SealedPackage(**{**sealed_package.__dict__, name: bytes(tampered)})
            with pytest.raises(TamperedPackage):
                open_sealed(altered, data_key, bank_key.public_key)
    header = sealed_package.header
    for change in (
        {"engines": ("site-a", "site-b", "site-x")},
        {"not_after": header.not_after + timedelta(days=1)},
        {"paper_id": "18"},
        {"variant_seed": 8},
        {"content_hash": "0" * 64},
    ):
        altered = SealedPackage(
            header.__class__(**{**header.__dict__, **change}),
            sealed_package.nonce,
            sealed_package.ciphertext,
            sealed_package.signature,
        )
        with pytest.raises(TamperedPackage, match="signature"):
            verify(altered, bank_key.public_key)


def test_wrong_public_key_and_wrong_data_key_fail(sealed, bank_key) -> None:
    sealed_package, data_key = sealed
    with pytest.raises(TamperedPackage, match="signing key"):
        verify(sealed_package, SigningKey.generate().public_key)
    with pytest.raises(TamperedPackage, match="wrong data key") as caught:
        open_sealed(sealed_package, new_data_key(), bank_key.public_key)
    assert caught.value.field == "ciphertext" and isinstance(caught.value, ValueError)


def test_same_key_id_but_forged_signature_fails(sealed, bank_key) -> None:
    sealed_package, data_key = sealed
    forger = SigningKey.generate()
    forged = seal(
        {"format": "x"},
        paper_id=17,
        window=WINDOW,
        engines=["site-a"],
        data_key=data_key,
        signing_key=forger,
    )
    forged = SealedPackage(
        forged.header.__class__(**{**forged.header.__dict__, "key_id": bank_key.key_id}),
        forged.nonce,
        forged.ciphertext,
        forged.signature,
    )
    with pytest.raises(TamperedPackage, match="does not verify"):
        verify(forged, bank_key.public_key)


def test_key_release_policy() -> None:
    lead = timedelta(minutes=15)
    check_key_release(_header(), "site-a", START - lead)
    check_key_release(_header(), "site-b", START + timedelta(minutes=119))
    refusals = {
        "engine_not_allowed": ("site-z", START),
        "too_early": ("site-a", START - lead - timedelta(seconds=1)),
        "window_closed": ("site-a", START + timedelta(hours=2)),
    }
    for reason, (engine, now) in refusals.items():
        with pytest.raises(KeyReleaseRefused) as caught:
            check_key_release(_header(), engine, now, lead=lead)
        assert caught.value.reason == reason and isinstance(caught.value, ValueError)
    with pytest.raises(KeyReleaseRefused, match="'site-z' is not allowed to pull paper 17"):
        check_key_release(_header(), "site-z", START)
    with pytest.raises(KeyReleaseRefused, match="too early"):
        check_key_release(_header(), "site-a", START - timedelta(minutes=20), lead=lead)
    check_key_release(
        _header(), "site-a", START - timedelta(minutes=20), lead=timedelta(minutes=30)
    )
    beijing = timezone(timedelta(hours=8))
    check_key_release(_header(), "site-a", datetime(2025, 6, 1, 17, 0, tzinfo=beijing))
    with pytest.raises(ValidationError, match="timezone-aware"):
        check_key_release(_header(), "site-a", datetime(2025, 6, 1, 9, 0))


def _header():
    return seal(
        {"p": 1},
        paper_id=17,
        window=WINDOW,
        engines=["site-a", "site-b"],
        data_key=new_data_key(),
        signing_key=SigningKey.generate(),
    ).header


def test_release_data_key_checks_policy_then_unwraps() -> None:
    data_key = new_data_key()
    wrapped = wrap_key(MASTER, data_key, context=data_key_context(17))
    assert release_data_key(MASTER, wrapped, _header(), "site-a", START) == data_key
    with pytest.raises(KeyReleaseRefused):
        release_data_key(MASTER, wrapped, _header(), "site-a", START + timedelta(days=1))


def test_wrapped_key_is_bound_to_master_and_context() -> None:
    key = new_data_key()
    wrapped = wrap_key(MASTER, key, context=data_key_context(17))
    assert unwrap_key(MASTER, wrapped, context=data_key_context(17)) == key
    assert key not in wrapped
    with pytest.raises(KeyUnwrapFailed, match="paper:18"):
        unwrap_key(MASTER, wrapped, context=data_key_context(18))
    with pytest.raises(KeyUnwrapFailed):
        unwrap_key(bytes(32), wrapped, context=data_key_context(17))
    for position in range(len(wrapped)):
        tampered = bytearray(wrapped)
        tampered[position] ^= 0x01
        with pytest.raises(KeyUnwrapFailed):
            unwrap_key(MASTER, bytes(tampered), context=data_key_context(17))
    with pytest.raises(ValidationError, match="master_key"):
        wrap_key(b"short", key, context="x")


def test_signing_key_round_trips_through_master_key_and_public_forms(sealed, bank_key) -> None:
    sealed_package, _ = sealed
    restored = SigningKey.unwrap(MASTER, bank_key.wrap(MASTER), key_id=bank_key.key_id)
    assert restored.key_id == bank_key.key_id
    for text in (bank_key.public_pem(), bank_key.public_b64()):
        assert verify(sealed_package, load_public_key(text)).paper_id == "17"
    with pytest.raises(KeyUnwrapFailed, match="expected"):
        SigningKey.unwrap(MASTER, bank_key.wrap(MASTER), key_id="0" * 16)
    with pytest.raises(ValidationError, match="public key"):
        load_public_key(base64.b64encode(b"x" * 31).decode())


def _walk(node, keys: set[str]) -> None:
    if isinstance(node, dict):
        keys.update(node)
        for value in node.values():
            _walk(value, keys)
    elif isinstance(node, list):
        for value in node:
            _walk(value, keys)


def test_no_answer_key_or_rubric_survives_the_delivery_package(package) -> None:
    keys: set[str] = set()
    _walk(package, keys)
    assert not keys & {
        "key",
        "answer",
        "rubric",
        "scoring_rubric",
        "model_answer",
        "correct",
        "is_key",
        "correct_answer",
        "analysis",
        "note",
        "key_sheet",
        "approved_by",
        "difficulty",
    }
    text = canonical_json(package).decode()
    assert not [secret for secret in SECRETS if secret in text]


def test_delivery_package_layout(package) -> None:
    sections = {s["name"]: [i["item_id"] for i in s["items"]] for s in package["sections"]}
    assert sections == {"single": ["I3", "I1"], "multiple": ["I2"], "case": ["I4", "I5"]}
    assert package["paper"] == {
        "paper_id": 17,
        "name": "Electrician L3 theory A",
        "duration_minutes": 90,
        "total_points": 20,
    }
    first = package["sections"][0]["items"][1]
    assert first["options"] == [
        {"label": "A", "text": "1 A"},
        {"label": "B", "text": "2 A"},
        {"label": "C", "text": "5 A"},
        {"label": "D", "text": "10 A"},
    ]
    assert package["sections"][1]["items"][0]["points"] == 3


def test_delivery_package_rejects_hidden_structures_and_unknown_items() -> None:
    items = _items()
    items[0]["stem"] = {"text": "Which fuse?", "key": "C"}
    with pytest.raises(ValidationError, match=r"item\[I1\]\.stem"):
        build_delivery_package(PAPER, items)
    with pytest.raises(ValidationError, match="'I9' is not among the items"):
        build_delivery_package({"paper_id": 1, "items": [{"item_id": "I9"}]}, _items())


def test_shuffle_variant_is_deterministic_keeps_sets_and_maps_answers_back(package) -> None:
    variant, record = shuffle_variant(package, seed=42)
    assert shuffle_variant(package, seed=42) == (variant, record)
    assert VariantRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record
    layouts = {json.dumps(shuffle_variant(package, seed=s)[0]) for s in range(20)}
    assert len(layouts) > 10
    case = [i["item_id"] for s in variant["sections"] if s["name"] == "case" for i in s["items"]]
    assert case == ["I4", "I5"]
    for section in variant["sections"]:
        for item in section["items"]:
            if item["item_id"] in record.option_maps:
                original = {
                    o["label"]: o["text"] for o in _find(package, item["item_id"])["options"]
                }
                for option in item["options"]:
                    assert (
                        original[record.option_maps[item["item_id"]][option["label"]]]
                        == option["text"]
                    )
    presented = {v: k for k, v in record.option_maps["I1"].items()}
    mc_presented = "".join(
        sorted(record.option_maps["I2"], key=lambda lab: record.option_maps["I2"][lab])[:2]
    )
    responses = pd.DataFrame(
        {"item_id": ["I1", "I2", "I3", "I1"], "response": [presented["C"], mc_presented, "T", None]}
    )
    restored = unshuffle_responses(responses, record)
    assert restored["response"].iloc[0] == "C"
    assert sorted(restored["response"].iloc[1]) == ["A", "B"]
    assert restored["response"].iloc[2] == "T" and restored["response"].isna().iloc[3]


def _find(package: dict, item_id: str) -> dict:
    return next(i for s in package["sections"] for i in s["items"] if i["item_id"] == item_id)


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_any_seed_gives_a_permutation_of_items_and_options(seed: int) -> None:
    package = build_delivery_package(PAPER, _items())
    variant, record = shuffle_variant(package, seed)
    for original, shuffled in zip(package["sections"], variant["sections"], strict=True):
        assert sorted(i["item_id"] for i in original["items"]) == sorted(
            record.item_order[original["name"]]
        )
        for item in shuffled["items"]:
            assert sorted(o["label"] for o in item["options"]) == [
                o["label"] for o in item["options"]
            ]
            assert sorted(o["text"] for o in item["options"]) == sorted(
                o["text"] for o in _find(package, item["item_id"])["options"]
            )


def test_window_must_be_aware_and_ordered() -> None:
    with pytest.raises(ValidationError, match="not_before"):
        ReleaseWindow(datetime(2025, 1, 1), datetime(2025, 1, 2, tzinfo=UTC))
    with pytest.raises(ValidationError, match="end after"):
        ReleaseWindow(START, START)
    with pytest.raises(ValidationError, match="engine"):
        seal(
            {},
            paper_id=1,
            window=WINDOW,
            engines=[],
            data_key=new_data_key(),
            signing_key=SigningKey.generate(),
        )
