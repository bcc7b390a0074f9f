"""The Typer application, its global options and the per-command database context."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.engine import Engine
from sqlmodel import Session

from itembank.config import get_settings
from itembank.db import make_engine, transaction, upgrade
from itembank.services.actors import Actor
from itembank.services.users import get_actor

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
