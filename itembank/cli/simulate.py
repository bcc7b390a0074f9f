"""``itembank simulate loft|cat``: simulation studies on known truth, pure mode (no database).

Bad input is a one-line ``ValidationError`` naming the field (exit 2); a spec the bank cannot meet
is ``Infeasible`` with the diagnosis (exit 6). Progress goes to stderr, the summary to stdout.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer
from tqdm.auto import tqdm

from itembank.cli.app import app, read_item_table, warn
from itembank.columns import check_header
from itembank.errors import ValidationError
from itembank.tabular import read_frame

if TYPE_CHECKING:
    from itembank.simulation import SimulationReport

simulate_app = typer.Typer(help="Simulation studies of LOFT and CAT on known truth (pure mode, no database).",
                           no_args_is_help=True)
app.add_typer(simulate_app, name="simulate")

Items = Annotated[Path, typer.Option("--items", help="item table (.csv or .parquet) with a, b, c parameters")]
Candidates = Annotated[int | None, typer.Option("--candidates", help="simulated candidates (default: one per --theta row)")]
Seed = Annotated[int, typer.Option(help="seed of the whole study (same seed, same report)")]
Out = Annotated[Path, typer.Option("--out", help="directory for report.json, figure.png, report.html, simulees.csv")]
Theta = Annotated[Path | None, typer.Option("--theta", help="true abilities (.csv with a theta column) instead of N(0, 1)")]
THETA_COLUMNS = ("theta",)
"""The one column a ``--theta`` file is read for; any other is named in a warning."""
THETA_FILE = "能力值文件"


def _abilities(theta: Path | None, candidates: int | None) -> tuple[int, np.ndarray | None]:
    """The number of candidates and their given true θ, if a file gives them."""
    if theta is None:
        if candidates is None:
            raise ValidationError("give --candidates N or a --theta file", field="candidates")
        return candidates, None
    table = read_frame(theta, field="theta")
    unknown = check_header(table.columns, THETA_COLUMNS, table=THETA_FILE, field_prefix="theta.")
    if "theta" not in table.columns:
        raise ValidationError(f"{theta.name} has no 'theta' column", field="theta")
    warn(unknown)
    return (len(table) if candidates is None else candidates), table["theta"].to_numpy(dtype=float)


@contextmanager
def _progress(what: str, then: str, delay: float = 1.0) -> Iterator[Callable[[int, int], None]]:
    """A tqdm bar on stderr fed by a (done, total) callback; it appears only on runs longer than ``delay`` seconds.
    Once every test is done the bar says ``then``, the work still to come (the independent verifier's
    pass over every test, the scoring), so a long study never sits silent."""
    with tqdm(desc=what, file=sys.stderr, delay=delay, leave=False) as bar:
        def update(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)
            if done >= total:
                bar.set_description(then)

        yield update


def _finish(report: SimulationReport, out: Path) -> None:
    from itembank.simulation import write_report

    files = write_report(report, out)
    typer.echo(report.summary())
    typer.echo("wrote " + ", ".join(str(p) for p in files.paths()))


@simulate_app.command("loft")
def simulate_loft(spec: Path, items: Items, out: Out, candidates: Candidates = None, seed: Seed = 0,
                  theta: Theta = None) -> None:
    """Assemble one LOFT paper per simulated candidate (一人一卷) and report how they fare."""
    from itembank.simulation import simulate_loft as study

    n, given = _abilities(theta, candidates)
    table = read_item_table(items, field_prefix="items.")
    with _progress("papers", "papers assembled; verifying and scoring") as progress:
        report = study(table, spec, n, seed=seed, theta=given, progress=progress)
    _finish(report, out)


@simulate_app.command("cat")
def simulate_cat(spec: Path, items: Items, out: Out, candidates: Candidates = None, seed: Seed = 0,
                 length: Annotated[int | None, typer.Option(help="items per CAT (default: the spec's cat.length)")] = None,
                 theta: Theta = None) -> None:
    """Run one shadow-test CAT per simulated candidate and report how they fare."""
    from itembank.simulation import simulate_cat as study

    n, given = _abilities(theta, candidates)
    table = read_item_table(items, field_prefix="items.")
    with _progress("candidates", "tests done; verifying") as progress:
        report = study(table, spec, n, seed=seed, theta=given, length=length, progress=progress)
    _finish(report, out)
