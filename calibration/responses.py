"""Response logs: read, validate and hold them as a sparse persons × items matrix.

A bank log is long (one row per person × item) and mostly empty when laid out as a matrix: each
candidate sat one paper out of many. ``ResponseMatrix`` keeps the observed cells only (coordinate
arrays plus scipy.sparse views), so nothing downstream densifies a large incomplete design.
Validation happens once, here, with errors that name the column and the offending rows, so the
estimators can trust their input. The header is checked here too, by the rule every table of the
project follows (``assembly.columns``): a column that looks like a known one (``scores``,
``paperid``) is refused, any other unknown column is a ``ResponseLogWarning`` and is listed on the
matrix (``ignored_columns``), so a notebook user calling ``load_responses`` learns of it as the
command line's user does.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from calibration.errors import ResponseLogError, ResponseLogWarning

REQUIRED_COLUMNS = ("person_id", "item_id", "score")
OPTIONAL_COLUMNS = ("paper_id", "option", "response_time", "group")
KNOWN_COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, "response")
"""The columns a response log may hold without a warning: those read here or by ``ctt``, and the raw
``response`` the bank logs beside each score (not read: scores are)."""
RESPONSE_LOG = "作答记录"
"""How messages name a response log."""
SINGLE_GROUP = "all"
_SHOWN = 5


@dataclass(frozen=True, eq=False)
class ResponseMatrix:
    """Validated responses: observed cells as coordinates, with person and item metadata.

    ``person_index``/``item_index``/``score`` are aligned arrays of the observed cells (sorted by
    person, then item). ``group`` is each person's group code into ``group_ids`` (one group when
    the log has no ``group`` column). ``max_score`` is each item's top score: the declared one
    when given, else the highest observed. ``ignored_columns`` are the log's columns nothing reads.
    """

    person_ids: pd.Index
    item_ids: pd.Index
    person_index: np.ndarray
    item_index: np.ndarray
    score: np.ndarray
    max_score: np.ndarray
    group_ids: pd.Index
    group: np.ndarray
    paper: np.ndarray | None = None
    ignored_columns: tuple[str, ...] = ()

    @property
    def n_persons(self) -> int:
        return len(self.person_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_responses(self) -> int:
        return len(self.score)

    @property
    def n_groups(self) -> int:
        return len(self.group_ids)

    @property
    def density(self) -> float:
        """Share of the persons × items matrix that was observed."""
        return self.n_responses / max(1, self.n_persons * self.n_items)

    @cached_property
    def scores(self) -> sparse.csr_array:
        """Scores as a CSR array; observed zeros are stored explicitly, so read ``observed`` for the mask."""
        return sparse.csr_array(
            (self.score.astype(float), (self.person_index, self.item_index)),
            shape=(self.n_persons, self.n_items),
        )

    @cached_property
    def observed(self) -> sparse.csr_array:
        """Boolean CSR mask of the observed cells."""
        return sparse.csr_array(
            (np.ones(self.n_responses, dtype=bool), (self.person_index, self.item_index)),
            shape=(self.n_persons, self.n_items),
        )

    @cached_property
    def n_per_item(self) -> np.ndarray:
        """Number of respondents of each item."""
        return np.bincount(self.item_index, minlength=self.n_items)

    def to_frame(self) -> pd.DataFrame:
        """The long log back (person_id, item_id, score, group), e.g. for classical analysis."""
        return pd.DataFrame(
            {
                "person_id": self.person_ids.to_numpy()[self.person_index],
                "item_id": self.item_ids.to_numpy()[self.item_index],
                "score": self.score,
                "group": self.group_ids.to_numpy()[self.group[self.person_index]],
            }
        )


def load_responses(
    source: pd.DataFrame | str | Path,
    *,
    known_items: Iterable[object] | None = None,
    max_scores: Mapping[object, float] | pd.Series | None = None,
) -> ResponseMatrix:
    """Read a long response log (DataFrame, CSV or Parquet path) and validate it into a ResponseMatrix.

    ``known_items`` switches on bank mode: every item id in the log must be among them.
    ``max_scores`` (item id → top score) bounds each item's scores; items absent from it take
    their highest observed score. Rows with a missing score were not administered and are dropped.
    A column that looks like a known one is a ``ResponseLogError`` naming both; any other unknown
    column is a ``ResponseLogWarning`` (and in ``ignored_columns``).
    """
    frame = _read(source)
    ignored = _check_header(frame)
    _require_columns(frame)
    frame = frame.reset_index(drop=True)
    _require_ids(frame)
    score = _numeric_scores(frame)
    keep = ~np.isnan(score)
    frame, score = frame.loc[keep].reset_index(drop=True), score[keep]
    if not len(frame):
        raise ResponseLogError("the response log has no scored rows", field="score")
    _reject_duplicates(frame)
    if known_items is not None:
        _reject_unknown_items(frame, known_items)

    person_codes, person_ids = pd.factorize(frame["person_id"], sort=True)
    item_codes, item_ids = pd.factorize(frame["item_id"], sort=True)
    observed_max = np.zeros(len(item_ids))
    np.maximum.at(observed_max, item_codes, score)
    max_score = _declared_max(item_ids, observed_max, max_scores)
    _reject_above_max(frame, score, max_score[item_codes])

    group_codes, group_ids = _person_labels(frame, "group", person_codes, len(person_ids))
    paper_codes, paper_ids = _person_labels(frame, "paper_id", person_codes, len(person_ids))
    order = np.lexsort((item_codes, person_codes))
    return ResponseMatrix(
        person_ids=pd.Index(person_ids, name="person_id"),
        item_ids=pd.Index(item_ids, name="item_id"),
        person_index=person_codes[order].astype(np.int64),
        item_index=item_codes[order].astype(np.int64),
        score=score[order].astype(np.int64),
        max_score=max_score.astype(np.int64),
        group_ids=pd.Index(group_ids, name="group"),
        group=group_codes,
        paper=None if "paper_id" not in frame.columns else paper_ids.to_numpy()[paper_codes],
        ignored_columns=ignored,
    )


def _read(source: pd.DataFrame | str | Path) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source
    path = Path(source)
    if not path.exists():
        raise ResponseLogError(f"response log file '{path}' does not exist", field="source")
    if path.suffix.lower() in {".parquet", ".pq"}:
        return pd.read_parquet(path)
    if path.suffix.lower() in {".csv", ".txt"}:
        return _read_csv(path)
    raise ResponseLogError(f"cannot read '{path.name}': expected a .csv or .parquet file", field="source")


def _read_csv(path: Path) -> pd.DataFrame:
    """A CSV log, refusing a layout pandas would read wrong without a word: a header naming a column
    twice (read as ``x.1``), data under a blank header (``Unnamed: 3``) or past the header's end
    (a stray comma, which would otherwise shift every column one place)."""
    names = [str(n).strip() for n in pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False).iloc[0]]
    repeated = [n for i, n in enumerate(names) if n and n in names[:i]]
    if repeated:
        raise ResponseLogError(f"作答记录的表头中列名 {repeated[0]} 出现了不止一次：无法确定该读哪一列，请删去重复的列或改名",
                               field=repeated[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            frame = pd.read_csv(path, dtype={"person_id": str, "item_id": str, "group": str, "paper_id": str},
                                index_col=False)
        except pd.errors.ParserWarning as exc:
            raise ResponseLogError(f"作答记录 {path.name} 有的行单元格多于表头：多出的内容没有列名，按原样会丢失"
                                   "（请检查这些行是否多了逗号）", field="source") from exc
    for position, column in enumerate(names):
        held = _rows(frame.iloc[:, position].notna()) if not column else []
        if held:
            raise ResponseLogError(f"作答记录的第 {position + 1} 列没有列名，但在第 {held[0] + 2} 行有内容："
                                   "没有列名的内容按原样会丢失，请补上列名或删去该列", field="source", rows=held)
    return frame.set_axis(names, axis=1).drop(columns="", errors="ignore")


def _check_header(frame: pd.DataFrame) -> tuple[str, ...]:
    """The unknown columns, each warned about; a look-alike of a known column is refused before anything is read."""
    # The one header rule of the project; imported here, as the rest of assembly is not needed.
    from assembly.columns import LookAlikeColumn, check_columns

    try:
        unknown = check_columns(frame.columns, KNOWN_COLUMNS, table=RESPONSE_LOG)
    except LookAlikeColumn as exc:
        raise ResponseLogError(str(exc), field=exc.column) from exc
    for column in unknown:
        warnings.warn(str(column), ResponseLogWarning, stacklevel=3)
    return tuple(column.column for column in unknown)


def _rows(mask: np.ndarray | pd.Series) -> list[int]:
    return [int(i) for i in np.flatnonzero(np.asarray(mask))]


def _shown(rows: list[int]) -> str:
    more = f" and {len(rows) - _SHOWN} more" if len(rows) > _SHOWN else ""
    return ", ".join(str(r) for r in rows[:_SHOWN]) + more


def _require_columns(frame: pd.DataFrame) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ResponseLogError(
            f"the response log is missing column(s) {', '.join(missing)}; "
            f"required: {', '.join(REQUIRED_COLUMNS)}",
            field=missing[0],
        )


def _require_ids(frame: pd.DataFrame) -> None:
    for column in ("person_id", "item_id"):
        rows = _rows(frame[column].isna())
        if rows:
            raise ResponseLogError(f"column '{column}' is empty in row(s) {_shown(rows)}", field=column, rows=rows)


def _numeric_scores(frame: pd.DataFrame) -> np.ndarray:
    raw = frame["score"]
    numeric = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = _rows(np.isnan(numeric) & raw.notna().to_numpy())
    if bad:
        values = ", ".join(repr(raw.iloc[r]) for r in bad[:_SHOWN])
        raise ResponseLogError(
            f"column 'score' is not numeric in row(s) {_shown(bad)} (values {values})", field="score", rows=bad
        )
    finite = ~np.isnan(numeric)
    bad = _rows(finite & ((numeric < 0) | (numeric != np.round(numeric))))
    if bad:
        raise ResponseLogError(
            f"column 'score' must hold whole non-negative scores; row(s) {_shown(bad)} do not "
            f"(values {', '.join(str(numeric[r]) for r in bad[:_SHOWN])})",
            field="score",
            rows=bad,
        )
    return numeric


def _reject_duplicates(frame: pd.DataFrame) -> None:
    dup = frame.duplicated(["person_id", "item_id"], keep=False).to_numpy()
    if dup.any():
        rows = _rows(dup)
        first = frame.iloc[rows[0]]
        raise ResponseLogError(
            f"duplicate person × item responses in rows {_shown(rows)} "
            f"(e.g. person '{first['person_id']}', item '{first['item_id']}'); each cell must appear once",
            field="person_id,item_id",
            rows=rows,
        )


def _reject_unknown_items(frame: pd.DataFrame, known_items: Iterable[object]) -> None:
    known = pd.Index(list(known_items))
    unknown_mask = ~frame["item_id"].isin(known).to_numpy()
    if unknown_mask.any():
        rows = _rows(unknown_mask)
        ids = pd.unique(frame["item_id"].to_numpy()[unknown_mask])
        raise ResponseLogError(
            f"{len(ids)} item id(s) in column 'item_id' are not in the bank: "
            f"{', '.join(map(str, ids[:_SHOWN]))} (first in row(s) {_shown(rows)})",
            field="item_id",
            rows=rows,
        )


def _declared_max(
    item_ids: pd.Index, observed_max: np.ndarray, max_scores: Mapping[object, float] | pd.Series | None
) -> np.ndarray:
    if max_scores is None:
        return observed_max
    declared = pd.Series(max_scores, dtype=float).reindex(item_ids).to_numpy()
    return np.where(np.isnan(declared), observed_max, declared)


def _reject_above_max(frame: pd.DataFrame, score: np.ndarray, row_max: np.ndarray) -> None:
    bad = _rows(score > row_max)
    if bad:
        first = bad[0]
        raise ResponseLogError(
            f"column 'score' exceeds the item's maximum in row(s) {_shown(bad)} "
            f"(e.g. item '{frame['item_id'].iloc[first]}' scored {score[first]:g} > {row_max[first]:g})",
            field="score",
            rows=bad,
        )


def _person_labels(
    frame: pd.DataFrame, column: str, person_codes: np.ndarray, n_persons: int
) -> tuple[np.ndarray, pd.Index]:
    """One label per person from a per-row column; a person carrying two labels is an error."""
    if column not in frame.columns:
        return np.zeros(n_persons, dtype=np.int64), pd.Index([SINGLE_GROUP])
    labels = frame[column]
    rows = _rows(labels.isna())
    if rows:
        raise ResponseLogError(f"column '{column}' is empty in row(s) {_shown(rows)}", field=column, rows=rows)
    codes, ids = pd.factorize(labels, sort=True)
    per_person = np.full(n_persons, -1, dtype=np.int64)
    per_person[person_codes] = codes
    clash = _rows(per_person[person_codes] != codes)
    if clash:
        who = frame["person_id"].iloc[clash[0]]
        raise ResponseLogError(
            f"person '{who}' has more than one value in column '{column}' (row(s) {_shown(clash)}); "
            f"a person belongs to one {column}",
            field=column,
            rows=clash,
        )
    return per_person, pd.Index(ids)
