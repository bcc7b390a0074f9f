"""The paper spec (组卷方案): a validated pydantic model loaded from YAML, JSON or a dict.

Defaults live here and nowhere else. Validation errors are re-raised as :class:`SpecError`
whose ``field`` is the path of the offending value, e.g. ``sections[1].points``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from assembly.errors import SpecError

ItemType = Literal[
    "single_choice",
    "multiple_choice",
    "true_false",
    "short_answer",
    "calculation",
    "case_analysis",
    "plan_design",
]
ITEM_TYPES: tuple[str, ...] = get_args(ItemType)
POINTS_TOLERANCE = 1e-6


class _Invalid(ValueError):
    """A model-level validation problem that knows which field it is about."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Section(_Strict):
    """Items of one type: ``count`` items, each scored ``points`` (or their own points if omitted,
    in which case ``total`` fixes the section's points)."""

    type: ItemType
    count: int = Field(gt=0)
    points: float | None = Field(default=None, gt=0)
    total: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _points_or_total(self) -> Section:
        if self.points is None and self.total is None:
            raise _Invalid("points", "give points per item or the section total")
        if (self.points is not None and self.total is not None
                and abs(self.points * self.count - self.total) > POINTS_TOLERANCE):
            raise _Invalid(
                "total",
                f"{self.count} items x {self.points} points = {self.points * self.count}, "
                f"not the stated total {self.total}",
            )
        return self

    @property
    def section_points(self) -> float:
        return self.total if self.total is not None else float(self.points or 0) * self.count


class BlueprintRule(_Strict):
    """A constraint on one blueprint node (a code prefix of whole segments such as ``B`` or
    ``B-02``): an exact ``count``, a ``min_count``/``max_count`` range, or a ``weight`` in percent
    of the paper's points, met within ``tolerance`` points."""

    node: str = Field(min_length=1)
    count: int | None = Field(default=None, ge=0)
    min_count: int | None = Field(default=None, ge=0)
    max_count: int | None = Field(default=None, ge=0)
    weight: float | None = Field(default=None, ge=0, le=100)
    tolerance: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _one_kind(self) -> BlueprintRule:
        kinds = [self.count is not None, self.min_count is not None or self.max_count is not None,
                 self.weight is not None]
        if sum(kinds) != 1:
            raise _Invalid("count", "give exactly one of count, min_count/max_count or weight")
        if (self.min_count is not None and self.max_count is not None
                and self.min_count > self.max_count):
            raise _Invalid("min_count", f"min_count {self.min_count} exceeds max_count {self.max_count}")
        return self


class ImportanceRule(_Strict):
    """Items of the given importance levels carry at least ``min_share`` percent of the points."""

    levels: list[Literal["X", "Y", "Z"]] = Field(min_length=1)
    min_share: float = Field(ge=0, le=100)


class DifficultyBand(_Strict):
    """One band of classical difficulty: writer's ratings, or a p-value interval [p_min, p_max)."""

    name: str
    ratings: list[int] | None = None
    p_min: float | None = Field(default=None, ge=0, le=1)
    p_max: float | None = Field(default=None, ge=0, le=1)
    proportion: float = Field(gt=0)


class DifficultyControl(_Strict):
    """Classical difficulty mix for uncalibrated banks, e.g. easy:medium:hard = 2:6:2 of the points,
    each band met within ``tolerance`` points."""

    by: Literal["rating", "p_value"]
    bands: list[DifficultyBand] = Field(min_length=1)
    tolerance: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _bands_fit(self) -> DifficultyControl:
        for k, band in enumerate(self.bands):
            if self.by == "rating" and not band.ratings:
                raise _Invalid(f"bands[{k}].ratings", f"band {band.name!r} needs ratings when by is 'rating'")
            if self.by == "p_value" and (band.p_min is None or band.p_max is None):
                raise _Invalid(f"bands[{k}].p_min", f"band {band.name!r} needs p_min and p_max when by is 'p_value'")
        return self


