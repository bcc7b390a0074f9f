"""Master-key rotation and the key check: every wrapped key moves to the new master key, or none does."""

from __future__ import annotations

import base64
import hashlib
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner, Result

from itembank import audit
from itembank.cli import app as cli_app
from itembank.cli import exit_code
from itembank.config import Settings, get_settings, read_master_key_file
from itembank.db import make_engine, transaction, upgrade
from itembank.errors import Conflict, Forbidden, ValidationError
from itembank.hashing import content_hash
from itembank.models import AuditEvent, AuditHead, ItemStatus, SealedPaper, SigningKey
from itembank.sealing import (
    KeyUnwrapFailed,
    SealedPackage,
    data_key_context,
    master_key_fingerprint,
    open_sealed,
    unwrap_key,
)
from itembank.sealing import SigningKey as Signer
from itembank.services import blueprints, delivery, items
from itembank.services.actors import Actor
from itembank.services.master_key import (
    KeyCheck,
    RotationResult,
    WrappedKeyRow,
    check_master_key,
    new_master_key_file,
    rotate_master_key,
)
from tests.conftest import add_staff, small_blueprint_document
from tests.itembank.test_cli import run
from tests.itembank.test_delivery import (  # noqa: F401
    POSTGRES_ONLY,
    RECORDS,
    bank,
    bank_public_key,
    data_key,
    make_paper,
    seal,
)

OLD = hashlib.sha256(b"old master key of the test bank").digest()
NEW = hashlib.sha256(b"new master key of the test bank").digest()
Configure = Callable[[bytes], None]


@pytest.fixture
def use_master(monkeypatch: pytest.MonkeyPatch) -> Iterator[Configure]:
    """Configure the master key the services read from settings (OLD to begin with)."""
    monkeypatch.delenv("ITEMBANK_MASTER_KEY_FILE", raising=False)

    def use(master: bytes) -> None:
        monkeypatch.setenv("ITEMBANK_MASTER_KEY", base64.b64encode(master).decode())
        get_settings.cache_clear()

    use(OLD)
    yield use
    get_settings.cache_clear()


@pytest.fixture
def papers(engine: Engine, bank: dict[str, Actor], use_master: Configure) -> list[int]:  # noqa: F811
    """Two sealed papers under OLD: three sealed rows (one retired by a re-seal), two signing keys (one retired)."""
    first, second = make_paper(engine, "P-1"), make_paper(engine, "P-2")
    seal(engine, bank["manager"], first)
    with transaction(engine) as session:
        delivery.rotate_signing_key(session, bank["admin"])
    seal(engine, bank["manager"], second)
    seal(engine, bank["manager"], first, variant_seed=7)
    return [first, second]


def opened(engine: Engine, master: bytes) -> dict[tuple[str, int], bytes | str]:
    """Every stored key opened under ``master`` (raises if one does not): data keys, signing key ids."""
    with transaction(engine) as session:
        keys: dict[tuple[str, int], bytes | str] = {
            ("sealed_papers", row.id): unwrap_key(  # type: ignore[misc]
                master, base64.b64decode(row.wrapped_data_key), context=data_key_context(row.paper_id))
            for row in session.exec(select(SealedPaper)).all()
        }
        for key in session.exec(select(SigningKey)).all():
            keys[("signing_keys", key.id)] = Signer.unwrap(  # type: ignore[index]
                master, base64.b64decode(key.wrapped_private_key), key_id=key.key_id).key_id
    return keys


def snapshot(engine: Engine) -> dict[str, Any]:
    """The stored wrapped keys and the ledger's length and head: what a refused rotation must not change."""
    with Session(engine) as session:
        head = session.get(AuditHead, 1)
        return {
            "sealed_papers": session.exec(select(SealedPaper.id, SealedPaper.wrapped_data_key)
                                          .order_by(col(SealedPaper.id))).all(),
            "signing_keys": session.exec(select(SigningKey.id, SigningKey.wrapped_private_key)
                                         .order_by(col(SigningKey.id))).all(),
            "ledger": (len(session.exec(select(AuditEvent.seq)).all()), head.seq if head else 0, head.hash if head else ""),
        }


def rotate(engine: Engine, actor: Actor, old: bytes = OLD, new: bytes = NEW) -> RotationResult:
    with transaction(engine) as session:
        return rotate_master_key(session, actor, old, new)


def check(engine: Engine, master: bytes) -> KeyCheck:
    with transaction(engine) as session:
        return check_master_key(session, master)


