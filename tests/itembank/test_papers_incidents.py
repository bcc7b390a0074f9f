"""Bank-side assembly and the leak drill: papers stored with provenance, approval, disjoint backup released,
replacement backup assembled, every step in the ledger."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import Engine
from sqlmodel import select

import assembly
from itembank import audit
from itembank.db import transaction
from itembank.errors import Infeasible, ValidationError
from itembank.models import Item, Paper, PaperItem
from itembank.models.base import utcnow
from itembank.sample_bank import DATA_DIR
from itembank.services import incidents, papers
from itembank.services.actors import Actor

SPEC = DATA_DIR / "specs" / "hr-manager-l3-theory.yaml"


def _spec(**solver: object) -> dict:
    document = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    document["solver"].update({"time_limit": 20, "gap": 0.02, **solver})
    return document


def test_assemble_approve_and_leak_drill(calibrated_bank: Engine, staff: dict[str, Actor],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    engine = calibrated_bank
    heard: list[float] = []
    with transaction(engine) as session:
        outcome = papers.assemble(session, staff["manager"], _spec(), level=3, progress=heard.append)
    assert outcome.result.status in ("optimal", "feasible")
    assert heard[0] == 0.1 and heard[-1] == 0.95 and heard == sorted(heard), "progress only moves forward"
    assert [p.role for p in outcome.papers] == ["main"] * 4 + ["backup"] * 2
    assert all(p.total_points == pytest.approx(100) and p.status == "draft" for p in outcome.papers)
    assert outcome.run.bank_snapshot_hash and outcome.papers[0].provenance["blueprint_version"] == "2026.1"
    with transaction(engine) as session:
        for paper in outcome.papers:
            papers.approve_paper(session, staff["manager"], paper.id)
        items = {p.name: set(papers.paper_items(session, staff["manager"], p.id)["item_id"]) for p in outcome.papers}
    names = list(items)
    assert all(not (items[a] & items[b]) for i, a in enumerate(names) for b in names[i + 1:])

    leaked = outcome.papers[0]
    shared = sorted(items[leaked.name])[0]
    with transaction(engine) as session:  # a hand-made paper of another session that reuses one leaked item
        other = Paper(name="hand-made", role="main", status="approved", created_by="manager", total_points=2)
        session.add(other)
        session.flush()
        session.add(PaperItem(paper_id=other.id, position=1, version=1, section="single_choice", points=2,  # type: ignore[arg-type]
                              item_id=session.exec(select(Item.id).where(Item.external_id == shared)).one()))
    start = utcnow() + timedelta(minutes=5)
    solve = assembly.assemble
    appended_meanwhile: list[bool] = []

    def solve_while_others_write(*args: Any, **kwargs: Any) -> Any:
        """While the replacement is solved, another operation (a pull, say) appends to the ledger."""
        other = threading.Thread(target=_append_event, args=(engine,))
        other.start()
        other.join(10)
        appended_meanwhile.append(not other.is_alive())
        return solve(*args, **kwargs)

    monkeypatch.setattr(assembly, "assemble", solve_while_others_write)
    with transaction(engine) as session:
        incident = incidents.report_leak(session, staff["manager"], leaked.id, {"engines": ["engine1"], "sites": ["A"]},
                                         "试卷在运输中被私自拆启", window=(start, start + timedelta(minutes=90)))
    monkeypatch.setattr(assembly, "assemble", solve)
    assert appended_meanwhile == [True], "the leak report held the ledger while its replacement was solved"
    report = incident.report["results"]
    assert report["released_backup"].endswith("backup-1")
    assert report["papers_sharing_leaked_items"] == {"hand-made": [shared]}, "the other paper with a leaked item is named"
    with transaction(engine) as session:
        statuses = {i.status for i in session.exec(select(Item).join(PaperItem, PaperItem.item_id == Item.id)
                                                  .where(PaperItem.paper_id == leaked.id)).all()}
        assert statuses == {"compromised"}
        assert session.get(Paper, leaked.id).status == "invalidated"
        replacement = session.exec(select(Paper).where(Paper.name == report["replacement_backup"])).one()
        fresh = set(papers.paper_items(session, staff["manager"], replacement.id)["item_id"])
        assert replacement.role == "backup" and replacement.status == "draft"
        assert replacement.name.endswith("-backup-1")
        assert not fresh & set().union(*items.values())
        assert audit.verify(session).ok


def _append_event(engine: Engine) -> None:
    with transaction(engine) as session:
        audit.record(session, "engine1", "paper.pull", "paper", 0)


def test_bad_spec_and_starved_bank_are_named(calibrated_bank: Engine, staff: dict[str, Actor]) -> None:
    document = _spec()
    document["sections"][0]["points"] = 2
    with pytest.raises(ValidationError, match="total_points"), transaction(calibrated_bank) as session:
        papers.assemble(session, staff["manager"], document, level=3)
    starved = _spec()
    starved["forms"] = {"main": 12, "backup": 4}
    with pytest.raises(Infeasible, match="cannot be met"), transaction(calibrated_bank) as session:
        papers.assemble(session, staff["manager"], starved, level=3)
    with transaction(calibrated_bank) as session:
        assert session.exec(select(Paper)).first() is None
