"""The deterministic sample bank: placeholder HR-Manager items for a blueprint, with simulated true parameters.

Demos, tests and benchmarks need a realistic bank without real (secret) items. Everything here is pure:
a blueprint document and a seed give the same item records every time, in the exchange-record shape the
bank imports (``itembank.records.ItemRecord``). True IRT parameters are returned apart from the items so a
calibration run can be checked against them without ever being stored as estimates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from itembank.blueprint import NodeSpec, load_document, parse_blueprint
from itembank.errors import ValidationError

DATA_DIR = Path(__file__).resolve().parents[1] / "data"

ITEM_COLUMNS = ["external_id", "type", "element", "points", "stem", "options", "key", "rubric", "difficulty",
                "set_id", "stimulus", "enemy_groups"]
TRUTH_COLUMNS = ["external_id", "model", "a", "b", "c", "thresholds"]

# A theory bank is mostly choice items; the few subjective ones keep the rubric path exercised.
TYPE_MIX: dict[str, float] = {
    "single_choice": 0.55, "multiple_choice": 0.30, "true_false": 0.10,
    "short_answer": 0.015, "calculation": 0.01, "case_analysis": 0.015, "plan_design": 0.01,
}
SUBJECTIVE = ("short_answer", "calculation", "case_analysis", "plan_design")
OPTION_LETTERS = {"single_choice": "ABCD", "multiple_choice": "ABCDE"}
FIXED_POINTS = {"single_choice": 1.0, "multiple_choice": 2.0, "true_false": 1.0}
SUBJECTIVE_POINTS = np.array([10.0, 12.0, 15.0, 16.0, 20.0])
MODEL_BY_TYPE = {"single_choice": "3PL", "multiple_choice": "2PL", "true_false": "2PL"}

# Six disjoint papers draw on every element, so each gets a few items whatever its weight.
MIN_ITEMS_PER_ELEMENT = 4
# Chance that a run of same-element, same-type choice items opens with an item set: one case stimulus
# followed by 3–5 questions (案例选择题), the set form a theory paper uses.
SET_CHANCE = {"single_choice": 0.12, "multiple_choice": 0.12}
SET_SIZES = (3, 5)
ENEMY_SHARE = 0.02
GRM_THRESHOLDS = 4

INDUSTRIES = ("制造", "互联网", "连锁零售", "物流", "金融服务", "建筑", "医药", "餐饮")
# Every stem opens with a company setting, so stems differ as real items do and duplicate checks stay quiet.
SETTINGS = ("某{industry}企业（员工{staff}人）", "一家员工约{staff}人的{industry}企业", "{industry}行业某公司（{staff}人规模）")
SINGLE_STEMS = (
    "【{name}】{setting}讨论{name}，下列说法正确的是（ ）。",
    "【{name}】{setting}在{unit}中对{name}有以下认识，其中错误的是（ ）。",
    "【{name}】{setting}开展{unit}工作时，对{name}的理解正确的是（ ）。",
    "【{name}】{setting}推进{name}，其首要目的是（ ）。",
    "【{name}】{setting}梳理{unit}的工作内容，{name}不包括（ ）。",
)
MULTIPLE_STEMS = (
    "【{name}】{setting}讨论{name}，下列说法正确的有（ ）。",
    "【{name}】{setting}在{unit}中落实{name}，以下做法恰当的有（ ）。",
    "【{name}】{setting}分析{name}时，应考虑的主要因素有（ ）。",
    "【{name}】{setting}推进{name}，其基本要求包括（ ）。",
)
TRUE_FALSE_STEMS = (
    "【{name}】{setting}把{name}作为{unit}工作的基础环节，这一做法是正确的。（ ）",
    "【{name}】{setting}在{name}时可以不考虑国家法律法规的规定。（ ）",
    "【{name}】{setting}的{name}只由人力资源部门独立完成，无需直线经理参与。（ ）",
)
SUBJECTIVE_STEMS = {
    "short_answer": "【{name}】{setting}准备开展{unit}工作，请简述{name}的主要内容和基本要求。",
    "calculation": "【{name}】{setting}的相关数据见材料，请按{name}的要求计算并写出计算过程。",
    "case_analysis": "【{name}】{setting}的情况见案例材料，请分析该企业在{name}方面存在的问题，并提出改进建议。",
    "plan_design": "【{name}】请为{setting}设计一份{unit}方案，重点说明{name}的实施步骤。",
}
OPTION_PHRASES = (
    "{name}应当以企业战略为导向",
    "{name}主要由人力资源部门独立完成",
    "{name}需要直线经理的积极参与",
    "{name}必须符合国家法律法规的规定",
    "{name}只适用于规模较大的企业",
    "{name}的结果应当及时反馈给员工",
    "{name}应当定期评估和修订",
    "{name}可以完全照搬其他企业的做法",
)
STIMULUS = ("【案例材料】{setting}在“{unit}”相关工作中遇到如下情况：管理层对{name}的认识不一致，"
            "相关制度执行不到位，员工意见较多。请结合{name}的相关知识回答以下问题。")
RUBRIC = ("评分要点（共{total:g}分）：①准确说明{name}的含义和要求（{p1:g}分）；②结合材料分析{unit}中的关键问题（{p2:g}分）；"
          "③提出可行的措施并说明理由（{p3:g}分）。")


@dataclass(frozen=True)
class SampleBank:
    """Item records (``ITEM_COLUMNS``) and, kept apart, their simulated true parameters (``TRUTH_COLUMNS``)."""

    items: pd.DataFrame
    truth: pd.DataFrame
    level: int
    seed: int
    importance: dict[str, str]

    def item_table(self) -> pd.DataFrame:
        """The bank in the assembly core's columns, true parameters standing in for calibrated ones.

        A shortcut for demos and benchmarks of assembly without a database; stored banks reach the
        assembler through ``itembank.services.supply`` with operational estimates instead. Graded (GRM)
        items get no dichotomous parameters, so they add no information, as uncalibrated items do.
        """
        dichotomous = (self.truth["model"] != "GRM").to_numpy()
        return pd.DataFrame({
            "item_id": self.items["external_id"],
            "type": self.items["type"],
            "points": self.items["points"],
            "element": self.items["element"],
            "importance": self.items["element"].map(self.importance),
            "set_id": self.items["set_id"],
            "enemy_groups": self.items["enemy_groups"].map(";".join),
            "a": self.truth["a"].where(dichotomous),
            "b": self.truth["b"].where(dichotomous),
            "c": self.truth["c"],
            "difficulty": self.items["difficulty"],
        })


def shipped_blueprint_path(level: int) -> Path:
    """Path of the shipped HR-Manager theory blueprint for a level (4 = 四级 … 1 = 一级)."""
    path = DATA_DIR / "blueprints" / f"hr-manager-l{level}-theory.yaml"
    if not path.exists():
        raise ValidationError(f"there is no shipped HR-Manager blueprint for level {level} (1 to 4)",
                              field="level")
    return path


def load_blueprint_file(path: str | Path) -> dict[str, Any]:
    """A blueprint document as a plain dict (YAML, JSON or Excel), ready for ``generate_sample_bank``."""
    return load_document(path)


def shipped_sample_table(level: int, n_items: int, seed: int) -> pd.DataFrame:
    """The sample bank of the shipped HR-Manager blueprint as an assembly item table with its true
    parameters (``SampleBank.item_table``), for the pure-mode commands."""
    return generate_sample_bank(load_blueprint_file(shipped_blueprint_path(level)), n_items, seed).item_table()


def generate_sample_bank(blueprint: dict[str, Any], n_items: int, seed: int) -> SampleBank:
    """Generate ``n_items`` placeholder items spread over the blueprint's elements by absolute weight.

    Same blueprint and seed, same bank. Each element gets at least ``MIN_ITEMS_PER_ELEMENT`` items (fewer
    only when the bank is too small to give every element that many) so several disjoint papers can be
    assembled; the rest follow the 鉴定比重, so module supply tracks the paper's demand.
    """
    spec = parse_blueprint(blueprint)
    elements = spec.elements()
    if n_items < len(elements):
        raise ValidationError(
            f"n_items ({n_items}) must be at least the number of elements ({len(elements)}) so each gets an item",
            field="n_items")
    rng = np.random.default_rng(seed)
    per_element = _allocate_to_elements(elements, n_items)
    element_index = np.repeat(np.arange(len(elements)), per_element)
    types = np.array(list(TYPE_MIX))
    type_counts = _largest_remainder(np.array(list(TYPE_MIX.values())), n_items)
    type_index = rng.permutation(np.repeat(np.arange(len(types)), type_counts))
    order = np.lexsort((type_index, element_index))
    element_index, type_index = element_index[order], type_index[order]
    twins = element_index * len(types) + type_index  # items of one element and type sit together

    set_number = _item_sets(twins, types[type_index], rng)
    enemy_number = _enemy_pairs(twins, set_number, rng)
    truth = _true_parameters(types[type_index], rng)
    node_names = {node.code: node.name for node in spec.nodes()}
    items = _item_records(spec.level, elements, node_names, element_index, types[type_index], set_number,
                          enemy_number, truth, rng)
    truth.insert(0, "external_id", items["external_id"])
    return SampleBank(items=items, truth=truth[TRUTH_COLUMNS], level=spec.level, seed=seed,
                      importance={e.code: e.importance or "" for e in elements})


def _largest_remainder(shares: np.ndarray, total: int) -> np.ndarray:
    """Whole counts summing to ``total`` in proportion to ``shares`` (Hamilton's method)."""
    quotas = shares / shares.sum() * total
    counts = np.floor(quotas).astype(int)
    shortfall = total - counts.sum()
    counts[np.argsort(-(quotas - counts), kind="stable")[:shortfall]] += 1
    return counts


def _allocate_to_elements(elements: list[NodeSpec], n_items: int) -> np.ndarray:
    floor = min(MIN_ITEMS_PER_ELEMENT, n_items // len(elements))
    weights = np.array([e.absolute_weight for e in elements])
    return floor + _largest_remainder(weights, n_items - floor * len(elements))


def _runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start index and length of each run of equal consecutive keys."""
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return starts, np.diff(np.r_[starts, len(keys)])


def _item_sets(twins: np.ndarray, item_types: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Set number per item (-1 outside sets): a set is the head of a run of same-element, same-type items."""
    starts, lengths = _runs(twins)
    chance = np.array([SET_CHANCE.get(t, 0.0) for t in item_types[starts]])
    size = np.minimum(rng.integers(SET_SIZES[0], SET_SIZES[1] + 1, len(starts)), lengths)
    opened = (rng.random(len(starts)) < chance) & (size >= SET_SIZES[0])
    set_number = np.full(len(twins), -1)
    offset = np.arange(len(twins)) - np.repeat(starts, lengths)
    in_set = np.repeat(opened, lengths) & (offset < np.repeat(size, lengths))
    set_number[in_set] = np.cumsum(opened)[np.repeat(np.arange(len(starts)), lengths)][in_set] - 1
    return set_number


def _enemy_pairs(twins: np.ndarray, set_number: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Enemy-group number per item (-1 for none): disjoint pairs of same-element, same-type items outside sets."""
    starts, lengths = _runs(twins)
    offset = np.arange(len(twins)) - np.repeat(starts, lengths)
    free = set_number < 0
    candidate = np.flatnonzero((offset[:-1] % 2 == 0) & (twins[:-1] == twins[1:]) & free[:-1] & free[1:])
    n_pairs = min(round(ENEMY_SHARE * len(twins) / 2), len(candidate))
    first = np.sort(rng.choice(candidate, n_pairs, replace=False))
    enemy_number = np.full(len(twins), -1)
    enemy_number[first] = enemy_number[first + 1] = np.arange(n_pairs)
    return enemy_number


def _true_parameters(item_types: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Simulated truth: 3PL single choice (c near 0.2), 2PL multiple choice and true/false, GRM subjective."""
    n = len(item_types)
    a = np.clip(np.exp(rng.normal(0.0, 0.3, n)), 0.35, 2.5)
    b = np.clip(rng.normal(0.0, 1.0, n), -3.0, 3.0)
    c = np.clip(rng.beta(16, 64, n), 0.05, 0.35)
    steps = np.sort(rng.normal(0.0, 0.25, (n, GRM_THRESHOLDS)) + np.linspace(-1.2, 1.2, GRM_THRESHOLDS), axis=1)
    thresholds = np.clip(b[:, None] + steps, -4.0, 4.0)
    subjective = np.isin(item_types, SUBJECTIVE)
    single = item_types == "single_choice"
    return pd.DataFrame({
        "model": pd.Series(item_types).map(MODEL_BY_TYPE).fillna("GRM").to_numpy(),
        "a": a,
        "b": np.where(subjective, thresholds.mean(axis=1), b),
        "c": np.where(single, c, np.nan),
        "thresholds": [list(row) if s else None for row, s in zip(thresholds.tolist(), subjective, strict=True)],
    })


def _keys(item_types: np.ndarray, rng: np.random.Generator) -> list[str | None]:
    """Single: one of A–D; multiple: two to five of A–E; true/false: T or F; subjective: none."""
    n = len(item_types)
    letters = np.array(list("ABCDE"))
    single = letters[rng.integers(0, 4, n)]
    permutation = np.argsort(rng.random((n, 5)), axis=1)
    size = rng.choice([2, 3, 4, 5], n, p=[0.35, 0.4, 0.2, 0.05])
    chosen = permutation < size[:, None]
    multiple = np.array(["".join(letters[row]) for row in chosen])
    true_false = np.where(rng.random(n) < 0.5, "T", "F")
    by_type = {"single_choice": single, "multiple_choice": multiple, "true_false": true_false}
    return [str(by_type[t][i]) if t in by_type else None for i, t in enumerate(item_types)]


def _item_records(level: int, elements: list[NodeSpec], node_names: dict[str, str], element_index: np.ndarray,
                  item_types: np.ndarray, set_number: np.ndarray, enemy_number: np.ndarray, truth: pd.DataFrame,
                  rng: np.random.Generator) -> pd.DataFrame:
    """The exchange records; ``truth`` supplies b so the writer's difficulty rating can track it."""
    n = len(item_types)
    codes = np.array([e.code for e in elements])[element_index]
    starts, lengths = _runs(element_index)
    sequence = np.arange(n) - np.repeat(starts, lengths) + 1
    points = np.array([FIXED_POINTS.get(t, 0.0) for t in item_types])
    subjective = np.isin(item_types, SUBJECTIVE)
    points[subjective] = SUBJECTIVE_POINTS[rng.integers(0, len(SUBJECTIVE_POINTS), subjective.sum())]
    difficulty = np.clip(np.rint(3 + 1.1 * truth["b"].to_numpy() + rng.normal(0, 0.9, n)), 1, 5).astype(int)
    fills = [{"name": node_names[code], "unit": node_names[code.rsplit("-", 1)[0] if "-" in code else code]}
             for code in codes]
    settings = _settings(n, rng)
    stems, options = _stems_and_options(item_types, fills, settings, rng)
    head = (set_number >= 0) & (np.r_[-1, set_number[:-1]] != set_number)
    stimulus = {set_number[i]: STIMULUS.format(setting=settings[i], **fills[i]) for i in np.flatnonzero(head)}
    return pd.DataFrame({
        "external_id": [f"L{level}-{code}-{seq:04d}" for code, seq in zip(codes, sequence, strict=True)],
        "type": item_types.astype(object),
        "element": codes.astype(object),
        "points": points,
        "stem": stems,
        "options": options,
        "key": _optional(_keys(item_types, rng)),
        "rubric": _optional([_rubric(p, fill) if graded else None
                             for p, fill, graded in zip(points, fills, subjective, strict=True)]),
        "difficulty": difficulty,
        "set_id": _optional([f"SET-L{level}-{s + 1:04d}" if s >= 0 else None for s in set_number]),
        "stimulus": _optional([stimulus.get(s) for s in set_number]),
        "enemy_groups": [[f"EN-L{level}-{e + 1:04d}"] if e >= 0 else [] for e in enemy_number],
    }, columns=ITEM_COLUMNS)


def _settings(n: int, rng: np.random.Generator) -> list[str]:
    """A company setting per item (industry and head count), the source of the stems' variety."""
    industry = np.array(INDUSTRIES)[rng.integers(0, len(INDUSTRIES), n)]
    staff = rng.integers(5, 500, n) * 10
    form = rng.integers(0, len(SETTINGS), n)
    return [SETTINGS[f].format(industry=i, staff=s) for f, i, s in zip(form, industry, staff, strict=True)]


def _stems_and_options(item_types: np.ndarray, fills: list[dict[str, str]], settings: list[str],
                       rng: np.random.Generator) -> tuple[list[str], list[dict[str, str] | None]]:
    """Placeholder stems naming the element; choice options drawn without repeats from ``OPTION_PHRASES``."""
    templates = {"single_choice": SINGLE_STEMS, "multiple_choice": MULTIPLE_STEMS, "true_false": TRUE_FALSE_STEMS,
                 **{kind: (stem,) for kind, stem in SUBJECTIVE_STEMS.items()}}
    variant = rng.integers(0, 60, len(item_types))
    option_order = np.argsort(rng.random((len(item_types), len(OPTION_PHRASES))), axis=1)
    stems: list[str] = []
    options: list[dict[str, str] | None] = []
    for i, (kind, fill) in enumerate(zip(item_types, fills, strict=True)):
        choices = templates[kind]
        stems.append(choices[variant[i] % len(choices)].format(setting=settings[i], **fill))
        letters = OPTION_LETTERS.get(kind, "")
        options.append({letter: OPTION_PHRASES[j].format(**fill)
                        for letter, j in zip(letters, option_order[i], strict=False)} if letters else None)
    return stems, options


def _optional(values: list[str | None]) -> pd.Series:
    """Optional text stays ``None`` where absent (not NaN), as the exchange record has it."""
    return pd.Series(values, dtype=object)


def _rubric(total: float, fill: dict[str, Any]) -> str:
    p1, p2 = round(total * 0.3), round(total * 0.4)
    return RUBRIC.format(total=total, p1=p1, p2=p2, p3=total - p1 - p2, **fill)


