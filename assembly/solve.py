"""Run HiGHS or CBC on an assembly model and report honestly what came back.

PuLP's own status is not trusted: it says "Optimal" after a time-limit stop, and leaves LP values
in the variables when CBC found no incumbent. Here the status comes from HiGHS's model status or
CBC's log and the bound and gap are read from the solver, with the incumbent trajectory for
benchmarks. ``optimal`` means proven optimal (incumbent and bound agree within
``PROVEN_TOLERANCE``); a stop at the spec's gap tolerance (HiGHS and CBC both call it "optimal")
or at the time limit is ``feasible``, and its message says at which gap it stopped.

The solvers' own output belongs in the log, not on the user's terminal: HiGHS prints a banner to
the process's standard output when the first ``Highs`` object is made, before any option can be
set, so that first object is made with standard output pointed at a file whose text goes to the
``assembly.solver`` log at DEBUG; with DEBUG on, every run's HiGHS log is forwarded there too.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import highspy
import numpy as np
import pulp

from assembly.improve import fix_and_optimise
from assembly.model import AssemblyModel
from assembly.spec import SolverSettings

HIGHS_OPTIMAL = {highspy.HighsModelStatus.kOptimal}
HIGHS_INFEASIBLE = {highspy.HighsModelStatus.kInfeasible,
                    highspy.HighsModelStatus.kUnboundedOrInfeasible}
HIGHS_FEASIBLE_SOLUTION = 2
FULL_MODEL_SHARE = 0.6
PROVEN_TOLERANCE = 1e-9
SOLVER_LOG = logging.getLogger("assembly.solver")
_FIRST_HIGHS = threading.Lock()
_banner_routed = False


@dataclass
class SolverOutcome:
    """What a solver run produced: status, selection [paper, item], objective, bound and gap."""

    status: str
    solver: str
    selection: np.ndarray | None = None
    objective: float | None = None
    best_bound: float | None = None
    gap: float | None = None
    solve_time: float = 0.0
    trajectory: list[tuple[float, float]] = field(default_factory=list)
    message: str = ""


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """|bound − objective| / max(|objective|, 1e-9), the definition HiGHS and CBC both use."""
    if objective is None or bound is None or not np.isfinite(bound):
        return None
    return abs(bound - objective) / max(abs(objective), 1e-9)


def is_proven(objective: float | None, bound: float | None) -> bool:
    """Incumbent and bound agree within ``PROVEN_TOLERANCE`` (relative, or absolute near zero)."""
    if objective is None or bound is None or not np.isfinite(bound):
        return False
    return abs(bound - objective) <= PROVEN_TOLERANCE * max(1.0, abs(objective))


def stop_status(objective: float, bound: float | None, tolerance: float) -> tuple[str, str]:
    """``optimal`` only when proven; else ``feasible``, saying whether the run stopped on the
    spec's gap tolerance or with the gap still above it (the time limit)."""
    if is_proven(objective, bound):
        return "optimal", "proven optimal"
    gap = relative_gap(objective, bound)
    if gap is None:
        return "feasible", "stopped without a bound"
    reason = "stopped at gap" if gap <= tolerance else "time limit reached at gap"
    return "feasible", f"{reason} {100 * gap:.2f} % (tolerance {100 * tolerance:.2f} %)"


def _route_banner_to_log() -> None:
    """Make the process's first Highs object with file descriptor 1 on a temporary file, so the
    banner its constructor prints lands in the log. Once per process; the redirect lasts only
    for that constructor."""
    global _banner_routed
    with _FIRST_HIGHS:
        if _banner_routed:
            return
        libc = ctypes.CDLL(None)
        with tempfile.TemporaryFile() as capture:
            saved = os.dup(1)
            try:
                libc.fflush(None)
                os.dup2(capture.fileno(), 1)
                highspy.Highs()
                libc.fflush(None)
            finally:
                os.dup2(saved, 1)
                os.close(saved)
            capture.seek(0)
            banner = capture.read().decode(errors="replace").strip()
        if banner:
            SOLVER_LOG.debug("%s", banner)
        _banner_routed = True


def _forward_log(highs: highspy.Highs) -> bool:
    """With DEBUG on for ``assembly.solver``, HiGHS logs to a callback instead of the console."""
    if not SOLVER_LOG.isEnabledFor(logging.DEBUG):
        return False
    highs.setOptionValue("output_flag", True)
    highs.setOptionValue("log_to_console", False)
    return True


def _selection(model: AssemblyModel, value_of: Callable[[pulp.LpVariable], float]) -> np.ndarray:
    return np.array([[value_of(v) > 0.5 for v in xs] for xs in model.x], dtype=bool)


