"""The shadow test of van der Linden's constrained CAT: before every item, a full-length test
that holds the items given so far and meets every rule of the spec, most informative at θ̂; the
next item is its most informative free item.

The model is built once (the spec's content families on one paper, :mod:`assembly.constraints`)
and handed to HiGHS once; each choice only changes that solver in place: the given items' lower
bounds go to 1 and the objective to −information at θ̂ plus any exposure penalties. The previous
shadow test holds every item given so far (the last one came from it), so it stays feasible and
is handed back as the incumbent: HiGHS starts with a full-length answer, and a capped search can
only improve on it. Ineligible items are priced out, not barred, so the shadow test exists
whenever the spec can be met at all.

The search is capped by nodes, not seconds, so the same answers always give the same items (a
session resumes from its response log by replaying it); a generous time cap is only a safety
net. Presolve is off: on a 500-item pool it costs more than the re-solve it prepares.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import highspy
import numpy as np
import pandas as pd
import pulp

from assembly.bank import eligible_pool
from assembly.constraints import CONTENT_FAMILIES
from assembly.diagnose import deletion_filter, describe, precheck
from assembly.errors import InfeasibleSpec, ItemTableError
from assembly.information import FloatArray, item_information
from assembly.model import AssemblyModel
from assembly.scaled_spec import scale_spec
from assembly.solve import HIGHS_FEASIBLE_SOLUTION, HIGHS_OPTIMAL, solve_highs
from assembly.spec import PaperSpec, SolverSettings, load_spec

FORM = "main-1"
FIRST_SOLVE_SECONDS = 10.0


@dataclass(frozen=True)
class ShadowSettings:
    """How hard each re-solve tries: relative gap, a node cap (deterministic), a safety time cap
    in seconds, and HiGHS presolve."""

    gap: float = 0.01
    max_nodes: int = 50
    time_limit: float = 2.0
    presolve: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"gap": self.gap, "max_nodes": self.max_nodes, "time_limit": self.time_limit,
                "presolve": self.presolve}


@dataclass(frozen=True)
class ShadowChoice:
    """One item choice: the next item, the shadow test it came from (ids), its information at θ̂,
    how many of its free items were priced as ineligible, whether the next item itself was (the
    shadow test had no eligible free item left), the seconds the choice took (solver included)
    and the solver's status (``optimal`` within the gap, else ``feasible``)."""

    item_id: str
    shadow: list[str]
    information: float
    penalised: int
    forced: bool
    seconds: float
    status: str


