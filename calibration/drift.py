"""Parameter drift: operational items whose new estimate has moved away from the bank value.

An item is flagged when ``|new - bank| > k * se``, with ``se = sqrt(se_new² + se_bank²)`` (the
bank value is itself an estimate; where the bank table has no standard error it is treated as
fixed). The new estimates must be on the bank scale: pass the ``LinkingResult`` and they are
transformed first.

Why k = 3 by default: a drift flag sends an item to review and may pull it from live papers, so
false alarms are costly, while a bank run checks hundreds of items at once. With k = 2 about
4.6 % of stable items would be flagged on every run (≈ 14 of 300), swamping reviewers; k = 3
keeps that near 0.27 % (< 1 of 300) yet still catches a shift of 3–4 standard errors, and sits
just below the Bonferroni cut-off for 100–1000 items at 5 % family-wise error (z ≈ 3.5–4.1), a
deliberate lean toward sensitivity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from calibration.errors import CalibrationSpecError
from calibration.linking import LinkingResult, item_table, transform


class DriftConfig(BaseModel):
    """How far an estimate may move, in standard errors, before the item is flagged."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    k: float = Field(
        default=3.0, gt=0.0, description="flag when |new - bank| exceeds k standard errors"
    )
    parameters: tuple[str, ...] = Field(
        default=("b",), min_length=1, description="parameters to check"
    )
    include_bank_se: bool = Field(
        default=True, description="combine the bank value's own standard error with the new one"
    )


def detect_drift(
    bank: pd.DataFrame,
    new: pd.DataFrame,
    *,
    linking: LinkingResult | None = None,
    config: DriftConfig | None = None,
) -> pd.DataFrame:
    """One row per common item and checked parameter: both values, difference, se, z, flagged.

    Both tables hold parameters and their standard errors as ``se_<parameter>`` columns, keyed
    by ``item_id`` (column or index). The new table must carry standard errors.
    """
    config = config or DriftConfig()
    if linking is not None:
        new = transform(new, linking.slope, linking.intercept)
    bank_table, new_table = item_table(bank, ()), item_table(new, ())
    shared = bank_table.index.intersection(new_table.index)
    frames = []
    for parameter in config.parameters:
        for table, name in ((bank_table, "bank"), (new_table, "new")):
            if parameter not in table.columns:
                raise CalibrationSpecError(
                    f"the {name} table lacks parameter column {parameter!r}", field=parameter
                )
        if f"se_{parameter}" not in new_table.columns:
            raise CalibrationSpecError(
                f"the new estimates need standard errors in column 'se_{parameter}'",
                field=f"se_{parameter}",
            )
        new_se = new_table.loc[shared, f"se_{parameter}"].to_numpy(dtype=float)
        bank_se = (
            bank_table.loc[shared, f"se_{parameter}"].fillna(0.0).to_numpy(dtype=float)
            if config.include_bank_se and f"se_{parameter}" in bank_table.columns
            else np.zeros(len(shared))
        )
        frame = pd.DataFrame(
            {
                "item_id": shared,
                "parameter": parameter,
                "bank": bank_table.loc[shared, parameter].to_numpy(dtype=float),
                "new": new_table.loc[shared, parameter].to_numpy(dtype=float),
                "se": np.sqrt(new_se**2 + bank_se**2),
            }
        )
        frame["difference"] = frame["new"] - frame["bank"]
        frame["z"] = frame["difference"] / frame["se"].where(frame["se"] > 0)
        frame["flagged"] = frame["z"].abs() > config.k
        frames.append(frame)
    columns = ["item_id", "parameter", "bank", "new", "difference", "se", "z", "flagged"]
    return pd.concat(frames, ignore_index=True)[columns]
