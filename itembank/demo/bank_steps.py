"""Demo steps 1–4 inside the bank: sample bank, review to active, pilot calibration, paper assembly.

A few accepted items are held back from activation and from the pilot: they are the new items that
later ride along the live papers as an unscored pretest block.

Each step is one function over the shared :class:`DemoRun`; it returns the one progress line the demo prints
and leaves the figures the report needs in ``run.facts``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from itembank.db import transaction
from itembank.demo.candidates import simulate_pilot
from itembank.demo.state import CALIBRATION_CONFIG, CALIBRATION_MODELS, DemoRun, recovery
from itembank.models import EnemyMember, Item, ItemVersion, Role, TrueParameter
from itembank.services import calibration as calibration_service
from itembank.services import papers as paper_service
from itembank.services import sample
from itembank.services.actors import SYSTEM, Actor
from itembank.services.blueprints import find_blueprint
from itembank.services.users import add_user

DICHOTOMOUS_TYPES = ("single_choice", "multiple_choice", "true_false")
PANEL_SIZE = 5


def load_bank(run: DemoRun) -> str:
    """Step 1: the shipped blueprint and the seeded sample bank, entered as draft items by the admin."""
    options = run.options
    with transaction(run.engine) as session:
        add_user(session, SYSTEM, run.admin.name, run.admin.role)
        items = sample.load_sample_bank(session, run.admin, options.level, options.n_items, options.seed)
        run.item_ids = [i.external_id for i in items]
        blueprint = find_blueprint(session, sample.HR_MANAGER, options.level)
        run.facts["blueprint"] = {"id": blueprint.id, "name": blueprint.occupation, "version": blueprint.version,
                                  "level": blueprint.level, "exam_kind": blueprint.exam_kind}
    return f"{len(run.item_ids):,} draft items for blueprint {blueprint.occupation} v{blueprint.version} (seed {options.seed})"


def choose_pretest_items(run: DemoRun, count: int, rng: np.random.Generator) -> list[str]:
    """New items for the pretest blocks: dichotomous, outside item sets and enemy groups (a block is no paper,
    so it could not keep a set together or enemies apart)."""
    with transaction(run.engine) as session:
        tied = set(session.exec(select(Item.external_id).join(EnemyMember, col(EnemyMember.item_id) == Item.id)).all())
        tied |= set(session.exec(select(Item.external_id).where(col(Item.set_id).is_not(None))).all())
    free = run.truth.loc[~run.truth["item_id"].isin(tied), "item_id"].to_numpy()
    return sorted(rng.choice(free, min(count, len(free)), replace=False).tolist())


def review_bank(run: DemoRun) -> str:
    """Step 2: proofread, review, a five-member panel signs, the manager activates all but the pretest items."""
    with transaction(run.engine) as session:
        run.crew = sample.ensure_crew(session, run.admin, PANEL_SIZE)
        add_user(session, run.admin, "demo-psychometrician", Role.PSYCHOMETRICIAN)
        _, run.engine_token = add_user(session, run.admin, run.engine_name, Role.EXAM_ENGINE)
    run.truth = true_parameters(run)
    n_pretest = run.options.pretest_per_paper * paper_service.load_spec_document(run.options.spec_path)["forms"]["main"]
    run.pretest_ids = choose_pretest_items(run, n_pretest, np.random.default_rng(run.options.seed + 2))
    sample.scripted_review(run.engine, run.crew, run.item_ids, hold_back=run.pretest_ids)
    with transaction(run.engine) as session:
        statuses = pd.Series(session.exec(select(Item.status)).all()).value_counts()
    run.facts["statuses_after_review"] = {str(k): int(v) for k, v in statuses.items()}
    return (f"{int(statuses.get('active', 0)):,} items active after proofreading, review and a {PANEL_SIZE}-member panel; "
            f"{int(statuses.get('accepted', 0)):,} accepted items held back for pretesting")


def true_parameters(run: DemoRun) -> pd.DataFrame:
    """The generator's truth for the dichotomous items (external id, type, a, b, c); GRM items have none."""
    with transaction(run.engine) as session:
        rows = session.execute(
            sa_select(*(col(c) for c in (Item.external_id, ItemVersion.type, TrueParameter.a, TrueParameter.b, TrueParameter.c)))
            .join(TrueParameter, col(TrueParameter.item_id) == Item.id)
            .join(ItemVersion, (col(ItemVersion.item_id) == Item.id) & (col(ItemVersion.version) == Item.current_version))
            .where(col(ItemVersion.type).in_(DICHOTOMOUS_TYPES))
        ).all()
    truth = pd.DataFrame(rows, columns=["item_id", "type", "a", "b", "c"]).astype({"type": str})
    return truth.dropna(subset=["a", "b"]).sort_values("item_id").reset_index(drop=True)


def pilot_calibration(run: DemoRun) -> str:
    """Step 3: a pilot administration of the active items in random booklets, calibrated with a model per item
    type (3PL single choice, 2PL otherwise) and approved as operational."""
    rng = np.random.default_rng(run.options.seed)
    active = run.truth.loc[~run.truth["item_id"].isin(run.pretest_ids)].reset_index(drop=True)
    pilot = simulate_pilot(active, run.options.pilot_responses_per_item, rng)
    psychometrician = Actor("demo-psychometrician", Role.PSYCHOMETRICIAN)
    with transaction(run.engine) as session:
        calibration_service.run_calibration(session, psychometrician, "pilot", pilot.responses,
                                            model=CALIBRATION_MODELS, config=CALIBRATION_CONFIG)
        calibration_service.approve_run(session, psychometrician, "pilot")
        estimates = calibration_service.run_parameters(session, "pilot")
        summary = calibration_service.get_run(session, "pilot").summary
    fit = recovery(active, estimates)
    run.facts["pilot"] = {"candidates": int(pilot.theta.size), "booklets": pilot.booklets,
                          "responses": len(pilot.responses), "items": int(pilot.responses["item_id"].nunique()),
                          "min_per_item": int(pilot.responses_per_item.min()),
                          "converged": bool(summary.get("converged")), "n_iter": summary.get("n_iter"),
                          "models": summary.get("models"), "c_prior": (summary.get("config") or {}).get("c_prior"),
                          **fit.summary()}
    run.pilot_recovery = fit.table
    return (f"{pilot.theta.size:,} pilot candidates, {len(pilot.responses):,} responses (≥{run.facts['pilot']['min_per_item']} "
            f"per item); {fit.rmse_line()}; run approved")



def assemble_papers(run: DemoRun) -> str:
    """Step 4: four parallel main papers and two backups from the shipped spec, by integer programming."""
    with transaction(run.engine) as session:
        outcome = paper_service.assemble(session, run.manager, run.options.spec_path,
                                         occupation_code=sample.HR_MANAGER, level=run.options.level)
        run.papers = [{"id": p.id, "name": p.name, "role": p.role, "points": p.total_points} for p in outcome.papers]
    result = outcome.result
    run.facts["assembly"] = {"status": result.status, "gap": result.gap, "objective": result.objective,
                             "best_bound": result.best_bound, "run_id": outcome.run.id,
                             "solve_time": getattr(result, "solve_time", None)}
    mains = sum(p["role"] == "main" for p in run.papers)
    gap = "n/a" if result.gap is None else f"{100 * result.gap:.2f} %"
    return (f"{mains} main + {len(run.papers) - mains} backup papers, solver {result.status}, "
            f"objective {result.objective:.3f}, bound {result.best_bound:.3f}, gap {gap}")
