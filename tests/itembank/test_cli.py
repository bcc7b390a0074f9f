"""The CLI as a user runs it: one readable error line and a non-zero exit, output on success."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import yaml
from typer.models import CommandInfo

from itembank.cli import app, main
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


def test_items_import_refuses_a_misspelt_column_and_warns_about_an_unknown_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from itembank.tabular import write_rows
    from tests.conftest import item_row

    url = f"sqlite:///{tmp_path}/bank.db"
    blueprint = tmp_path / "bp.yaml"
    blueprint.write_text(yaml.safe_dump(small_blueprint_document(), allow_unicode=True), encoding="utf-8")
    for args in (["init"], ["blueprint", "import", str(blueprint)]):
        assert cli(monkeypatch, capsys, "--db", url, *args)[0] == 0, args
    rows = [item_row(n, enemy_groups="E-1" if n < 3 else "") for n in range(1, 6)]
    columns = [*rows[0], "note"]
    write_rows(tmp_path / "misspelt.csv", [c.removesuffix("s") if c == "enemy_groups" else c for c in columns],
               [{**row, "enemy_group": row["enemy_groups"]} for row in rows])
    write_rows(tmp_path / "noted.csv", columns, [{**row, "note": "待复核"} for row in rows])

    code, out, err = cli(monkeypatch, capsys, "--db", url, "items", "import", str(tmp_path / "misspelt.csv"), "--level", "3")
    assert code == 2 and out == ""
    assert err.startswith("error [enemy_group]: 导入文件的列 enemy_group 未识别，是否应为 enemy_groups？")
    assert err.count("\n") == 1

    code, out, err = cli(monkeypatch, capsys, "--db", url, "items", "import", str(tmp_path / "noted.csv"), "--level", "3")
    assert code == 0, err
    assert err == "warning: 导入文件的列 note 未识别，已忽略\n"
    assert "imported 5 items from noted.csv" in out  # the same ids: the refused file stored nothing


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


def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the real entry point in this process on ``args``: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["itembank", *args])
    try:
        main()
        code = 0
    except SystemExit as done:
        code = int(done.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(("args", "error"), [
    (["assemble"], "Error: Missing argument 'spec'."),
    (["nope"], "Error: No such command 'nope'."),
    (["assemble", "spec.json", "--level", "9"], "Error: Invalid value for '--level'"),
    (["items", "import", "items.csv", "--level", "3", "--bogus"], "Error: No such option: --bogus"),
    (["users", "add", "lin"], "Error: Missing option '--role'."),
])
def test_a_usage_error_prints_the_usage_line_and_the_error_and_exits_2(
        args: list[str], error: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(monkeypatch, capsys, *args)
    assert code == 2, err
    command = " ".join(a for a in args[:2] if a in ("assemble", "items", "import", "users", "add"))
    assert err.startswith(f"Usage: itembank {command}".rstrip() + " [OPTIONS]"), err
    assert error in err and "internal error" not in err


def test_only_a_bug_is_an_internal_error_with_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    def broken(spec: object) -> None:
        raise KeyError("sections")

    monkeypatch.chdir(tmp_path)
    (tmp_path / "items.csv").write_text("item_id,type,points,element\nI1,single_choice,1,A\n", encoding="utf-8")
    monkeypatch.delenv("ITEMBANK_DEBUG", raising=False)
    assert cli(monkeypatch, capsys, "assemble", "--items", "items.csv")[0] == 2
    monkeypatch.setattr("itembank.services.papers.load_spec_document", broken)
    code, _, err = cli(monkeypatch, capsys, "assemble", "spec.json", "--items", "items.csv")
    assert code == 1 and err.startswith("internal error: KeyError")


def test_a_command_s_exit_code_is_the_process_exit_code(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    def stop() -> None:
        raise typer.Exit(9)

    monkeypatch.setattr(app, "registered_commands", [*app.registered_commands, CommandInfo(name="stop", callback=stop)])
    assert cli(monkeypatch, capsys, "stop")[0] == 9
    for args in (["--help"], ["assemble", "--help"], ["items", "import", "--help"]):
        code, out, err = cli(monkeypatch, capsys, *args)
        assert code == 0 and "Usage: itembank" in out and err == "", args
