"""The report's charts as inline PNG data URIs (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from itembank.demo.state import short_paper_name  # noqa: E402

MODEL_COLOURS = {"2PL": "#1f77b4", "3PL": "#d62728"}


def data_uri(figure: Figure) -> str:
    """The figure as a base64 PNG data URI, so the HTML file carries its own images."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def paper_curves(information: pd.DataFrame, expected: pd.DataFrame, targets: list[float]) -> str:
    """TIF and TCC of every paper side by side; parallel papers lie on top of each other."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for paper in information.columns:
        style = "-" if "main" in paper else "--"
        left.plot(information.index, information[paper], style, label=short_paper_name(paper))
        right.plot(expected.index, expected[paper], style, label=short_paper_name(paper))
    for theta in targets:
        left.axvline(theta, color="grey", lw=0.6, ls=":")
    right.axhline(60, color="grey", lw=0.6, ls=":")
    left.set(title="Test information (dotted: spec's θ targets)", xlabel="θ", ylabel="information")
    right.set(title="Expected score (dotted: pass mark 60)", xlabel="θ", ylabel="expected points")
    left.legend(fontsize=7, loc="upper left")
    return data_uri(figure)


def coverage_bars(coverage: pd.DataFrame, papers: list[str]) -> str:
    """Points per module on each paper beside the blueprint weight."""
    figure, axis = plt.subplots(figsize=(11, 3.6))
    modules = coverage["module"].tolist()
    width = 0.8 / (len(papers) + 1)
    x = np.arange(len(modules))
    axis.bar(x, coverage["blueprint"], width, color="black", label="blueprint weight")
    for n, paper in enumerate(papers, start=1):
        axis.bar(x + n * width, coverage[paper], width, label=short_paper_name(paper))
    axis.set_xticks(x + 0.4 - width / 2, modules)
    axis.set(ylabel="points (of 100)", title="Blueprint coverage by module")
    axis.legend(fontsize=7, ncol=4)
    return data_uri(figure)


def recovery_scatter(table: pd.DataFrame, run_label: str) -> str:
    """True against estimated a, b and c, coloured by the fitted model; c only where the 3PL estimates it."""
    figure, axes = plt.subplots(1, 3, figsize=(12, 4))
    for axis, parameter in zip(axes, ("a", "b", "c"), strict=True):
        shown = table[table["model"] == "3PL"] if parameter == "c" else table
        for model, group in shown.groupby("model"):
            axis.scatter(group[f"{parameter}_true"], group[f"{parameter}_est"], s=8, alpha=0.5,
                         color=MODEL_COLOURS.get(str(model)), label=f"fitted {model}")
        if shown.empty:
            axis.set_axis_off()
            continue
        low, high = float(shown[f"{parameter}_true"].min()), float(shown[f"{parameter}_true"].max())
        pad = 0.5 * (high - low)
        axis.plot([low, high], [low, high], color="black", lw=0.8)
        outside = int((~shown[f"{parameter}_est"].between(low - pad, high + pad)).sum())
        axis.set(xlim=(low - 0.1 * pad, high + 0.1 * pad), ylim=(low - pad, high + pad),
                 title=f"{parameter} ({outside} off the chart)",
                 xlabel=f"true {parameter}", ylabel=f"estimated {parameter}")
        axis.legend(fontsize=8)
    figure.suptitle(f"True against {run_label} estimates (line: perfect recovery)")
    return data_uri(figure)


def score_histograms(results: dict[str, pd.DataFrame]) -> str:
    """Candidates' scores out of 100 on each main paper, pass mark marked."""
    figure, axis = plt.subplots(figsize=(11, 3.4))
    bins = np.linspace(0, 100, 41).tolist()
    for paper, frame in results.items():
        axis.hist(frame["score_100"], bins=bins, histtype="step", label=short_paper_name(paper))
    axis.axvline(60, color="black", lw=0.8, ls="--")
    axis.set(title="Score distribution (dashed: pass mark 60)", xlabel="score out of 100", ylabel="candidates")
    axis.legend(fontsize=8)
    return data_uri(figure)
