"""``itembank keys`` for the master key: make one, check the bank against it, rotate to a new one.

These join the signing-key commands of the same group (``keys rotate``, ``keys list`` in ``bank``).
A master key is only ever read from a file or the configuration, never from the command line,
where ``ps`` and shell history would show it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from itembank.cli.app import console, context
from itembank.cli.bank import keys_app
from itembank.config import get_settings, read_master_key_file
from itembank.sealing import KeyUnwrapFailed, master_key_fingerprint
from itembank.services import master_key


@keys_app.command("new-master")
def new_master(
    out: Annotated[Path, typer.Option("--out", help="file for the new key (must not exist; written 0600)")],
) -> None:
    """Write a fresh random master key (base64 of 32 bytes) to a new file only you can read."""
    fingerprint = master_key.new_master_key_file(out)
    console.print(f"wrote a new master key to {out} (fingerprint {fingerprint}); keep a copy offline, "
                  "then move the bank to it with `itembank keys rotate-master --new-key-file`")


@keys_app.command("check")
def check(ctx: typer.Context) -> None:
    """Check that every wrapped key in the bank opens under the configured master key; non-zero exit if not."""
    c = context(ctx)
    master = get_settings().master_key_bytes()
    with c.session() as session:
        result = master_key.check_master_key(session, master)
    if not result.ok:
        raise KeyUnwrapFailed(result.describe("the configured master key"), field="master_key",
                              details=result.failed_rows())
    console.print(result.describe(f"the configured master key {master_key_fingerprint(master)}"))


@keys_app.command("rotate-master")
def rotate_master(
    ctx: typer.Context,
    new_key_file: Annotated[Path, typer.Option("--new-key-file", help="the new master key, e.g. from `keys new-master`")],
) -> None:
    """Rewrap every stored key from the configured master key to a new one (admin), all or nothing."""
    c = context(ctx)
    old = get_settings().master_key_bytes()
    new = read_master_key_file(new_key_file)
    with c.session() as session:
        result = master_key.rotate_master_key(session, c.actor(session), old, new)
    console.print(f"rewrapped {result.data_keys} paper data keys and {result.signing_keys} signing keys "
                  f"under the new master key {result.new_fingerprint} (was {result.old_fingerprint})")
    console.print(f"now set ITEMBANK_MASTER_KEY_FILE={new_key_file.resolve()} (and unset ITEMBANK_MASTER_KEY), "
                  "restart the API, and run `itembank keys check`; keep the old key until it passes")
