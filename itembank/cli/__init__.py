"""The ``itembank`` command line: thin commands over the services; errors are one line and an exit code."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

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


def main(args: Sequence[str] | None = None) -> None:
    """Entry point: run the app and exit with its code, turning errors into one readable line.

    Typer (0.26 on) vendors Click: its usage errors are ``typer.TyperException`` subclasses, not
    ``click.ClickException``, and outside standalone mode a ``typer.Exit(n)`` comes back as the
    return value ``n`` instead of being raised, so both are handled here, once, for every command.
    """
    sys.exit(run(args))


def run(args: Sequence[str] | None = None) -> int:
    """Run the app on ``args`` (default: the command line) and return the exit code."""
    try:
        code = app(args=args, prog_name="itembank", standalone_mode=False)
    except ItemBankError as error:
        where = f" [{error.field}]" if error.field else ""
        typer.echo(f"error{where}: {error.message}", err=True)
        return exit_code(error)
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except typer.TyperException as error:  # usage errors (exit 2) print the usage line, then the error
        show = getattr(error, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"Error: {error.format_message()}", err=True)
        return error.exit_code
    except Exception as error:  # noqa: BLE001 - a bug still gets one line; ITEMBANK_DEBUG=1 shows the trace
        if os.environ.get("ITEMBANK_DEBUG") == "1":
            raise
        typer.echo(f"internal error: {type(error).__name__}: {error} (set ITEMBANK_DEBUG=1 for the trace)", err=True)
        return 1
    return code if isinstance(code, int) else 0


__all__ = ["app", "main", "run"]
