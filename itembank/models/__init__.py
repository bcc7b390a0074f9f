"""SQLModel tables of the bank. Importing this package registers every table on ``SQLModel.metadata``."""

from itembank.models.audit import AuditEvent, AuditHead
from itembank.models.base import utcnow
from itembank.models.blueprint import Blueprint, BlueprintNode
from itembank.models.calibration import CalibrationRun, ItemParameter, ItemStatistic, TrueParameter
from itembank.models.exam_session import CandidateForm, ExamSession
from itembank.models.item import (
    EnemyGroup,
    EnemyMember,
    Item,
    ItemSet,
    ItemStatus,
    ItemType,
    ItemVersion,
    ReviewSignoff,
)
from itembank.models.operations import Incident, Job, Response, ResponseBatch
from itembank.models.paper import (
    AssemblyRun,
    Handover,
    Paper,
    PaperItem,
    PaperStatus,
    SealedPaper,
    SigningKey,
)
from itembank.models.user import Role, User

__all__ = [
    "AssemblyRun",
    "CandidateForm",
    "ExamSession",
    "Handover",
    "Incident",
    "Job",
    "Paper",
    "PaperItem",
    "PaperStatus",
    "Response",
    "ResponseBatch",
    "SealedPaper",
    "SigningKey",
    "AuditEvent",
    "AuditHead",
    "Blueprint",
    "BlueprintNode",
    "CalibrationRun",
    "EnemyGroup",
    "EnemyMember",
    "Item",
    "ItemParameter",
    "ItemSet",
    "ItemStatistic",
    "ItemStatus",
    "ItemType",
    "ItemVersion",
    "ReviewSignoff",
    "Role",
    "TrueParameter",
    "User",
    "utcnow",
]
