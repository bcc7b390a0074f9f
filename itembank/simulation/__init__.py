"""Simulation studies of LOFT and CAT on known truth (the psychometrician's sign-off before go-live).

``simulate_loft(items, spec, candidates, seed=...)`` and ``simulate_cat(items, spec, candidates,
length=..., seed=...)`` return a :class:`SimulationReport` (θ recovery overall and by decile,
pass/fail classification at the pass mark, exposure, overlap, violations found by the independent
verifier, timings); ``write_report`` writes its JSON, figure, HTML page and per-simulee CSV.
"""

from itembank.simulation.cat import simulate_cat
from itembank.simulation.loft import simulate_loft
from itembank.simulation.report import ReportFiles, write_report
from itembank.simulation.result import SimulationReport

__all__ = ["ReportFiles", "SimulationReport", "simulate_cat", "simulate_loft", "write_report"]
