"""The PyPI ``mirt`` package's shadow-test CAT as a peer on the CAT benchmark pool.

mirt (1.2, ``pip install -e .[bench]``) has ``mirt.cat.CATEngine`` with
``mirt.cat.shadow.ShadowTestSelection`` (van der Linden & Reese 1998: a full-length
``scipy.optimize.milp`` shadow test re-assembled before every item, content areas as count ranges,
enemy pairs, bundles) and ``mirt.cat.exposure.SympsonHetter`` (unconditional, recalibrated by
``calibrate`` — here after every simulee, as our control learns after every simulee). It has no
points-weighted blueprint and no importance share, so the spec is stated as the assembly peer
states it: every (item type, module) cell an area with an exact count apportioned from the
module weights (:func:`benchmarks.assembly.peer_mirt.cell_areas`); importance is left out. Its
tests then go through our verifier, and the rules they break are counted.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from assembly.bank import enemy_members
from assembly.exposure_control import segment_of
from benchmarks.assembly.peer_mirt import cell_areas
from itembank.adaptive import CatPool


def mirt_cat(pool: CatPool, true_theta: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Run mirt's shadow-test CAT on the pool's items for each true θ; one row per item given
    (candidate_id, position, item_id, theta after the answer, segment of θ̂ at the choice,
    seconds of the choice). mirt picks the next item inside ``administer_item`` (and the first
    in ``get_current_state``), so a choice is timed as that call: the EAP update (tens of
    microseconds) and the shadow test."""
    from mirt.cat import CATEngine
    from mirt.cat.content import ContentArea, ContentBlueprint
    from mirt.cat.exposure import SympsonHetter
    from mirt.cat.shadow import ShadowTestSelection
    from mirt.cat.stopping import MaxItemsStop
    from mirt.models.dichotomous import ThreeParameterLogistic

    table = pool.shadow.table
    spec = pool.shadow.spec
    model = ThreeParameterLogistic(n_items=len(table))
    model.set_parameters(discrimination=table["a"].to_numpy(), difficulty=table["b"].to_numpy(),
                         guessing=table["c"].fillna(0.0).to_numpy())
    model._is_fitted = True  # known parameters; mirt's own fits set the flag the same way
    blueprint = ContentBlueprint([ContentArea(name, items=rows, min_items=count, max_items=count)
                                  for name, rows, count in cell_areas(table, spec) if rows])
    enemies = {(p, q) for rows in enemy_members(table).values()
               for k, p in enumerate(rows) for q in rows[k + 1:]}
    bundles = [list(rows) for rows in table.groupby("set_id").indices.values()]
    exposure = SympsonHetter(target_rate=spec.cat.max_exposure, seed=0)
    engine = CATEngine(model, item_selection=ShadowTestSelection(
        pool.length, blueprint=blueprint, enemy_pairs=enemies, item_bundles=bundles or None),
        stopping_rule=MaxItemsStop(pool.length), max_items=pool.length, min_items=pool.length,
        exposure_control=exposure, scoring_method="EAP", seed=0)
    ids = table["item_id"].to_numpy()
    rows = []
    for k, theta in enumerate(np.asarray(true_theta, dtype=float)):
        engine.reset()
        started = time.perf_counter()
        state = engine.get_current_state()  # mirt chooses the next item while building a state
        seconds = time.perf_counter() - started
        segment = segment_of(state.theta, spec.cat.segments)
        while not state.is_complete:
            item = engine.select_next_item()
            a, b, c = pool.shadow.item_parameters(str(ids[item]))
            answer = int(rng.random() < c + (1 - c) / (1 + np.exp(-a * (theta - b))))
            started = time.perf_counter()
            state = engine.administer_item(answer)
            rows.append({"candidate_id": f"sim-{k:06d}", "position": len(state.items_administered),
                         "item_id": str(ids[item]), "theta": state.theta,
                         "se": state.standard_error, "segment": segment, "seconds": seconds})
            seconds = time.perf_counter() - started
            segment = segment_of(state.theta, spec.cat.segments)
        exposure.calibrate(len(table))
    return pd.DataFrame(rows)