class InformationTarget(_Strict):
    """IRT control. ``maximin``: maximise the smallest test information over papers and θ
    (``weights`` give a relative shape); ``target``: minimise the largest deviation from
    ``tif`` and/or ``tcc`` at ``theta`` (minimax). ``parallel_band`` keeps papers parallel:
    at each θ every paper's information lies within that fraction of the others'."""

    objective: Literal["maximin", "target"] = "maximin"
    theta: list[float] = Field(min_length=1)
    weights: list[float] | None = None
    tif: list[float] | None = None
    tcc: list[float] | None = None
    parallel_band: float | None = Field(default=0.05, ge=0)

    @model_validator(mode="after")
    def _lengths(self) -> InformationTarget:
        for name in ("weights", "tif", "tcc"):
            values = getattr(self, name)
            if values is not None and len(values) != len(self.theta):
                raise _Invalid(name, f"{name} has {len(values)} values for {len(self.theta)} theta points")
        if self.weights is not None and min(self.weights) <= 0:
            raise _Invalid("weights", "weights must be positive")
        if self.objective == "target" and self.tif is None and self.tcc is None:
            raise _Invalid("tif", "objective 'target' needs tif and/or tcc")
        return self


class Forms(_Strict):
    """How many main and backup papers to assemble at once."""

    main: int = Field(default=1, ge=1)
    backup: int = Field(default=0, ge=0)


class Overlap(_Strict):
    """Largest number of items two papers may share. ``model`` picks the main-main formulation:
    ``shared`` (each paper holds at most ``main_main`` items that appear in any other paper; scales)
    or ``pairs`` (exact pairwise count; one variable per item and pair)."""

    main_main: int = Field(default=0, ge=0)
    backup_main: int = Field(default=0, ge=0)
    backup_backup: int = Field(default=0, ge=0)
    model: Literal["shared", "pairs"] = "shared"


class Exposure(_Strict):
    """Exposure control: leave out items used more than ``max_exposure`` times or on/after
    ``not_used_since``; ``max_item_uses`` caps how many new papers one item may enter."""

    max_exposure: int | None = Field(default=None, ge=0)
    not_used_since: dt.date | None = None
    max_item_uses: int | None = Field(default=None, ge=1)


class SolverSettings(_Strict):
    """Solver choice and limits. HiGHS is the default (see benchmarks/assembly for the figures);
    one thread keeps runs deterministic for a seed. ``decompose`` solves identical, disjoint
    max-min papers through a shadow paper and item exchange (:mod:`assembly.decompose`) with the
    shadow's bound; ``warm_start`` spends up to a third of the time limit on a start for the full
    model; ``improve`` runs fix-and-optimise over pairs of papers after the full model has had
    60 % of the time; ``symmetry_breaking`` orders identical papers, off by default because it
    slowed HiGHS down."""

    name: Literal["highs", "cbc"] = "highs"
    time_limit: float = Field(default=30.0, gt=0)
    gap: float = Field(default=0.005, ge=0)
    threads: int = Field(default=1, ge=1)
    seed: int = Field(default=0, ge=0)
    decompose: bool = True
    warm_start: bool = True
    improve: bool = True
    symmetry_breaking: bool = False


class Equivalence(_Strict):
    """Score equivalence on the 100-point scale (百分制) for LOFT papers and CAT scores: the pass
    mark, and the θ points, as offsets from the pass-mark θ (where the reference paper's test
    characteristic curve gives ``pass_mark``), at which every paper's curve must lie within
    ``tolerance`` points of the reference paper's, so that 60 means the same on every paper."""

    pass_mark: float = Field(default=60.0, gt=0, lt=100)
    offsets: list[float] = Field(default_factory=lambda: [-1.0, 0.0, 1.0], min_length=1)
    tolerance: float = Field(default=1.5, gt=0)


class Loft(_Strict):
    """One paper per candidate (一人一卷): across the papers no item is used by more than
    ``max_exposure`` of them, and two papers share on average at most ``max_mean_overlap`` of
    their items."""

    max_exposure: float = Field(default=0.25, gt=0, le=1)
    max_mean_overlap: float = Field(default=0.15, ge=0, le=1)


class Cat(_Strict):
    """Shadow-test CAT: ``length`` items (default: the spec's paper length); with ``se_target``
    the test stops once SE(θ̂) reaches it, but not before ``min_length`` items. Conditional
    exposure control keeps each item's exposure within every θ segment (cut at ``segments``) at
    most ``max_exposure``."""

    length: int | None = Field(default=None, ge=1)
    se_target: float | None = Field(default=None, gt=0)
    min_length: int | None = Field(default=None, ge=1)
    max_exposure: float = Field(default=0.25, gt=0, le=1)
    segments: list[float] = Field(default_factory=lambda: [-1.5, -0.5, 0.5, 1.5])

    @model_validator(mode="after")
    def _lengths(self) -> Cat:
        if self.min_length is not None and self.length is not None and self.min_length > self.length:
            raise _Invalid("min_length", f"min_length {self.min_length} exceeds length {self.length}")
        if self.min_length is not None and self.se_target is None:
            raise _Invalid("min_length", "min_length only applies with se_target")
        if list(self.segments) != sorted(set(self.segments)):
            raise _Invalid("segments", "segment cut points must be increasing")
        return self


