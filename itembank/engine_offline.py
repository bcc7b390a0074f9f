"""The exam engine's side of an exam session, offline: everything comes from the opened package.

Once the engine has pulled a session's sealed package and its key (``EngineClient.pull`` and
``open``), the bank is no longer needed until results go back: :func:`open_session` gives a
:class:`LoftPackage` (each ticket's paper, checked against the form hash the bank sealed) or a
:class:`CatPackage` (the CAT run locally on the sealed pool, scoring each answer with the package's
key; a session interrupted by a crash resumes from its log alone).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from itembank import scoring
from itembank.adaptive import CatPool, CatSession
from itembank.errors import ValidationError
from itembank.hashing import form_hash
from itembank.sealing import TamperedPackage


def _session_body(package: Mapping[str, Any], mode: str | None = None) -> Mapping[str, Any]:
    body = package.get("exam_session")
    if not isinstance(body, Mapping):
        raise ValidationError("the package carries no exam session (a fixed paper?)", field="exam_session")
    if mode is not None and body.get("mode") != mode:
        raise ValidationError(f"the package's exam session is {body.get('mode')}, not {mode}", field="exam_session.mode")
    return body


def _items(package: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every delivered item by id, with its section name."""
    return {str(item["item_id"]): item | {"section": section["name"]}
            for section in package["sections"] for item in section["items"]}


class LoftPackage:
    """A LOFT session's package: one paper per ticket, each verified against its sealed form hash."""

    def __init__(self, package: Mapping[str, Any]) -> None:
        body = _session_body(package, "loft")
        self.session_id = int(body["id"])
        self.paper = dict(package["paper"])
        self.items = _items(package)
        self.forms: dict[str, list[str]] = {}
        for ticket, form in dict(body["forms"]).items():
            item_ids = [str(i) for i in form["item_ids"]]
            if form_hash(ticket, item_ids) != form["form_hash"] or not set(item_ids) <= set(self.items):
                raise TamperedPackage(f"the form of {ticket} does not match its sealed hash", field=f"forms.{ticket}")
            self.forms[ticket] = item_ids

    @property
    def tickets(self) -> list[str]:
        return list(self.forms)

    def form(self, ticket: str) -> dict[str, Any]:
        """The paper as this candidate sees it: the package's paper header and the form's items by section."""
        if ticket not in self.forms:
            raise ValidationError(f"ticket {ticket} has no form in this session", field="ticket")
        sections: dict[str, list[dict[str, Any]]] = {}
        for item_id in self.forms[ticket]:
            item = self.items[item_id]
            sections.setdefault(item["section"], []).append({k: v for k, v in item.items() if k != "section"})
        total = sum(float(i["points"]) for s in sections.values() for i in s)
        return {"ticket": ticket, "paper": self.paper | {"total_points": total},
                "item_ids": list(self.forms[ticket]), "form_hash": form_hash(ticket, self.forms[ticket]),
                "sections": [{"name": name, "items": items} for name, items in sections.items()]}


class CatPackage:
    """A CAT session's package: the sealed pool, the items' content and keys; one CAT per ticket."""

    def __init__(self, package: Mapping[str, Any]) -> None:
        body = _session_body(package, "cat")
        self.session_id = int(body["id"])
        self.tickets = [str(t) for t in body["tickets"]]
        self.pool = CatPool.from_dict(body["cat_pool"])
        self.items = _items(package)
        self._keys = dict(package.get("answer_key") or {})
        missing = [i for i in self.pool.item_ids if i not in self._keys or i not in self.items]
        if missing:
            raise TamperedPackage(f"the package lacks the content or key of pool item {missing[0]}", field="answer_key")
        self._sessions: dict[str, CatSession] = {}
        self._logs: dict[str, list[dict[str, Any]]] = {}

    def _session(self, ticket: str) -> CatSession:
        if ticket not in self._sessions:
            raise ValidationError(f"no CAT started for {ticket}", field="ticket")
        return self._sessions[ticket]

    def _shown(self, session: CatSession) -> dict[str, Any] | None:
        return None if session.finished else self.items[session.next_item()]

    def start(self, ticket: str) -> dict[str, Any] | None:
        """Begin the CAT of a registered ticket; returns the first item as the candidate sees it."""
        if ticket not in self.tickets:
            raise ValidationError(f"ticket {ticket} is not registered for this session", field="ticket")
        if ticket in self._sessions:
            raise ValidationError(f"the CAT of {ticket} has already begun (resume it from its log)", field="ticket")
        self._sessions[ticket] = CatSession(self.pool, ticket)
        self._logs[ticket] = []
        return self._shown(self._sessions[ticket])

    def answer(self, ticket: str, item_id: str, response: str | None) -> dict[str, Any] | None:
        """Score the candidate's response with the package's key and record it; the next item, or None when done."""
        session = self._session(ticket)
        item = self.items.get(item_id)
        if item is None:
            raise ValidationError(f"item {item_id} is not in the pool", field="item_id")
        (mark,) = scoring.full_credit([{"type": item["type"], "key": self._keys[item_id], "response": response}])
        entry = session.record(item_id, mark)
        self._logs[ticket].append(entry | {"response": response})
        return self._shown(session)

    def resume(self, ticket: str, log: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
        """Take up a CAT from its log alone (after a crash); returns the item to give now."""
        if ticket not in self.tickets:
            raise ValidationError(f"ticket {ticket} is not registered for this session", field="ticket")
        self._sessions[ticket] = CatSession.resume(self.pool, ticket, log)
        self._logs[ticket] = [dict(e) for e in log]
        return self._shown(self._sessions[ticket])

    def finished(self, ticket: str) -> bool:
        return self._session(ticket).finished

    def result(self, ticket: str) -> dict[str, Any]:
        """θ̂, SE, the 百分制 score on the reference paper and the pass decision, as the engine sees them."""
        return self._session(ticket).result()

    def logs(self) -> dict[str, list[dict[str, Any]]]:
        """Every started CAT's log (with responses): what goes back to the bank."""
        return {ticket: [dict(e) for e in log] for ticket, log in self._logs.items()}


def open_session(package: Mapping[str, Any]) -> LoftPackage | CatPackage:
    """The exam session in an opened package, LOFT or CAT as the package says."""
    mode = _session_body(package).get("mode")
    if mode == "loft":
        return LoftPackage(package)
    if mode == "cat":
        return CatPackage(package)
    raise ValidationError(f"unknown exam-session mode {mode!r}", field="exam_session.mode")