def test_rotation_rewraps_every_key_to_open_under_the_new_master_only(
    engine: Engine, staff: dict[str, Actor], papers: list[int]
) -> None:
    before, stored = opened(engine, OLD), snapshot(engine)
    assert check(engine, OLD) == KeyCheck(data_keys=3, signing_keys=2)
    result = rotate(engine, staff["admin"])
    assert (result.data_keys, result.signing_keys) == (3, 2)
    assert opened(engine, NEW) == before, "the same data keys and signing keys, now wrapped by NEW"
    after = snapshot(engine)
    for table in ("sealed_papers", "signing_keys"):
        assert all(old != new for old, new in zip(stored[table], after[table], strict=True))
    assert check(engine, NEW) == KeyCheck(data_keys=3, signing_keys=2)
    refused = check(engine, OLD)
    assert not refused.ok and set(refused.failed) == {WrappedKeyRow(table, row_id) for table, row_id in before}
    with pytest.raises(KeyUnwrapFailed):
        opened(engine, OLD)


def test_engines_pull_and_open_papers_after_rotation_with_the_new_key_configured(
    engine: Engine, staff: dict[str, Actor], papers: list[int], use_master: Configure
) -> None:
    rotate(engine, staff["admin"])
    use_master(NEW)
    later = make_paper(engine, "P-3")
    seal(engine, staff["manager"], later)  # signs with the signing key rewrapped under NEW
    for paper_id, name in [(papers[1], "P-2"), (later, "P-3")]:
        with transaction(engine) as session:
            raw = delivery.pull_package(session, staff["engine1"], paper_id)
        content = open_sealed(SealedPackage.from_dict(raw), data_key(engine, staff["engine1"], paper_id),
                              bank_public_key(engine))
        assert content["paper"]["name"] == name
    use_master(OLD)
    with pytest.raises(KeyUnwrapFailed):
        data_key(engine, staff["engine1"], papers[0])


def test_a_server_still_holding_the_old_key_can_neither_seal_nor_make_a_signing_key(
    engine: Engine, staff: dict[str, Actor], papers: list[int]
) -> None:
    """After the rotation, a process configured with OLD must not write anything wrapped under OLD."""
    later = make_paper(engine, "P-3")
    rotate(engine, staff["admin"])
    before = snapshot(engine)
    with pytest.raises(KeyUnwrapFailed) as sealing_refused:
        seal(engine, staff["manager"], later)
    with pytest.raises(KeyUnwrapFailed) as rotation_refused, transaction(engine) as session:
        delivery.rotate_signing_key(session, staff["admin"])
    for refused in (sealing_refused, rotation_refused):
        assert refused.value.field == "master_key" and "restart with the bank's current master key" in refused.value.message
    assert snapshot(engine) == before
    with transaction(engine) as session:
        assert delivery.get_paper(session, later).status == "approved"
    assert check(engine, NEW).ok


@POSTGRES_ONLY
def test_a_seal_racing_a_rotation_never_wraps_its_data_key_under_the_old_key(
    engine: Engine, staff: dict[str, Actor], papers: list[int]
) -> None:
    """The rotation holds its transaction open while a seal under OLD starts; the seal must wait for it
    and then be refused, not read the signing key before the commit and wrap its data key under OLD."""
    later = make_paper(engine, "P-3")
    outcome: list[BaseException | None] = []

    def seal_under_old() -> None:
        try:
            seal(engine, staff["manager"], later)
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - the test inspects the outcome
            outcome.append(error)

    with Session(engine) as rotation:
        rotate_master_key(rotation, staff["admin"], OLD, NEW)
        rotator = rotation.exec(text("select pg_backend_pid()")).one()[0]  # type: ignore[call-overload]
        sealer = threading.Thread(target=seal_under_old)
        sealer.start()
        deadline = time.monotonic() + 30
        while not _someone_waits_on(engine, rotator):  # until the seal waits on a lock the rotation holds
            assert time.monotonic() < deadline and sealer.is_alive(), f"the seal never waited: {outcome}"
            time.sleep(0.02)
        rotation.commit()
    sealer.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], KeyUnwrapFailed), outcome
    assert check(engine, NEW).ok, "a data key wrapped under the old master key after the rotation"


def _someone_waits_on(engine: Engine, pid: int) -> bool:
    """Whether a backend waits on a lock that backend ``pid`` holds. Asked in a fresh transaction each
    time: PostgreSQL shows one snapshot of pg_stat_activity per transaction, so a watcher that kept its
    transaction never saw a seal that started to wait after its first look."""
    with engine.connect() as connection:
        return bool(connection.execute(text(
            "select count(*) from pg_stat_activity where :pid = any(pg_blocking_pids(pid))"), {"pid": pid}).scalar())