class PaperSpec(_Strict):
    """A complete paper spec; see the module docstring of :mod:`assembly` for the file format."""

    name: str = "paper"
    total_points: float = Field(default=100.0, gt=0)
    sections: list[Section] = Field(min_length=1)
    blueprint: list[BlueprintRule] = Field(default_factory=list)
    importance: list[ImportanceRule] = Field(default_factory=list)
    max_per_element: int | None = Field(default=None, ge=1)
    difficulty: DifficultyControl | None = None
    information: InformationTarget | None = None
    forms: Forms = Field(default_factory=Forms)
    overlap: Overlap = Field(default_factory=Overlap)
    exposure: Exposure = Field(default_factory=Exposure)
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    disjoint_from: list[list[str]] = Field(default_factory=list)
    solver: SolverSettings = Field(default_factory=SolverSettings)
    equivalence: Equivalence = Field(default_factory=Equivalence)
    loft: Loft = Field(default_factory=Loft)
    cat: Cat = Field(default_factory=Cat)

    @model_validator(mode="after")
    def _points_add_up(self) -> PaperSpec:
        declared = sum(section.section_points for section in self.sections)
        if abs(declared - self.total_points) > POINTS_TOLERANCE:
            parts = " + ".join(f"{s.type} {s.section_points:g}" for s in self.sections)
            raise _Invalid(
                "total_points",
                f"sections add up to {declared:g} points ({parts}), "
                f"not the declared total_points {self.total_points:g}"
            )
        types = [section.type for section in self.sections]
        duplicates = sorted({t for t in types if types.count(t) > 1})
        if duplicates:
            raise _Invalid("sections", f"item type {duplicates[0]!r} has more than one section")
        both = sorted(set(self.include) & set(self.exclude))
        if both:
            raise _Invalid("include", f"item {both[0]} is both included and excluded")
        return self

    def overlap_limit(self, first: str, second: str) -> int:
        """Most items the two named papers may share (main-main, backup-main or backup-backup)."""
        mains = first.startswith("main") + second.startswith("main")
        limits = self.overlap
        return {2: limits.main_main, 1: limits.backup_main, 0: limits.backup_backup}[mains]

    @property
    def length(self) -> int:
        """Items in one paper."""
        return sum(section.count for section in self.sections)

    @property
    def form_names(self) -> list[str]:
        return [f"main-{k + 1}" for k in range(self.forms.main)] + [
            f"backup-{k + 1}" for k in range(self.forms.backup)
        ]


def _field_path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not (part[:1].isalpha() or part[:1] == "_"):
            continue
        else:
            path += f".{part}" if path else part
    return path


def parse_spec(document: dict[str, Any]) -> PaperSpec:
    """Validate a spec given as a plain mapping; the error names the first bad field's path."""
    try:
        return PaperSpec.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = _field_path(tuple(first["loc"]))
        message = first["msg"]
        problem = first.get("ctx", {}).get("error")
        if isinstance(problem, _Invalid):
            path = f"{path}.{problem.field}" if path else problem.field
            message = str(problem)
        where = f"{path}: " if path else ""
        raise SpecError(f"paper spec {where}{message}", field=path) from exc


def load_spec(source: PaperSpec | dict[str, Any] | str | Path) -> PaperSpec:
    """Load a spec from a PaperSpec, a dict, or a YAML/JSON file path (YAML also reads JSON)."""
    if isinstance(source, PaperSpec):
        return source
    if isinstance(source, dict):
        return parse_spec(source)
    path = Path(source)
    if not path.is_file():
        raise SpecError(f"paper spec file {path} does not exist", field="")
    text = path.read_text(encoding="utf-8")
    try:
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise SpecError(f"paper spec file {path} is not valid YAML/JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise SpecError(f"paper spec file {path} must hold a mapping at the top level")
    return parse_spec(document)
