"""Demo steps 5–9: seal and deliver over HTTP, candidates sit the papers (and their unscored pretest blocks),
operational calibration, a leak drill and the ledger check."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from itembank import audit
from itembank.db import transaction
from itembank.demo import evidence
from itembank.demo.candidates import simulate_sitting
from itembank.demo.state import (
    CALIBRATION_CONFIG,
    CALIBRATION_MODELS,
    DemoRun,
    recovery,
    short_paper_name,
)
from itembank.engine_client import EngineClient
from itembank.models import Role
from itembank.models.base import utcnow
from itembank.services import calibration as calibration_service
from itembank.services import incidents, responses
from itembank.services import papers as paper_service
from itembank.services.actors import Actor
from itembank.services.delivery import seal_paper

WINDOW_OPENS_AFTER = timedelta(seconds=3)
WINDOW_LENGTH = timedelta(hours=3)
CANDIDATES_PER_BATCH = 250
PSYCHOMETRICIAN = Actor("demo-psychometrician", Role.PSYCHOMETRICIAN)


def opened_item_ids(opened: dict[str, Any]) -> list[str]:
    """Item ids of an opened delivery package in the order candidates see them."""
    return [item["item_id"] for section in opened["sections"] for item in section["items"]]


def seal_and_deliver(run: DemoRun, client: EngineClient) -> str:
    """Step 5: approve every paper, give each main paper its pretest block, seal the main ones for the engine,
    which pulls, waits for the window, opens."""
    manager = run.manager
    not_before = utcnow() + WINDOW_OPENS_AFTER
    blocks = np.array_split(np.array(run.pretest_ids, dtype=object), len(run.main_papers()))
    with transaction(run.engine) as session:
        for paper in run.papers:
            paper_service.approve_paper(session, manager, paper["id"])
        for paper, block in zip(run.main_papers(), blocks, strict=True):
            if len(block):
                responses.attach_pretest_items(session, manager, paper["id"], block.tolist())
        for paper in run.main_papers():
            seal_paper(session, manager, paper["id"], not_before=not_before, not_after=not_before + WINDOW_LENGTH,
                       engines=[run.engine_name])
    offered = {int(p["paper_id"]) for p in client.papers()}
    sealed = {p["id"]: client.pull(p["id"]) for p in run.main_papers()}
    time.sleep(max(0.0, (not_before - utcnow()).total_seconds()))
    run.opened = {paper_id: client.open(paper_id, package) for paper_id, package in sealed.items()}
    run.facts["delivery"] = {"offered": len(offered), "pulled": len(sealed), "opened": len(run.opened),
                             "not_before": not_before.isoformat(timespec="seconds"),
                             "items_opened": {run.paper_name(i): len(opened_item_ids(p)) for i, p in run.opened.items()}}
    return (f"approved {len(run.papers)}, gave {len(run.main_papers())} main papers a pretest block of "
            f"{'/'.join(str(len(b)) for b in blocks)} items, sealed {len(sealed)}; engine pulled and verified {len(sealed)}, "
            f"opened {len(run.opened)} after the window opened")


def answer_keys(run: DemoRun, paper_id: int) -> pd.DataFrame:
    """What the simulated candidates know of a paper's items (type, key, option letters), by item id."""
    with transaction(run.engine) as session:
        answerable = responses.answerable_items(session, paper_service.get_paper(session, paper_id))
    return pd.DataFrame([{"item_id": ext, "type": str(a.version.type), "key": a.version.key,
                          "options": "".join(sorted(a.version.options or {}))}
                         for ext, a in answerable.items()]).set_index("item_id")


def sit_papers(run: DemoRun, client: EngineClient) -> str:
    """Step 6: candidates answer the opened papers, pretest section included (the simulator knows the keys), the
    engine submits, the bank scores; pretest items never count toward a result."""
    rng = np.random.default_rng(run.options.seed + 1)
    truth = run.truth.set_index("item_id")
    per_paper = run.options.n_candidates // len(run.opened)
    rates = []
    for paper_id, opened in run.opened.items():
        keys = answer_keys(run, paper_id)
        order = opened_item_ids(opened)  # the package delivers the pretest block last, as its unscored section
        items = keys.loc[order].join(truth[["a", "b", "c"]]).reset_index()
        theta = rng.normal(run.options.candidate_mean, 1.0, per_paper)
        run.sitting_theta[run.paper_name(paper_id)] = theta
        for start in range(0, per_paper, CANDIDATES_PER_BATCH):
            people = [f"p{paper_id}-{i:05d}" for i in range(start, min(start + CANDIDATES_PER_BATCH, per_paper))]
            rows = simulate_sitting(items, theta[start:start + len(people)], people, rng)
            client.submit(paper_id, f"demo-{paper_id}-{start}", rows)
        with transaction(run.engine) as session:
            results = responses.paper_results(session, run.manager, paper_id)
        run.results[run.paper_name(paper_id)] = results
        rates.append(f"{short_paper_name(run.paper_name(paper_id))} {100 * results['passed'].mean():.1f} %")
    passed = pd.concat(run.results.values())["passed"]
    run.facts["sitting"] = {"candidates": per_paper * len(run.opened), "per_paper": per_paper,
                            "ability_mean": run.options.candidate_mean, "pass_rate": float(passed.mean())}
    return (f"{per_paper * len(run.opened):,} candidates (true ability mean {run.options.candidate_mean:+.2f} on the pilot "
            f"scale) sat {len(run.opened)} papers; pass rate (≥60/100): {', '.join(rates)}; overall {100 * passed.mean():.1f} %")