@pytest.mark.parametrize("table", ["sealed_papers", "signing_keys"])
def test_a_key_that_does_not_open_refuses_the_rotation_and_changes_nothing(
    engine: Engine, staff: dict[str, Actor], papers: list[int], table: str
) -> None:
    model, column = (SealedPaper, "wrapped_data_key") if table == "sealed_papers" else (SigningKey, "wrapped_private_key")
    with transaction(engine) as session:  # the last row: a rotation writing as it goes would have moved the others
        row = session.exec(select(model).order_by(col(model.id).desc())).first()
        damaged = bytearray(base64.b64decode(getattr(row, column)))
        damaged[-1] ^= 0x01
        setattr(row, column, base64.b64encode(bytes(damaged)).decode())
        session.add(row)
        bad = WrappedKeyRow(table, row.id)  # type: ignore[union-attr]
    before = snapshot(engine)
    with transaction(engine) as session, pytest.raises(KeyUnwrapFailed) as refused:
        rotate_master_key(session, staff["admin"], OLD, NEW)  # the session then commits what was written
    assert str(bad) in refused.value.message and "nothing changed" in refused.value.message
    assert refused.value.details == [{"table": table, "row_id": bad.row_id}]
    assert snapshot(engine) == before
    assert check(engine, OLD).failed == (bad,)


def test_only_an_admin_rotates_and_never_to_the_same_key(
    engine: Engine, staff: dict[str, Actor], papers: list[int]
) -> None:
    before = snapshot(engine)
    for name in ("manager", "auditor"):
        with pytest.raises(Forbidden, match="needs the role admin"):
            rotate(engine, staff[name])
    with pytest.raises(ValidationError) as same:
        rotate(engine, staff["admin"], OLD, OLD)
    assert same.value.field == "new_master_key" and "current one" in same.value.message
    with pytest.raises(ValidationError, match="32 bytes"):
        rotate(engine, staff["admin"], OLD, NEW[:16])
    assert snapshot(engine) == before


def test_the_ledger_names_both_keys_by_fingerprint_and_holds_no_key_material(
    engine: Engine, staff: dict[str, Actor], papers: list[int]
) -> None:
    secrets = [OLD, NEW, *(v for v in opened(engine, OLD).values() if isinstance(v, bytes))]
    with transaction(engine) as session:
        secrets += [Signer.unwrap(OLD, base64.b64decode(k.wrapped_private_key)).private_key.private_bytes_raw()
                    for k in session.exec(select(SigningKey)).all()]
    result = rotate(engine, staff["admin"])
    assert result.to_dict() == {"data_keys": 3, "signing_keys": 2, "old_fingerprint": master_key_fingerprint(OLD),
                                "new_fingerprint": master_key_fingerprint(NEW)}
    with transaction(engine) as session:
        (event,) = session.exec(select(AuditEvent).where(AuditEvent.action == "master_key.rotate")).all()
        assert (event.actor, event.entity_type, event.entity_id) == ("admin", "master_key", result.new_fingerprint)
        assert event.payload_hash == content_hash(result.to_dict())
        assert audit.verify(session).ok
        ledger = " ".join(str(value) for e in session.exec(select(AuditEvent)).all() for value in e.model_dump().values())
        ledger += " ".join(str(value) for value in session.get(AuditHead, 1).model_dump().values())  # type: ignore[union-attr]
    forms = [f(s) for s in secrets for f in (bytes.hex, lambda b: base64.b64encode(b).decode(),
                                                 lambda b: base64.urlsafe_b64encode(b).decode().rstrip("="))]
    assert not [form for form in forms if form in ledger]


def test_fingerprint_is_short_stable_and_domain_separated() -> None:
    fingerprint = master_key_fingerprint(NEW)
    assert fingerprint == master_key_fingerprint(NEW) != master_key_fingerprint(OLD)
    assert len(fingerprint) == 16 and int(fingerprint, 16) >= 0
    assert fingerprint != hashlib.sha256(NEW).hexdigest()[:16]
    with pytest.raises(ValidationError):
        master_key_fingerprint(NEW[:31])


@pytest.mark.parametrize(("content", "complaint"), [
    (None, "cannot read"), (b"not base64!", "is not base64"), (base64.b64encode(bytes(16)), "is 16 bytes"),
])
def test_a_bad_key_file_is_named_and_its_content_never_echoed(
    tmp_path: Path, content: bytes | None, complaint: str
) -> None:
    path = tmp_path / "master.key"
    if content is not None:
        path.write_bytes(content)
    for read in (lambda: read_master_key_file(path),
                 lambda: Settings(master_key=None, master_key_file=path).master_key_bytes()):
        with pytest.raises(ValidationError) as bad:
            read()
        assert str(path) in bad.value.message and complaint in bad.value.message
        assert bad.value.field == "master_key_file"
        assert content is None or content.decode() not in bad.value.message
    with pytest.raises(ValidationError, match="ITEMBANK_MASTER_KEY is not base64"):
        Settings(master_key="not base64!").master_key_bytes()
    path.write_bytes(b"  " + base64.b64encode(NEW) + b"\n")
    assert read_master_key_file(path) == NEW == Settings(master_key_file=path, master_key=None).master_key_bytes()


