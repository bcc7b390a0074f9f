"""``itembank demo``: one whole certification cycle on a fresh SQLite bank, with an HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from itembank.cli.app import app

FAST = {"n_items": 800, "n_candidates": 1500, "pilot_responses_per_item": 200, "cat_candidates": 20}


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="folder for demo.db and demo-report.html (the bank is recreated)")] = Path("out"),
    items: Annotated[int | None, typer.Option(min=300, help="items in the sample bank (default 3000)")] = None,
    candidates: Annotated[int | None, typer.Option(min=100, help="candidates sitting the main papers (default 4000)")] = None,
    fast: Annotated[bool, typer.Option(help="a small run (800 items, 1500 candidates, 20 CAT simulees) for a quick look")] = False,
) -> None:
    """Run the demo: bank, review, pilot calibration, assembly, sealed delivery, scoring, calibration, leak drill, ledger, CAT study."""
    # Imported here, not at the top: plotting and the API server would slow every other command's start.
    from itembank.demo import DemoOptions, run_demo

    sizes: dict[str, int] = dict(FAST) if fast else {}
    if items is not None:
        sizes["n_items"] = items
    if candidates is not None:
        sizes["n_candidates"] = candidates
    run_demo(DemoOptions(out=out, **sizes), echo=typer.echo)  # type: ignore[arg-type]
