"""Demo steps 5–9: seal and deliver over HTTP, candidates sit the papers, operational calibration,
a leak drill and the ledger check."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from itembank import audit
from itembank.db import transaction
from itembank.demo.candidates import simulate_sitting
from itembank.demo.state import DemoRun, short_paper_name
from itembank.engine_client import EngineClient
from itembank.models import Role
from itembank.models.base import utcnow
from itembank.services import calibration as calibration_service
from itembank.services import incidents, responses
from itembank.services import papers as paper_service
from itembank.services.actors import Actor
from itembank.services.delivery import paper_entries, seal_paper

WINDOW_OPENS_AFTER = timedelta(seconds=3)
WINDOW_LENGTH = timedelta(hours=3)
CANDIDATES_PER_BATCH = 250
PSYCHOMETRICIAN = Actor("demo-psychometrician", Role.PSYCHOMETRICIAN)


def opened_item_ids(opened: dict[str, Any]) -> list[str]:
    """Item ids of an opened delivery package in the order candidates see them."""
    return [item["item_id"] for section in opened["sections"] for item in section["items"]]


def seal_and_deliver(run: DemoRun, client: EngineClient) -> str:
    """Step 5: approve every paper, seal the main ones for the engine, which pulls, waits for the window, opens."""
    manager = run.manager
    not_before = utcnow() + WINDOW_OPENS_AFTER
    with transaction(run.engine) as session:
        for paper in run.papers:
            paper_service.approve_paper(session, manager, paper["id"])
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
    return (f"approved {len(run.papers)}, sealed {len(sealed)} main papers; engine pulled and verified {len(sealed)}, "
            f"opened {len(run.opened)} after the window opened")


def sit_papers(run: DemoRun, client: EngineClient) -> str:
    """Step 6: candidates answer the opened papers (the simulator knows the keys), the engine submits, the bank scores."""
    rng = np.random.default_rng(run.options.seed + 1)
    truth = run.truth.set_index("item_id")
    per_paper = run.options.n_candidates // len(run.opened)
    rates = []
    for paper_id, opened in run.opened.items():
        with transaction(run.engine) as session:
            keys = pd.DataFrame([{"item_id": e.item.external_id, "type": str(e.version.type), "key": e.version.key,
                                  "options": "".join(sorted(e.version.options or {}))}
                                 for e in paper_entries(session, paper_id)]).set_index("item_id")
        order = opened_item_ids(opened)
        items = keys.loc[order].join(truth[["a", "b", "c"]]).reset_index()
        theta = rng.normal(0.0, 1.0, per_paper)
        run.sitting_theta[run.paper_name(paper_id)] = theta
        for start in range(0, per_paper, CANDIDATES_PER_BATCH):
            people = [f"p{paper_id}-{i:05d}" for i in range(start, min(start + CANDIDATES_PER_BATCH, per_paper))]
            rows = simulate_sitting(items, theta[start:start + len(people)], people, rng)
            client.submit(paper_id, f"demo-{paper_id}-{start}", rows)
        with transaction(run.engine) as session:
            results = responses.paper_results(session, run.manager, paper_id)
        run.results[run.paper_name(paper_id)] = results
        rates.append(f"{short_paper_name(run.paper_name(paper_id))} {100 * results['passed'].mean():.1f} %")
    run.facts["sitting"] = {"candidates": per_paper * len(run.opened), "per_paper": per_paper}
    return f"{per_paper * len(run.opened):,} candidates sat {len(run.opened)} papers; pass rate (≥60/100): {', '.join(rates)}"


def operational_calibration(run: DemoRun) -> str:
    """Step 7: CTT and 2PL on the operational log, pilot items held fixed (FIPC); group means against the truth."""
    ids = list(run.opened)
    with transaction(run.engine) as session:
        log = responses.response_log(session, PSYCHOMETRICIAN, ids)
        calibration_service.run_calibration(session, PSYCHOMETRICIAN, "operational", log, model="2PL",
                                            fix_operational=True)
        calibration_service.approve_run(session, PSYCHOMETRICIAN, "operational")
        summary = calibration_service.get_run(session, "operational").summary
    groups = pd.DataFrame(summary.get("groups") or [])
    true_means = {name: float(theta.mean()) for name, theta in run.sitting_theta.items()}
    if not groups.empty:
        groups = groups.assign(true_mean=groups["group"].map(true_means))
    run.facts["operational"] = {"responses": len(log), "fixed_items": summary.get("fixed_items"),
                                "converged": summary.get("converged"), "n_iter": summary.get("n_iter"),
                                "groups": groups.to_dict("records")}
    worst = float((groups["mean"] - groups["true_mean"]).abs().max()) if "mean" in groups else float("nan")
    return (f"{len(log):,} responses, {summary.get('fixed_items')} items held at pilot values; "
            f"group means within {worst:.3f} of the candidates' true mean ability; run approved")


def leak_drill(run: DemoRun) -> str:
    """Step 8: one main paper leaks; its items are compromised, a backup goes to the engine, a replacement is built."""
    leaked = run.main_papers()[0]
    with transaction(run.engine) as session:
        incident = incidents.report_leak(session, run.manager, leaked["id"],
                                         scope={"engines": [run.engine_name], "sites": ["demo-site"]},
                                         cause="demo drill: a photo of the paper appeared in a chat group")
        report = dict(incident.report)
    run.facts["incident"] = report
    results = report.get("results", {})
    return (f"{short_paper_name(leaked['name'])}: {results.get('compromised_items')} items compromised, backup "
            f"{short_paper_name(str(results.get('released_backup')))} released to {run.engine_name}, "
            f"replacement {short_paper_name(str(results.get('replacement_backup')))} assembled")


def verify_ledger(run: DemoRun) -> str:
    """Step 9: walk the hash chain of the whole audit ledger."""
    with transaction(run.engine) as session:
        check = audit.verify(session)
    run.facts["ledger"] = {"ok": check.ok, "events": check.events, "first_bad": check.first_bad, "reason": check.reason}
    return f"{check.events:,} events, chain {'intact' if check.ok else 'BROKEN at ' + str(check.first_bad)}"
