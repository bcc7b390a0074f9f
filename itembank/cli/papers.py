"""Commands for papers and calibration: assemble (bank or pure mode), approve/show/export, calibrate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from itembank.cli.app import app, console, context, read_item_table, shown_warnings
from itembank.errors import ValidationError
from itembank.tabular import read_frame

papers_app = typer.Typer(help="Papers drawn from the bank.", no_args_is_help=True)
calibration_app = typer.Typer(help="Calibration runs in the bank.", no_args_is_help=True)
app.add_typer(papers_app, name="papers")
app.add_typer(calibration_app, name="calibration")


@app.command()
def assemble(ctx: typer.Context, spec: Path,
             items: Annotated[Path | None, typer.Option(help="pure mode: an item table (.csv) instead of the bank")] = None,
             out: Annotated[Path | None, typer.Option(help="pure mode: write the result JSON here")] = None,
             level: Annotated[int, typer.Option(min=1, max=5)] = 3,
             occupation: str = "4-07-03-04", kind: str = "theory") -> None:
    """Assemble main and backup papers from a paper spec (组卷方案)."""
    from itembank.services import papers

    if items is not None:
        result = papers.assemble_table(read_item_table(items), papers.load_spec_document(spec))
        console.print(result.summary())
        if out is not None:
            out.write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
        papers.require_papers(result)
        return
    c = context(ctx)
    with c.session() as session:
        outcome = papers.assemble(session, c.actor(session), spec, occupation_code=occupation, level=level,
                                  exam_kind=kind)
        names = [p.name for p in outcome.papers]
    console.print(outcome.result.summary())
    console.print("stored as draft: " + ", ".join(names))


@papers_app.command("approve")
def papers_approve(ctx: typer.Context, papers_: Annotated[list[str], typer.Argument(metavar="PAPER...")]) -> None:
    """Approve draft papers (by id or name)."""
    from itembank.services import papers

    c = context(ctx)
    with c.session() as session:
        actor = c.actor(session)
        done = [papers.approve_paper(session, actor, p).name for p in papers_]
    console.print("approved: " + ", ".join(done))


@papers_app.command("pretest")
def papers_pretest(ctx: typer.Context, paper: str,
                   items_: Annotated[list[str], typer.Argument(metavar="ITEM...", help="accepted or active objective items")]) -> None:
    """Give a paper (draft or approved, not yet sealed) a block of unscored pretest items; replaces an earlier block."""
    from itembank.services import papers, responses

    c = context(ctx)
    with c.session() as session:
        actor = c.actor(session)
        target = papers.get_paper(session, paper)
        responses.attach_pretest_items(session, actor, target.id, items_)  # type: ignore[arg-type]
    console.print(f"{target.name}: pretest block of {len(items_)} item(s), delivered last and never scored")


@papers_app.command("show")
def papers_show(ctx: typer.Context, paper: Annotated[str | None, typer.Argument()] = None) -> None:
    """List papers, or show one paper's items."""
    from itembank.services import papers

    c = context(ctx)
    with c.session() as session:
        actor = c.actor(session)
        rows: list[tuple[str, ...]]
        columns: tuple[str, ...]
        if paper is None:
            rows = [(str(p.id), p.name, p.role, p.status, f"{p.total_points:g}") for p in papers.list_papers(session, actor)]
            columns = ("id", "name", "role", "status", "points")
        else:
            frame = papers.paper_items(session, actor, paper)
            rows = [tuple(str(v) for v in r) for r in frame[["position", "item_id", "section", "points", "element", "key"]].itertuples(index=False)]
            columns = ("#", "item", "section", "points", "element", "key")
    table = Table()
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)


@papers_app.command("export")
def papers_export(ctx: typer.Context, paper: str, path: Path) -> None:
    """Export a paper to .json or a printable .html layout (answer key on a separate page)."""
    from itembank.services import papers

    c = context(ctx)
    with c.session() as session:
        written = papers.export_paper(session, c.actor(session), paper, path)
    console.print(f"wrote {written}")


@app.command()
def calibrate(ctx: typer.Context, responses: Path,
              model: Annotated[str, typer.Option(help="1PL, 2PL, 3PL, GRM or GPCM")] = "2PL",
              out: Annotated[Path | None, typer.Option(help="pure mode: write item estimates (.csv)")] = None,
              run: Annotated[str | None, typer.Option("--run", help="bank mode: store a calibration run with this name")] = None) -> None:
    """Calibrate items from a response log: pure mode (--out, no database) or bank mode (--run NAME)."""
    from calibration import ResponseLogWarning

    log = read_frame(responses, field="path")
    with shown_warnings(ResponseLogWarning):  # the log's unknown columns, as the calibration core reads it
        if run is None:
            import calibration

            if out is None:
                raise ValidationError("give --out FILE (pure mode) or --run NAME (bank mode)", field="out")
            try:
                result = calibration.calibrate(log, model=model, progress=True)
            except ValueError as exc:
                raise ValidationError(str(exc), field=getattr(exc, "field", None) or "responses") from exc
            result.items.to_csv(out, index=False)
            console.print(result.summary())
            return
        from itembank.services import calibration as service

        c = context(ctx)
        with c.session() as session:
            stored = service.run_calibration(session, c.actor(session), run, log, model, progress=True)
            summary = stored.summary
    console.print(f"stored calibration run '{run}' as provisional: {summary}")


@calibration_app.command("approve")
def calibration_approve(ctx: typer.Context, run: str) -> None:
    """Make a provisional run's estimates operational (history is kept)."""
    from itembank.services import calibration as service

    c = context(ctx)
    with c.session() as session:
        approved = service.approve_run(session, c.actor(session), run)
    console.print(f"calibration run '{approved.name}' approved by {approved.approved_by}")


@calibration_app.command("show")
def calibration_show(ctx: typer.Context, run: str) -> None:
    """Print a run's estimates."""
    from itembank.services import calibration as service

    c = context(ctx)
    with c.session() as session:
        frame = service.run_parameters(session, run)
    console.print(frame.to_string(index=False))