def operational_calibration(run: DemoRun) -> str:
    """Step 7: CTT and IRT on the operational log with the papers' items held at their pilot values (FIPC), so the
    pretest items are estimated on the bank scale; recovery and group means against the truth."""
    ids = list(run.opened)
    with transaction(run.engine) as session:
        log = responses.response_log(session, PSYCHOMETRICIAN, ids)
        calibration_service.run_calibration(session, PSYCHOMETRICIAN, "operational", log, model=CALIBRATION_MODELS,
                                            fix_operational=True, config=CALIBRATION_CONFIG)
        calibration_service.approve_run(session, PSYCHOMETRICIAN, "operational")
        summary = calibration_service.get_run(session, "operational").summary
        estimates = calibration_service.run_parameters(session, "operational")
    pretest = recovery(run.truth.loc[run.truth["item_id"].isin(run.pretest_ids)], estimates)
    run.pretest_recovery = pretest.table
    groups = pd.DataFrame(summary.get("groups") or [])
    true_means = {name: float(theta.mean()) for name, theta in run.sitting_theta.items()}
    if not groups.empty:
        groups = groups.assign(true_mean=groups["group"].map(true_means))
    per_pretest_item = log.loc[log["item_id"].isin(run.pretest_ids)].groupby("item_id").size()
    run.facts["operational"] = {"responses": len(log), "fixed_items": summary.get("fixed_items"),
                                "converged": summary.get("converged"), "n_iter": summary.get("n_iter"),
                                "groups": groups.to_dict("records"),
                                "estimated_items": int((~estimates["fixed"].astype(bool)).sum()),
                                "pretest_items": len(pretest.table), "pretest_responses": int(per_pretest_item.sum()),
                                "min_per_pretest_item": int(per_pretest_item.min()) if len(per_pretest_item) else 0,
                                **{f"pretest_{k}": v for k, v in pretest.summary().items()}}
    worst = float((groups["mean"] - groups["true_mean"]).abs().max()) if "mean" in groups else float("nan")
    return (f"{len(log):,} responses, {summary.get('fixed_items')} items held at pilot values; {len(pretest.table)} pretest "
            f"items estimated on the bank scale: {pretest.rmse_line()}; group means within {worst:.3f} of the "
            "candidates' true mean ability; run approved")


def leak_drill(run: DemoRun) -> str:
    """Step 8: one main paper leaks; its items are compromised, a backup goes to the engine, a replacement is built
    and weighed against the papers it stands beside."""
    leaked = run.main_papers()[0]
    with transaction(run.engine) as session:
        incident = incidents.report_leak(session, run.manager, leaked["id"],
                                         scope={"engines": [run.engine_name], "sites": ["demo-site"]},
                                         cause="demo drill: a photo of the paper appeared in a chat group")
        report = dict(incident.report)
    with transaction(run.engine) as session:
        strength = evidence.leak_replacement(session, report)
    run.facts["incident"] = report
    if strength is not None:
        run.facts["replacement"] = {"information": strength.replacement_information, "ratio": strength.ratio,
                                    "weakest_peer": strength.weakest_peer,
                                    "weakest_peer_information": strength.weakest_peer_information,
                                    "comparable": strength.comparable}
    results = report.get("results", {})
    return (f"{short_paper_name(leaked['name'])}: {results.get('compromised_items')} items compromised, backup "
            f"{short_paper_name(str(results.get('released_backup')))} released to {run.engine_name}, "
            f"replacement {short_paper_name(str(results.get('replacement_backup')))} assembled"
            + (f": {strength.figure()}" if strength is not None else ""))


def verify_ledger(run: DemoRun) -> str:
    """Step 10: walk the hash chain of the whole audit ledger."""
    with transaction(run.engine) as session:
        check = audit.verify(session)
    run.facts["ledger"] = {"ok": check.ok, "events": check.events, "first_bad": check.first_bad, "reason": check.reason}
    return f"{check.events:,} events, chain {'intact' if check.ok else 'BROKEN at ' + str(check.first_bad)}"