# ---------------------------------------------------------------- the command line


def keys(url: str, key_file: Path, *args: str, actor: str = "admin") -> Result:
    """``itembank keys ...`` in-process, with ITEMBANK_MASTER_KEY_FILE pointing at ``key_file``."""
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli_app, ["--db", url, "--actor", actor, "keys", *args],
                                  env={"ITEMBANK_MASTER_KEY_FILE": str(key_file), "ITEMBANK_MASTER_KEY": None})
    finally:
        get_settings.cache_clear()


def refused_with(result: Result, kind: type[Exception], code: int) -> str:
    """The domain error a command raised, mapped to the exit code ``itembank`` gives it."""
    assert isinstance(result.exception, kind), result.output
    assert exit_code(result.exception) == code  # type: ignore[arg-type]
    return str(result.exception)


def test_new_master_writes_an_owner_only_file_and_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "master.key"
    made = CliRunner().invoke(cli_app, ["keys", "new-master", "--out", str(out)])
    assert made.exit_code == 0, made.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert master_key_fingerprint(read_master_key_file(out)) in made.output
    written = out.read_bytes()
    again = CliRunner().invoke(cli_app, ["keys", "new-master", "--out", str(out)])
    assert "already exists" in refused_with(again, Conflict, 5)
    assert out.read_bytes() == written
    other = tmp_path / "other.key"
    assert CliRunner().invoke(cli_app, ["keys", "new-master", "--out", str(other)]).exit_code == 0
    assert read_master_key_file(other) != read_master_key_file(out)


def test_cli_checks_and_rotates_the_configured_master_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"  # where tests.itembank.test_cli.run points the real command
    old_file, new_file = tmp_path / "old.key", tmp_path / "new.key"
    new_master_key_file(old_file)
    new_fingerprint = new_master_key_file(new_file)
    monkeypatch.delenv("ITEMBANK_MASTER_KEY", raising=False)
    monkeypatch.setenv("ITEMBANK_MASTER_KEY_FILE", str(old_file))
    get_settings.cache_clear()
    engine = make_engine(url)
    try:
        upgrade(engine)
        staff = add_staff(engine)
        with transaction(engine) as session:
            blueprint = blueprints.import_blueprint(session, staff["manager"], small_blueprint_document())
            items.create_items(session, staff["writer"], blueprint, list(enumerate(RECORDS)), status=ItemStatus.ACTIVE)
        seal(engine, staff["manager"], make_paper(engine))
    finally:
        engine.dispose()
        get_settings.cache_clear()

    checked = keys(url, old_file, "check")
    assert checked.exit_code == 0 and "all 2 wrapped keys open" in checked.output, checked.output
    wrong = refused_with(keys(url, new_file, "check"), KeyUnwrapFailed, 2)
    assert "2 of 2 wrapped keys do not open" in wrong and "sealed_papers row 1" in wrong

    assert "needs the role admin" in refused_with(
        keys(url, old_file, "rotate-master", "--new-key-file", str(new_file), actor="manager"), Forbidden, 4)
    assert "current one" in refused_with(keys(url, old_file, "rotate-master", "--new-key-file", str(old_file)),
                                         ValidationError, 2)
    missing = tmp_path / "missing.key"
    assert str(missing) in refused_with(keys(url, old_file, "rotate-master", "--new-key-file", str(missing)),
                                        ValidationError, 2)
    rotated = keys(url, old_file, "rotate-master", "--new-key-file", str(new_file))
    assert rotated.exit_code == 0, rotated.output
    said = "".join(rotated.output.split())  # rich wraps, and folds a long path, at the terminal width
    assert "1paperdatakeysand1signingkeys" in said and new_fingerprint in said
    assert f"ITEMBANK_MASTER_KEY_FILE={new_file}" in said

    assert keys(url, new_file, "check").exit_code == 0
    stale = run(tmp_path, "keys", "check")  # the real command, still pointed at the old key file
    assert stale.returncode == 2 and stale.stderr.count("\n") == 1, stale.stderr
    assert "do not open under the configured master key" in stale.stderr and "Traceback" not in stale.stderr
