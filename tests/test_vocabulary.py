"""The pure cores keep their own copy of the bank's vocabularies (they may not import the database layer);
these tests are what keeps the copies from drifting apart."""

from __future__ import annotations

from assembly.spec import ITEM_TYPES
from itembank.models import ItemType


def test_assembly_knows_exactly_the_bank_item_types() -> None:
    assert set(ITEM_TYPES) == {t.value for t in ItemType}
