"""``itembank engine``: the reference exam engine on the command line (pull, open, submit over HTTP)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from itembank.cli.app import app, console
from itembank.engine_client import EngineClient
from itembank.errors import ValidationError
from itembank.sealing import SealedPackage

engine_app = typer.Typer(help="Reference exam-engine client: pull sealed papers, open them, submit responses.",
                         no_args_is_help=True)
app.add_typer(engine_app, name="engine")

Url = Annotated[str, typer.Option("--url", envvar="ITEMBANK_URL", help="base URL of the bank's API")]
Token = Annotated[str, typer.Option("--token", envvar="ITEMBANK_ENGINE_TOKEN", help="this engine's bearer token")]
RESPONSE_COLUMNS = ("person_id", "item_id", "response")


def make_client(url: str, token: str) -> EngineClient:
    """The client every command uses (one place to point them at another transport)."""
    return EngineClient(url, token)


@engine_app.command("pull")
def pull(
    paper_id: int,
    url: Url,
    token: Token,
    out: Annotated[Path, typer.Option("--out", help="directory for the sealed package")] = Path("."),
) -> None:
    """Download a sealed paper, verify the bank's signature and store it (still encrypted)."""
    sealed = make_client(url, token).pull(paper_id)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"paper-{paper_id}.sealed.json"
    target.write_bytes(sealed.to_json())
    console.print(f"paper {paper_id} verified and saved to {target} (content hash {sealed.header.content_hash})")


@engine_app.command("open")
def open_paper(
    paper_id: int,
    url: Url,
    token: Token,
    source: Annotated[Path, typer.Option("--in", help="a sealed package saved by `engine pull`")],
    out: Annotated[Path | None, typer.Option("--out", help="write the opened paper here (default: stdout)")] = None,
) -> None:
    """Request the data key (only inside the release window) and decrypt a pulled paper."""
    try:
        sealed = SealedPackage.from_json(source.read_bytes())
    except OSError as exc:
        raise ValidationError(f"cannot read {source}: {exc.strerror}", field="in") from exc
    content = make_client(url, token).open(paper_id, sealed)
    text = json.dumps(content, ensure_ascii=False, indent=2)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"paper {paper_id} opened to {out}")


def read_responses(path: Path) -> list[dict[str, str | None]]:
    """A CSV of person_id, item_id, response; a blank response is an omitted item."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValidationError(f"cannot read responses from {path}: {exc}", field="responses") from exc
    missing = [c for c in RESPONSE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValidationError(f"{path} lacks column(s) {', '.join(missing)}", field=f"responses.{missing[0]}")
    return [
        {"person_id": person, "item_id": item, "response": response or None}
        for person, item, response in frame[list(RESPONSE_COLUMNS)].itertuples(index=False, name=None)
    ]


@engine_app.command("submit")
def submit(
    paper_id: int,
    responses: Path,
    url: Url,
    token: Token,
    batch_id: Annotated[str, typer.Option("--batch-id", help="stable id of this batch; resubmitting it is safe")],
) -> None:
    """Send candidates' responses; a retry with the same batch id never stores them twice."""
    summary = make_client(url, token).submit(paper_id, batch_id, read_responses(responses))
    console.print(f"batch {batch_id}: {summary.get('n_responses', '?')} responses stored for paper {paper_id}")
