"""``itembank serve`` (the HTTP API under uvicorn) and ``itembank clients add`` (exam-engine clients)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from itembank.cli.app import app, console, context
from itembank.config import get_settings
from itembank.models import Role
from itembank.services import users

clients_app = typer.Typer(help="Exam-engine clients (users with the exam_engine role).", no_args_is_help=True)
app.add_typer(clients_app, name="clients")


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="worker processes (PostgreSQL; SQLite has one writer)")] = 1,
    job_threads: Annotated[int, typer.Option(min=1, help="threads for background jobs, per worker")] = 2,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Serve the HTTP API (docs at /docs) on the database of --db / ITEMBANK_DATABASE_URL.

    Workers are stateless: jobs live in the database, so any worker answers for any job.
    """
    import uvicorn

    from api.app import create_app

    url = context(ctx).url
    if workers == 1:
        settings = get_settings().model_copy(update={"database_url": url})
        uvicorn.run(create_app(settings=settings, job_threads=job_threads), host=host, port=port, log_level=log_level)
        return
    os.environ["ITEMBANK_DATABASE_URL"] = url  # worker processes build their app from the environment
    os.environ["ITEMBANK_JOB_THREADS"] = str(job_threads)
    uvicorn.run("api.app:app_from_environment", factory=True, workers=workers, host=host, port=port, log_level=log_level)


@clients_app.command("add")
def clients_add(ctx: typer.Context, name: str) -> None:
    """Add an exam-engine client; prints its API token once (only the hash is stored)."""
    c = context(ctx)
    with c.session() as session:
        user, token = users.add_user(session, c.actor(session), name, Role.EXAM_ENGINE)
    console.print(f"exam-engine client [bold]{user.name}[/] token, shown once: {token}", soft_wrap=True)