def solve_highs(problem: pulp.LpProblem, settings: SolverSettings, *, relax: bool = False,
                start: dict[pulp.LpVariable, float] | None = None, clock: float | None = None,
                fix_start: bool = False,
                ) -> tuple[highspy.Highs, float, list[tuple[float, float]]]:
    """Run HiGHS through PuLP's highspy bridge, recording each improving incumbent (seconds since
    ``clock``, objective); a partial ``start`` is completed by HiGHS itself. The callback stays
    on, so later re-runs of the returned Highs object extend the same trajectory."""
    sense = -1.0 if problem.sense == pulp.LpMaximize else 1.0
    clock = time.perf_counter() if clock is None else clock
    _route_banner_to_log()
    bridge = pulp.HiGHS(mip=not relax, msg=False, timeLimit=settings.time_limit,
                        gapRel=settings.gap, threads=settings.threads,
                        random_seed=settings.seed)
    bridge.createAndConfigureSolver(problem)
    bridge.buildSolverModel(problem)
    highs: highspy.Highs = problem.solverModel
    forwarding = _forward_log(highs)
    trajectory: list[tuple[float, float]] = []

    def on_event(kind: object, message: str, data_out: object, _data_in: object,
                 _user: object) -> None:
        if kind == highspy.cb.HighsCallbackType.kCallbackLogging:
            SOLVER_LOG.debug("%s", message.rstrip())
            return
        value = sense * float(data_out.objective_function_value)  # type: ignore[attr-defined]
        if not trajectory or sense * value < sense * trajectory[-1][1]:
            trajectory.append((time.perf_counter() - clock, value))

    if start:
        columns = np.array([v.index for v in start], dtype=np.int32)
        values = np.array(list(start.values()), dtype=float)
        highs.setSolution(len(start), columns, values)
        if fix_start:
            highs.changeColsBounds(len(columns), columns, values, values)
    highs.setCallback(on_event, None)
    highs.startCallback(highspy.cb.HighsCallbackType.kCallbackMipImprovingSolution)
    if forwarding:
        highs.startCallback(highspy.cb.HighsCallbackType.kCallbackLogging)
    started = time.perf_counter()
    highs.run()
    return highs, time.perf_counter() - started, trajectory


def _start_values(model: AssemblyModel, start: np.ndarray | None) -> dict[pulp.LpVariable, float]:
    if start is None:
        return {}
    return {v: float(flag) for xs, row in zip(model.x, start, strict=True)
            for v, flag in zip(xs, row, strict=True)}


def _run_highs(model: AssemblyModel, settings: SolverSettings, start: np.ndarray | None
               ) -> SolverOutcome:
    clock = time.perf_counter()
    full_model_share = settings.model_copy(
        update={"time_limit": settings.time_limit * FULL_MODEL_SHARE}) \
        if settings.improve and len(model.x) > 1 else settings
    highs, elapsed, trajectory = solve_highs(model.problem, full_model_share,
                                             start=_start_values(model, start), clock=clock)
    sense = -1.0 if model.problem.sense == pulp.LpMaximize else 1.0
    status, info = highs.getModelStatus(), highs.getInfo()
    has_paper = info.primal_solution_status == HIGHS_FEASIBLE_SOLUTION
    if status in HIGHS_INFEASIBLE:
        return SolverOutcome("infeasible", "highs", solve_time=elapsed, message="HiGHS proved infeasibility")
    if not has_paper:
        return SolverOutcome("not_solved", "highs", solve_time=elapsed, trajectory=trajectory,
                             message=f"HiGHS stopped with {highs.modelStatusToString(status)} and no paper "
                                     "(if the thread count changed within this process, HiGHS refuses to run)")
    objective = sense * info.objective_function_value
    bound = sense * info.mip_dual_bound
    values = np.asarray(highs.getSolution().col_value)
    if settings.improve and status not in HIGHS_OPTIMAL:
        values, objective = fix_and_optimise(highs, model, settings, clock + settings.time_limit,
                                             bound, sense)
        elapsed = time.perf_counter() - clock
    verdict, message = stop_status(objective, bound, settings.gap)
    return SolverOutcome(
        verdict, "highs", selection=_selection(model, lambda v: values[v.index]),
        objective=objective, best_bound=bound, gap=relative_gap(objective, bound),
        solve_time=elapsed, trajectory=trajectory,
        message=f"HiGHS {highs.modelStatusToString(status)}: {message}")


CBC_INCUMBENT = re.compile(
    r"Cbc00(?:04|12)I Integer solution of (\S+) (?!found by Reduced search).*\(([\d.]+) seconds\)")
