"""Calibration runs, item parameters and classical statistics: history is kept, never overwritten."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from itembank.models.base import created_at_field, datetime_field, json_field


class ParameterStatus(StrEnum):
    PROVISIONAL = "provisional"
    OPERATIONAL = "operational"
    SUPERSEDED = "superseded"


class CalibrationRun(SQLModel, table=True):
    __tablename__ = "calibration_runs"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=120)
    model: str = Field(max_length=20)
    status: str = Field(default="provisional", max_length=20)
    source_hash: str = Field(default="", max_length=64)
    n_responses: int = 0
    summary: dict[str, Any] = json_field(dict)
    created_by: str = Field(max_length=120)
    created_at: datetime = created_at_field()
    approved_by: str | None = Field(default=None, max_length=120)
    approved_at: datetime | None = datetime_field()


class ItemParameter(SQLModel, table=True):
    """IRT parameters of one item version from one calibration run."""

    __tablename__ = "item_parameters"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="items.id", index=True)
    version: int
    run_id: int = Field(foreign_key="calibration_runs.id", index=True)
    model: str = Field(max_length=10)
    a: float | None = None
    b: float | None = None
    c: float | None = None
    thresholds: list[float] | None = json_field(list)
    se_a: float | None = None
    se_b: float | None = None
    se_c: float | None = None
    n: int = 0
    scale: str = Field(default="bank", max_length=40)
    fixed: bool = False
    status: str = Field(default=ParameterStatus.PROVISIONAL.value, sa_type=String(20), index=True)
    created_at: datetime = created_at_field()


class ItemStatistic(SQLModel, table=True):
    """Classical statistics of one item version from one calibration run."""

    __tablename__ = "item_statistics"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="items.id", index=True)
    version: int
    run_id: int = Field(foreign_key="calibration_runs.id", index=True)
    n: int = 0
    p_value: float | None = None
    point_biserial: float | None = None
    flags: list[str] = json_field(list)
    options: dict[str, Any] = json_field(dict)
    created_at: datetime = created_at_field()


class TrueParameter(SQLModel, table=True):
    """Simulated 'true' parameters of sample-bank items, kept apart from estimates to check recovery."""

    __tablename__ = "true_parameters"

    item_id: int = Field(foreign_key="items.id", primary_key=True)
    model: str = Field(max_length=10)
    a: float | None = None
    b: float | None = None
    c: float | None = None
    thresholds: list[float] | None = json_field(list)
