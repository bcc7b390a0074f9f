"""Checking a table's header against the columns its reader knows, so no column is lost silently.

A reader ignores the columns it does not know. That is harmless for a writer's ``note`` column but
loses input when the column is a misspelling of a known one: with ``enemy_group`` for
``enemy_groups`` a paper would be assembled as if the items had no enemies. So an unknown column
that *looks like* a known one is refused, naming both; any other unknown column comes back as a
warning the caller shows (it is ignored, as before).

"Looks like" is one rule for every table, not a list of known typos: after folding case, spaces,
hyphens, dots and underscores (``Enemy Groups`` → ``enemygroups``), the unknown name equals a known
one up to a plural ``s`` (``enemy_group``, ``setid``, ``A``), is a truncation of one (``set``,
``item``, ``last_use``), or is a typo of one: close by difflib's ratio and about as long (``pionts``,
``dificulty``; not ``exposure_rate``, a known name with a qualifier).

Each table's known columns live next to the code that reads it (``assembly.bank.ITEM_TABLE_COLUMNS``,
``calibration.responses.KNOWN_COLUMNS``, ``itembank.records.IMPORT_COLUMNS``), so the list cannot
drift from what is read; this module only holds the rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from assembly.errors import ItemTableError

CLOSE_RATIO = 0.8
"""difflib ratio from which two folded names count as one name mistyped (``pionts``/``points`` is 0.83,
``notes``/``points`` 0.55)."""
MAX_TYPO_LENGTH_CHANGE = 2
"""A typo changes a character or two; a name longer by more is a known name with a qualifier
(``exposure_rate``, ``points_max``), another quantity, so a warning rather than a refusal."""
MIN_TRUNCATION = 3
"""Shortest folded name that counts as a truncation of a longer known one (``set`` for ``set_id``;
``p`` is not taken for ``p_value``)."""

ITEM_TABLE = "题目表"
"""How messages name the assembly core's item table."""

_SEPARATORS = re.compile(r"[\s_\-.]+")


@dataclass(frozen=True)
class UnknownColumn:
    """A column the reader does not know and ignores; ``str()`` is the warning users read."""

    column: str
    table: str

    def __str__(self) -> str:
        return f"{self.table}的列 {_shown(self.column)} 未识别，已忽略"


@dataclass(frozen=True)
class LookAlike:
    """An unknown column that resembles a known one: most likely a misspelling of ``known``."""

    column: str
    known: str
    table: str

    def __str__(self) -> str:
        return f"{self.table}的列 {_shown(self.column)} 未识别，是否应为 {self.known}？"


class LookAlikeColumn(ItemTableError):
    """A table has columns that look like known ones: refused rather than ignored, since ignoring
    one would lose its content. ``column`` is the first such column, ``look_alikes`` all of them."""

    def __init__(self, look_alikes: Sequence[LookAlike]) -> None:
        listing = "；".join(str(found) for found in look_alikes)
        super().__init__(f"{listing}（请改正列名后重试：按原样该列会被忽略，其内容将丢失）",
                         column=look_alikes[0].column)
        self.look_alikes = list(look_alikes)


def check_columns(header: Iterable[object], known: Iterable[str], *,
                  table: str = ITEM_TABLE) -> list[UnknownColumn]:
    """The header's unknown columns, as warnings; raises ``LookAlikeColumn`` if any resembles a known one.

    ``table`` names the table in the messages (题目表, 作答记录, 导入文件 …).
    """
    known = list(known)
    exact = set(known)
    unknown: list[UnknownColumn] = []
    look_alikes: list[LookAlike] = []
    for name in header:
        column = str(name)
        if column in exact:
            continue
        match = resembled(column, known)
        if match is None:
            unknown.append(UnknownColumn(column, table))
        else:
            look_alikes.append(LookAlike(column, match, table))
    if look_alikes:
        raise LookAlikeColumn(look_alikes)
    return unknown


def resembled(column: str, known: Sequence[str]) -> str | None:
    """The known column ``column`` most likely misspells, or None if it resembles none of them."""
    folded = _fold(column)
    if not folded:
        return None
    best: tuple[bool, float, str] | None = None
    for candidate in known:
        target = _fold(candidate)
        same = _singular(folded) == _singular(target)
        ratio = SequenceMatcher(None, folded, target).ratio()
        typo = ratio >= CLOSE_RATIO and abs(len(folded) - len(target)) <= MAX_TYPO_LENGTH_CHANGE
        alike = same or typo or (len(folded) >= MIN_TRUNCATION and target.startswith(folded))
        if alike and (best is None or (same, ratio) > best[:2]):
            best = (same, ratio, candidate)
    return None if best is None else best[2]


def _fold(name: str) -> str:
    return _SEPARATORS.sub("", name.strip().casefold())


def _singular(folded: str) -> str:
    return folded[:-1] if len(folded) > MIN_TRUNCATION and folded.endswith("s") else folded


def _shown(column: str) -> str:
    """The column as users should see it: quoted when blanks around it would otherwise hide."""
    return repr(column) if column != column.strip() or not column else column
