"""The CLI as a user runs it: one readable error line and a non-zero exit, output on success."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import small_blueprint_document

ITEMBANK = str(Path(sys.executable).with_name("itembank"))


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ITEMBANK_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db"}
    return subprocess.run([ITEMBANK, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)


def test_cli_session(tmp_path: Path) -> None:
    assert "API token (shown once)" in run(tmp_path, "init").stdout
    added = run(tmp_path, "users", "add", "lin", "--role", "bank_manager")
    assert added.returncode == 0 and "token, shown once" in added.stdout
    path = tmp_path / "bp.yaml"
    path.write_text(yaml.safe_dump(small_blueprint_document(), allow_unicode=True), encoding="utf-8")
    imported = run(tmp_path, "--actor", "lin", "blueprint", "import", str(path))
    assert imported.returncode == 0, imported.stderr
    shown = run(tmp_path, "blueprint", "show", "--level", "3")
    assert "需求预测的方法" in shown.stdout
    again = run(tmp_path, "--actor", "lin", "blueprint", "import", str(path))
    assert again.returncode == 5
    assert again.stderr.strip().count("\n") == 0 and "already exists" in again.stderr
    forbidden = run(tmp_path, "--actor", "lin", "users", "add", "x", "--role", "admin")
    assert forbidden.returncode == 4 and "needs the role admin" in forbidden.stderr
    bad_role = run(tmp_path, "users", "add", "x", "--role", "wizard")
    assert bad_role.returncode == 2 and "unknown role 'wizard'" in bad_role.stderr
    verified = run(tmp_path, "audit", "verify")
    assert verified.returncode == 0 and "chain verified" in verified.stdout
    missing = run(tmp_path, "--actor", "lin", "items", "import", "nope.xlsx", "--level", "3")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_signing_keys_rotate_only_for_admins_and_are_listed(tmp_path: Path) -> None:
    run(tmp_path, "init")
    run(tmp_path, "users", "add", "lin", "--role", "bank_manager")
    refused = run(tmp_path, "--actor", "lin", "keys", "rotate")
    assert refused.returncode == 4 and "needs the role admin" in refused.stderr
    first, second = run(tmp_path, "keys", "rotate"), run(tmp_path, "keys", "rotate")
    assert first.returncode == second.returncode == 0 and first.stdout != second.stdout
    listed = run(tmp_path, "keys", "list").stdout
    assert listed.count("retired") == 1 and listed.count("active") == 1


def test_an_admin_revokes_a_client_token_and_the_cli_stops_acting_for_it(tmp_path: Path) -> None:
    run(tmp_path, "init")
    run(tmp_path, "users", "add", "lin", "--role", "bank_manager")
    run(tmp_path, "clients", "add", "centre-01")
    assert run(tmp_path, "--actor", "lin", "users", "deactivate", "centre-01").returncode == 4
    revoked = run(tmp_path, "users", "deactivate", "centre-01")
    assert revoked.returncode == 0 and "deactivated" in revoked.stdout
    again = run(tmp_path, "users", "deactivate", "centre-01")
    assert again.returncode == 5 and "already inactive" in again.stderr
    assert run(tmp_path, "users", "deactivate", "lin").returncode == 0
    gone = run(tmp_path, "--actor", "lin", "keys", "list")
    assert gone.returncode == 3 and "no active user 'lin'" in gone.stderr