CBC_BOUND = re.compile(r"^(?:Lower|Upper) bound:\s+(\S+)", re.MULTILINE)
CBC_OBJECTIVE = re.compile(r"^Objective value:\s+(\S+)", re.MULTILINE)
CBC_RESULT = re.compile(r"^Result - (.+)$", re.MULTILINE)
CBC_PROVEN = "Optimal solution found"


def _complete_start(model: AssemblyModel, start: np.ndarray, settings: SolverSettings) -> bool:
    """Give every variable an initial value (CBC rejects partial starts): HiGHS fills in the
    helper variables with the papers held fixed. False if the start cannot be completed."""
    quick = settings.model_copy(update={"time_limit": min(5.0, settings.time_limit)})
    highs, _, _ = solve_highs(model.problem, quick, start=_start_values(model, start),
                              fix_start=True)
    if highs.getInfo().primal_solution_status != HIGHS_FEASIBLE_SOLUTION:
        return False
    values = np.asarray(highs.getSolution().col_value)
    for var in model.problem.variables():
        var.setInitialValue(float(values[var.index]))
    return True


def _run_cbc(model: AssemblyModel, settings: SolverSettings, start: np.ndarray | None
             ) -> SolverOutcome:
    warm = start is not None and _complete_start(model, start, settings)
    sense = -1.0 if model.problem.sense == pulp.LpMaximize else 1.0
    with tempfile.TemporaryDirectory() as workdir:
        log_path = Path(workdir) / "cbc.log"
        # the CBC bundled with PuLP (COIN_CMD would need a system CBC)
        solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=settings.time_limit, gapRel=settings.gap,
                                   threads=settings.threads, logPath=str(log_path),
                                   warmStart=warm,
                                   options=[f"randomCbcSeed {settings.seed + 1}"])
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", UserWarning)
            model.problem.solve(solver)
        elapsed = time.perf_counter() - started
        log = log_path.read_text(errors="replace")
    result = CBC_RESULT.search(log)
    verdict = result.group(1).strip() if result else "no result line"
    trajectory = [(float(t), sense * float(v)) for v, t in CBC_INCUMBENT.findall(log)]
    if "infeasible" in verdict.lower() or "Problem is infeasible" in log:
        return SolverOutcome("infeasible", "cbc", solve_time=elapsed, message=f"CBC: {verdict}")
    objective_match = CBC_OBJECTIVE.search(log)
    found = "Integer solution of" in log or verdict.startswith("Optimal")
    if objective_match is None or not found:
        return SolverOutcome("not_solved", "cbc", solve_time=elapsed,
                             message=f"CBC: {verdict}, no paper found")
    objective = float(objective_match.group(1))
    bound_match = CBC_BOUND.search(log)
    if bound_match:
        bound: float | None = float(bound_match.group(1))
    else:  # CBC prints no bound once it has proved optimality, only after a gap or time stop
        bound = objective if verdict == CBC_PROVEN else None
    status, stop = stop_status(objective, bound, settings.gap)
    return SolverOutcome(
        status, "cbc",
        selection=_selection(model, lambda v: v.varValue or 0.0), objective=objective, best_bound=bound,
        gap=relative_gap(objective, bound), solve_time=elapsed, trajectory=trajectory,
        message=f"CBC: {verdict}: {stop}")


def run_solver(model: AssemblyModel, settings: SolverSettings,
               start: np.ndarray | None = None) -> SolverOutcome:
    """Solve with the solver the spec names, with its time limit, gap, threads and seed,
    optionally from a [paper, item] start selection."""
    if settings.name == "highs":
        return _run_highs(model, settings, start)
    return _run_cbc(model, settings, start)


def relaxation_bound(model: AssemblyModel, settings: SolverSettings) -> float | None:
    """The root LP bound (all binaries relaxed), the yardstick for the benchmarks' gaps."""
    highs, _, _ = solve_highs(model.problem, settings, relax=True)
    if highs.getModelStatus() not in HIGHS_OPTIMAL:
        return None
    sense = -1.0 if model.problem.sense == pulp.LpMaximize else 1.0
    return sense * highs.getInfo().objective_function_value


def is_feasible(problem: pulp.LpProblem, settings: SolverSettings) -> bool | None:
    """Feasibility check for the deletion filter: True, False, or None when the limit ran out."""
    highs, _, _ = solve_highs(problem, settings)
    status, info = highs.getModelStatus(), highs.getInfo()
    if info.primal_solution_status == HIGHS_FEASIBLE_SOLUTION:
        return True
    if status in HIGHS_INFEASIBLE:
        return False
    return None
