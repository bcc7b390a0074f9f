"""The study's files: report.json (every figure), figure.png, a self-contained report.html and
simulees.csv (one row per simulated candidate)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from itembank import html_report
from itembank.errors import ValidationError
from itembank.simulation.figure import figure_png
from itembank.simulation.result import SCORE_LABELS, SimulationReport


@dataclass(frozen=True)
class ReportFiles:
    """Where the study was written."""

    json: Path
    figure: Path
    html: Path
    simulees: Path

    def paths(self) -> list[Path]:
        return [self.json, self.figure, self.html, self.simulees]


def key_figures(report: SimulationReport) -> pd.DataFrame:
    """The figures a sign-off looks at, with their limit where the spec sets one."""
    e, limits = report.exposure, report.limits
    rows: list[tuple[str, float, float | None]] = [("θ RMSE", report.recovery.rmse, None), ("θ bias", report.recovery.bias, None)]
    rows += [(f"classification accuracy ({SCORE_LABELS[name]})", c.accuracy, None)
             for name, c in report.classification.items()]
    conditional = report.conditional_exposure
    rows.append(("max item exposure", e.max_rate, limits["max_exposure"] if conditional is None else None))
    if conditional is not None:
        rows.append(("max item exposure within a θ̂ segment", conditional, limits["max_exposure"]))
    rows += [("unused share of the pool", e.unused_share, None),
             ("mean pairwise overlap", report.mean_overlap, limits.get("max_mean_overlap")),
             ("constraint violations", float(report.violations), 0.0)]
    return pd.DataFrame(rows, columns=["figure", "value", "limit"])


def _html(report: SimulationReport, png: bytes) -> str:
    title = f"{report.mode.upper()} simulation — {report.spec_name}"
    verdict = ("<p class='ok'>The independent verifier found no constraint violations.</p>" if report.violations == 0
               else f"<p class='bad'>The independent verifier found {report.violations} constraint violations.</p>")
    failed = report.verification[~report.verification["ok"].astype(bool)] if len(report.verification) else None
    timings = pd.DataFrame([{"timing": name, **t} for name, t in report.timings.items()])
    return html_report.page(title, [
        f"<h1>{html_report.esc(title)}</h1><p class='sub'>{report.candidates:,} simulated candidates, seed "
        f"{report.seed}, written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; pass mark {report.pass_mark:g} "
        f"(pass-mark θ {report.pass_theta:+.3f}).</p>",
        html_report.cards([("θ RMSE", f"{report.recovery.rmse:.3f}"),
                           ("pass/fail accuracy", f"{100 * report.classification['reference_tcc'].accuracy:.1f} %"),
                           ("max exposure", f"{report.exposure.max_rate:.3f}"),
                           ("mean overlap", f"{report.mean_overlap:.3f}"),
                           ("violations", str(report.violations))]),
        "<h2>Key figures</h2>" + html_report.table(key_figures(report), 3) + verdict
        + ("" if failed is None or failed.empty else html_report.table(failed.head(20), 3)),
        "<h2>Figure</h2><img alt='exposure, conditional error and scores' src='data:image/png;base64,"
        + base64.b64encode(png).decode("ascii") + "'>",
        "<h2>θ recovery by decile of true θ</h2>" + html_report.table(report.recovery.by_decile, 3),
        "<h2>Pass/fail classification</h2>"
        + html_report.table(pd.DataFrame([{"score": SCORE_LABELS[n], **c.to_dict()}
                                          for n, c in report.classification.items()]), 3),
        "<h2>Exposure</h2>" + html_report.table(report.exposure.histogram, 0),
        "<h2>Timings (seconds)</h2>" + html_report.table(timings, 4),
        "<h2>Summary</h2><pre>" + html_report.esc(report.summary()) + "</pre>",
    ])


def write_report(report: SimulationReport, out: Path) -> ReportFiles:
    """Write the four files into ``out`` (created if missing)."""
    if out.exists() and not out.is_dir():
        raise ValidationError(f"{out} exists and is not a directory", field="out")
    out.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(out / "report.json", out / "figure.png", out / "report.html", out / "simulees.csv")
    files.json.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    png = figure_png(report)
    files.figure.write_bytes(png)
    files.html.write_text(_html(report, png), encoding="utf-8")
    report.simulees.to_csv(files.simulees, index=False)
    return files
