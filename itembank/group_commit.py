"""Group commit: concurrent callers' ledger records share one transaction, each still waits for its own.

Why: a pull must be in the handover ledger before its package leaves the bank, and the audit
ledger's head row serialises every append. One transaction per pull therefore caps delivery at one
commit (one fsync on PostgreSQL) per pull, however many engines ask at once. Here the first caller to
arrive writes everything queued so far in one transaction while later callers queue behind it; the
first of those then writes the next batch. No caller returns before the transaction holding its
record has committed, so the guarantee "logged before delivered" is unchanged, and no background
thread exists to be lost on shutdown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Record = TypeVar("Record")

#: Writes one batch in one transaction; returns, per record and in order, None (written) or the
#: exception that caller must see (e.g. a refusal decided under the ledger lock).
BatchWriter = Callable[[list[Record]], Sequence[Exception | None]]


@dataclass(eq=False)
class _Slot(Generic[Record]):
    record: Record
    wake: threading.Event = field(default_factory=threading.Event)
    leads: bool = False
    done: bool = False
    error: BaseException | None = None


class GroupCommit(Generic[Record]):
    """Hand records to :meth:`submit` from many threads; one batch is written at a time, in arrival order."""

    def __init__(self, write: BatchWriter[Record], *, max_batch: int = 256) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._write = write
        self._max_batch = max_batch
        self._mutex = threading.Lock()
        self._queue: list[_Slot[Record]] = []
        self._leading = False

    def submit(self, record: Record) -> None:
        """Return once ``record`` is committed; raise what the writer decided for it, or the batch's failure."""
        slot = _Slot(record)
        with self._mutex:
            self._queue.append(slot)
            slot.leads = not self._leading
            self._leading = True
        if not slot.leads:
            slot.wake.wait()  # set when our batch is done, or when we are promoted to write the next one
        if not slot.done:
            self._write_next_batch()
        if slot.error is not None:
            raise slot.error

    def _write_next_batch(self) -> None:
        """Write the head of the queue (the leader's own slot is first), then promote the next waiter."""
        with self._mutex:
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
        try:
            outcomes: Sequence[BaseException | None] = self._write([slot.record for slot in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"the batch writer answered {len(outcomes)} outcomes for {len(batch)} records")
        except BaseException as failure:  # every caller in the batch must hear of it, not only the leader
            outcomes = [failure] * len(batch)
        for slot, outcome in zip(batch, outcomes, strict=True):
            slot.error, slot.done = outcome, True
            slot.wake.set()
        with self._mutex:
            if self._queue:
                self._queue[0].leads = True
                self._queue[0].wake.set()
            else:
                self._leading = False
