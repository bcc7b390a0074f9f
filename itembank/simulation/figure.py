"""The study's figure: item exposure, conditional θ error by decile, and reported against true score.

matplotlib is the optional ``plot`` extra, imported only here and only when a figure is drawn, on
the Agg backend (no display). Labels are bilingual when a CJK font is installed, English otherwise,
so a machine without one never draws empty boxes.
"""

from __future__ import annotations

import io

import numpy as np

from itembank.simulation.result import SimulationReport

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "SimHei",
             "Microsoft YaHei", "PingFang SC")
LABELS = {
    "exposure": ("Item exposure (曝光率)", "Item exposure"),
    "rate": ("share of tests holding the item", "share of tests holding the item"),
    "items": ("eligible items", "eligible items"),
    "rmse": ("Conditional θ error by decile (条件误差)", "Conditional θ error by decile"),
    "theta": ("mean true θ of the decile", "mean true θ of the decile"),
    "scores": ("Reported against true score (百分制)", "Reported against true score (100-point scale)"),
    "true": ("true score: reference TCC at true θ", "true score: reference TCC at true θ"),
    "reported": ("reported score", "reported score"),
}


def cjk_font() -> str | None:
    """The first installed font that has Chinese glyphs, or None."""
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def figure_png(report: SimulationReport) -> bytes:
    """The three panels as PNG bytes (written to figure.png and embedded in the HTML page)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("the simulation figure needs matplotlib: pip install 'itembank[plot]'") from exc
    font = cjk_font()
    label = {key: pair[0] if font else pair[1] for key, pair in LABELS.items()}
    with plt.rc_context({"font.family": [font, "DejaVu Sans"]} if font else {}):
        figure, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4.2))
        rates = report.exposure.items["rate"].to_numpy()
        left.hist(rates, bins=np.linspace(0.0, max(float(rates.max(initial=0.0)), report.limits["max_exposure"]) * 1.05, 31),
                  color="#1f77b4")
        left.axvline(report.limits["max_exposure"], color="#b00020", ls="--", lw=1, label="limit")
        left.set(title=label["exposure"], xlabel=label["rate"], ylabel=label["items"])
        left.legend(fontsize=8)
        deciles = report.recovery.by_decile
        middle.plot(deciles["mean_theta"], deciles["rmse"], "o-", label="RMSE")
        middle.plot(deciles["mean_theta"], deciles["bias"], "s--", label="bias")
        middle.axhline(0.0, color="grey", lw=0.6)
        middle.axvline(report.pass_theta, color="grey", lw=0.8, ls=":", label="pass-mark θ")
        middle.set(title=label["rmse"], xlabel=label["theta"], ylabel="θ̂ − θ")
        middle.legend(fontsize=8)
        simulees = report.simulees
        if "raw_score" in simulees:
            right.scatter(simulees["true_score"], simulees["raw_score"], s=5, alpha=0.35, color="#ff7f0e",
                          label="raw score on own paper")
        right.scatter(simulees["true_score"], simulees["score"], s=5, alpha=0.5, color="#1f77b4",
                      label="reference TCC at θ̂")
        right.plot([0, 100], [0, 100], color="black", lw=0.8)
        for axis_line in (right.axhline, right.axvline):
            axis_line(report.pass_mark, color="#b00020", lw=0.8, ls="--")
        right.set(title=label["scores"], xlabel=label["true"], ylabel=label["reported"], xlim=(0, 100), ylim=(0, 100))
        right.legend(fontsize=8, loc="upper left")
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110)
        plt.close(figure)
    return buffer.getvalue()
