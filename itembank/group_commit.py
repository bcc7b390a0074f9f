"""Group commit: concurrent requests' ledger records share one transaction, each still waits for its own.

Why: a pull must be in the handover ledger before its package leaves the bank, and the audit
ledger's head row serialises every append. One transaction per pull therefore caps delivery at one
commit (one fsync on PostgreSQL) per pull, however many engines ask at once. Here requests on one
event loop queue their records; while one batch is being written (in a worker thread, so the loop
keeps serving), the next requests queue behind it and go together in the next batch. No caller
returns before the transaction holding its record has committed, so the guarantee "logged before
delivered" is unchanged. The writer task exists only while records wait: nothing to stop on shutdown.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from anyio import to_thread

Record = TypeVar("Record")
Result = TypeVar("Result")

#: Writes one batch in one transaction; returns, per record and in order, what that caller gets
#: back, or the exception it must see (e.g. a refusal decided under the ledger lock).
BatchWriter = Callable[[list[Record]], Sequence[Result | Exception]]


class GroupCommit(Generic[Record, Result]):
    """Await :meth:`submit` from many requests of one event loop; batches are written one at a time, in arrival order."""

    def __init__(self, write: BatchWriter[Record, Result], *, max_batch: int = 256) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._write = write
        self._max_batch = max_batch
        self._queue: list[tuple[Record, asyncio.Future[Result | BaseException]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._lock = threading.Lock()  # the queue is shared by the loop and the writer thread

    async def submit(self, record: Record) -> Result:
        """Once ``record`` is committed, what the writer returned for it; or raise what it decided for
        it, or the batch's failure.

        A caller cancelled while it waits (a client that hung up) leaves its record in the batch: the
        record is written all the same, it is only not waited for.
        """
        future: asyncio.Future[Result | BaseException] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._queue.append((record, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain())
        outcome = await asyncio.shield(future)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def _drain(self) -> None:
        """Write the queue batch by batch until it is empty; every waiter hears its own outcome."""
        try:
            while self._queue:
                batch: list[tuple[Record, asyncio.Future[Result | BaseException]]] = []
                try:
                    outcomes = await to_thread.run_sync(self._take_and_write, batch)
                except asyncio.CancelledError:  # the loop is shutting down: the batch is not known to be written
                    with self._lock:
                        self._queue[:0] = batch
                    raise
                self._settle(batch, outcomes)
        finally:
            self._writer = None
            if self._queue:  # stopped by cancellation with records unwritten or still queued
                with self._lock:
                    pending, self._queue = self._queue, []
                self._settle(pending, [RuntimeError("the bank stopped before this record was written")] * len(pending))

    def _take_and_write(self, batch: list[tuple[Record, asyncio.Future[Result | BaseException]]]
                        ) -> Sequence[Result | BaseException]:
        """In the worker thread: take what is queued now into ``batch``, then write it.

        Taken here, not when the thread was asked for: under a storm the event loop holds the GIL
        while it reads the requests, so the thread starts only when the loop pauses, and by then
        the requests read meanwhile are queued. Taking them at dispatch made the first batch of a
        burst a batch of one, whose whole write the rest of the burst then waited for.
        """
        with self._lock:
            batch.extend(self._queue[: self._max_batch])
            del self._queue[: self._max_batch]
        records = [record for record, _ in batch]
        try:
            outcomes: Sequence[Result | BaseException] = self._write(records)
        except Exception as failure:  # noqa: BLE001 - every caller in the batch must hear of it
            return [failure] * len(records)
        if len(outcomes) != len(records):
            return [RuntimeError(f"the batch writer answered {len(outcomes)} outcomes for {len(records)} records")] * len(records)
        return outcomes

    @staticmethod
    def _settle(batch: list[tuple[Record, asyncio.Future[Result | BaseException]]],
                outcomes: Sequence[Result | BaseException]) -> None:
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)
