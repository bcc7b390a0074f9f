"""Content constraint families that hold paper by paper: one ``add_<family>_constraints`` each.

Each family files its rows under ``family[paper][key]`` so verification and diagnosis speak of
the same things a bank manager wrote in the spec.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from assembly.bank import difficulty_band_mask, enemy_members, under_node
from assembly.model import AssemblyModel


def add_section_constraints(model: AssemblyModel) -> None:
    """Each paper holds exactly ``count`` items of each section's type (and its points total)."""
    table, score = model.pool.table, model.pool.score
    for section in model.spec.sections:
        mask = (table["type"] == section.type).to_numpy()
        for f, name in enumerate(model.form_names):
            group = f"section[{name}][{section.type}]"
            model.require(group, model.count(f, mask) == section.count)
            if section.points is None:
                model.require(group, model.total(f, score, mask) == section.section_points)


def add_blueprint_constraints(model: AssemblyModel) -> None:
    """Blueprint rules at any depth: exact count, count range, or weight (% of points) ± tolerance."""
    table, score, spec = model.pool.table, model.pool.score, model.spec
    for rule in spec.blueprint:
        mask = under_node(table["element"], rule.node)
        for f, name in enumerate(model.form_names):
            group = f"blueprint[{name}][{rule.node}]"
            if rule.count is not None:
                model.require(group, model.count(f, mask) == rule.count)
            if rule.min_count is not None:
                model.require(group, model.count(f, mask) >= rule.min_count)
            if rule.max_count is not None:
                model.require(group, model.count(f, mask) <= rule.max_count)
            if rule.weight is not None:
                target = rule.weight / 100.0 * spec.total_points
                points = model.total(f, score, mask)
                model.require(group, points >= target - rule.tolerance)
                model.require(group, points <= target + rule.tolerance)


def add_importance_constraints(model: AssemblyModel) -> None:
    """Core items (e.g. importance X) carry at least the stated share of each paper's points."""
    table, score, spec = model.pool.table, model.pool.score, model.spec
    for rule in spec.importance:
        mask = table["importance"].isin(rule.levels).to_numpy()
        floor = rule.min_share / 100.0 * spec.total_points
        for f, name in enumerate(model.form_names):
            model.require(f"importance[{name}][{'+'.join(rule.levels)}]",
                          model.total(f, score, mask) >= floor)


def add_per_element_constraints(model: AssemblyModel) -> None:
    """At most ``max_per_element`` items per blueprint element in any paper."""
    cap = model.spec.max_per_element
    if cap is None:
        return
    elements = model.pool.table["element"]
    crowded = elements.value_counts()
    for element in sorted(crowded[crowded > cap].index):
        mask = (elements == element).to_numpy()
        for f, name in enumerate(model.form_names):
            model.require(f"per_element[{name}][{element}]", model.count(f, mask) <= cap)


def add_difficulty_constraints(model: AssemblyModel) -> None:
    """Classical difficulty mix (e.g. easy:medium:hard = 2:6:2 of the points) ± tolerance."""
    control, spec, score = model.spec.difficulty, model.spec, model.pool.score
    if control is None:
        return
    weight = sum(band.proportion for band in control.bands)
    for band in control.bands:
        mask = difficulty_band_mask(model.pool.table, control.by, band)
        target = band.proportion / weight * spec.total_points
        for f, name in enumerate(model.form_names):
            points = model.total(f, score, mask)
            group = f"difficulty[{name}][{band.name}]"
            model.require(group, points >= target - control.tolerance)
            model.require(group, points <= target + control.tolerance)


def add_enemy_constraints(model: AssemblyModel) -> None:
    """No two items of one enemy group in the same paper."""
    members = enemy_members(model.pool.table)
    for g in sorted(members):
        if len(members[g]) < 2:
            continue
        mask = np.zeros(len(model.pool.table), dtype=bool)
        mask[members[g]] = True
        for f, name in enumerate(model.form_names):
            model.require(f"enemy[{name}][{g}]", model.count(f, mask) <= 1)


def add_item_set_constraints(model: AssemblyModel) -> None:
    """Items of a set enter a paper together or not at all."""
    sets = model.pool.table["set_id"]
    for set_id, rows in sets.dropna().groupby(sets.dropna()).groups.items():
        first, *others = list(rows)
        for f, name in enumerate(model.form_names):
            for other in others:
                model.require(f"item_set[{name}][{set_id}]", model.x[f][other] == model.x[f][first])


def add_include_constraints(model: AssemblyModel) -> None:
    """Anchor items named in ``include`` stand in every main paper."""
    ids = model.pool.table["item_id"]
    for item_id in model.spec.include:
        rows = np.flatnonzero((ids == item_id).to_numpy())
        for f in model.main_forms:
            name = model.form_names[f]
            if len(rows):
                model.require(f"include[{name}][{item_id}]", model.x[f][rows[0]] == 1)


CONTENT_FAMILIES: tuple[Callable[[AssemblyModel], None], ...] = (
    add_section_constraints,
    add_blueprint_constraints,
    add_importance_constraints,
    add_per_element_constraints,
    add_difficulty_constraints,
    add_enemy_constraints,
    add_item_set_constraints,
    add_include_constraints,
)
