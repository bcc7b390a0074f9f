"""Exposure prices: an item given to every candidate grows a price, one given to fewer than r_max
of them keeps none; the shadow test leaves out an item whose price exceeds its worth; a sealed
eligibility without prices (the format before them) reads as priced at zero."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assembly import SpecError
from assembly.exposure_control import (
    PRICE_STEP,
    PRICE_TARGET,
    CandidateExposure,
    Eligibility,
    ExposureControl,
)
from assembly.shadow_test import ShadowTest
from assembly.synthetic_pool import CAT_SPEC, synthetic_cat_pool


def test_the_price_grows_for_an_item_given_too_often_and_stays_zero_otherwise() -> None:
    control = ExposureControl(["popular", "rare", "unused"], [0.0], r_max=0.25)
    for k in range(20):
        given = np.array([True, k % 10 == 0, False])
        control.record(CandidateExposure(marginal=np.ones(3, dtype=bool), segments={0: np.ones(3, dtype=bool)},
                                         given={0: given}))
    price = control.eligibility().price
    assert price[0] == pytest.approx(20 * PRICE_STEP * (1 - PRICE_TARGET * 0.25))
    assert price[1] == 0.0 and price[2] == 0.0


def test_the_shadow_test_leaves_out_an_item_priced_above_its_information() -> None:
    items = synthetic_cat_pool(200, rng=3)
    shadow = ShadowTest(items, CAT_SPEC, length=20)
    first = shadow.fresh().select(0.0, [])
    price = pd.Series(0.0, index=shadow.table["item_id"])
    price[first.item_id] = 10.0
    again = shadow.fresh().select(0.0, [], price=price.to_numpy())
    assert first.item_id not in again.shadow
    assert not again.forced


def test_a_sealed_eligibility_without_prices_reads_as_unpriced() -> None:
    document = Eligibility.everyone(["i1", "i2"], [0.0]).to_dict()
    del document["price"]
    assert Eligibility.from_dict(document).price.tolist() == [0.0, 0.0]
    document["price"] = [0.1, -0.2]
    with pytest.raises(SpecError) as caught:
        Eligibility.from_dict(document)
    assert caught.value.field == "eligibility.price"