class ShadowTest:
    """One CAT session's shadow-test model over ``items`` for ``spec`` at ``length`` items
    (default ``spec.cat.length``, else the paper length; see :func:`assembly.scaled_spec.scale_spec`).
    Building finds a first shadow test; :class:`InfeasibleSpec` names the rules that conflict
    when the pool cannot meet the spec at this length."""

    def __init__(self, items: pd.DataFrame, spec: PaperSpec | dict[str, Any] | str | Path, *,
                 length: int | None = None, settings: ShadowSettings | None = None) -> None:
        base = load_spec(spec)
        self.settings = settings or ShadowSettings()
        self.spec = scale_spec(base, length or base.cat.length or base.length)
        pool = eligible_pool(items, self.spec)
        findings = precheck(pool, self.spec)
        if findings:
            raise InfeasibleSpec("the pool cannot fill a shadow test: "
                                 + "; ".join(f.sentence for f in findings),
                                 [f.constraint for f in findings])
        self.table = pool.table
        self._ids = self.table["item_id"].to_numpy(dtype=object)
        self._rows = {item: row for row, item in enumerate(self._ids)}
        self._parameters = (self.table["a"].to_numpy(dtype=float), self.table["b"].to_numpy(dtype=float),
                            self.table["c"].to_numpy(dtype=float))
        self._information: tuple[float, FloatArray] | None = None
        problem = pulp.LpProblem("shadow_test", pulp.LpMinimize)
        x = [problem.add_variable(f"x_{i}", cat=pulp.LpBinary) for i in range(len(pool.table))]
        model = AssemblyModel(problem, pool, self.spec, [FORM], [x])
        for add_family in CONTENT_FAMILIES:
            add_family(model)
        problem += model.total(0, -self.information(0.0), np.ones(len(x), dtype=bool))
        first = SolverSettings(time_limit=FIRST_SOLVE_SECONDS, gap=self.settings.gap)
        highs, _, _ = solve_highs(problem, first)
        if highs.getInfo().primal_solution_status != HIGHS_FEASIBLE_SOLUTION:
            conflicts, _ = deletion_filter(model, first)
            raise InfeasibleSpec("no test of the CAT's length meets the spec: "
                                 + "; ".join(describe(g, self.spec) for g in conflicts), conflicts)
        self._columns = np.array([v.index for v in x], dtype=np.int32)
        self._lp = highs.getLp()
        self._start = self._values(highs)
        self._sets = self.table["set_id"].to_numpy(dtype=object)
        self.restart()

    def fresh(self) -> ShadowTest:
        """A new session's shadow test over the same model (a new solver loaded with the stored
        model, no rebuild): it makes exactly the choices a freshly built one would."""
        twin = copy.copy(self)
        twin.restart()
        return twin

    def restart(self) -> None:
        """Forget the session: a new solver loaded with the model, nothing given, the first
        shadow test as the incumbent."""
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
        highs.setOptionValue("threads", 1)
        highs.setOptionValue("random_seed", 0)
        highs.setOptionValue("mip_rel_gap", self.settings.gap)
        highs.setOptionValue("mip_max_nodes", self.settings.max_nodes)
        highs.setOptionValue("time_limit", self.settings.time_limit)
        highs.setOptionValue("presolve", "on" if self.settings.presolve else "off")
        highs.passModel(self._lp)
        self._highs = highs
        self._solution = self._start.copy()
        self._fixed = np.zeros(len(self.table), dtype=bool)

    @property
    def length(self) -> int:
        return self.spec.length

    def information(self, theta: float) -> FloatArray:
        """Each pool item's information at θ (the last θ's is kept: a choice asks twice)."""
        if self._information is None or self._information[0] != theta:
            self._information = (theta, item_information(*self._parameters, [theta])[:, 0])
        return self._information[1]

    def item_parameters(self, item_id: str) -> tuple[float, float, float]:
        """The 3PL a, b, c of a pool item (c = 0 for 2PL items)."""
        row = int(self.rows([item_id])[0])
        a, b, c = (float(values[row]) for values in self._parameters)
        return a, b, 0.0 if np.isnan(c) else c

    def penalty(self, theta: float, ineligible: np.ndarray) -> FloatArray:
        """Objective penalties that price ineligible items out: each costs more than the
        information of a whole test at θ, so a shadow test uses one only when the rules leave no
        other way."""
        information = self.information(theta)
        whole_test = float(np.sort(information)[-self.length:].sum()) + 1.0
        return np.where(np.asarray(ineligible, dtype=bool), whole_test, 0.0)

    def rows(self, item_ids: Sequence[str]) -> np.ndarray:
        """Pool row positions of item ids; an id outside the pool is an error naming it."""
        try:
            return np.array([self._rows[i] for i in item_ids], dtype=int)
        except KeyError as exc:
            raise ItemTableError(f"item {exc.args[0]} is not in this CAT's pool", column="item_id") from exc

    def select(self, theta: float, administered: Sequence[str],
               penalty: np.ndarray | None = None, price: np.ndarray | None = None) -> ShadowChoice:
        """Re-solve the shadow test at θ̂ holding ``administered`` and return the next item: the
        rest of an item set once started, else the most informative free item of the shadow
        test, eligible (unpenalised) ones first. ``penalty`` prices ineligible items out
        (:meth:`penalty`); ``price`` is each item's exposure price (information units,
        :mod:`assembly.exposure_control`), subtracted from its information in the objective so
        that an overused item stays in the shadow test only where it is worth its price."""
        started = time.perf_counter()
        given = np.zeros(len(self.table), dtype=bool)
        given[self.rows(administered)] = True
        if given.sum() >= self.length:
            raise ValueError(f"the CAT already holds its {self.length} items")
        self._hold(given)
        information = self.information(theta)
        priced = np.zeros(len(self.table)) if penalty is None else np.asarray(penalty, dtype=float)
        extra = 0.0 if price is None else np.asarray(price, dtype=float)
        cost = np.where(given, 0.0, priced + extra - information)
        highs = self._highs
        columns = self._columns
        highs.changeColsCost(len(columns), columns, cost)
        if np.all(self._solution[given] > 0.5):
            highs.setSolution(len(columns), columns, self._solution)
        highs.run()
        status = highs.getModelStatus()
        if highs.getInfo().primal_solution_status != HIGHS_FEASIBLE_SOLUTION:
            raise InfeasibleSpec(
                f"no shadow test holds the {int(given.sum())} items given so far "
                f"({highs.modelStatusToString(status)})", ["shadow_test"])
        self._solution = self._values(highs)
        shadow = self._solution > 0.5
        item = self._next_item(shadow, given, information, priced)
        return ShadowChoice(
            item_id=str(self._ids[item]),
            shadow=self._ids[shadow].tolist(),
            information=float(information[shadow].sum()),
            penalised=int(np.count_nonzero(shadow & ~given & (priced > 0))),
            forced=bool(priced[item] > 0),
            seconds=time.perf_counter() - started,
            status="optimal" if status in HIGHS_OPTIMAL else "feasible")

    def _hold(self, given: np.ndarray) -> None:
        """Lower bounds of the given items to 1: only the new ones, unless the session changed."""
        if np.any(self._fixed & ~given):
            rows = np.arange(len(given))
            lower = given.astype(float)
        else:
            rows = np.flatnonzero(given & ~self._fixed)
            lower = np.ones(len(rows))
        if len(rows):
            self._highs.changeColsBounds(len(rows), self._columns[rows], lower, np.ones(len(rows)))
        self._fixed = given.copy()

    def has_open_set(self, administered: Sequence[str]) -> bool:
        """Whether an item set is started but not finished (a test never stops inside one)."""
        given = np.zeros(len(self.table), dtype=bool)
        given[self.rows(administered)] = True
        return bool(self._open_sets(given, ~given))

    def _open_sets(self, given: np.ndarray, free: np.ndarray) -> set[object]:
        in_set = pd.notna(self._sets)
        return set(self._sets[given & in_set]) & set(self._sets[free & in_set])

    def _values(self, highs: highspy.Highs) -> FloatArray:
        """The incumbent's item selection, in pool row order, as exact 0/1."""
        return np.round(np.asarray(highs.getSolution().col_value)[self._columns])

    def _next_item(self, shadow: np.ndarray, given: np.ndarray, information: FloatArray,
                   priced: FloatArray) -> int:
        free = shadow & ~given
        open_sets = self._open_sets(given, free)
        if open_sets:
            free &= np.isin(self._sets, np.array(sorted(map(str, open_sets)), dtype=object))
        eligible = free & (priced <= 0)
        candidates = eligible if eligible.any() else free
        return int(np.flatnonzero(candidates)[np.argmax(information[candidates])])
