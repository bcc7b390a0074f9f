"""The delivery package candidates see (whitelisted fields, never keys or rubrics) and site variants."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from itembank.errors import ValidationError

DELIVERY_FORMAT = "itembank-delivery/1"
PAPER_FIELDS = (
    "paper_id",
    "name",
    "title",
    "occupation",
    "level",
    "exam_kind",
    "duration_minutes",
    "instructions",
)
ITEM_FIELDS = ("item_id", "version", "type", "stem", "stimulus", "set_id", "media")
OPTION_FIELDS = ("text", "media")
SHUFFLED_TYPES = frozenset({"single_choice", "multiple_choice"})


def _plain(value: Any, path: str) -> Any:
    """Whitelisted values must be scalars or lists of strings, so nothing can hide inside them."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValidationError(f"{path} must be a scalar or a list of strings", field=path)


def _pick(source: dict[str, Any], names: Sequence[str], path: str) -> dict[str, Any]:
    return {name: _plain(source[name], f"{path}.{name}") for name in names if name in source}


def _delivery_options(options: Any, path: str) -> list[dict[str, Any]]:
    if options is None:
        return []
    if isinstance(options, dict):
        pairs = sorted(options.items())
    elif isinstance(options, list | tuple):
        pairs = [
            (str(o.get("label")), o) if isinstance(o, dict) else (chr(65 + i), o)
            for i, o in enumerate(options)
        ]
    else:
        raise ValidationError(f"{path} must be a mapping label -> text or a list", field=path)
    delivered = []
    for label, option in pairs:
        where = f"{path}.{label}"
        body = (
            _pick(option, OPTION_FIELDS, where)
            if isinstance(option, dict)
            else {"text": _plain(option, where)}
        )
        delivered.append({"label": str(label), **body})
    return delivered


def build_delivery_package(paper: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    """What candidates see, and nothing more: whitelisted paper/item/option fields, no keys or rubrics.

    ``paper["items"]`` lists ``{item_id, points?, section?, position?, scored?}`` (the paper's item
    rows; ``scored: false`` marks a pretest item, delivered so marked and left out of the total);
    ``items`` are the full item versions. Sections keep their first-appearance order.
    """
    if "paper_id" not in paper:
        raise ValidationError("paper has no paper_id", field="paper.paper_id")
    by_id = {item["item_id"]: item for item in items}
    entries = sorted(
        enumerate(paper.get("items", [])), key=lambda e: (e[1].get("position", e[0]), e[0])
    )
    if not entries:
        raise ValidationError("paper has no items", field="paper.items")
    sections: dict[str, list[dict[str, Any]]] = {}
    for index, entry in entries:
        path = f"paper.items[{index}]"
        item = by_id.get(entry.get("item_id"))
        if item is None:
            raise ValidationError(
                f"{path}: item {entry.get('item_id')!r} is not among the items", field=path
            )
        points = entry.get("points", item.get("points"))
        if not isinstance(points, int | float) or points <= 0:
            raise ValidationError(
                f"{path}: points must be a positive number", field=f"{path}.points"
            )
        delivered = _pick(item, ITEM_FIELDS, f"item[{item['item_id']}]")
        delivered["points"] = points
        if entry.get("scored", True) is False:
            delivered["scored"] = False
        delivered["options"] = _delivery_options(
            item.get("options"), f"item[{item['item_id']}].options"
        )
        sections.setdefault(str(entry.get("section", "main")), []).append(delivered)
    return {
        "format": DELIVERY_FORMAT,
        "paper": _pick(paper, PAPER_FIELDS, "paper")
        | {"total_points": sum(i["points"] for s in sections.values() for i in s if i.get("scored", True))},
        "sections": [{"name": name, "items": section} for name, section in sections.items()],
    }


def _rank(seed: int, *parts: Any) -> str:
    """A stable pseudo-random sort key; the same on every platform and library version."""
    return hashlib.sha256(json.dumps([seed, *parts]).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class VariantRecord:
    """How a variant was shuffled: presented item order per section and option label maps."""

    seed: int
    item_order: dict[str, list[Any]] = field(default_factory=dict)
    option_maps: dict[str, dict[str, str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "item_order": self.item_order, "option_maps": self.option_maps}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> VariantRecord:
        return cls(
            int(raw["seed"]),
            dict(raw["item_order"]),
            {str(k): dict(v) for k, v in raw["option_maps"].items()},
        )


def _shuffle_section(items: list[dict[str, Any]], seed: int, section: str) -> list[dict[str, Any]]:
    """Shuffle items, keeping each item set (testlet) together and in its own order."""
    blocks: dict[Any, list[dict[str, Any]]] = {}
    for item in items:
        group = (
            ("set", item["set_id"]) if item.get("set_id") is not None else ("item", item["item_id"])
        )
        blocks.setdefault(group, []).append(item)
    order = sorted(blocks, key=lambda group: _rank(seed, "section", section, list(group)))
    return [item for group in order for item in blocks[group]]


def shuffle_variant(package: dict[str, Any], seed: int) -> tuple[dict[str, Any], VariantRecord]:
    """A site variant: item and option order derived from ``seed``, so a leaked copy names its site."""
    record = VariantRecord(seed=seed)
    sections = []
    for section in package["sections"]:
        shuffled = []
        for item in _shuffle_section(section["items"], seed, section["name"]):
            options = item.get("options", [])
            if item.get("type") in SHUFFLED_TYPES and options:
                labels = [o["label"] for o in options]
                presented = sorted(
                    options, key=lambda o: _rank(seed, "option", str(item["item_id"]), o["label"])
                )
                record.option_maps[str(item["item_id"])] = {
                    new: old["label"] for new, old in zip(labels, presented, strict=True)
                }
                options = [o | {"label": new} for new, o in zip(labels, presented, strict=True)]
            shuffled.append(item | {"options": options})
        record.item_order[section["name"]] = [i["item_id"] for i in shuffled]
        sections.append(section | {"items": shuffled})
    return package | {"sections": sections}, record


def unshuffle_responses(responses: pd.DataFrame, record: VariantRecord) -> pd.DataFrame:
    """Map presented option labels back to the bank's labels so the bank's keys score them."""
    restored = responses.copy()
    item_keys = restored["item_id"].astype(str)
    for item_id, mapping in record.option_maps.items():
        mask = item_keys == item_id
        if mask.any():
            restored.loc[mask, "response"] = restored.loc[mask, "response"].str.translate(
                str.maketrans(mapping)
            )
    return restored
