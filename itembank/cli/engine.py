"""``itembank engine``: the reference exam engine on the command line (pull, open, submit over HTTP)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from itembank.cli.app import app, console, warn
from itembank.columns import check_header
from itembank.engine_client import EngineClient
from itembank.errors import ValidationError
from itembank.sealing import SealedPackage
from itembank.tabular import read_rows

engine_app = typer.Typer(help="Reference exam-engine client: pull sealed papers, open them, submit responses.",
                         no_args_is_help=True)
app.add_typer(engine_app, name="engine")

Url = Annotated[str, typer.Option("--url", envvar="ITEMBANK_URL", help="base URL of the bank's API")]
Token = Annotated[str, typer.Option("--token", envvar="ITEMBANK_ENGINE_TOKEN", help="this engine's bearer token")]
RESPONSE_COLUMNS = ("person_id", "item_id", "response")
"""The columns of a response file ``engine submit`` reads (what the bank takes per response)."""
RESPONSE_FILE = "作答文件"


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
    """A .csv or .xlsx of person_id, item_id, response; a blank response is an omitted item.

    Any other column is named in a warning (the bank stores only these three), and one that looks like
    them (``responses``, ``person``) is refused: sent without it, every answer would be blank.
    """
    rows = read_rows(path)
    header = list(dict.fromkeys(column for _, row in rows for column in row))
    unknown = check_header(header, RESPONSE_COLUMNS, table=RESPONSE_FILE, field_prefix="responses.")
    missing = [c for c in RESPONSE_COLUMNS if c not in header]
    if missing:
        raise ValidationError(f"{path} lacks column(s) {', '.join(missing)}", field=f"responses.{missing[0]}")
    warn(unknown)
    return [{column: _text(row.get(column)) for column in RESPONSE_COLUMNS} for _, row in rows]


def _text(value: object) -> str | None:
    """A cell as the text the bank takes; blank is None (an omitted item), an Excel number its digits."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return str(value)


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
