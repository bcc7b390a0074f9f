"""The Typer application, its global options and the per-command database context."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, TextIO

import pandas as pd
import typer
from rich.console import Console
from sqlalchemy.engine import Engine
from sqlmodel import Session

from itembank.columns import check_header
from itembank.config import get_settings
from itembank.db import make_engine, transaction, upgrade
from itembank.services.actors import Actor
from itembank.services.users import get_actor
from itembank.tabular import read_frame

app = typer.Typer(help="Secure item bank for vocational skill-level exams.", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False)
console = Console()


@dataclass
class Context:
    """What every command needs: the database and who acts."""

    url: str
    actor_name: str

    @cached_property
    def engine(self) -> Engine:
        engine = make_engine(self.url)
        upgrade(engine)
        return engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        with transaction(self.engine) as session:
            yield session

    def actor(self, session: Session) -> Actor:
        return get_actor(session, self.actor_name)


@app.callback()
def _main(
    ctx: typer.Context,
    db: Annotated[str | None, typer.Option("--db", help="database URL (default: ITEMBANK_DATABASE_URL or ./itembank.db)")] = None,
    actor: Annotated[str, typer.Option("--actor", envvar="ITEMBANK_ACTOR", help="the user acting")] = "admin",
) -> None:
    ctx.obj = Context(db or get_settings().database_url, actor)


def context(ctx: typer.Context) -> Context:
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj


def warn(warnings: Iterable[object]) -> None:
    """Each warning as one ``warning: …`` line on stderr, apart from the command's output."""
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)


@contextmanager
def shown_warnings(kind: type[Warning]) -> Iterator[None]:
    """Show each warning of ``kind`` a core raises inside (``warnings.warn``) as a ``warn`` line, as it
    comes: the core warns its notebook users itself, so the command line shows those warnings rather than
    checking the same thing a second time."""
    default = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None) -> None:
        if issubclass(category, kind):
            warn([message])
        else:
            default(message, category, filename, lineno, file, line)

    with warnings.catch_warnings():
        warnings.simplefilter("always", kind)
        warnings.showwarning = show
        yield


def read_table(path: Path, known: Iterable[str], *, table: str, field: str, field_prefix: str = "") -> pd.DataFrame:
    """A pure-mode input table (``tabular.read_frame``): each column it holds that nothing reads is a
    warning, and one that looks like a known column is refused (exit 2) rather than ignored."""
    frame = read_frame(path, field=field)
    warn(check_header(frame.columns, known, table=table, field_prefix=field_prefix))
    return frame


def read_item_table(path: Path, *, field_prefix: str = "") -> pd.DataFrame:
    """A pure-mode item table (``--items``), checked against the columns the assembly core reads."""
    # imported here: the solver stack loads only for the commands that use it
    from assembly.bank import ITEM_TABLE_COLUMNS
    from assembly.columns import ITEM_TABLE

    return read_table(path, ITEM_TABLE_COLUMNS, table=ITEM_TABLE, field="items", field_prefix=field_prefix)
