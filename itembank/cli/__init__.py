"""The ``itembank`` command line: thin commands over the services; errors are one line and an exit code."""

from __future__ import annotations

import os
import sys

import click
import typer

from itembank.cli.app import app
from itembank.errors import (
    Busy,
    Conflict,
    Forbidden,
    Infeasible,
    IntegrityFailure,
    ItemBankError,
    NotFound,
    ValidationError,
)

EXIT_CODES: dict[type[ItemBankError], int] = {
    ValidationError: 2,
    NotFound: 3,
    Forbidden: 4,
    Conflict: 5,
    Infeasible: 6,
    IntegrityFailure: 7,
    Busy: 75,  # EX_TEMPFAIL: try again later
}

# Register the command groups on the app.
from itembank.cli import bank as _bank  # noqa: E402,F401
from itembank.cli import demo as _demo  # noqa: E402,F401
from itembank.cli import engine as _engine  # noqa: E402,F401
from itembank.cli import keys as _keys  # noqa: E402,F401
from itembank.cli import papers as _papers  # noqa: E402,F401
from itembank.cli import serve as _serve  # noqa: E402,F401
from itembank.cli import simulate as _simulate  # noqa: E402,F401


def exit_code(error: ItemBankError) -> int:
    for kind in type(error).__mro__:
        if kind in EXIT_CODES:
            return EXIT_CODES[kind]
    return 1


def main() -> None:
    """Entry point: run the app and turn domain errors into one readable line and an exit code."""
    try:
        app(standalone_mode=False)
    except ItemBankError as error:
        where = f" [{error.field}]" if error.field else ""
        typer.echo(f"error{where}: {error.message}", err=True)
        sys.exit(exit_code(error))
    except click.exceptions.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except Exception as error:  # noqa: BLE001 - a bug still gets one line; ITEMBANK_DEBUG=1 shows the trace
        if os.environ.get("ITEMBANK_DEBUG") == "1":
            raise
        typer.echo(f"internal error: {type(error).__name__}: {error} (set ITEMBANK_DEBUG=1 for the trace)", err=True)
        sys.exit(1)


__all__ = ["app", "main"]
